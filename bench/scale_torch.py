"""bench/scale.bench.mjs's models in PyTorch: BERT-base sequence classification (HF BertForSequenceClassification's
computation: encoder, tanh pooler on [CLS], linear) fine-tuning step and encoder forward, GPT-2 small training
step and KV-cache generation ms/token. Reuses bert_torch.py's encoder and gpt_torch.py's GPT. Prints one JSON
object keyed by workload, plus peak RSS (MB) per workload. System python (/usr/bin/python3, Debian torch).

usage: scale_torch.py '{"batch": 8, "seq": 128, "bert": {...}, "gpt2": {...}, "positions": [16, 512],
                        "genTokens": 8, "threads": 1, "only": ["bert-finetune", ...], "device": "cpu"}'
"device": "cuda" runs on the GPU (bench/gpu.sh), timings synchronised.
"""
import json
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from bert_torch import BertForMaskedLM
from gpt_torch import GPT


class BertForSequenceClassification(BertForMaskedLM):
    def __init__(self, c, labels):
        super().__init__(c["vocab"], c["dim"], c["layers"], c["heads"], c["inter"], c["maxPos"], 0.1)
        self.pooler, self.classifier = nn.Linear(c["dim"], c["dim"]), nn.Linear(c["dim"], labels)

    def loss(self, ids, mask, labels):
        h = self.encode(ids, mask)
        pooled = torch.tanh(self.pooler(h[:, 0]))
        return F.cross_entropy(self.classifier(F.dropout(pooled, 0.1, self.training)), labels)


DEV = torch.device("cpu")


def sync():
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def best_ms(fn, runs):
    ts = []
    for _ in range(runs):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        ts.append((time.perf_counter() - t) * 1000)
    return min(ts)


def train_ms(model, loss, lr, wd):
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)

    def step():
        opt.zero_grad(set_to_none=True)
        loss().backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()
    return best_ms(step, 2)


def main():
    global DEV
    c = json.loads(sys.argv[1])
    DEV = torch.device(c.get("device", "cpu"))
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    b, t = c["batch"], c["seq"]
    out = {"threads": torch.get_num_threads(), "torch": torch.__version__, "device": str(DEV), "rssMB": {}}
    rss = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    only = c["only"]

    if "bert-forward" in only or "bert-finetune" in only:
        model = BertForSequenceClassification(c["bert"], 2).to(DEV)
        ids = torch.randint(1, c["bert"]["vocab"], (b, t)).to(DEV)
        mask = torch.ones(b, t, dtype=torch.long).to(DEV)
        if "bert-forward" in only:
            model.eval()
            with torch.no_grad():
                model.encode(ids, mask)
                out["bert-forward"] = best_ms(lambda: model.encode(ids, mask), 3)
            out["rssMB"]["bert-forward"] = rss()
        if "bert-finetune" in only:
            model.train()
            labels = (torch.arange(b) % 2).to(DEV)
            out["bert-finetune"] = train_ms(model, lambda: model.loss(ids, mask, labels), 2e-5, 0.01)
            out["rssMB"]["bert-finetune"] = rss()
        del model

    g = c["gpt2"]
    if "gpt2-train" in only:
        model = GPT(g["vocab"], g["block"], g["layers"], g["heads"], g["dim"]).train().to(DEV)
        x = torch.randint(0, g["vocab"], (b, t)).to(DEV)
        y = torch.randint(0, g["vocab"], (b, t)).to(DEV)
        out["gpt2-train"] = train_ms(model, lambda: F.cross_entropy(model(x).view(-1, g["vocab"]), y.view(-1)), 3e-4, 0.1)
        out["rssMB"]["gpt2-train"] = rss()
        del model

    if "gpt2-generate" in only:
        model = GPT(g["vocab"], g["block"], g["layers"], g["heads"], g["dim"]).eval().to(DEV)
        out["gpt2-generate"] = {}
        with torch.no_grad():
            for pos in c["positions"]:
                prefix = torch.randint(0, g["vocab"], (1, pos)).to(DEV)

                def per_token():
                    caches = [{} for _ in range(g["layers"])]
                    model(prefix, caches)
                    sync()
                    t0 = time.perf_counter()
                    for i in range(c["genTokens"]):
                        model(torch.tensor([[1 + i]], device=DEV), caches, past=pos + i)
                    sync()
                    return (time.perf_counter() - t0) * 1000 / c["genTokens"]

                per_token()
                out["gpt2-generate"][str(pos)] = min(per_token() for _ in range(2))
        out["rssMB"]["gpt2-generate"] = rss()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
