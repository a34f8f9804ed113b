export {
  configFromHF,
  configToHF,
  gptFromHF,
  gptParameterCount,
  loadGPT2,
  loadPretrained,
  savePretrained,
  stateDictFromHF,
  stateDictToHF,
} from './hf.js';
export {
  checkTrainingFits,
  estimateTrainingBytes,
  type GptTrainingMemory,
  type GptTrainingMemoryOptions,
} from './memory.js';
export {
  type ForwardOptions,
  type GenerateOptions,
  GPT,
  GPT_PRESETS,
  type GPTConfig,
  type GPTOutput,
  type GPTPreset,
  gptConfig,
  type Ids,
} from './model.js';
export {
  type EvalOptions,
  evaluateLoss,
  type PretrainOptions,
  type PretrainResult,
  type PretrainStep,
  pretrain,
} from './pretrain.js';
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
