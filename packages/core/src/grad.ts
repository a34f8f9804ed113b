import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from './errors.js';
import { dropoutStream, setDropoutStream } from './ops.js';

/*
 * Reverse-mode gradients that free memory as they go. tf.variableGrads keeps every intermediate gradient
 * until the whole backward pass ends and every saved activation until then too, so a BERT-base step held
 * its activations twice over and trapped the 4 GB wasm heap. This walks the same tape (TF.js records it;
 * the kernels' registered gradients are reused) but drops each node's saved tensors and its outputs'
 * gradients as soon as the node is done: the peak is the activations plus one frontier of gradients.
 *
 * It reads three fields of TF.js's engine (state.activeTape, state.gradientDepth, scopedRun/startTape/
 * endTape), stable across TF.js 4.x; tfjs is pinned by the workspace catalog and the tests cover it.
 */

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number; kernelDepth: number };
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(name: string, f: () => T): T;
}

const engine = () => tf.engine() as unknown as EngineInternals;

/** True while a gradient tape is recording (inside `valueAndGrads`'s or tf.grads's forward pass). */
export function isRecordingGradients(): boolean {
  const { state } = engine();
  return state.gradientDepth > 0 && state.kernelDepth === 0;
}

export interface ValueAndGrads<T extends tf.Tensor = tf.Scalar> {
  value: T;
  /** One gradient per x, in order; null where y does not depend on x (torch's `grad is None`). */
  grads: (tf.Tensor | null)[];
}

/**
 * y = f() and dy/dx for each x (weighted by `dy` if given, else ones), like tf.grads but freeing saved
 * activations and intermediate gradients as soon as the backward pass is past them. `xs` may be variables
 * that f reads. Everything f makes but the returned value and the gradients is freed, also when f or the
 * backward pass throws (then the tape's saved tensors are released too).
 */
export function valueAndGrads<T extends tf.Tensor>(
  f: () => T,
  xs: tf.Tensor[],
  dy?: tf.Tensor,
): ValueAndGrads<T> {
  if (xs.length === 0) throw new InvalidArgumentError('valueAndGrads: xs is empty');
  const e = engine();
  if (e.state.gradientDepth > 0) {
    throw new InvalidArgumentError(
      'valueAndGrads: cannot be called while another forward pass is being recorded',
    );
  }
  // Nested use (recompute inside a backward pass) sees the outer tape still installed: keep it.
  const outerTape = e.state.activeTape;
  let tape: TapeNode[] = [];
  let y: T | undefined;
  try {
    try {
      y = e.scopedRun(
        () => e.startTape(),
        () => e.endTape(),
        () => e.tidy('forward', f),
      );
    } finally {
      tape = e.state.activeTape ?? [];
      e.state.activeTape = outerTape;
    }
    if (!(y instanceof tf.Tensor)) throw new InvalidArgumentError('valueAndGrads: f must return a tensor');
    return { value: y, grads: backward(filterTape(tape, xs, y), y, xs, dy) };
  } catch (err) {
    if (y instanceof tf.Tensor) y.dispose();
    throw err;
  } finally {
    for (const node of tape) tf.dispose(node.saved ?? []);
  }
}

/** The gradient pass over the filtered tape, releasing as it goes. */
function backward(tape: TapeNode[], y: tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): (tf.Tensor | null)[] {
  const grads = new Map<number, tf.Tensor>([[y.id, dy ? dy.clone() : tf.onesLike(y)]]);
  try {
    walk(tape, grads, new Set(xs.map((x) => x.id)));
  } catch (err) {
    tf.dispose([...grads.values()]);
    throw err;
  }
  return xs.map((x) => grads.get(x.id) ?? null);
}

