export { GPT, GPT_PRESETS, type GPTConfig, type GPTOutput, type GPTPreset, type ForwardOptions, type GenerateOptions, type Ids, gptConfig } from './model.js';
export { type SamplingOptions, pickToken } from './sample.js';
export { configFromHF, configToHF, gptFromHF, loadGPT2, saveGPT2, stateDictFromHF, stateDictToHF } from './hf.js';
export { type EvalOptions, type PretrainOptions, type PretrainResult, type PretrainStep, type Tokens, evaluate, pretrain, sampleBatch, splitTokens } from './pretrain.js';
