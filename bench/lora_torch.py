"""bench/lora.bench.mjs's BERT rows in PyTorch: BERT-base sequence classification (scale_torch.py's model, HF
BertForSequenceClassification's computation) fine-tuned in full, or with PEFT's LoRA (lora.Linear's forward:
base(x) + lora_B(lora_A(dropout(x))) * alpha / r on query and value, lora_A Kaiming-uniform, lora_B zeros, the
base frozen, the classifier trained in full as modules_to_save). PEFT itself is not installed: the adapter is
those lines, PEFT's computation. One workload per process, so peak RSS is that workload's. Prints one JSON
object: step ms (best of 3 after a warm-up), CPU ms of that step (all threads), peak RSS MB, trainable count.

usage: lora_torch.py '{"workload": "bert-lora", "batch": 8, "seq": 128, "bert": {...}, "threads": 2,
                       "lora": {"r": 8, "alpha": 16, "dropout": 0.1}}'
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from scale_torch import BertForSequenceClassification


class LoraLinear(nn.Module):
    def __init__(self, base, r, alpha, dropout):
        super().__init__()
        self.base, self.scaling, self.dropout = base, alpha / r, nn.Dropout(dropout)
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(self.dropout(x))) * self.scaling


def main():
    c = json.loads(sys.argv[1])
    torch.set_num_threads(c["threads"])
    torch.manual_seed(0)
    b, t = c["batch"], c["seq"]
    model = BertForSequenceClassification(c["bert"], 2)
    lr = 2e-5
    if c["workload"] == "bert-lora":
        lora = c["lora"]
        model.requires_grad_(False)
        for layer in model.layers:
            layer.query = LoraLinear(layer.query, lora["r"], lora["alpha"], lora["dropout"])
            layer.value = LoraLinear(layer.value, lora["r"], lora["alpha"], lora["dropout"])
        model.classifier.requires_grad_(True)
        lr = 2e-4
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    ids = torch.randint(1, c["bert"]["vocab"], (b, t))
    mask = torch.ones(b, t, dtype=torch.long)
    labels = torch.arange(b) % 2

    def step():
        opt.zero_grad(set_to_none=True)
        model.loss(ids, mask, labels).backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()

    step()
    best = None
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        run = ((time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000)
        best = run if best is None or run[0] < best[0] else best
    print(json.dumps({
        "threads": torch.get_num_threads(), "torch": torch.__version__, "ms": best[0], "cpuMs": best[1],
        "rssMB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "trainable": sum(p.numel() for p in params), "total": sum(p.numel() for p in model.parameters()),
    }))


if __name__ == "__main__":
    main()
