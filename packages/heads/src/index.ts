export {
  type Activation,
  activate,
  ClsClassifier,
  type ClsClassifierOptions,
  MeanPoolClassifier,
  Mlp,
  type MlpOptions,
  meanPool,
  TokenClassifier,
} from './classifiers.js';
export { gatherPositions, LMHead, type LMHeadOptions, MaskedLMHead, type MaskedLMHeadOptions } from './lm.js';
export {
  accuracy,
  canReadSync,
  classificationLoss,
  type F1Options,
  f1Score,
  IGNORE_INDEX,
  predictions,
} from './metrics.js';
