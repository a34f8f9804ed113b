import * as tf from '@tensorflow/tfjs';
import {
  type BackendName,
  crossEntropy,
  Embedding,
  gelu,
  initBackend,
  LayerNorm,
  Linear,
  Module,
  Rng,
  Trainer,
} from '../src/index.js';

/*
 * A tiny network made of every core building block (embedding → linear → layerNorm → gelu → linear →
 * crossEntropy), used to check that cpu, wasm and webgpu compute the same numbers and that the same model
 * trains on each. Parameters come from a seeded JS generator, not from a backend, so every backend starts
 * from identical weights.
 */
export const VOCAB = 11;
const DIM = 8;
const HIDDEN = 16;

export class TinyNet extends Module {
  readonly wte = this.module('wte', new Embedding(VOCAB, DIM));
  readonly fc = this.module('fc', new Linear(DIM, HIDDEN));
  readonly ln = this.module('ln', new LayerNorm(HIDDEN));
  readonly head = this.module('head', new Linear(HIDDEN, VOCAB));

  constructor(seed = 1) {
    super();
    const rng = new Rng(seed);
    const sd: Record<string, tf.Tensor> = {};
    for (const [name, p] of this.namedParameters()) {
      const values = Float32Array.from({ length: p.size }, () => (rng.next() - 0.5) * 0.8);
      sd[name] = tf.tensor(values, p.shape);
    }
    this.loadStateDict(sd);
    tf.dispose(Object.values(sd));
  }

  loss(ids: tf.Tensor, targets: tf.Tensor): tf.Scalar {
    const h = gelu(this.ln.forward(this.fc.forward(this.wte.forward(ids))));
    return crossEntropy(this.head.forward(h), targets);
  }
}

/** A batch (2, 5) with a repeated id (so embedding gradients add up) and one ignored target. */
export function batch(): { ids: tf.Tensor2D; targets: tf.Tensor2D } {
  return {
    ids: tf.tensor2d(
      [
        [1, 4, 4, 7, 10],
        [0, 3, 9, 4, 2],
      ],
      [2, 5],
      'int32',
    ),
    targets: tf.tensor2d(
      [
        [4, 4, 7, 10, -100],
        [3, 9, 4, 2, 5],
      ],
      [2, 5],
      'int32',
    ),
  };
}

export interface ForwardBackward {
  loss: number;
  grads: Record<string, Float32Array>;
}

/** Loss and the gradient of every parameter of a fresh TinyNet on `backend`. */
export async function forwardBackward(backend: BackendName): Promise<ForwardBackward> {
  await initBackend(backend);
  const model = new TinyNet();
  const { ids, targets } = batch();
  const vars = model.parameters();
  const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), vars);
  const out: ForwardBackward = { loss: (await value.data())[0]!, grads: {} };
  for (const [name, p] of model.namedParameters()) {
    out.grads[name] = (await grads[p.name]!.data()) as Float32Array;
  }
  tf.dispose([value, ids, targets, ...Object.values(grads)]);
  model.dispose();
  return out;
}

/** Largest absolute difference between two runs, over the loss and every gradient entry. */
export function maxDiff(a: ForwardBackward, b: ForwardBackward): number {
  let d = Math.abs(a.loss - b.loss);
  for (const [name, ga] of Object.entries(a.grads)) {
    const gb = b.grads[name]!;
    for (let i = 0; i < ga.length; i++) d = Math.max(d, Math.abs(ga[i]! - gb[i]!));
  }
  return d;
}

/**
 * Trains an embedding + matmul model (TinyNet) for `steps` Trainer steps on a next-token task (id → id+1
 * mod VOCAB). Returns the losses and tf.memory().numTensors after each step.
 */
export async function train(
  backend: BackendName,
  steps: number,
): Promise<{ losses: number[]; numTensors: number[] }> {
  await initBackend(backend);
  const model = new TinyNet(2);
  const trainer = new Trainer(model, { lr: 0.03 });
  const ids = tf.tensor2d(
    [
      [0, 1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10, 0],
    ],
    [2, 6],
    'int32',
  );
  const targets = ids.add(1).mod(VOCAB) as tf.Tensor2D;
  const losses: number[] = [];
  const numTensors: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { loss } = await trainer.step(() => model.loss(ids, targets));
    losses.push(loss);
    numTensors.push(tf.memory().numTensors);
  }
  trainer.dispose();
  model.dispose();
  tf.dispose([ids, targets]);
  return { losses, numTensors };
}
