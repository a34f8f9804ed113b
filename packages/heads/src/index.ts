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
