import { InvalidArgumentError } from '@transformer-kit/core';
import type { Tokenizer } from '@transformer-kit/tokenizer';
import { encodeTexts } from './finetune.js';
import { MaskedLMMaskGenerator, type MaskGeneratorOptions } from './masking.js';
import { type RecipeOptions, runRecipe } from './recipe.js';
import type { BertForMaskedLM } from './tasks.js';

/*
 * Masked-LM pretraining on raw texts: tokenizer → padded batch → a fresh MaskedLMMaskGenerator mask per
 * batch → BertForMaskedLM.loss at the chosen positions, on core's TrainingLoop with BERT's recipe.
 */

export interface PretrainMaskedLMOptions
  extends RecipeOptions,
    Partial<Omit<MaskGeneratorOptions, 'vocabSize' | 'seed'>> {}

/** Trains `model` on `texts`; returns the loss of every step. The [MASK] id defaults to the tokenizer's. */
export async function pretrainMaskedLM(
  model: BertForMaskedLM,
  tokenizer: Tokenizer,
  texts: string[],
  options: PretrainMaskedLMOptions = {},
): Promise<number[]> {
  const {
    maxLength = 128,
    seed = 0,
    maskTokenId,
    unselectableIds,
    selectionRate,
    maskRate,
    randomRate,
  } = options;
  if (!texts.length) throw new InvalidArgumentError('pretrainMaskedLM: no training texts');
  const masks = new MaskedLMMaskGenerator({
    vocabSize: model.config.vocabSize,
    maskTokenId: maskTokenId ?? tokenizer.specialId('[MASK]'),
    unselectableIds,
    selectionRate,
    maskRate,
    randomRate,
    seed: seed + 1,
  });
  const loss = (batch: string[]) => {
    const enc = encodeTexts(tokenizer, batch, maxLength);
    return model.loss(masks.generate(enc), {
      attentionMask: enc.attentionMask,
      tokenTypeIds: enc.tokenTypeIds,
    });
  };
  return runRecipe(model, texts, loss, options, 1e-4);
}
