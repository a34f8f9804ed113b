"""Parity fixtures for @transformer-kit/bert, from a plain-PyTorch BERT with HuggingFace's parameter names.

Run with the system Python (Debian python3-torch; no `transformers` needed):

    /usr/bin/python3 packages/bert/scripts/make_fixtures.py

Writes packages/bert/test/fixtures/:
  bert-model/    BertModel folder (no prefix, with pooler)                 config.json + model.safetensors
  bert-mlm/      BertForMaskedLM folder (bert. prefix, no pooler, decoder tied and absent)
  bert-cls/      BertForSequenceClassification folder (bert. prefix, pooler, classifier.*, id2label)
  expected.safetensors  inputs (right-padded batch with a sentence pair) and the four outputs
The model is BERT as in transformers' modeling_bert.py (post-LN, exact GELU, eps 1e-12, additive padding
mask), written out here so the file is the whole reference. Weights are random with a larger std than
BERT's 0.02 so the outputs are far from trivial.
"""

import json
import math
import os
import struct

import torch
from torch import nn

torch.manual_seed(0)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "test", "fixtures")

CONFIG = dict(
    vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    max_position_embeddings=24, type_vocab_size=2, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    layer_norm_eps=1e-12, pad_token_id=0, hidden_act="gelu", initializer_range=0.02, model_type="bert",
)
ID2LABEL = {0: "negative", 1: "neutral", 2: "positive"}


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids, types):
        pos = torch.arange(ids.shape[1])[None]
        x = self.word_embeddings(ids) + self.position_embeddings(pos) + self.token_type_embeddings(types)
        return self.LayerNorm(x)


class SelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["hidden_size"]
        self.h = c["num_attention_heads"]
        self.query, self.key, self.value = nn.Linear(d, d), nn.Linear(d, d), nn.Linear(d, d)

    def forward(self, x, bias):
        b, t, d = x.shape
        split = lambda y: y.view(b, t, self.h, d // self.h).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.h) + bias
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)


class DenseNorm(nn.Module):
    """BertSelfOutput / BertOutput: dense → (dropout) → LayerNorm(· + residual)."""

    def __init__(self, din, d, eps):
        super().__init__()
        self.dense = nn.Linear(din, d)
        self.LayerNorm = nn.LayerNorm(d, eps=eps)

    def forward(self, h, residual):
        return self.LayerNorm(self.dense(h) + residual)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = SelfAttention(c)
        self.output = DenseNorm(c["hidden_size"], c["hidden_size"], c["layer_norm_eps"])

    def forward(self, x, bias):
        return self.output(self.self(x, bias), x)


class Intermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["intermediate_size"])

    def forward(self, x):
        return nn.functional.gelu(self.dense(x))  # exact erf GELU, HF's "gelu"


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = Attention(c)
        self.intermediate = Intermediate(c)
        self.output = DenseNorm(c["intermediate_size"], c["hidden_size"], c["layer_norm_eps"])

    def forward(self, x, bias):
        a = self.attention(x, bias)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class Pooler(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c["hidden_size"], c["hidden_size"])

    def forward(self, h):
        return torch.tanh(self.dense(h[:, 0]))


class BertModel(nn.Module):
    def __init__(self, c, pooler=True):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c) if pooler else None

    def forward(self, ids, types, mask):
        # HF's extended attention mask: (1 - mask) * finfo.min, broadcast over heads and queries.
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        h = self.embeddings(ids, types)
        for layer in self.encoder.layer:
            h = layer(h, bias)
        return h, (self.pooler(h) if self.pooler is not None else None)


class MLMHead(nn.Module):
    """cls.predictions: transform (dense, gelu, LayerNorm), decoder tied to word embeddings, bias."""

    def __init__(self, c, word_embeddings):
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
        self.transform.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
        self.word_embeddings = [word_embeddings]  # a list: tied, not registered twice
        self.bias = nn.Parameter(torch.zeros(c["vocab_size"]))

    def forward(self, h):
        x = self.transform.LayerNorm(nn.functional.gelu(self.transform.dense(h)))
        return x @ self.word_embeddings[0].weight.T + self.bias


def randomize(module):
    # Larger than BERT's init so every part of the computation moves the outputs.
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.3 * torch.randn_like(p))


def write_safetensors(path, tensors, metadata=None):
    """The safetensors format: u64 header length, JSON header (dtype, shape, byte offsets), raw bytes."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        dtype = {torch.float32: "F32", torch.int32: "I32", torch.int64: "I64"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = metadata or {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def save_folder(name, tensors, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")


def main():
    c = CONFIG
    bert = BertModel(c)
    mlm = MLMHead(c, bert.embeddings.word_embeddings)
    classifier = nn.Linear(c["hidden_size"], len(ID2LABEL))
    for m in (bert, mlm, classifier):
        randomize(m)
    bert.eval()

    # Right-padded batch: [CLS] a b [SEP] | a pair [CLS] a [SEP] b [SEP] (segments 0/1) | a full row.
    # Ids 1..4 play [CLS]=2, [SEP]=3, [MASK]=4; 0 is [PAD].
    ids = torch.tensor([
        [2, 10, 11, 12, 3, 0, 0, 0, 0, 0],
        [2, 20, 21, 3, 30, 31, 32, 3, 0, 0],
        [2, 40, 41, 4, 43, 44, 45, 46, 47, 3],
    ])
    types = torch.tensor([
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ])
    mask = (ids != 0).long()
    with torch.no_grad():
        seq, pooled = bert(ids, types, mask)
        mlm_logits = mlm(seq)
        cls_logits = classifier(pooled)

    base = {k: v for k, v in bert.state_dict().items()}
    no_pool = {k: v for k, v in base.items() if not k.startswith("pooler.")}
    head = {f"cls.predictions.{k}": v for k, v in mlm.state_dict().items()}  # transform.*, bias
    cfg = lambda arch, **kw: {"architectures": [arch], **c, **kw}
    save_folder("bert-model", base, cfg("BertModel"))
    save_folder("bert-mlm", {**{f"bert.{k}": v for k, v in no_pool.items()}, **head}, cfg("BertForMaskedLM"))
    labels = {"id2label": {str(k): v for k, v in ID2LABEL.items()}, "label2id": {v: k for k, v in ID2LABEL.items()}}
    save_folder(
        "bert-cls",
        {**{f"bert.{k}": v for k, v in base.items()}, "classifier.weight": classifier.weight, "classifier.bias": classifier.bias},
        cfg("BertForSequenceClassification", **labels),
    )
    write_safetensors(os.path.join(OUT, "expected.safetensors"), {
        "input_ids": ids.int(), "token_type_ids": types.int(), "attention_mask": mask.int(),
        "last_hidden_state": seq, "pooler_output": pooled, "mlm_logits": mlm_logits, "cls_logits": cls_logits,
    }, {"torch": torch.__version__})
    print("wrote", os.path.normpath(OUT), "| |last_hidden_state| mean", seq.abs().mean().item())


if __name__ == "__main__":
    main()
