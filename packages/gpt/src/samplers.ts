// The samplers live in heads (shared by every causal LM: GPT, Llama); re-exported here for GPT's users.
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
} from '@transformer-kit/heads';
