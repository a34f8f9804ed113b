export {
  type AttentionOptions,
  type AttentionResult,
  KVCache,
  type Layer,
  type LayerKV,
  MultiHeadAttention,
  type MultiHeadAttentionConfig,
} from './attention.js';
export {
  type Block,
  type BlockOptions,
  type BlockParts,
  type BlockResult,
  type BlockSource,
  blockConfig,
  forwardBlock,
  type MlpPart,
  makeNorm,
  type NormPart,
  setRecompute,
  TransformerBlock,
  type TransformerBlockConfig,
  transformerBlocks,
} from './block.js';
export {
  type AttentionBias,
  attentionBias,
  BLOCKED,
  causalBias,
  causalMask,
  checkMaskShape,
  combineMasks,
  decoderBias,
  disposeMask,
  isAttentionBias,
  type Mask,
  paddingMask,
} from './mask.js';
export { alibiBias, alibiSlopes, Rotary, type RotaryConfig, sinusoidalPositions } from './positions.js';
export { attend, attentionProbs } from './probs.js';
export {
  type BackboneExtras,
  type BackboneOutput,
  type ModelOutput,
  modelOutput,
  type RunOptions,
  runBlocks,
  type StackOptions,
} from './stack.js';
