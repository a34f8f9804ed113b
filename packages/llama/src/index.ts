export {
  configFromHF,
  configToHF,
  hfEntries,
  llamaFromHF,
  loadLlama,
  loadPretrained,
  savePretrained,
  stateDictToHF,
} from './hf.js';
export {
  type Ids,
  LLAMA_PRESETS,
  type LlamaConfig,
  LlamaForCausalLM,
  type LlamaForwardOptions,
  type LlamaGenerateOptions,
  LlamaModel,
  type LlamaOutput,
  type LlamaPreset,
  llamaConfig,
} from './model.js';
