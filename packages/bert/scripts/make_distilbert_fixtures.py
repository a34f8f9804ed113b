"""Parity fixtures for DistilBERT (@transformer-kit/bert), from a plain-PyTorch DistilBERT with HF names.

Run with the system Python (Debian python3-torch; no `transformers` needed):

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/bert/scripts/make_distilbert_fixtures.py

Writes packages/bert/test/fixtures/:
  distilbert-model/  DistilBertModel folder (no prefix)                          config.json + model.safetensors
  distilbert-mlm/    DistilBertForMaskedLM (distilbert. prefix, vocab_transform, vocab_layer_norm,
                     vocab_projector.bias; the projector's weight is tied to the word embeddings and absent)
  distilbert-cls/    DistilBertForSequenceClassification (pre_classifier + classifier, id2label)
  distilbert-cls-bin/ the same classifier as pytorch_model.bin only (torch.save), for the .bin reader
  expected-distilbert.safetensors  inputs (a right-padded batch) and the three outputs
The model is DistilBERT as in transformers' modeling_distilbert.py (no token types; post-LN blocks with
q_lin/k_lin/v_lin/out_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm; eps 1e-12; masked scores set to
finfo.min), written out here so the file is the whole reference.
"""

import math
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT, randomize, save_folder, write_safetensors  # noqa: E402

torch.manual_seed(1)

CONFIG = dict(
    vocab_size=64, dim=32, n_layers=2, n_heads=4, hidden_dim=64, max_position_embeddings=24,
    dropout=0.1, attention_dropout=0.1, activation="gelu", pad_token_id=0, seq_classif_dropout=0.2,
    sinusoidal_pos_embds=False, tie_weights_=True, initializer_range=0.02, qa_dropout=0.1,
    model_type="distilbert",
)
ID2LABEL = {0: "negative", 1: "neutral", 2: "positive"}
EPS = 1e-12  # hard-coded in modeling_distilbert.py


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["dim"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["dim"])
        self.LayerNorm = nn.LayerNorm(c["dim"], eps=EPS)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1])[None]
        return self.LayerNorm(self.word_embeddings(ids) + self.position_embeddings(pos))


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["dim"]
        self.h = c["n_heads"]
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x, mask):
        b, t, d = x.shape
        dh = d // self.h
        split = lambda y: y.view(b, t, self.h, dh).transpose(1, 2)
        q = split(self.q_lin(x)) / math.sqrt(dh)
        scores = q @ split(self.k_lin(x)).transpose(2, 3)
        scores = scores.masked_fill((mask == 0)[:, None, None, :], torch.finfo(scores.dtype).min)
        ctx = (scores.softmax(-1) @ split(self.v_lin(x))).transpose(1, 2).reshape(b, t, d)
        return self.out_lin(ctx)


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.lin1 = nn.Linear(c["dim"], c["hidden_dim"])
        self.lin2 = nn.Linear(c["hidden_dim"], c["dim"])

    def forward(self, x):
        return self.lin2(nn.functional.gelu(self.lin1(x)))


class TransformerBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = MultiHeadSelfAttention(c)
        self.sa_layer_norm = nn.LayerNorm(c["dim"], eps=EPS)
        self.ffn = FFN(c)
        self.output_layer_norm = nn.LayerNorm(c["dim"], eps=EPS)

    def forward(self, x, mask):
        sa = self.sa_layer_norm(self.attention(x, mask) + x)
        return self.output_layer_norm(self.ffn(sa) + sa)


class DistilBertModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.transformer = nn.Module()
        self.transformer.layer = nn.ModuleList(TransformerBlock(c) for _ in range(c["n_layers"]))

    def forward(self, ids, mask):
        h = self.embeddings(ids)
        for layer in self.transformer.layer:
            h = layer(h, mask)
        return h


def main():
    c = CONFIG
    model = DistilBertModel(c)
    mlm = nn.Module()
    mlm.vocab_transform = nn.Linear(c["dim"], c["dim"])
    mlm.vocab_layer_norm = nn.LayerNorm(c["dim"], eps=EPS)
    projector_bias = nn.Parameter(torch.zeros(c["vocab_size"]))
    cls = nn.Module()
    cls.pre_classifier = nn.Linear(c["dim"], c["dim"])
    cls.classifier = nn.Linear(c["dim"], len(ID2LABEL))
    for m in (model, mlm, cls):
        randomize(m)
    with torch.no_grad():
        # randomize() keys its LayerNorm rule on "LayerNorm.weight"; DistilBERT's other norms get it here.
        for name, p in list(model.named_parameters()) + list(mlm.named_parameters()):
            if "layer_norm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
        projector_bias.copy_(0.3 * torch.randn_like(projector_bias))
    model.eval()

    # Right-padded: [CLS]=2 a b [SEP]=3 | a longer row | a full row with [MASK]=4; 0 is [PAD].
    ids = torch.tensor([
        [2, 10, 11, 12, 3, 0, 0, 0, 0, 0],
        [2, 20, 21, 3, 30, 31, 32, 3, 0, 0],
        [2, 40, 41, 4, 43, 44, 45, 46, 47, 3],
    ])
    mask = (ids != 0).long()
    with torch.no_grad():
        seq = model(ids, mask)
        h = mlm.vocab_layer_norm(nn.functional.gelu(mlm.vocab_transform(seq)))
        mlm_logits = h @ model.embeddings.word_embeddings.weight.T + projector_bias
        cls_logits = cls.classifier(torch.relu(cls.pre_classifier(seq[:, 0])))

    base = dict(model.state_dict())
    prefixed = {f"distilbert.{k}": v for k, v in base.items()}
    cfg = lambda arch, **kw: {"architectures": [arch], **c, **kw}
    labels = {"id2label": {str(k): v for k, v in ID2LABEL.items()}, "label2id": {v: k for k, v in ID2LABEL.items()}}
    save_folder("distilbert-model", base, cfg("DistilBertModel"))
    save_folder(
        "distilbert-mlm",
        {**prefixed, **dict(mlm.state_dict()), "vocab_projector.bias": projector_bias},
        cfg("DistilBertForMaskedLM"),
    )
    cls_tensors = {**prefixed, **dict(cls.state_dict())}
    save_folder("distilbert-cls", cls_tensors, cfg("DistilBertForSequenceClassification", **labels))
    # The same classifier as only a pytorch_model.bin, written by torch.save as transformers does.
    bin_dir = os.path.join(OUT, "distilbert-cls-bin")
    os.makedirs(bin_dir, exist_ok=True)
    torch.save({k: v.detach().clone() for k, v in cls_tensors.items()}, os.path.join(bin_dir, "pytorch_model.bin"))
    with open(os.path.join(OUT, "distilbert-cls", "config.json")) as f, open(os.path.join(bin_dir, "config.json"), "w") as g:
        g.write(f.read())
    write_safetensors(os.path.join(OUT, "expected-distilbert.safetensors"), {
        "input_ids": ids.int(), "attention_mask": mask.int(),
        "last_hidden_state": seq, "mlm_logits": mlm_logits, "cls_logits": cls_logits,
    }, {"torch": torch.__version__})
    print("wrote", os.path.normpath(OUT), "| |last_hidden_state| mean", seq.abs().mean().item())


if __name__ == "__main__":
    main()
