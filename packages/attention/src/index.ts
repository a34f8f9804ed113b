export {
  type AttentionOptions,
  type AttentionResult,
  KVCache,
  type LayerKV,
  MultiHeadAttention,
  type MultiHeadAttentionConfig,
} from './attention.js';
export {
  type BlockOptions,
  type BlockResult,
  setRecompute,
  TransformerBlock,
  type TransformerBlockConfig,
} from './block.js';
export {
  type AttentionBias,
  attentionBias,
  BLOCKED,
  causalBias,
  causalMask,
  combineMasks,
  disposeMask,
  isAttentionBias,
  type Mask,
  paddingMask,
} from './mask.js';
export {
  type BackboneExtras,
  type RunOptions,
  runBlocks,
  type StackOptions,
} from './stack.js';
