"""Parity fixtures for @transformer-kit/lora: PEFT's LoRA Linear in plain PyTorch (peft is not installed),
with PEFT's parameter names and adapter folder layout, on the BERT and GPT-2 fixtures of the bert and gpt
packages.

Run with the system Python (Debian python3-torch):

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/lora/scripts/make_fixtures.py

Writes packages/lora/test/fixtures/:
  bert-lora/   adapter_config.json + adapter_model.safetensors: r=4, alpha=8, dropout 0.1, target
               query+value, modules_to_save classifier, on packages/bert/test/fixtures/bert-cls
  gpt2-lora/   the same for r=4, alpha=16, target c_attn (GPT-2's fused Conv1D: fan_in_fan_out) on
               packages/gpt/test/fixtures/tiny-gpt2
  expected.safetensors  inputs, logits with the adapters, the loss, and the gradient of every adapter
               tensor (and of modules_to_save) under `grad.<PEFT name>`, in PEFT's layouts
The models run in eval mode (no dropout), so forward and gradients are deterministic. lora_B is random
(not PEFT's zeros) so the adapters change the outputs and every gradient is non-trivial.
"""

import importlib.util
import json
import math
import os
import struct

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
PKGS = os.path.join(HERE, "..", "..")
OUT = os.path.join(HERE, "..", "test", "fixtures")
PREFIX = "base_model.model."


