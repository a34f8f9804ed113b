"""The benchmark's BERT in PyTorch: HF BertModel's computation (post-LN, exact GELU) + the MLM head that
gathers the masked positions before the tied vocabulary projection, same config as bench/bert.bench.mjs.
Prints one JSON object: encoder forward ms (eval, no grad) and one MLM training step (AdamW) ms.
Run by bench/bert.bench.mjs with the system python (/usr/bin/python3 has torch 1.13).

usage: bert_torch.py '{"vocab": 30522, "hidden": 256, "layers": 4, "heads": 4, "inter": 1024, "maxPos": 512,
                       "batch": 8, "seq": 128, "threads": 2, "dropout": 0.1}'
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms


class Layer(nn.Module):
    def __init__(self, d, h, inter, p):
        super().__init__()
        self.h, self.p = h, p
        self.query, self.key, self.value, self.out = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.fc, self.proj = nn.Linear(d, inter), nn.Linear(inter, d)

    def forward(self, x, bias):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        att = F.dropout((q @ k.transpose(-1, -2) / math.sqrt(d // self.h) + bias).softmax(-1), self.p, self.training)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = self.ln1(x + F.dropout(self.out(y), self.p, self.training))
        return self.ln2(x + F.dropout(self.proj(F.gelu(self.fc(x))), self.p, self.training))


class BertForMaskedLM(nn.Module):
    def __init__(self, vocab, hidden, layers, heads, inter, maxPos, dropout):
        super().__init__()
        self.word, self.pos, self.segment = nn.Embedding(vocab, hidden), nn.Embedding(maxPos, hidden), nn.Embedding(2, hidden)
        self.ln = nn.LayerNorm(hidden, eps=1e-12)
        self.layers = nn.ModuleList(Layer(hidden, heads, inter, dropout) for _ in range(layers))
        self.dense, self.mlm_ln = nn.Linear(hidden, hidden), nn.LayerNorm(hidden, eps=1e-12)
        self.bias = nn.Parameter(torch.zeros(vocab))
        self.p = dropout

    def encode(self, ids, mask):
        t = ids.shape[1]
        x = self.word(ids) + self.pos.weight[:t] + self.segment(torch.zeros_like(ids))
        h = F.dropout(self.ln(x), self.p, self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            h = layer(h, bias)
        return h

    def mlm_loss(self, ids, mask, positions, labels):
        h = self.encode(ids, mask)
        picked = h[torch.arange(h.shape[0])[:, None], positions]  # (B, P, D): gathered before the projection
        x = self.mlm_ln(F.gelu(self.dense(picked)))
        logits = x @ self.word.weight.T + self.bias
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    model = BertForMaskedLM(c["vocab"], c["hidden"], c["layers"], c["heads"], c["inter"], c["maxPos"], c["dropout"])
    b, t = c["batch"], c["seq"]
    ids = torch.randint(5, c["vocab"], (b, t))
    mask = torch.ones(b, t, dtype=torch.long)
    p = math.ceil(0.15 * t)
    positions = torch.stack([torch.randperm(t)[:p] for _ in range(b)])
    labels = ids.gather(1, positions)

    model.eval()
    with torch.no_grad():
        fwd = median_ms(lambda: model.encode(ids, mask), 2, 7)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)

    def step():
        opt.zero_grad(set_to_none=True)
        model.mlm_loss(ids, mask, positions, labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    train = median_ms(step, 2, 5)
    print(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__, "forward_ms": fwd, "train_step_ms": train}))


if __name__ == "__main__":
    main()
