import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { IdOutOfRangeError, idsTensor, initBackend, ShapeError } from '../src/index.js';

// idsTensor is the ids check of every text model (GPT, BERT and its families, Llama).
describe('idsTensor', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });

  it('turns rows, one flat row and tensors into (B, T) int32 with the same values', () => {
    const start = tf.memory().numTensors;
    tf.tidy(() => {
      const rows = idsTensor([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(rows.dtype).toBe('int32');
      expect(rows.arraySync()).toEqual([
        [1, 2, 3],
        [4, 5, 6],
      ]);
      expect(idsTensor([7, 8]).arraySync()).toEqual([[7, 8]]);
      const float = tf.tensor2d([[1, 2]], [1, 2], 'float32');
      const cast = idsTensor(float, { limit: 3 });
      expect(cast.dtype).toBe('int32');
      expect(cast.arraySync()).toEqual([[1, 2]]);
      const int = tf.tensor2d([[0, 1]], [1, 2], 'int32');
      expect(idsTensor(int, { limit: 2 })).toBe(int); // no copy of an int32 tensor
    });
    expect(tf.memory().numTensors).toBe(start);
  });

  it('checks the range against the limit, names the first bad value and the fix', () => {
    expect(() => idsTensor([[0, 5]], { limit: 5, fix: 'the vocabulary has 5 entries' })).toThrow(
      /token id 5 at index 1 is outside \[0, 5\): the vocabulary has 5 entries/,
    );
    expect(() => idsTensor([[-1]], { limit: 5 })).toThrow(IdOutOfRangeError);
    // A float tensor is checked before the cast, so 1.5 is not silently read as 1.
    expect(() => idsTensor(tf.tensor2d([[1.5]]), { limit: 5 })).toThrow(/1.5 .* is not an integer/);
    expect(() => idsTensor(tf.tensor2d([[9]], [1, 1], 'int32'), { limit: 5, what: 'token type id' })).toThrow(
      /token type id 9/,
    );
    // Without a limit only integrality: targets may hold an ignore index.
    expect(idsTensor([[-100, 3]], { name: 'targets' }).arraySync()).toEqual([[-100, 3]]);
    expect(() => idsTensor([[0.5]], { name: 'targets', what: 'target' })).toThrow(
      /target 0.5 at index 0 is not an integer/,
    );
  });

  it('refuses ragged, flat (where rows are required), empty, wrong-rank and wrong-dtype input with ShapeErrors', () => {
    expect(() => idsTensor([[1, 2], [3]])).toThrow(/same length \(pad them and pass attentionMask\)/);
    expect(() => idsTensor([1, 2], { name: 'inputIds', allowFlat: false })).toThrow(
      /inputIds must be \(batch, seq\)/,
    );
    expect(() => idsTensor([[]])).toThrow(/at least one token/);
    expect(idsTensor([[]], { nonEmpty: false }).shape).toEqual([1, 0]);
    expect(() => idsTensor(tf.tensor1d([1, 2], 'int32'))).toThrow(ShapeError);
    expect(() => idsTensor(tf.tensor2d([[1]], [1, 1], 'bool'))).toThrow(/int32.*got bool/);
    expect(() => idsTensor('12' as unknown as number[])).toThrow(ShapeError);
  });
});
