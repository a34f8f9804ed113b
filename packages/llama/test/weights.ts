import * as tf from '@tensorflow/tfjs';

/*
 * The counter-hash weights of scripts/make_fixtures.py, bit for bit: lowbias32 of (i + seed·0x9E3779B9),
 * top 24 bits → u in [0, 1), scaled per kind in float64 and rounded to float32 (as numpy's astype).
 */

type Kind = 'embed' | 'linear' | 'norm';

function hashUniform(seed: number, n: number, map: (u: number) => number): Float32Array {
  const out = new Float32Array(n);
  const base = Math.imul(seed, 0x9e3779b9) >>> 0;
  for (let i = 0; i < n; i++) {
    let x = (base + i) >>> 0;
    x ^= x >>> 16;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x ^= x >>> 15;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x ^= x >>> 16;
    out[i] = map((x >>> 8) / 16777216);
  }
  return out;
}

/** HF names, shapes and kinds in the script's order (index + 1 seeds each tensor). */
export function weightSpecs(c: Record<string, unknown>): Array<[string, number[], Kind]> {
  const n = (k: string) => c[k] as number;
  const d = n('hidden_size');
  const f = n('intermediate_size');
  const v = n('vocab_size');
  const hd = (c.head_dim as number | undefined) ?? d / n('num_attention_heads');
  const q = n('num_attention_heads') * hd;
  const kv = n('num_key_value_heads') * hd;
  const specs: Array<[string, number[], Kind]> = [['model.embed_tokens.weight', [v, d], 'embed']];
  for (let i = 0; i < n('num_hidden_layers'); i++) {
    const p = `model.layers.${i}.`;
    specs.push(
      [`${p}self_attn.q_proj.weight`, [q, d], 'linear'],
      [`${p}self_attn.k_proj.weight`, [kv, d], 'linear'],
      [`${p}self_attn.v_proj.weight`, [kv, d], 'linear'],
      [`${p}self_attn.o_proj.weight`, [d, q], 'linear'],
      [`${p}mlp.gate_proj.weight`, [f, d], 'linear'],
      [`${p}mlp.up_proj.weight`, [f, d], 'linear'],
      [`${p}mlp.down_proj.weight`, [d, f], 'linear'],
      [`${p}input_layernorm.weight`, [d], 'norm'],
      [`${p}post_attention_layernorm.weight`, [d], 'norm'],
    );
  }
  specs.push(['model.norm.weight', [d], 'norm']);
  if (!c.tie_word_embeddings) specs.push(['lm_head.weight', [v, d], 'linear']);
  return specs;
}

/** The script's HF state dict for config `c` (the caller disposes the tensors). */
export function hashWeights(c: Record<string, unknown>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  weightSpecs(c).forEach(([name, shape, kind], k) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const scale = kind === 'linear' ? (1.2 * Math.sqrt(3)) / Math.sqrt(shape[1]!) : 0;
    const map =
      kind === 'norm'
        ? (u: number) => 1 + 0.2 * (u - 0.5)
        : kind === 'embed'
          ? (u: number) => (2 * u - 1) * 0.2
          : (u: number) => (2 * u - 1) * scale;
    out[name] = tf.tensor(hashUniform(k + 1, size, map), shape);
  });
  return out;
}
