"""Fine-tuning fixtures for the demo: a tiny HuggingFace-layout BERT folder and CSVs from the demo's data.

Run with the system Python (Debian python3-torch; no `transformers` needed), after `pnpm install`:

    /usr/bin/python3 apps/demo/scripts/make_finetune_fixtures.py

Writes apps/demo/test/fixtures/:
  tiny-bert/            BertForMaskedLM folder as save_pretrained writes it: config.json, model.safetensors
                        (HF names, bert. prefix, no pooler, decoder tied and absent) and vocab.txt
  sentiment-small.csv   text,label: 400 of the UCI sentiment sentences the demo trains on (src/data.ts), the
                        ones with a clear cue word, labels negative/positive, balanced
  sentiment-pairs.csv   text,text_pair,label: 120 sentence pairs, label same/different sentiment
The model is packages/bert/scripts/make_fixtures.py's plain-PyTorch BERT (HF's parameter names), initialised
as transformers initialises BERT (normal(0, initializer_range), LayerNorm 1/0, biases 0). The vocabulary is
BERT's layout: [PAD] [unused0] [UNK] [CLS] [SEP] [MASK], the CSV's most frequent words (lower-cased, split
on punctuation as BERT's basic tokenizer does) and every ASCII letter/digit as a word start and as ##piece,
so WordPiece can spell any word.
"""

import csv
import json
import os
import random
import re
import sys
from collections import Counter

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "packages", "bert", "scripts"))
import make_fixtures as mf  # noqa: E402  (the reference BERT and the safetensors writer)

OUT = os.path.join(HERE, "..", "test", "fixtures")
SENTIMENT = os.path.join(HERE, "..", "node_modules", "sentiment", "test", "fixtures")
SOURCES = ["amazon", "imdb", "yelp"]
CUES = {
    "positive": ["great", "good", "love", "excellent", "best", "nice", "amazing", "awesome", "delicious", "perfect"],
    "negative": ["bad", "worst", "terrible", "poor", "awful", "waste", "disappointed", "horrible", "boring", "rude"],
}
SPECIALS = ["[PAD]", "[unused0]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = 600
CONFIG = dict(
    vocab_size=None, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
    max_position_embeddings=64, type_vocab_size=2, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
    layer_norm_eps=1e-12, pad_token_id=0, hidden_act="gelu", initializer_range=0.02, model_type="bert",
)


def sentences():
    """src/data.ts toLabelledSentences: trimmed, whitespace collapsed, empty rows and duplicates dropped."""
    seen, out = set(), []
    for source in SOURCES:
        with open(os.path.join(SENTIMENT, f"{source}.json")) as f:
            for row in json.load(f):
                text = re.sub(r"\s+", " ", row["text"].strip())
                if not text or row["class"] not in (0, 1) or text.lower() in seen:
                    continue
                seen.add(text.lower())
                out.append((text, "positive" if row["class"] == 1 else "negative"))
    return out


def words(text):
    return re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())


def main():
    rng = random.Random(0)
    torch.manual_seed(0)
    all_rows = sentences()
    pick = {}
    for label, cues in CUES.items():
        rows = [r for r in all_rows if r[1] == label and any(w in cues for w in words(r[0])) and len(words(r[0])) <= 40]
        rng.shuffle(rows)
        pick[label] = rows[:200]
    rows = pick["positive"] + pick["negative"]
    rng.shuffle(rows)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "sentiment-small.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "label"])
        w.writerows(rows)
    pairs = []
    for i in range(120):
        a, b = rng.sample(rows, 2)
        pairs.append((a[0], b[0], "same" if a[1] == b[1] else "different"))
    with open(os.path.join(OUT, "sentiment-pairs.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["text", "text_pair", "label"])
        w.writerows(pairs)

    counts = Counter(t for text, _ in rows for t in words(text) if re.fullmatch(r"[a-z0-9]+", t))
    chars = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab = SPECIALS + punct + chars + [f"##{c}" for c in chars]
    vocab += [w for w, _ in counts.most_common() if w not in vocab][:WORDS]
    c = dict(CONFIG, vocab_size=len(vocab))

    bert = mf.BertModel(c, pooler=False)
    mlm = mf.MLMHead(c, bert.embeddings.word_embeddings)
    with torch.no_grad():  # transformers' BertPreTrainedModel._init_weights
        for m in (bert, mlm):
            for name, p in m.named_parameters():
                if "LayerNorm.weight" in name:
                    p.fill_(1.0)
                elif name.endswith("bias"):
                    p.zero_()
                else:
                    p.normal_(0.0, c["initializer_range"])
    d = os.path.join(OUT, "tiny-bert")
    os.makedirs(d, exist_ok=True)
    tensors = {f"bert.{k}": v for k, v in bert.state_dict().items()}
    tensors.update({f"cls.predictions.{k}": v for k, v in mlm.state_dict().items()})
    mf.write_safetensors(os.path.join(d, "model.safetensors"), tensors)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump({"architectures": ["BertForMaskedLM"], **c}, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    print("wrote", os.path.normpath(OUT), f"| {len(rows)} rows, {len(pairs)} pairs, vocabulary {len(vocab)}")


if __name__ == "__main__":
    main()
