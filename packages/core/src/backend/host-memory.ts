import * as tf from '@tensorflow/tfjs';

/**
 * The float32 values of `t` where they already live in this process's memory (cpu: the backend's array;
 * wasm: a view of the heap), without a copy; undefined on device backends. The view is the tensor itself:
 * write only to tensors just made and referenced nowhere else. On wasm, any later allocation may grow the
 * heap and detach the view, so take views after allocating.
 */
export function hostView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32') return undefined;
  const name = tf.getBackend();
  if (name === 'cpu') return t.dataSync() as Float32Array;
  if (name !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as { typedArrayFromHeap(t: tf.TensorInfo): Float32Array };
  return backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype });
}
