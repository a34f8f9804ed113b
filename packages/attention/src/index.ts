export {
  type AttentionBias,
  type Mask,
  BLOCKED,
  attentionBias,
  causalBias,
  causalMask,
  combineMasks,
  disposeMask,
  isAttentionBias,
  paddingMask,
} from './mask.js';
export {
  type AttentionOptions,
  type AttentionResult,
  KVCache,
  type LayerKV,
  MultiHeadAttention,
  type MultiHeadAttentionConfig,
} from './attention.js';
export { type BlockOptions, type BlockResult, Mlp, TransformerBlock, type TransformerBlockConfig } from './block.js';
