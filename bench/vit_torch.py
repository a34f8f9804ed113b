"""The benchmark's ViT in PyTorch: HF ViTForImageClassification's computation (Conv2d patch embedding = a
Linear over patches, [CLS], learned positions, pre-LN blocks with exact GELU, final LayerNorm, [CLS] head),
same config as bench/vit.bench.mjs. Prints one JSON object: forward ms (eval, no grad) and one training step
(AdamW, clipping) ms. Run by bench/vit.bench.mjs with the system python (/usr/bin/python3 has torch 1.13).

usage: vit_torch.py '{"image": 32, "patch": 4, "channels": 3, "hidden": 192, "layers": 6, "heads": 3,
                      "inter": 768, "classes": 10, "batch": 32, "threads": 2}'
"""
import json
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from timing import median_ms


class Layer(nn.Module):
    def __init__(self, d, h, inter):
        super().__init__()
        self.h = h
        self.query, self.key, self.value, self.out = (nn.Linear(d, d) for _ in range(4))
        self.ln1, self.ln2 = nn.LayerNorm(d, eps=1e-12), nn.LayerNorm(d, eps=1e-12)
        self.fc, self.proj = nn.Linear(d, inter), nn.Linear(inter, d)

    def forward(self, x):
        b, t, d = x.shape
        y = self.ln1(x)
        split = lambda z: z.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = split(self.query(y)), split(self.key(y)), split(self.value(y))
        att = (q @ k.transpose(-1, -2) / math.sqrt(d // self.h)).softmax(-1)
        x = x + self.out((att @ v).transpose(1, 2).reshape(b, t, d))
        return x + self.proj(F.gelu(self.fc(self.ln2(x))))


class ViT(nn.Module):
    def __init__(self, c):
        super().__init__()
        n = (c["image"] // c["patch"]) ** 2
        self.projection = nn.Conv2d(c["channels"], c["hidden"], c["patch"], stride=c["patch"])
        self.cls = nn.Parameter(torch.zeros(1, 1, c["hidden"]))
        self.pos = nn.Parameter(torch.randn(1, n + 1, c["hidden"]) * 0.02)
        self.layers = nn.ModuleList(Layer(c["hidden"], c["heads"], c["inter"]) for _ in range(c["layers"]))
        self.ln = nn.LayerNorm(c["hidden"], eps=1e-12)
        self.head = nn.Linear(c["hidden"], c["classes"])

    def forward(self, pixels):
        x = self.projection(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + self.pos
        for layer in self.layers:
            x = layer(x)
        return self.head(self.ln(x)[:, 0])


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    model = ViT(c)
    pixels = torch.randn(c["batch"], c["channels"], c["image"], c["image"])
    labels = torch.randint(0, c["classes"], (c["batch"],))
    model.eval()
    with torch.no_grad():
        fwd = median_ms(lambda: model(pixels), 2, 7)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05)

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(pixels), labels).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    train = median_ms(step, 2, 5)
    # torch's own 2-D matmul rate at the model's shapes, for its MFU (as the node side measures TF.js's).
    peak = 0.0
    tokens = c["batch"] * ((c["image"] // c["patch"]) ** 2 + 1)
    for m, k, n in [(tokens, c["hidden"], c["inter"]), (tokens, c["inter"], c["hidden"]), (512, 512, 512)]:
        a, b = torch.randn(m, k), torch.randn(k, n)
        a @ b
        ms = min(median_ms(lambda: a @ b, 0, 1) for _ in range(15))  # the fastest run: a peak
        peak = max(peak, 2 * m * k * n / (ms / 1e3) / 1e9)
    print(json.dumps({"threads": torch.get_num_threads(), "torch": torch.__version__, "forward_ms": fwd,
                      "train_step_ms": train, "peakGflops": peak}))


if __name__ == "__main__":
    main()
