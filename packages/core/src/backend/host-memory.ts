import * as tf from '@tensorflow/tfjs';
import { wasmRuntime } from './wasm-runtime.js';

/**
 * The float32 values of `t` where they already live in this process's memory, without a copy: on cpu the
 * backend's own array (its data map's `values`), on wasm a view of the heap at the tensor's address
 * (backend-wasm's `heapView`). Undefined on device backends and wherever that memory cannot be found, never
 * a copy: callers write into the view to update a tensor in place (AdamW's new parameters), so a copy
 * would make them silently stop updating; they fall back to making a fresh tensor instead. The view is the
 * tensor itself: write only to tensors just made and referenced nowhere else. On wasm, any later allocation
 * may grow the heap and detach the view, so take views after allocating.
 */
export function hostView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const name = tf.getBackend();
  if (name === 'wasm') return wasmRuntime.heapView(t);
  if (name !== 'cpu') return undefined;
  // TF.js 4.22's MathBackendCPU keeps each tensor's values in `data` (a DataStorage keyed by data id), and
  // that array is the tensor; dataSync()'s return is not relied on (a TF.js whose reads returned copies
  // would not change it). A store that handed out copies would give a new array on each lookup.
  const data = (
    tf.backend() as unknown as { data?: { get?(id: tf.DataId): { values?: unknown } | undefined } }
  ).data;
  if (typeof data?.get !== 'function') return undefined;
  const values = data.get(t.dataId)?.values;
  const owned =
    values instanceof Float32Array && values.length === t.size && data.get(t.dataId)?.values === values;
  return owned ? values : undefined;
}
