/**
 * ViT + MAE on the UCI digits (8×8): MAE pretraining on the training images (no labels), then a [CLS]
 * classifier fine-tuned on a few labelled images, once from the MAE encoder and once from scratch. One
 * optimizer step at a time, so the CLI and the page drive the same code. Model logic is the vit package's.
 */
import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, Rng, seedDropout, Trainer } from '@transformer-kit/core';
import {
  type MAEConfig,
  maeConfig,
  type ViTConfig,
  ViTForImageClassification,
  ViTMAEForPreTraining,
  vitConfig,
  vitDecay,
} from '@transformer-kit/vit';

export interface Digits {
  /** n × 64 pixels in [0, 1], row-major. */
  pixels: Float32Array;
  labels: Int32Array;
  n: number;
}

/**
 * The checked-in UCI digits (data/digits.txt, 1,797 images; see scripts/make_digits.py for source and
 * licence). `new URL(…, import.meta.url)` is the one form both builds resolve: tsup keeps it (relative to
 * dist/cli.js or src/vit.ts, read with fs) and Vite emits the file as an asset of the page (fetched).
 */
const DIGITS_URL = new URL('../data/digits.txt', import.meta.url);

async function digitsText(): Promise<string> {
  if (DIGITS_URL.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return readFile(DIGITS_URL, 'utf8');
  }
  const res = await fetch(DIGITS_URL);
  if (!res.ok) throw new InvalidArgumentError(`digits: ${DIGITS_URL.href} answered ${res.status}`);
  return res.text();
}

/** Parses digits.txt: per line the label digit, then 64 pixels 0..16 as letters a..q. */
export function parseDigits(text: string): Digits {
  const lines = text.trim().split('\n');
  const pixels = new Float32Array(lines.length * 64);
  const labels = new Int32Array(lines.length);
  for (const [i, line] of lines.entries()) {
    if (!/^[0-9][a-q]{64}$/.test(line)) {
      throw new InvalidArgumentError(
        `digits: line ${i + 1} is not a label digit and 64 pixels a..q: '${line.slice(0, 20)}…'`,
      );
    }
    labels[i] = line.charCodeAt(0) - 48;
    for (let k = 0; k < 64; k++) pixels[i * 64 + k] = (line.charCodeAt(k + 1) - 97) / 16;
  }
  return { pixels, labels, n: lines.length };
}

/** The checked-in digits (read once per call: the CLI and the page each load them once). */
export async function loadDigits(): Promise<Digits> {
  return parseDigits(await digitsText());
}

function subset(d: Digits, idx: number[]): Digits {
  const pixels = new Float32Array(idx.length * 64);
  const labels = new Int32Array(idx.length);
  idx.forEach((j, i) => {
    pixels.set(d.pixels.subarray(j * 64, j * 64 + 64), i * 64);
    labels[i] = d.labels[j]!;
  });
  return { pixels, labels, n: idx.length };
}

