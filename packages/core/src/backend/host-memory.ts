import * as tf from '@tensorflow/tfjs';

/**
 * The float32 values of `t` where they already live in this process's memory (cpu: the backend's array;
 * wasm: a view of the heap), without a copy; undefined on device backends and wherever a write into the
 * array would not reach the tensor. The view is the tensor itself: write only to tensors just made and
 * referenced nowhere else. On wasm, any later allocation may grow the heap and detach the view, so take
 * views after allocating. Callers fall back to copies when it is undefined.
 */
export function hostView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const name = tf.getBackend();
  if (name === 'cpu') {
    // TF.js 4.22's cpu backend returns its own array from dataSync. A backend that returned a copy would
    // return a new one on each read: writes into it would be lost (AdamW would silently stop updating).
    const values = t.dataSync() as Float32Array;
    return t.dataSync() === values ? values : undefined;
  }
  if (name !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as {
    typedArrayFromHeap?(t: tf.TensorInfo): Float32Array;
    wasm?: { HEAPU8?: Uint8Array };
  };
  if (typeof backend.typedArrayFromHeap !== 'function') return undefined;
  const view = backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
  // Only a view of the heap itself is the tensor.
  return view.buffer === backend.wasm?.HEAPU8?.buffer ? view : undefined;
}
