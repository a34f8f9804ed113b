export {
  BERT_FAMILY,
  type BertTaskModel,
  bertConfigFromHF,
  bertConfigToHF,
  bertMapping,
  hfParameterNames,
  type LoadOptions,
  loadBertForMaskedLM,
  loadBertForSequenceClassification,
  loadBertForTokenClassification,
  loadBertModel,
} from './checkpoint.js';
export {
  type DistilBertClassifierOptions,
  type DistilBertConfig,
  DistilBertForMaskedLM,
  DistilBertForSequenceClassification,
  DistilBertModel,
  type DistilBertTaskModel,
  distilBertConfig,
} from './distilbert.js';
export {
  DISTILBERT_FAMILY,
  type DistilBertLoadOptions,
  distilBertConfigFromHF,
  distilBertConfigToHF,
  distilBertMapping,
  distilBertParameterNames,
  loadDistilBertForMaskedLM,
  loadDistilBertForSequenceClassification,
  loadDistilBertModel,
} from './distilbert-checkpoint.js';
export type { BertFamily, FamilyLoadOptions, HFEntry, Pretrained } from './family-checkpoint.js';
export {
  type EncodedBatch,
  type Evaluation,
  type Example,
  encodeTexts,
  encodeWords,
  evaluateClassifier,
  type FineTuneLoopOptions,
  type FineTuneOptions,
  fineTune,
  fineTuneLoop,
  fineTuneTokenClassifier,
  type SequenceClassifier,
  type TokenClassificationModel,
  type TokenExample,
} from './finetune.js';
export {
  type MaskedBatch,
  MaskedLMMaskGenerator,
  type MaskGeneratorOptions,
  type MaskInputs,
} from './masking.js';
export { estimateTrainingBytes, type TrainingMemory } from './memory.js';
export {
  BERT_PRESETS,
  type BertConfig,
  BertEmbeddings,
  type BertInputs,
  BertModel,
  type BertOutput,
  type BertPreset,
  bertConfig,
  bertParameterCount,
  checkBertConfig,
  maxSequenceLength,
  paddingPositions,
  prepareInputs,
} from './model.js';
export { type PretrainMaskedLMOptions, pretrainMaskedLM } from './pretrain.js';
export {
  type BertLikeModel,
  encodeDistilBertPretrained,
  encodePretrained,
  encodeRobertaPretrained,
  loadDistilBertPretrained,
  loadPretrained,
  loadRobertaPretrained,
  type PretrainedOptions,
  saveDistilBertPretrained,
  savePretrained,
  saveRobertaPretrained,
} from './pretrained.js';
export { type RecipeOptions, recipeLoop } from './recipe.js';
export {
  type RobertaClassifierOptions,
  RobertaForMaskedLM,
  RobertaForSequenceClassification,
  RobertaModel,
  type RobertaTaskModel,
  robertaConfig,
} from './roberta.js';
export {
  loadRobertaForMaskedLM,
  loadRobertaForSequenceClassification,
  loadRobertaModel,
  ROBERTA_FAMILY,
  type RobertaLoadOptions,
  robertaConfigFromHF,
  robertaConfigToHF,
  robertaMapping,
  robertaParameterNames,
} from './roberta-checkpoint.js';
export {
  cosineSimilarity,
  loadSentenceEncoder,
  type Pooling,
  poolingFromConfig,
  SentenceEncoder,
  type SentenceEncoderOptions,
  semanticSearch,
} from './sentence.js';
export {
  CLASSIFIER_MODEL_TYPES,
  type ClassifierModelType,
  classifierModelType,
  encodeSequenceClassifier,
  type FolderSequenceClassifier,
  loadSequenceClassifier,
  type SequenceClassifierFolderOptions,
  type SequenceClassifierFromFolder,
  saveSequenceClassifier,
} from './sequence-classifier.js';
export {
  BertForMaskedLM,
  BertForSequenceClassification,
  BertForTokenClassification,
  type ClassifierOptions,
  type SequenceClassifierOptions,
  type TaskOutput,
} from './tasks.js';
