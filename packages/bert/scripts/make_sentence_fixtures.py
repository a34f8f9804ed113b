"""Parity fixtures for sentence embeddings (@transformer-kit/bert), as sentence-transformers computes them.

Run after make_fixtures.py (it reuses that BERT and its weights), with the system Python:

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 packages/bert/scripts/make_sentence_fixtures.py

Writes packages/bert/test/fixtures/st-bert/, a sentence-transformers folder as all-MiniLM-L6-v2 is laid out:
modules.json (Transformer, Pooling in 1_Pooling/, Normalize in 2_Normalize/), 1_Pooling/config.json (mean),
sentence_bert_config.json (max_seq_length 8), config.json + model.safetensors (bert-model's), vocab.txt;
and expected-sentence.safetensors: the embeddings of TEXTS under mean, CLS and max pooling, each
L2-normalised, computed here with sentence-transformers' pooling rules (padding excluded; max pooling sets
padding to -1e9 first; mean divides by max(count, 1e-9)).
"""

import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import CONFIG, OUT, BertModel, write_safetensors  # noqa: E402

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(5, CONFIG["vocab_size"])]
MAX_SEQ = 8
# Lengths 4, 7, and 12 (cut to 8 by max_seq_length, [SEP] kept last).
TEXTS = ["w10 w11", "w20 w21 w22 w23 w24", "w40 w41 w42 w43 w44 w45 w46 w47 w48 w49"]


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        arr = np.frombuffer(data[8 + n + a : 8 + n + b], dtype={"F32": np.float32, "I32": np.int32}[e["dtype"]])
        out[name] = torch.from_numpy(arr.copy().reshape(e["shape"]))
    return out


def encode(text):
    ids = [2] + [VOCAB.index(w) for w in text.lower().split()][: MAX_SEQ - 2] + [3]
    return ids


def main():
    src = os.path.join(OUT, "bert-model")
    bert = BertModel(CONFIG)
    bert.load_state_dict(read_safetensors(os.path.join(src, "model.safetensors")))
    bert.eval()

    rows = [encode(t) for t in TEXTS]
    T = max(len(r) for r in rows)
    ids = torch.tensor([r + [0] * (T - len(r)) for r in rows])
    mask = (ids != 0).long()
    with torch.no_grad():
        tokens, _ = bert(ids, torch.zeros_like(ids), mask)
    m = mask.unsqueeze(-1).float()
    mean = (tokens * m).sum(1) / m.sum(1).clamp(min=1e-9)
    cls = tokens[:, 0]
    mx = tokens.masked_fill(m == 0, -1e9).max(1).values
    norm = lambda x: torch.nn.functional.normalize(x, p=2, dim=1)

    d = os.path.join(OUT, "st-bert")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "1_Pooling"))
    os.makedirs(os.path.join(d, "2_Normalize"))
    for f in ("config.json", "model.safetensors"):
        shutil.copy(os.path.join(src, f), os.path.join(d, f))
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": CONFIG["hidden_size"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False, "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False, "include_prompt": True,
    }
    for name, value in [("modules.json", modules), ("1_Pooling/config.json", pooling),
                        ("sentence_bert_config.json", {"max_seq_length": MAX_SEQ, "do_lower_case": False})]:
        with open(os.path.join(d, name), "w") as f:
            json.dump(value, f, indent=2)
    write_safetensors(os.path.join(OUT, "expected-sentence.safetensors"), {
        "input_ids": ids.int(), "mean": norm(mean), "cls": norm(cls), "max": norm(mx), "mean_raw": mean,
    }, {"texts": json.dumps(TEXTS)})
    print("wrote", d, "| ids", ids.tolist())


if __name__ == "__main__":
    main()
