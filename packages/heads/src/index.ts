export { checkHidden } from './check.js';
export {
  ClsClassifier,
  type ClsClassifierOptions,
  type HeadOptions,
  MeanPoolClassifier,
  TokenClassifier,
} from './classifiers.js';
export { type DecodeCache, type DecodeModel, type DecodeOptions, decode, type NextLogits } from './decode.js';
export { gatherPositions, LMHead, type LMHeadOptions, MaskedLMHead, type MaskedLMHeadOptions } from './lm.js';
export { clsToken, meanPool, Pooler } from './pooling.js';
export {
  BeamSearch,
  GreedySampler,
  type LogitsProcessor,
  MinP,
  processLogits,
  RandomSampler,
  RepetitionPenalty,
  type Sampler,
  type SamplingOptions,
  samplerFrom,
  Temperature,
  TopK,
  TopP,
} from './samplers.js';
