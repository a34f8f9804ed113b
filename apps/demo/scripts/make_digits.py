"""Writes apps/demo/data/digits.txt: the UCI optical recognition of handwritten digits, 8x8 version.

Source: E. Alpaydin, C. Kaynak, "Optical Recognition of Handwritten Digits", UCI Machine Learning
Repository (1998), https://doi.org/10.24432/C50P49, licensed CC BY 4.0. The 1,797 images (the test part of
the 8x8 set) as shipped by scikit-learn (`sklearn/datasets/data/digits.csv.gz`, Debian python3-sklearn):
64 pixel values 0..16 then the label, one image per row.

Run: /usr/bin/python3 apps/demo/scripts/make_digits.py   (apt-get install python3-sklearn for the file)
"""

import gzip
import os

SRC = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "digits.txt")

rows = [list(map(int, line.split(","))) for line in gzip.open(SRC, "rt").read().strip().splitlines()]
assert len(rows) == 1797 and all(len(r) == 65 for r in rows)
assert all(0 <= v <= 16 for r in rows for v in r[:64]) and all(0 <= r[64] <= 9 for r in rows)
# One line per image: the label digit, then the 64 pixels (row-major) as letters a (0) .. q (16).
lines = [str(r[64]) + "".join(chr(ord("a") + v) for v in r[:64]) for r in rows]
# A plain data file (not TypeScript): src/vit.ts reads it with fs in Node and fetches it in the page.
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print("wrote", os.path.normpath(OUT), len(lines), "images")
