"""Parity fixtures for RoBERTa (@transformer-kit/bert), from a plain-PyTorch RoBERTa with HF names.

Run with the system Python (Debian python3-torch; no `transformers` needed):

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/bert/scripts/make_roberta_fixtures.py

RoBERTa is BERT's encoder (make_fixtures.py's modules) with transformers' modeling_roberta.py differences:
position ids counted over the non-padding tokens, starting at padding_idx + 1 (padding gets padding_idx);
one token type; `lm_head` (dense, gelu, layer_norm, decoder tied to the word embeddings, bias); the
classifier head dense → tanh → out_proj on <s>. Writes packages/bert/test/fixtures/:
  roberta-model/  RobertaModel (no prefix, with pooler)
  roberta-mlm/    RobertaForMaskedLM (roberta. prefix, lm_head.*; decoder weight tied and absent)
  roberta-cls/    RobertaForSequenceClassification (roberta. prefix, classifier.dense / out_proj, id2label)
  expected-roberta.safetensors  a right-padded batch (pad id 1) and the outputs
"""

import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import OUT, Encoder, Pooler, randomize, save_folder, write_safetensors  # noqa: E402

torch.manual_seed(2)
PAD = 1
CONFIG = dict(
    vocab_size=64, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    max_position_embeddings=24 + PAD + 1, type_vocab_size=1, hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1, layer_norm_eps=1e-5, pad_token_id=PAD, bos_token_id=0, eos_token_id=2,
    hidden_act="gelu", initializer_range=0.02, model_type="roberta", position_embedding_type="absolute",
)
ID2LABEL = {0: "negative", 1: "positive"}


def position_ids(ids):
    """transformers' create_position_ids_from_input_ids."""
    mask = ids.ne(PAD).int()
    return (torch.cumsum(mask, dim=1) * mask).long() + PAD


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.position_embeddings = nn.Embedding(c["max_position_embeddings"], c["hidden_size"])
        self.token_type_embeddings = nn.Embedding(c["type_vocab_size"], c["hidden_size"])
        self.LayerNorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, ids):
        x = self.word_embeddings(ids) + self.position_embeddings(position_ids(ids))
        return self.LayerNorm(x + self.token_type_embeddings(torch.zeros_like(ids)))


class RobertaModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.pooler = Pooler(c)

    def forward(self, ids, mask):
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        h = self.embeddings(ids)
        for layer in self.encoder.layer:
            h = layer(h, bias)
        return h, self.pooler(h)


def main():
    c = CONFIG
    model = RobertaModel(c)
    lm_head = nn.Module()
    lm_head.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
    lm_head.layer_norm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])
    lm_head.bias = nn.Parameter(torch.zeros(c["vocab_size"]))
    classifier = nn.Module()
    classifier.dense = nn.Linear(c["hidden_size"], c["hidden_size"])
    classifier.out_proj = nn.Linear(c["hidden_size"], len(ID2LABEL))
    for m in (model, lm_head, classifier):
        randomize(m)
    with torch.no_grad():
        lm_head.layer_norm.weight.copy_(1 + 0.2 * torch.randn_like(lm_head.layer_norm.weight))
    model.eval()

    # <s>=0 … </s>=2, pad=1: a short row, a pair <s> A </s></s> B </s>, a full row.
    ids = torch.tensor([
        [0, 10, 11, 12, 2, 1, 1, 1, 1, 1],
        [0, 20, 21, 2, 2, 30, 31, 2, 1, 1],
        [0, 40, 41, 3, 43, 44, 45, 46, 47, 2],
    ])
    mask = ids.ne(PAD).long()
    with torch.no_grad():
        seq, pooled = model(ids, mask)
        h = lm_head.layer_norm(nn.functional.gelu(lm_head.dense(seq)))
        mlm_logits = h @ model.embeddings.word_embeddings.weight.T + lm_head.bias
        cls_logits = classifier.out_proj(torch.tanh(classifier.dense(seq[:, 0])))

    base = dict(model.state_dict())
    no_pool = {f"roberta.{k}": v for k, v in base.items() if not k.startswith("pooler.")}
    cfg = lambda arch, **kw: {"architectures": [arch], **c, **kw}
    labels = {"id2label": {str(k): v for k, v in ID2LABEL.items()}, "label2id": {v: k for k, v in ID2LABEL.items()}}
    save_folder("roberta-model", base, cfg("RobertaModel"))
    save_folder("roberta-mlm", {**no_pool, **{f"lm_head.{k}": v for k, v in lm_head.state_dict().items()}},
                cfg("RobertaForMaskedLM"))
    save_folder("roberta-cls", {**no_pool, **{f"classifier.{k}": v for k, v in classifier.state_dict().items()}},
                cfg("RobertaForSequenceClassification", **labels))
    write_safetensors(os.path.join(OUT, "expected-roberta.safetensors"), {
        "input_ids": ids.int(), "attention_mask": mask.int(), "position_ids": position_ids(ids).int(),
        "last_hidden_state": seq, "pooler_output": pooled, "mlm_logits": mlm_logits, "cls_logits": cls_logits,
    }, {"torch": torch.__version__})
    print("wrote", os.path.normpath(OUT), "| |last_hidden_state| mean", seq.abs().mean().item())


if __name__ == "__main__":
    main()
