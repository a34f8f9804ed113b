import * as tf from '@tensorflow/tfjs';
import { concatRowsOnDevice, copyRowsOnDevice, webgpuDeviceState } from './backend/webgpu-device.js';

/*
 * Tables larger than a WebGPU storage binding (GPT-2's 50,257 × 768 embedding is 154 MB; the spec's
 * default binding is 128 MiB, and lavapipe's adapter allows no more) are read in row blocks that each fit.
 */

/** The bytes one storage binding may hold: WebGPU's maxStorageBufferBindingSize, Infinity off WebGPU. */
export function bindingBytes(): number {
  const dev = tf.getBackend() === 'webgpu' ? webgpuDeviceState() : undefined;
  return dev ? dev.maxStorageBufferBindingSize : Number.POSITIVE_INFINITY;
}

/** Rows a block of `t` may have to fit one storage binding; Infinity off WebGPU or when all of `t` fits. */
export function rowsPerBinding(t: tf.Tensor): number {
  const limit = bindingBytes();
  if (t.size * 4 <= limit) return Number.POSITIVE_INFINITY;
  return Math.max(1, Math.floor(limit / (4 * (t.size / t.shape[0]!))));
}

/** Rows [begin, begin + size) of `t`; a device copy where `t` is over the binding limit. */
export function rowBlock<T extends tf.Tensor>(t: T, begin: number, size: number): T {
  if (begin === 0 && size === t.shape[0]) return t.clone();
  if (rowsPerBinding(t) !== Number.POSITIVE_INFINITY) {
    // Differentiable: the gradient is dy placed at its rows of a zero table, stacked by device copies.
    const rows = t.shape[0]!;
    const rest = t.shape.slice(1);
    const copied = tf.customGrad((...args) => {
      const copy = copyRowsOnDevice(args[0] as tf.Tensor, begin, size);
      return {
        value: copy ?? (args[0] as tf.Tensor).slice([begin, ...rest.map(() => 0)], [size, ...rest]),
        gradFunc: (dy) => {
          const parts = [
            ...(begin > 0 ? [tf.zeros([begin, ...rest])] : []),
            dy as tf.Tensor,
            ...(begin + size < rows ? [tf.zeros([rows - begin - size, ...rest])] : []),
          ];
          const grad = concatRows(parts);
          tf.dispose(parts.filter((p) => p !== dy));
          return grad;
        },
      };
    });
    return copied(t) as T;
  }
  return t.slice([begin, ...t.shape.slice(1).map(() => 0)], [size, ...t.shape.slice(1)]) as T;
}

/** `parts` stacked along axis 0; by device copies where the result is over the binding limit. */
export function concatRows(parts: tf.Tensor[]): tf.Tensor {
  if (parts.length === 1) return parts[0]!.clone();
  const dev = tf.getBackend() === 'webgpu' ? webgpuDeviceState() : undefined;
  const bytes = parts.reduce((n, p) => n + p.size * 4, 0);
  if (dev && bytes > dev.maxStorageBufferBindingSize) {
    const out = concatRowsOnDevice(parts);
    if (out) return out;
  }
  return tf.concat(parts, 0);
}

/**
 * table (V, D) rows at int32 ids (N) → (N, D), reading the table `block` rows at a time; each id is
 * taken from its block by a select, so the result is exactly tf.gather's. Gradient: the scatter-add.
 */
export function blockedGather(table: tf.Tensor2D, ids: tf.Tensor1D, block: number): tf.Tensor2D {
  return blockedGatherWithGrad(block)(table, ids);
}

const blockedGatherWithGrad = (block: number) =>
  tf.customGrad((...args) => {
    const [table, ids, save] = args as [tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
    const [v, d] = table.shape;
    let value = tf.zeros([ids.shape[0], d]) as tf.Tensor2D;
    for (let r0 = 0; r0 < v; r0 += block) {
      const size = Math.min(block, v - r0);
      const next = tf.tidy(() => {
        const rows = rowBlock(table, r0, size);
        const inBlock = ids.greaterEqual(r0).logicalAnd(ids.less(r0 + size));
        const picked = tf.gather(
          rows,
          ids
            .sub(r0)
            .clipByValue(0, size - 1)
            .cast('int32'),
        );
        return tf.where(inBlock.expandDims(1), picked, value);
      });
      value.dispose();
      value = next as tf.Tensor2D;
    }
    save([ids]);
    return {
      value,
      // The scatter-add block by block (each block's gradient fits a binding), stacked by device copies.
      gradFunc: (dy, [savedIds]) => {
        const parts: tf.Tensor[] = [];
        for (let r0 = 0; r0 < v; r0 += block) {
          const size = Math.min(block, v - r0);
          parts.push(
            tf.tidy(() => {
              const inBlock = savedIds!.greaterEqual(r0).logicalAnd(savedIds!.less(r0 + size));
              const local = savedIds!
                .sub(r0)
                .clipByValue(0, size - 1)
                .cast('int32');
              const rows = tf.where(inBlock.expandDims(1), dy as tf.Tensor2D, tf.zerosLike(dy));
              return tf.scatterND(local.expandDims(1), rows, [size, d]);
            }),
          );
        }
        const grad = concatRows(parts);
        tf.dispose(parts);
        return [grad, tf.zerosLike(savedIds!)];
      },
    };
  }) as (table: tf.Tensor2D, ids: tf.Tensor1D) => tf.Tensor2D;
