/**
 * Page section 6: MAE pretraining of a small ViT on the UCI digits with a live loss curve and a grid of
 * original / masked / reconstructed test images, then [CLS] classifiers fine-tuned from the MAE encoder
 * and from scratch (accuracy side by side), and [CLS]'s attention over the patches drawn on the image.
 * Glue only: the experiment is ../src/vit.ts, the models are @transformer-kit/vit.
 */
import type * as tf from '@tensorflow/tfjs';
import {
  FineTuning,
  imagesTensor,
  loadDigits,
  MaePretraining,
  splitDigits,
  vitSizes,
} from '../../src/vit.js';
import type { Page } from '../page.js';
import { LossPlot } from '../plot.js';

export interface VitState {
  maeLosses: number[];
  accuracy: { mae: number | null; scratch: number | null };
  running: boolean;
  /** Redraws of the reconstruction grid (the browser test checks pictures appeared). */
  pictures: number;
}

const SHOW = 8; // test images in the grid

export function setupVitSection(page: Page): VitState {
  const { $, guarded, fast, seed, tick } = page;
  const state: VitState = {
    maeLosses: [],
    accuracy: { mae: null, scratch: null },
    running: false,
    pictures: 0,
  };
  const plot = new LossPlot($<HTMLCanvasElement>('v-plot'), '#0f9d58');
  let stop = false;
  const status = (s: string) => {
    $('v-status').textContent = s;
  };

  async function run(): Promise<void> {
    stop = false;
    state.running = true;
    $('v-train').setAttribute('disabled', '');
    $('v-stop').removeAttribute('disabled');
    const sizes = vitSizes(fast);
    const split = splitDigits(await loadDigits(), { test: sizes.test, labelled: sizes.labelled, seed });
    const shown = imagesTensor(
      split.test,
      Array.from({ length: SHOW }, (_, i) => i),
    );
    const mae = new MaePretraining(sizes, split.train, seed);
    let a: FineTuning | undefined;
    let b: FineTuning | undefined;
    plot.clear();
    state.maeLosses = [];
    try {
      status('MAE pretraining…');
      while (!stop && mae.steps < sizes.maeSteps) {
        const r = await mae.step();
        state.maeLosses.push(r.loss);
        plot.push(mae.steps, r.loss);
        $('v-step').textContent = `${mae.steps} / ${sizes.maeSteps}`;
        $('v-loss').textContent = r.loss.toFixed(4);
        if (mae.steps % 25 === 1 || mae.steps === sizes.maeSteps) await drawGrid(mae, shown);
        await tick();
      }
      if (stop) return status('stopped');
      a = new FineTuning(sizes, split.labelled, { encoder: mae.model, seed });
      b = new FineTuning(sizes, split.labelled, { seed });
      while (!stop && a.steps < sizes.fineTuneSteps) {
        await a.step();
        await b.step();
        status(`fine-tuning on ${split.labelled.n} labelled digits: ${a.steps} / ${sizes.fineTuneSteps}`);
        await tick();
      }
      if (stop) return status('stopped');
      status('evaluating…');
      state.accuracy = { mae: await a.accuracy(split.test), scratch: await b.accuracy(split.test) };
      $('v-acc-mae').textContent = pct(state.accuracy.mae!);
      $('v-acc-scratch').textContent = pct(state.accuracy.scratch!);
      await drawAttention(a, split.test);
      status(`done · test accuracy on ${split.test.n} held-out digits`);
    } finally {
      shown.dispose();
      mae.dispose();
      a?.dispose();
      b?.dispose();
      state.running = false;
      $('v-train').removeAttribute('disabled');
      $('v-stop').setAttribute('disabled', '');
    }
  }

  async function drawGrid(mae: MaePretraining, shown: tf.Tensor4D): Promise<void> {
    const p = await mae.pictures(shown, seed + 1);
    const canvas = $<HTMLCanvasElement>('v-grid');
    const cell = 40;
    const gap = 6;
    canvas.width = SHOW * (cell + gap);
    canvas.height = 3 * (cell + gap);
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    [p.original, p.masked, p.reconstructed].forEach((pixels, row) => {
      for (let i = 0; i < SHOW; i++)
        drawDigit(ctx, pixels.subarray(i * 64, i * 64 + 64), i * (cell + gap), row * (cell + gap), cell);
    });
    state.pictures++;
  }

  async function drawAttention(
    model: FineTuning,
    test: ReturnType<typeof splitDigits>['test'],
  ): Promise<void> {
    const canvas = $<HTMLCanvasElement>('v-att');
    const cell = 80;
    const gap = 10;
    const n = 6;
    canvas.width = n * (cell + gap);
    canvas.height = cell + 20;
    const ctx = canvas.getContext('2d')!;
    ctx.fillStyle = '#fff';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    for (let i = 0; i < n; i++) {
      const x = imagesTensor(test, [i]);
      const { weights, predicted } = await model.clsAttention(x);
      const pixels = test.pixels.subarray(i * 64, i * 64 + 64);
      const left = i * (cell + gap);
      drawDigit(ctx, pixels, left, 0, cell);
      const max = Math.max(...weights);
      const s = cell / 4; // 4×4 patches of 2×2 pixels
      for (let k = 0; k < 16; k++) {
        ctx.fillStyle = `rgba(255, 60, 0, ${(0.75 * weights[k]!) / max})`;
        ctx.fillRect(left + (k % 4) * s, Math.floor(k / 4) * s, s, s);
      }
      ctx.fillStyle = '#111827';
      ctx.font = '12px system-ui, sans-serif';
      ctx.fillText(`pred ${predicted} · true ${test.labels[i]}`, left, cell + 14);
      x.dispose();
    }
  }

  $('v-train').onclick = guarded(run);
  $('v-stop').onclick = () => {
    stop = true;
  };
  return state;
}

/** An 8×8 digit in [0, 1] (−1 = masked: drawn blue-grey), black ink on white, upscaled without smoothing. */
function drawDigit(
  ctx: CanvasRenderingContext2D,
  pixels: Float32Array,
  x: number,
  y: number,
  size: number,
): void {
  const s = size / 8;
  for (let k = 0; k < 64; k++) {
    const v = pixels[k]!;
    if (v < 0) ctx.fillStyle = '#a5b4fc';
    else {
      const g = Math.round(255 * (1 - Math.min(1, Math.max(0, v))));
      ctx.fillStyle = `rgb(${g},${g},${g})`;
    }
    ctx.fillRect(x + (k % 8) * s, y + Math.floor(k / 8) * s, Math.ceil(s), Math.ceil(s));
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
