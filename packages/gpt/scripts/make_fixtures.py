"""Parity fixture for @transformer-kit/gpt: a tiny GPT-2 in plain PyTorch with HuggingFace's parameter
names and layouts (Conv1D weights [in, out], fused c_attn, attn.bias buffers, gelu_new), random weights,
saved as an HF folder (config.json + model.safetensors) plus the outputs the TypeScript model must match.

Run with the system python (it has torch): /usr/bin/python3 packages/gpt/scripts/make_fixtures.py
"""
import json
import math
import os
import struct

import torch

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "tiny-gpt2")
CFG = dict(model_type="gpt2", vocab_size=96, n_positions=48, n_embd=32, n_layer=2, n_head=4,
           layer_norm_epsilon=1e-5, activation_function="gelu_new", tie_word_embeddings=True,
           architectures=["GPT2LMHeadModel"])


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def make_weights(c):
    """HF GPT2LMHeadModel state dict (prefix `transformer.`), larger-than-usual init so logits are spread."""
    d, n = c["n_embd"], c["n_positions"]
    g = lambda *s, std=0.15: torch.randn(*s) * std
    sd = {"transformer.wte.weight": g(c["vocab_size"], d, std=0.3), "transformer.wpe.weight": g(n, d, std=0.5)}
    for i in range(c["n_layer"]):
        p = f"transformer.h.{i}."
        sd[p + "ln_1.weight"] = 1 + g(d, std=0.1)
        sd[p + "ln_1.bias"] = g(d, std=0.1)
        sd[p + "attn.bias"] = torch.tril(torch.ones(n, n)).view(1, 1, n, n)  # buffer: the loader must ignore it
        sd[p + "attn.masked_bias"] = torch.tensor(-1e4)
        sd[p + "attn.c_attn.weight"] = g(d, 3 * d)  # Conv1D: [in, out]
        sd[p + "attn.c_attn.bias"] = g(3 * d, std=0.05)
        sd[p + "attn.c_proj.weight"] = g(d, d)
        sd[p + "attn.c_proj.bias"] = g(d, std=0.05)
        sd[p + "ln_2.weight"] = 1 + g(d, std=0.1)
        sd[p + "ln_2.bias"] = g(d, std=0.1)
        sd[p + "mlp.c_fc.weight"] = g(d, 4 * d)
        sd[p + "mlp.c_fc.bias"] = g(4 * d, std=0.05)
        sd[p + "mlp.c_proj.weight"] = g(4 * d, d)
        sd[p + "mlp.c_proj.bias"] = g(d, std=0.05)
    sd["transformer.ln_f.weight"] = 1 + g(d, std=0.1)
    sd["transformer.ln_f.bias"] = g(d, std=0.1)
    return sd


def gpt2_forward(sd, c, ids, attention_mask=None):
    """HF GPT2LMHeadModel.forward (eager attention, no cache): returns logits and output_hidden_states."""
    w = lambda k: sd["transformer." + k]
    b, t = ids.shape
    d, nh = c["n_embd"], c["n_head"]
    hd = d // nh
    eps = c["layer_norm_epsilon"]
    ln = lambda x, k: torch.nn.functional.layer_norm(x, (d,), w(k + ".weight"), w(k + ".bias"), eps)
    conv1d = lambda x, k: x @ w(k + ".weight") + w(k + ".bias")
    ext = None
    if attention_mask is not None:  # HF: (1 - mask) * finfo.min, broadcast over heads and queries
        ext = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    h = w("wte.weight")[ids] + w("wpe.weight")[torch.arange(t)]
    hidden_states = []
    for i in range(c["n_layer"]):
        hidden_states.append(h)
        p = f"h.{i}."
        q, k, v = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn").split(d, dim=2)
        q, k, v = (z.view(b, t, nh, hd).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / (hd ** 0.5)
        causal = w(p + "attn.bias")[:, :, :t, :t].bool()
        att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min))
        if ext is not None:
            att = att + ext
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        h = h + conv1d(y, p + "attn.c_proj")
        h = h + conv1d(gelu_new(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    h = ln(h, "ln_f")
    hidden_states.append(h)
    logits = h @ w("wte.weight").T  # lm_head tied to wte
    return logits, hidden_states


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
    return [round(float(x), 7) for x in t.flatten()]


def main():
    os.makedirs(OUT, exist_ok=True)
    sd = make_weights(CFG)
    save_safetensors(sd, os.path.join(OUT, "model.safetensors"))
    with open(os.path.join(OUT, "config.json"), "w") as f:
        json.dump(CFG, f, indent=2)

    gen = torch.Generator().manual_seed(7)
    prompts = [torch.randint(0, CFG["vocab_size"], (n,), generator=gen).tolist() for n in (1, 5, 12)]
    expected = {"prompts": []}
    with torch.no_grad():
        for p in prompts:
            logits, hs = gpt2_forward(sd, CFG, torch.tensor([p]))
            expected["prompts"].append({"ids": p, "logits": r(logits), "hidden_states": [r(x) for x in hs]})

        # A right-padded batch: lengths 9 and 6, pad id 0, attention mask 1/0.
        rows = [torch.randint(1, CFG["vocab_size"], (n,), generator=gen).tolist() for n in (9, 6)]
        ids = [row + [0] * (9 - len(row)) for row in rows]
        mask = [[1] * len(row) + [0] * (9 - len(row)) for row in rows]
        logits, _ = gpt2_forward(sd, CFG, torch.tensor(ids), torch.tensor(mask))
        expected["padded"] = {"ids": ids, "attention_mask": mask, "logits": r(logits)}

        # Greedy decoding, re-running the full sequence each step (no cache).
        seq = list(prompts[1])
        for _ in range(30):
            logits, _ = gpt2_forward(sd, CFG, torch.tensor([seq]))
            seq.append(int(logits[0, -1].argmax()))
        expected["greedy"] = {"prompt": prompts[1], "new_tokens": seq[len(prompts[1]):]}

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)), "bytes")


if __name__ == "__main__":
    main()
