import type * as tf from '@tensorflow/tfjs';
import type { LayerKV } from './attention.js';
import type { Block } from './block.js';
import type { AttentionBias, Mask } from './mask.js';

/** What every backbone's `run` takes on top of its inputs (HF's output_hidden_states / output_attentions). */
export interface RunOptions {
  /** Collect every layer's input and the final hidden state (numLayers + 1 tensors, (B, T, D)). */
  returnHiddenStates?: boolean;
  /** Collect every layer's attention probabilities (B, H, T, S). */
  returnAttention?: boolean;
}

/** What every backbone's `run` returns on request, under the same names. */
export interface BackboneExtras {
  hiddenStates?: tf.Tensor3D[];
  attentions?: tf.Tensor4D[];
}

/*
 * The one forward convention (keras-hub's split, HF's field names):
 *  - a backbone (BertModel, ViTModel, LlamaModel, ...): `forward` and `run` return a BackboneOutput;
 *  - a model with a head (GPT, LlamaForCausalLM, BERT/ViT task models): `forward` returns the logits,
 *    `run` a ModelOutput (the logits with the backbone's states);
 *  - every `run(inputs, { returnHiddenStates, returnAttention })` adds `hiddenStates` / `attentions`.
 */

/** A backbone's output: its last hidden states, the pooled [CLS] vector with a pooler, extras on request. */
export interface BackboneOutput extends BackboneExtras {
  /** (B, T, D): after the final norm where the model has one. */
  lastHiddenState: tf.Tensor;
  /** tanh(dense([CLS])) (B, D), when the backbone has a pooler. */
  pooledOutput?: tf.Tensor;
}

/** A model-with-a-head's `run`: its logits and the backbone's last hidden states, extras on request. */
export interface ModelOutput extends BackboneExtras {
  logits: tf.Tensor;
  lastHiddenState: tf.Tensor;
}

/** A head's logits with the backbone output they came from (its pooled vector left out). */
export function modelOutput<L extends tf.Tensor, H extends tf.Tensor>(
  backbone: BackboneExtras & { lastHiddenState: H },
  logits: L,
): ModelOutput & { logits: L; lastHiddenState: H } {
  const { lastHiddenState, hiddenStates, attentions } = backbone;
  return {
    logits,
    lastHiddenState,
    ...(hiddenStates ? { hiddenStates } : {}),
    ...(attentions ? { attentions } : {}),
  };
}

export interface StackOptions extends RunOptions {
  mask?: Mask | AttentionBias;
  /** One KV slot per block (GPT's cache). */
  caches?: LayerKV[];
  /** Encoder output for blocks with cross-attention, and its mask. */
  encoder?: tf.Tensor;
  encoderMask?: Mask | AttentionBias;
}

/**
 * Runs `x` through `blocks` in order. With `returnHiddenStates`, `hiddenStates` holds each block's input;
 * the caller appends its final hidden state (after a final norm, if the model has one).
 */
export function runBlocks(
  blocks: readonly Block[],
  x: tf.Tensor,
  {
    mask,
    caches,
    encoder,
    encoderMask,
    returnHiddenStates = false,
    returnAttention = false,
  }: StackOptions = {},
): { output: tf.Tensor } & BackboneExtras {
  const hiddenStates: tf.Tensor3D[] = [];
  const attentions: tf.Tensor4D[] = [];
  let h = x;
  blocks.forEach((block, i) => {
    if (returnHiddenStates) hiddenStates.push(h as tf.Tensor3D);
    const r = block.forward(h, {
      mask,
      cache: caches?.[i],
      returnAttention,
      ...(encoder ? { encoder } : {}),
      ...(encoderMask ? { encoderMask } : {}),
    });
    h = r.output;
    if (r.attention) attentions.push(r.attention as tf.Tensor4D);
  });
  return {
    output: h,
    ...(returnHiddenStates ? { hiddenStates } : {}),
    ...(returnAttention ? { attentions } : {}),
  };
}