/** Seeded split: `test` images held out, the rest for (unlabelled) pretraining, the first `labelled` of them with labels. */
export function splitDigits(
  d: Digits,
  { test, labelled, seed }: { test: number; labelled: number; seed: number },
): { train: Digits; labelled: Digits; test: Digits } {
  const rng = new Rng(seed);
  const order = Array.from({ length: d.n }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const train = order.slice(test);
  return {
    test: subset(d, order.slice(0, test)),
    train: subset(d, train),
    labelled: subset(d, train.slice(0, labelled)),
  };
}

/** Pixel mean and spread of the whole set: the models see standardised images (as ImageNet models do). */
const MEAN = 0.3;
const STD = 0.4;

/** Images (n, 8, 8, 1), standardised; `idx` picks a subset. */
export const imagesTensor = (d: Digits, idx?: number[]): tf.Tensor4D => {
  const s = idx ? subset(d, idx) : d;
  return tf.tidy(() => tf.tensor4d(s.pixels, [s.n, 8, 8, 1]).sub(MEAN).div(STD)) as tf.Tensor4D;
};

export interface VitSizes {
  vit: ViTConfig;
  mae: MAEConfig;
  batchSize: number;
  maeSteps: number;
  fineTuneSteps: number;
  /** Labelled training images for fine-tuning (MAE sees all training images, without labels). */
  labelled: number;
  test: number;
  lr: number;
}

/** Default: a 4-layer ViT of ~0.14M parameters (about 2 minutes in all on 2 CPU cores). Fast: a smoke test. */
export function vitSizes(fast = false): VitSizes {
  const vit = fast
    ? vitConfig('nano', { hiddenSize: 32, numLayers: 2, numHeads: 2, intermediateSize: 64 })
    : vitConfig('nano');
  const mae = maeConfig(vit, {
    decoderHiddenSize: fast ? 16 : 32,
    decoderNumLayers: fast ? 1 : 2,
    decoderNumHeads: 2,
    decoderIntermediateSize: fast ? 32 : 64,
    maskRatio: 0.75,
  });
  return {
    vit,
    mae,
    batchSize: 64,
    maeSteps: fast ? 100 : 800,
    fineTuneSteps: fast ? 60 : 150,
    labelled: 300,
    test: 400,
    lr: 2e-3,
  };
}

/** Samples batches of `data` with a seeded stream. */
class Batches {
  readonly #rng: Rng;
  constructor(
    readonly data: Digits,
    readonly size: number,
    seed: number,
  ) {
    this.#rng = new Rng(seed);
  }
  next(): { images: tf.Tensor4D; labels: tf.Tensor1D } {
    const idx = Array.from({ length: Math.min(this.size, this.data.n) }, () => this.#rng.int(this.data.n));
    return {
      images: imagesTensor(this.data, idx),
      labels: tf.tensor1d(subset(this.data, idx).labels, 'int32'),
    };
  }
}

/** MAE pretraining on the training images. */
export class MaePretraining {
  readonly model: ViTMAEForPreTraining;
  readonly trainer: Trainer;
  readonly #batches: Batches;
  constructor(
    readonly sizes: VitSizes,
    train: Digits,
    seed = 0,
  ) {
    seedDropout(seed);
    this.model = new ViTMAEForPreTraining(sizes.mae, { seed });
    this.trainer = new Trainer(this.model, {
      lr: sizes.lr,
      weightDecay: 0.05,
      decay: vitDecay,
      beta2: 0.95,
      warmupSteps: Math.round(sizes.maeSteps / 20),
      totalSteps: sizes.maeSteps,
      minLr: sizes.lr / 10,
      clipNorm: 1,
    });
    this.#batches = new Batches(train, sizes.batchSize, seed + 11);
  }
  get steps(): number {
    return this.trainer.stepCount;
  }
  /** One step; `tokens` = patches the encoder saw + the decoder's positions. */
  async step(): Promise<{ loss: number; tokens: number }> {
    const { images, labels } = this.#batches.next();
    try {
      const { loss } = await this.trainer.step(() => this.model.loss(images));
      const c = this.sizes.mae;
      const n = (c.imageSize / c.patchSize) ** 2;
      const visible = Math.floor(n * (1 - c.maskRatio));
      return { loss, tokens: images.shape[0] * (1 + visible + 1 + n) };
    } finally {
      tf.dispose([images, labels]);
    }
  }
  /** Original / masked / reconstructed pixels (each n × 64 in [0, 1]) for a few images, with a fixed mask. */
  async pictures(
    images: tf.Tensor4D,
    seed = 1,
  ): Promise<{ original: Float32Array; masked: Float32Array; reconstructed: Float32Array }> {
    const noise = tf.randomUniform([images.shape[0], 16], 0, 1, 'float32', seed);
    const wasTraining = this.model.training;
    this.model.eval();
    const { masked, reconstructed, mask } = this.model.reconstruct(images, { noise, fill: -1e3 });
    this.model.train(wasTraining);
    try {
      // Back to [0, 1] for drawing; masked patches become -1.
      const shown = tf.tidy(() =>
        [images, masked, reconstructed].map((t, i) =>
          t
            .mul(STD)
            .add(MEAN)
            .clipByValue(i === 1 ? -1 : 0, 1),
        ),
      );
      const [o, m, r] = await Promise.all(shown.map((t) => t.data()));
      tf.dispose(shown);
      return { original: o as Float32Array, masked: m as Float32Array, reconstructed: r as Float32Array };
    } finally {
      tf.dispose([noise, masked, reconstructed, mask]);
    }
  }
  dispose(): void {
    this.trainer.dispose();
    this.model.dispose();
  }
}

/** Fine-tuning a [CLS] classifier on the labelled images, from an MAE encoder or from scratch. */
export class FineTuning {
  readonly model: ViTForImageClassification;
  readonly trainer: Trainer;
  readonly #batches: Batches;
  constructor(
    readonly sizes: VitSizes,
    labelled: Digits,
    {
      encoder,
      seed = 0,
      pooling = 'cls',
    }: { encoder?: ViTMAEForPreTraining; seed?: number; pooling?: 'cls' | 'mean' } = {},
  ) {
    this.model = new ViTForImageClassification(sizes.vit, { numLabels: 10, pooling, seed: seed + 5 });
    if (encoder) this.model.loadEncoder(encoder.vit);
    this.trainer = new Trainer(this.model, {
      lr: sizes.lr / 2,
      weightDecay: 0.05,
      decay: vitDecay,
      warmupSteps: Math.round(sizes.fineTuneSteps / 10),
      totalSteps: sizes.fineTuneSteps,
      minLr: sizes.lr / 50,
      clipNorm: 1,
    });
    this.#batches = new Batches(labelled, sizes.batchSize, seed + 13);
  }
  get steps(): number {
    return this.trainer.stepCount;
  }
  async step(): Promise<{ loss: number; tokens: number }> {
    const { images, labels } = this.#batches.next();
    try {
      this.model.train();
      const { loss } = await this.trainer.step(() => this.model.loss(images, labels));
      return { loss, tokens: images.shape[0] * 17 };
    } finally {
      tf.dispose([images, labels]);
    }
  }
  /** Accuracy on `data` (batched). */
  async accuracy(data: Digits): Promise<number> {
    this.model.eval();
    let right = 0;
    for (let i = 0; i < data.n; i += 256) {
      const idx = Array.from({ length: Math.min(256, data.n - i) }, (_, k) => i + k);
      const x = imagesTensor(data, idx);
      const pred = tf.tidy(() => this.model.forward(x).argMax(-1));
      const p = await pred.data();
      idx.forEach((j, k) => {
        if (p[k] === data.labels[j]) right++;
      });
      tf.dispose([x, pred]);
    }
    return right / data.n;
  }
  /** [CLS]'s attention over the 16 patches in the last layer, averaged over heads, and the predicted class. */
  async clsAttention(image: tf.Tensor4D): Promise<{ weights: Float32Array; predicted: number }> {
    this.model.eval();
    const [att, pred] = tf.tidy(() => {
      const out = this.model.vit.run(image, { returnAttention: true });
      const last = out.attentions![out.attentions!.length - 1]!; // (1, H, 17, 17)
      const cls = last.slice([0, 0, 0, 1], [1, -1, 1, -1]).mean(1).reshape([-1]);
      return [cls, this.model.head(out.lastHiddenState).argMax(-1)];
    });
    const [w, p] = await Promise.all([att.data(), pred.data()]);
    tf.dispose([att, pred]);
    return { weights: w as Float32Array, predicted: p[0]! };
  }
  dispose(): void {
    this.trainer.dispose();
    this.model.dispose();
  }
}
