import * as tf from '@tensorflow/tfjs';
import { expect, it, vi } from 'vitest';
import { hostView } from '../src/backend/host-memory.js';
import { wasmRuntime } from '../src/backend/wasm-runtime.js';
import { AdamW, fusedKernelNames, initBackend, matMul, wasmHeapStats } from '../src/index.js';

// Its own file (its own process): wasm starts once per process, here with core's kernels failing to attach
// (as when TF.js's emscripten module no longer exposes its heap).
vi.spyOn(wasmRuntime, 'register').mockResolvedValue(false);
vi.spyOn(wasmRuntime, 'unavailable', 'get').mockReturnValue(
  "TF.js's wasm heap (Module.asm.memory) not found",
);

it('a kernel hook that cannot attach: skipped with one warning naming why, the rest still guarded', async () => {
  const warnings: string[] = [];
  const info = await initBackend('wasm', { warn: (m) => warnings.push(m) });
  expect(info.backend).toBe('wasm');
  expect(warnings).toHaveLength(1);
  expect(warnings[0]).toMatch(/hooks into TF.js skipped \(core's kernels: TF.js's wasm heap .* not found\)/);
  // The heap guard attached, so the warning does not claim otherwise.
  expect(warnings[0]).toMatch(/\): TF.js's own kernels run every op \(slower\)$/);
  expect(info.skippedHooks).toBe("core's kernels: TF.js's wasm heap (Module.asm.memory) not found");
  expect(info.wasm?.kernels).toBe('none');
  expect(info.wasm?.kernelThreads).toBe(1);
  // Nothing behind core's fused ops: every op composes TF.js's own kernels.
  expect(fusedKernelNames('wasm')).toEqual([]);
  // The heap guard did attach: allocations are counted.
  const a = tf.tensor2d([1, 2, 3, 4], [2, 2]);
  const b = tf.tensor2d([5, 6, 7, 8], [2, 2]);
  expect(wasmHeapStats()!.liveBytes).toBeGreaterThanOrEqual(32);
  const c = matMul(a, b);
  expect(Array.from(c.dataSync())).toEqual([19, 22, 43, 50]);
  tf.dispose([a, b, c]);
});

it("without core's kernels AdamW runs on host views of the heap; a view that is a copy is never written", () => {
  const backend = tf.backend() as unknown as { typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
  const step = () => {
    const init = tf.tensor1d([0.5, -1, 2]);
    const w = tf.variable(init, true, 'w');
    const opt = new AdamW([['w', w]], { lr: 0.1, weightDecay: 0 });
    const g = tf.tensor1d([1, -2, 0.5]);
    opt.step({ w: g });
    const out = Array.from(w.dataSync());
    tf.dispose([init, w, g]);
    opt.dispose();
    return out;
  };
  const t = tf.zeros([2]);
  expect(hostView(t)).toBeInstanceOf(Float32Array);
  const expected = step();
  // First AdamW step moves each weight by lr against its gradient's sign.
  for (const [i, x] of expected.entries()) expect(x).toBeCloseTo([0.4, -0.9, 1.9][i]!, 5);
  const fromHeap = backend.typedArrayFromHeap;
  backend.typedArrayFromHeap = function (this: unknown, info: tf.TensorInfo) {
    return fromHeap.call(this, info).slice();
  };
  try {
    expect(hostView(t)).toBeUndefined();
    expect(step()).toEqual(expected);
  } finally {
    backend.typedArrayFromHeap = fromHeap;
    t.dispose();
  }
});
