export { asInt2d, BERT_PRESETS, BertEmbeddings, BertModel, bertConfig, checkConfig, prepareInputs, type BertConfig, type BertInputs, type BertOutput, type BertPreset } from './model.js';
export { MaskedLMMaskGenerator, type MaskedBatch, type MaskGeneratorOptions, type MaskInputs } from './masking.js';
export { BertForMaskedLM, BertForSequenceClassification, BertForTokenClassification, type ClassifierOptions } from './tasks.js';
export {
  bertConfigFromHF,
  bertConfigToHF,
  type BertTaskModel,
  hfParameterNames,
  loadBertForMaskedLM,
  loadBertForSequenceClassification,
  loadBertForTokenClassification,
  loadBertModel,
  type LoadOptions,
  saveBert,
} from './checkpoint.js';
export { type EncodedBatch, encodeTexts, type Evaluation, type Example, evaluate, type FineTuneOptions, fineTune, type SequenceClassifier } from './finetune.js';