function walk(tape: TapeNode[], grads: Map<number, tf.Tensor>, keepIds: Set<number>): void {
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    const dys = node.outputs.map((o) => grads.get(o.id) ?? null);
    if (dys.some((d) => d !== null)) {
      if (!node.gradient)
        throw new Error(`Cannot compute gradient: no gradient function for ${node.kernelName}`);
      const gradient = node.gradient;
      // One scope for the gradient function and its thunks: custom gradients do their work in the former.
      const inputGrads = tf.tidy(() => {
        const thunks = gradient(dys);
        const out: Record<string, tf.Tensor> = {};
        for (const name in node.inputs) {
          const thunk = thunks[name];
          if (!thunk) throw new Error(`Cannot backprop through input '${name}' of ${node.kernelName}`);
          out[name] = thunk();
        }
        return out;
      });
      try {
        for (const name in node.inputs) accumulate(grads, node, name, inputGrads[name]!);
      } catch (err) {
        tf.dispose(Object.values(inputGrads));
        throw err;
      }
    }
    // Every consumer of this node's outputs comes later on the tape, so their gradients are complete and
    // used now; its saved activations are needed by nothing else.
    for (const o of node.outputs) {
      const g = grads.get(o.id);
      if (g && !keepIds.has(o.id)) {
        g.dispose();
        grads.delete(o.id);
      }
    }
    tf.dispose(node.saved ?? []);
    node.saved = [];
  }
}

function accumulate(grads: Map<number, tf.Tensor>, node: TapeNode, name: string, dx: tf.Tensor): void {
  const x = node.inputs[name]!;
  if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape)) {
    throw new Error(
      `Gradient of ${node.kernelName} input '${name}' has ${dx.dtype} [${dx.shape}], expected float32 [${x.shape}]`,
    );
  }
  const prev = grads.get(x.id);
  if (!prev) {
    grads.set(x.id, dx);
    return;
  }
  grads.set(x.id, tf.add(prev, dx));
  tf.dispose([prev, dx]);
}

/**
 * The nodes on a path from some x to y, each keeping only the inputs that depend on an x (TF.js's
 * getFilteredNodesXToY, which is not exported).
 */
function filterTape(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i]!;
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodesToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const [name, t] of Object.entries(node.inputs)) if (fromX.has(t.id)) inputs[name] = t;
    // The pruned copy shares `saved` with the original, so freeing either frees both.
    out.push({ ...node, inputs });
  }
  return out;
}

/**
 * Activation recomputation ("gradient checkpointing"): y = fn(x, ...consts) keeps only x and `consts`
 * for the backward pass, and reruns fn there to get the gradients of x and of `params` (the variables fn
 * reads). Memory per block drops from all its activations to its input, for one extra forward. The
 * rerun replays the dropout stream from where the forward pass drew, so it sees the same masks.
 * Outside a recorded forward pass it is plain fn(x, ...consts).
 */
export function recompute(
  fn: (x: tf.Tensor, ...consts: tf.Tensor[]) => tf.Tensor,
  x: tf.Tensor,
  consts: tf.Tensor[],
  params: tf.Variable[],
): tf.Tensor {
  if (!isRecordingGradients()) return fn(x, ...consts);
  const trainable = params.filter((p) => p.trainable);
  const stream = dropoutStream();
  const run = tf.customGrad((...args) => {
    const save = args.pop() as tf.GradSaveFunc;
    const value = fn(args[0] as tf.Tensor, ...consts);
    save([args[0] as tf.Tensor, ...consts]);
    return {
      value,
      gradFunc: (dy, saved) => {
        const [sx, ...sconsts] = saved as tf.Tensor[];
        const resume = setDropoutStream(stream.clone());
        try {
          const xs = [sx!, ...trainable];
          const { value, grads } = valueAndGrads(() => fn(sx!, ...sconsts), xs, dy as tf.Tensor);
          value.dispose();
          return grads.map((g, i) => g ?? tf.zerosLike(xs[i]!));
        } finally {
          setDropoutStream(resume);
        }
      },
    };
  });
  return run(x, ...trainable) as tf.Tensor;
}
