"""Does a fine-tuned folder load in PyTorch? Runs it with HF's parameter names and BERT's tokenizer rules.

    /usr/bin/python3 apps/demo/scripts/check_with_pytorch.py DIR < texts.json > probs.json

DIR is a BertForSequenceClassification folder as `pnpm demo finetune` writes it (config.json,
model.safetensors, vocab.txt). stdin: a JSON list of texts (or [text, pair] lists); stdout: the softmax
probabilities per text. The model is packages/bert/scripts/make_fixtures.py's plain-PyTorch BERT (the
modules and names of transformers' modeling_bert.py) with the classifier of BertForSequenceClassification;
the tokenizer is BertTokenizer's: lower case, accents stripped, split on whitespace and punctuation, greedy
longest-match WordPiece, [CLS] a [SEP] (b [SEP]). No `transformers` or `safetensors` package needed.
"""

import json
import os
import struct
import sys
import unicodedata

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "packages", "bert", "scripts"))
import make_fixtures as mf  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        assert h["dtype"] == "F32", (name, h["dtype"])
        a, b = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(h["shape"])
    return out


def basic_tokens(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    out, word = [], ""
    for c in text:
        if c.isspace():
            out, word = out + ([word] if word else []), ""
        elif unicodedata.category(c).startswith("P") or (33 <= ord(c) <= 47 or 58 <= ord(c) <= 64 or 91 <= ord(c) <= 96 or 123 <= ord(c) <= 126):
            out, word = out + ([word] if word else []) + [c], ""
        else:
            word += c
    return out + ([word] if word else [])


def wordpiece(word, vocab):
    pieces, start = [], 0
    while start < len(word):
        end = len(word)
        while end > start:
            piece = word[start:end] if start == 0 else "##" + word[start:end]
            if piece in vocab:
                break
            end -= 1
        if end == start:
            return ["[UNK]"]
        pieces.append(piece)
        start = end
    return pieces


def encode(item, vocab, max_len):
    a, b = (item, None) if isinstance(item, str) else (item[0], item[1])
    ta = [p for w in basic_tokens(a) for p in wordpiece(w, vocab)]
    tb = [p for w in basic_tokens(b) for p in wordpiece(w, vocab)] if b is not None else []
    budget = max_len - (3 if b is not None else 2)
    while len(ta) + len(tb) > budget:  # longest_first truncation
        (ta if len(ta) >= len(tb) else tb).pop()
    toks = ["[CLS]"] + ta + ["[SEP]"] + (tb + ["[SEP]"] if b is not None else [])
    types = [0] * (len(ta) + 2) + [1] * (len(tb) + 1 if b is not None else 0)
    return [vocab[t] for t in toks], types


def main():
    d = sys.argv[1]
    config = json.load(open(os.path.join(d, "config.json")))
    vocab = {t: i for i, t in enumerate(open(os.path.join(d, "vocab.txt")).read().split("\n")) if t}
    tensors = read_safetensors(os.path.join(d, "model.safetensors"))
    bert = mf.BertModel(config, pooler=True)
    bert.load_state_dict({k[len("bert."):]: v for k, v in tensors.items() if k.startswith("bert.")})
    classifier = nn.Linear(config["hidden_size"], len(config["id2label"]))
    classifier.load_state_dict({"weight": tensors["classifier.weight"], "bias": tensors["classifier.bias"]})
    bert.eval()
    items = json.load(sys.stdin)
    max_len = int(sys.argv[2]) if len(sys.argv) > 2 else config["max_position_embeddings"]
    probs = []
    with torch.no_grad():
        for item in items:
            ids, types = encode(item, vocab, max_len)
            ids_t, types_t = torch.tensor([ids]), torch.tensor([types])
            _, pooled = bert(ids_t, types_t, torch.ones_like(ids_t))
            probs.append(classifier(pooled).softmax(-1)[0].tolist())
    json.dump(probs, sys.stdout)


if __name__ == "__main__":
    main()
