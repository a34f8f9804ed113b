export {
  type BertTaskModel,
  bertConfigFromHF,
  bertConfigToHF,
  encodePretrained,
  hfParameterNames,
  type LoadOptions,
  loadBertForMaskedLM,
  loadBertForSequenceClassification,
  loadBertForTokenClassification,
  loadBertModel,
  loadPretrained,
  type Pretrained,
  savePretrained,
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
  type DistilBertLoadOptions,
  distilBertConfigFromHF,
  distilBertConfigToHF,
  distilBertParameterNames,
  encodeDistilBertPretrained,
  loadDistilBertForMaskedLM,
  loadDistilBertForSequenceClassification,
  loadDistilBertModel,
  loadDistilBertPretrained,
  saveDistilBertPretrained,
} from './distilbert-checkpoint.js';
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
  encodeRobertaPretrained,
  loadRobertaForMaskedLM,
  loadRobertaForSequenceClassification,
  loadRobertaModel,
  loadRobertaPretrained,
  type RobertaLoadOptions,
  robertaConfigFromHF,
  robertaConfigToHF,
  robertaParameterNames,
  saveRobertaPretrained,
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
