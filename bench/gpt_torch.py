"""The benchmark's GPT in PyTorch (nanoGPT-style, same config and parameter count as @transformer-kit/gpt):
training step time and generation ms/token. Prints one JSON object. Run by bench/gpt.bench.mjs with the
system python (/usr/bin/python3 has torch).

usage: gpt_torch.py '{"vocab": 65, "block": 64, "layers": 4, "heads": 4, "dim": 128, "batch": 16, "threads": 2, ...}'
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1, self.ln_2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.c_attn, self.c_proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.c_fc, self.mlp_proj = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, cache=None):
        b, t, d = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (z.view(b, t, self.h, d // self.h).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            if cache.get("k") is not None:
                k, v = torch.cat([cache["k"], k], 2), torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        s = k.shape[2]
        att = (q @ k.transpose(-1, -2)) / math.sqrt(d // self.h)
        if t > 1:
            mask = torch.ones(t, s, dtype=torch.bool, device=att.device).tril(s - t)
            att = att.masked_fill(~mask, float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.c_proj(y)
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, block, layers, heads, dim):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, dim), nn.Embedding(block, dim)
        self.h = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim)

    def forward(self, idx, caches=None, past=0):
        x = self.wte(idx) + self.wpe(torch.arange(past, past + idx.shape[1], device=idx.device))
        for i, blk in enumerate(self.h):
            x = blk(x, None if caches is None else caches[i])
        return self.ln_f(x) @ self.wte.weight.T


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    model = GPT(c["vocab"], c["block"], c["layers"], c["heads"], c["dim"])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    x = torch.randint(0, c["vocab"], (c["batch"], c["block"]))
    y = torch.randint(0, c["vocab"], (c["batch"], c["block"]))

    def step():
        loss = F.cross_entropy(model(x).view(-1, c["vocab"]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "step_ms": median_ms(step, 3, c.get("iters", 10))}

    # Generation: ms per new token at given positions, with and without a KV cache (a longer-block model).
    gen = GPT(c["vocab"], c["gen_block"], c["layers"], c["heads"], c["dim"]).eval()
    out["gen"] = {}
    with torch.no_grad():
        for pos in c["positions"]:
            prefix = torch.randint(0, c["vocab"], (1, pos))

            def cached():
                caches = [{} for _ in range(c["layers"])]
                gen(prefix, caches)  # the prompt, not timed below
                t0 = time.perf_counter()
                for i in range(c["gen_tokens"]):
                    gen(torch.tensor([[1]]), caches, past=pos + i)
                return (time.perf_counter() - t0) * 1000 / c["gen_tokens"]

            def uncached():
                seq = torch.cat([prefix, torch.ones(1, c["gen_tokens"], dtype=torch.long)], 1)
                t0 = time.perf_counter()
                for i in range(c["gen_tokens"]):
                    gen(seq[:, : pos + i + 1])
                return (time.perf_counter() - t0) * 1000 / c["gen_tokens"]

            cached()
            uncached()
            out["gen"][str(pos)] = {"cached": min(cached() for _ in range(3)), "uncached": min(uncached() for _ in range(3))}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
