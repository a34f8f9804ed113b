export { GPT, GPT_PRESETS, type GPTConfig, type GPTOutput, type GPTPreset, type ForwardOptions, type GenerateOptions, type Ids, gptConfig } from './model.js';
export { type SamplingOptions, pickToken } from './sample.js';
export { configFromHF, configToHF, gptFromHF, stateDictFromHF, stateDictToHF } from './hf.js';
