export { LoraAdapter } from './adapter.js';
export {
  type AdaptedModule,
  addLora,
  type LoraConfig,
  type LoraOptions,
  type LoraState,
  loraConfig,
  loraState,
  mergeLora,
  trainableParameterCount,
  unloadLora,
  unmergeLora,
} from './lora.js';
export {
  DEFAULT_TARGET_MODULES,
  type HFLinear,
  type HFNaming,
  type HFParam,
  hfNaming,
  matchesTarget,
} from './naming.js';
export {
  ADAPTER_CONFIG_FILE,
  ADAPTER_WEIGHTS_FILE,
  adapterConfig,
  encodeLoraAdapter,
  type LoadAdapterOptions,
  loadLoraAdapter,
  optionsFromAdapterConfig,
  type SaveAdapterOptions,
  saveLoraAdapter,
} from './peft.js';
