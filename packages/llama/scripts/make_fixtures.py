"""Parity fixtures for @transformer-kit/llama: Llama in plain PyTorch with HuggingFace's names and semantics
(modeling_llama: RMSNorm in float32 with eps inside the root, rotate_half RoPE with inv_freq = theta^(-2i/d),
repeat_kv for grouped-query attention, SwiGLU MLP, tied or untied lm_head). transformers is not installed, so
the reference is written out here.

Weights are not random draws but a counter hash (lowbias32) that the TypeScript test reproduces bit for bit
(test/weights.ts), so the SmolLM2-135M-shaped check needs no 540 MB fixture: only logits slices are committed.

  tiny-llama/   an HF LlamaForCausalLM folder (config.json + model.safetensors, untied) + expected.json
  smollm2-shapes.json   SmolLM2-135M's shapes (30 layers, 9 q / 3 kv heads, hidden 576, vocab 49152, tied,
                        theta 100000): logits slices and stats for one prompt, greedy tokens

Run with the system python (it has torch): OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/llama/scripts/make_fixtures.py
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(__file__)
FIX = os.path.join(HERE, "..", "test", "fixtures")

TINY = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=128, hidden_size=32,
            intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            max_position_embeddings=64, rms_norm_eps=1e-5, rope_theta=10000.0, tie_word_embeddings=False,
            hidden_act="silu", attention_bias=False, mlp_bias=False)
SMOL = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=49152, hidden_size=576,
            intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
            max_position_embeddings=8192, rms_norm_eps=1e-5, rope_theta=100000.0, tie_word_embeddings=True,
            hidden_act="silu", attention_bias=False, mlp_bias=False)


def hash_uniform(seed, n):
    """lowbias32 of (i + seed * 0x9E3779B9) mod 2^32, top 24 bits → [0, 1): exact in float64."""
    x = (np.arange(n, dtype=np.uint64) + np.uint64(seed) * np.uint64(0x9E3779B9)) & np.uint64(0xFFFFFFFF)
    x = x.astype(np.uint32)
    x ^= x >> np.uint32(16)
    x = (x.astype(np.uint64) * np.uint64(0x7FEB352D) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    x ^= x >> np.uint32(15)
    x = (x.astype(np.uint64) * np.uint64(0x846CA68B) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    x ^= x >> np.uint32(16)
    return (x >> np.uint32(8)).astype(np.float64) / 16777216.0


def weight_specs(c):
    """(HF name, shape, kind) in the fixed order whose index + 1 seeds each tensor (test/weights.ts: the same)."""
    d, f, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    hd = c.get("head_dim") or d // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    specs = [("model.embed_tokens.weight", (v, d), "embed")]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        specs += [(p + "self_attn.q_proj.weight", (q, d), "linear"), (p + "self_attn.k_proj.weight", (kv, d), "linear"),
                  (p + "self_attn.v_proj.weight", (kv, d), "linear"), (p + "self_attn.o_proj.weight", (d, q), "linear"),
                  (p + "mlp.gate_proj.weight", (f, d), "linear"), (p + "mlp.up_proj.weight", (f, d), "linear"),
                  (p + "mlp.down_proj.weight", (d, f), "linear"), (p + "input_layernorm.weight", (d,), "norm"),
                  (p + "post_attention_layernorm.weight", (d,), "norm")]
    specs.append(("model.norm.weight", (d,), "norm"))
    if not c["tie_word_embeddings"]:
        specs.append(("lm_head.weight", (v, d), "linear"))
    return specs


def make_weights(c):
    sd = {}
    for k, (name, shape, kind) in enumerate(weight_specs(c)):
        u = hash_uniform(k + 1, int(np.prod(shape)))
        if kind == "norm":
            w = 1.0 + 0.2 * (u - 0.5)
        elif kind == "embed":  # small, as the tied head reads it: logits of a few units, not tens
            w = (2 * u - 1) * 0.2
        else:  # uniform with std 1.2 / sqrt(fan_in): activations stay O(1) through the layers
            w = (2 * u - 1) * (1.2 * np.sqrt(3.0) / np.sqrt(shape[1]))
        sd[name] = torch.from_numpy(w.astype(np.float32).reshape(shape))
    return sd


def rms_norm(x, w, eps):
    v = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(v + eps))


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def llama_forward(sd, c, ids, attention_mask=None, start=0):
    """HF LlamaForCausalLM.forward (eager attention, no cache, positions start..): logits, hidden states."""
    b, t = ids.shape
    d, nh, nkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = c.get("head_dim") or d // nh
    eps = c["rms_norm_eps"]
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    pos = torch.arange(start, start + t).float()
    freqs = pos[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
    bias = torch.zeros(b, 1, t, t).masked_fill(~causal, torch.finfo(torch.float32).min)
    if attention_mask is not None:
        bias = bias.masked_fill(attention_mask[:, None, None, :] == 0, torch.finfo(torch.float32).min)
    w = lambda k: sd[k]
    h = w("model.embed_tokens.weight")[ids]
    hidden = []
    for i in range(c["num_hidden_layers"]):
        hidden.append(h)
        p = f"model.layers.{i}."
        x = rms_norm(h, w(p + "input_layernorm.weight"), eps)
        q = (x @ w(p + "self_attn.q_proj.weight").T).view(b, t, nh, hd).transpose(1, 2)
        k = (x @ w(p + "self_attn.k_proj.weight").T).view(b, t, nkv, hd).transpose(1, 2)
        v = (x @ w(p + "self_attn.v_proj.weight").T).view(b, t, nkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k[:, :, None].expand(b, nkv, nh // nkv, t, hd).reshape(b, nh, t, hd)  # repeat_kv
        v = v[:, :, None].expand(b, nkv, nh // nkv, t, hd).reshape(b, nh, t, hd)
        att = torch.softmax((q @ k.transpose(2, 3)) / hd ** 0.5 + bias, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, nh * hd)
        h = h + y @ w(p + "self_attn.o_proj.weight").T
        x = rms_norm(h, w(p + "post_attention_layernorm.weight"), eps)
        g = x @ w(p + "mlp.gate_proj.weight").T
        h = h + (torch.nn.functional.silu(g) * (x @ w(p + "mlp.up_proj.weight").T)) @ w(p + "mlp.down_proj.weight").T
    h = rms_norm(h, w("model.norm.weight"), eps)
    hidden.append(h)
    head = w("model.embed_tokens.weight") if c["tie_word_embeddings"] else w("lm_head.weight")
    return h @ head.T, hidden


def save_safetensors(sd, path):
    """The safetensors format by hand (the package is not installed): u64 header size, JSON header, raw data."""
    header, blobs, offset = {}, [], 0
    for name, tensor in sd.items():
        data = tensor.contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * ((8 - len(head) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)) + head + b"".join(blobs))


def r(t):
    return [round(float(x), 6) for x in t.flatten()]


def greedy(sd, c, prompt, n):
    seq = list(prompt)
    for _ in range(n):
        logits, _ = llama_forward(sd, c, torch.tensor([seq]))
        seq.append(int(logits[0, -1].argmax()))
    return seq[len(prompt):]


def tiny():
    out = os.path.join(FIX, "tiny-llama")
    os.makedirs(out, exist_ok=True)
    sd = make_weights(TINY)
    save_safetensors(sd, os.path.join(out, "model.safetensors"))
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(TINY, f, indent=2)
    gen = torch.Generator().manual_seed(7)
    prompts = [torch.randint(0, TINY["vocab_size"], (n,), generator=gen).tolist() for n in (1, 6, 13)]
    exp = {"prompts": []}
    for p in prompts:
        logits, hs = llama_forward(sd, TINY, torch.tensor([p]))
        exp["prompts"].append({"ids": p, "logits": r(logits), "hidden_states": [r(x) for x in hs]})
    rows = [torch.randint(1, TINY["vocab_size"], (n,), generator=gen).tolist() for n in (9, 5)]
    ids = [row + [0] * (9 - len(row)) for row in rows]
    mask = [[1] * len(row) + [0] * (9 - len(row)) for row in rows]
    logits, _ = llama_forward(sd, TINY, torch.tensor(ids), torch.tensor(mask))
    exp["padded"] = {"ids": ids, "attention_mask": mask, "logits": r(logits)}
    exp["greedy"] = {"prompt": prompts[1], "new_tokens": greedy(sd, TINY, prompts[1], 20)}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(exp, f, separators=(",", ":"))


def smol():
    sd = make_weights(SMOL)
    prompt = [1, 504, 3458, 28, 9, 17000, 42, 2049]
    logits, hs = llama_forward(sd, SMOL, torch.tensor([prompt]))
    lg = logits[0]
    exp = {
        "config": SMOL,
        "ids": prompt,
        # the first 64 and a strided sample of every position's logits, and their log-sum-exp
        "logits_head": [r(lg[i, :64]) for i in range(len(prompt))],
        "logits_strided": [r(lg[i, ::997]) for i in range(len(prompt))],
        "logsumexp": r(torch.logsumexp(lg, -1)),
        "argmax": lg.argmax(-1).tolist(),
        "hidden15_head": r(hs[15][0, :, :32]),
        "final_hidden_std": float(hs[-1].std()),
        "greedy": {"prompt": prompt, "new_tokens": greedy(sd, SMOL, prompt, 4)},
    }
    with open(os.path.join(FIX, "smollm2-shapes.json"), "w") as f:
        json.dump(exp, f, separators=(",", ":"))


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    tiny()
    smol()
    for root, _, files in os.walk(FIX):
        for name in sorted(files):
            print(os.path.join(root, name), os.path.getsize(os.path.join(root, name)), "bytes")