def load_script(pkg):
    spec = importlib.util.spec_from_file_location(f"{pkg}_fixtures", os.path.join(PKGS, pkg, "scripts", "make_fixtures.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


bert_fx = load_script("bert")
gpt_fx = load_script("gpt")


def read_safetensors(path):
    """F32 and I32 tensors of a safetensors file (the bert fixture's inputs are int32)."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    dtypes = {"F32": torch.float32, "I32": torch.int32}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dtypes[e["dtype"]]).reshape(e["shape"]).clone()
    return out


class LoraLinear(nn.Module):
    """peft.tuners.lora.layer.Linear, one adapter: result = base(x) + lora_B(lora_A(dropout(x))) * scaling.

    lora_A: Linear(in, r), kaiming_uniform_(a=sqrt(5)); lora_B: Linear(r, out), zeros; scaling = alpha / r.
    `fan_in_fan_out` (GPT-2's Conv1D, weight [in, out]) changes only the base layer, not lora_A / lora_B.
    """

    def __init__(self, base_forward, in_features, out_features, r, alpha, dropout):
        super().__init__()
        self.base_forward = base_forward
        self.lora_A = nn.Linear(in_features, r, bias=False)
        self.lora_B = nn.Linear(r, out_features, bias=False)
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = alpha / r
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)

    def forward(self, x):
        return self.base_forward(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def matches(name, targets):
    """PEFT's check_target_module_exists for a list: the name or a `.suffix` of it."""
    return any(name == t or name.endswith("." + t) for t in targets)


def adapter_config(r, alpha, dropout, targets, modules_to_save, fan_in_fan_out, base, task):
    return {
        "peft_type": "LORA", "task_type": task, "base_model_name_or_path": base, "r": r, "lora_alpha": alpha,
        "lora_dropout": dropout, "target_modules": sorted(targets), "modules_to_save": modules_to_save,
        "fan_in_fan_out": fan_in_fan_out, "bias": "none", "use_rslora": False, "use_dora": False,
        "init_lora_weights": True, "inference_mode": True, "rank_pattern": {}, "alpha_pattern": {},
        "layers_to_transform": None, "layers_pattern": None,
    }


def save_adapter(name, tensors, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    bert_fx.write_safetensors(os.path.join(d, "adapter_model.safetensors"), tensors)
    with open(os.path.join(d, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def randomize_b(loras, std):
    with torch.no_grad():
        for m in loras.values():
            m.lora_B.weight.copy_(std * torch.randn_like(m.lora_B.weight))


def bert_case(expected):
    c = bert_fx.CONFIG
    sd = read_safetensors(os.path.join(PKGS, "bert", "test", "fixtures", "bert-cls", "model.safetensors"))
    model = nn.Module()
    model.bert = bert_fx.BertModel(c)
    model.classifier = nn.Linear(c["hidden_size"], 3)
    model.load_state_dict(sd)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    loras = {}
    for name, mod in list(model.named_modules()):
        if isinstance(mod, nn.Linear) and matches(name, ["query", "value"]):
            lora = LoraLinear(mod.forward, mod.in_features, mod.out_features, r=4, alpha=8, dropout=0.1)
            parent, leaf = name.rsplit(".", 1)
            setattr(model.get_submodule(parent), leaf, lora)
            loras[name] = lora
    randomize_b(loras, 0.3)
    model.eval()
    model.classifier.weight.requires_grad_(True)  # modules_to_save: trained in full
    model.classifier.bias.requires_grad_(True)

    ex = read_safetensors(os.path.join(PKGS, "bert", "test", "fixtures", "expected.safetensors"))
    ids, types, mask = ex["input_ids"].long(), ex["token_type_ids"].long(), ex["attention_mask"].long()
    labels = torch.tensor([2, 0, 1])
    _, pooled = model.bert(ids, types, mask)
    logits = model.classifier(pooled)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()

    tensors = {}
    for name, m in loras.items():
        tensors[f"{PREFIX}{name}.lora_A.weight"] = m.lora_A.weight
        tensors[f"{PREFIX}{name}.lora_B.weight"] = m.lora_B.weight
    tensors[f"{PREFIX}classifier.weight"] = model.classifier.weight
    tensors[f"{PREFIX}classifier.bias"] = model.classifier.bias
    save_adapter("bert-lora", {k: v.detach() for k, v in tensors.items()},
                 adapter_config(4, 8, 0.1, ["query", "value"], ["classifier"], False, "tiny-bert-cls", "SEQ_CLS"))
    expected["bert.labels"] = labels.int()
    expected["bert.logits"] = logits.detach()
    expected["bert.loss"] = loss.detach().reshape(1)
    for k, v in tensors.items():
        expected[f"bert.grad.{k}"] = v.grad.detach()


def gpt2_forward(sd, c, ids, loras):
    """gpt package's gpt2_forward (no padding) with each Conv1D routed through its LoRA wrapper if it has one."""
    w = lambda k: sd["transformer." + k]
    b, t = ids.shape
    d, nh = c["n_embd"], c["n_head"]
    hd = d // nh
    eps = c["layer_norm_epsilon"]
    ln = lambda x, k: nn.functional.layer_norm(x, (d,), w(k + ".weight"), w(k + ".bias"), eps)
    base = lambda k: (lambda x: x @ w(k + ".weight") + w(k + ".bias"))  # Conv1D: weight [in, out]
    conv1d = lambda x, k: (loras["transformer." + k] if "transformer." + k in loras else base(k))(x)
    h = w("wte.weight")[ids] + w("wpe.weight")[torch.arange(t)]
    for i in range(c["n_layer"]):
        p = f"h.{i}."
        q, k, v = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn").split(d, dim=2)
        q, k, v = (z.view(b, t, nh, hd).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-1, -2)) / (hd ** 0.5)
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = torch.softmax(torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min)), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        h = h + conv1d(y, p + "attn.c_proj")
        h = h + conv1d(gpt_fx.gelu_new(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    return ln(h, "ln_f") @ w("wte.weight").T


def gpt_case(expected):
    c = gpt_fx.CFG
    sd = read_safetensors(os.path.join(PKGS, "gpt", "test", "fixtures", "tiny-gpt2", "model.safetensors"))
    d = c["n_embd"]
    loras = {}
    for i in range(c["n_layer"]):
        name = f"transformer.h.{i}.attn.c_attn"
        weight, bias = sd[name + ".weight"], sd[name + ".bias"]
        loras[name] = LoraLinear(lambda x, w=weight, b=bias: x @ w + b, d, 3 * d, r=4, alpha=16, dropout=0.0)
    randomize_b(loras, 0.2)
    for m in loras.values():
        m.eval()
    gen = torch.Generator().manual_seed(11)
    ids = torch.randint(0, c["vocab_size"], (2, 12), generator=gen)
    logits = gpt2_forward(sd, c, ids, loras)
    loss = nn.functional.cross_entropy(logits[:, :-1].reshape(-1, c["vocab_size"]), ids[:, 1:].reshape(-1))
    loss.backward()
    tensors = {}
    for name, m in loras.items():
        tensors[f"{PREFIX}{name}.lora_A.weight"] = m.lora_A.weight
        tensors[f"{PREFIX}{name}.lora_B.weight"] = m.lora_B.weight
    save_adapter("gpt2-lora", {k: v.detach() for k, v in tensors.items()},
                 adapter_config(4, 16, 0.0, ["c_attn"], None, True, "tiny-gpt2", "CAUSAL_LM"))
    expected["gpt.input_ids"] = ids.int()
    expected["gpt.logits"] = logits.detach()
    expected["gpt.loss"] = loss.detach().reshape(1)
    for k, v in tensors.items():
        expected[f"gpt.grad.{k}"] = v.grad.detach()


def main():
    torch.manual_seed(22)
    expected = {}
    bert_case(expected)
    gpt_case(expected)
    bert_fx.write_safetensors(os.path.join(OUT, "expected.safetensors"), expected, {"torch": torch.__version__})
    print("wrote", os.path.normpath(OUT), {k: round(float(v), 5) for k, v in expected.items() if k.endswith(".loss")})


if __name__ == "__main__":
    main()
