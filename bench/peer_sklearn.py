#!/usr/bin/python3
"""peer_sklearn.py — the scikit-learn peer for tide's progressive-validation
benchmark (docs/bench/sklearn.md).

What a user would pick instead of tide for online logistic regression on a
CSV stream: sklearn.linear_model.SGDClassifier(loss="log_loss") trained with
partial_fit in mini-batches (default 1,000 rows), scored progressively: each
batch is first predicted by the model trained on all earlier batches, then
learnt. The first batch is predicted before any fit; it is scored as the
prediction of a zero-weight linear model, i.e. classes[0] (what tide's
zero-initialised logistic model predicts too: p = 0.5, ties -> class 0).

Input: any CSV with a header row and the target in the LAST column (the
shared data format, and the synthetic files from build/bench/gen_synth).
Columns whose values in the first 1,000 rows all parse as floats are numeric
(dense features, unscaled; --categorical NAME overrides); any other column
is categorical and one-hot encoded with
sklearn's FeatureHasher (2^18 features, "name=value" tokens, input_type
"string"), which is the hashing trick tide's feat module uses too.
The classes are the sorted distinct target values (partial_fit needs them
up front).

Reading: Python's csv module (python3-pandas is not installed on the
project machine). Times (time.perf_counter):
  parse_seconds  read + split + float conversion + feature matrix build,
  loop_seconds   the progressive predict/partial_fit loop over pre-parsed
                 arrays (in-memory),
  seconds        parse_seconds + loop_seconds (what a user waits for).
Prints one JSON line:
  {"peer":"sklearn-sgd","file","rows","seconds","rows_per_second","accuracy",
   "parse_seconds","loop_seconds","loop_rows_per_second","batch","reader",
   "sklearn"}

Run with Debian's interpreter (the pyenv python3 on PATH lacks sklearn):
  /usr/bin/python3 bench/peer_sklearn.py /work/shared/data/elec2.csv
"""
import argparse
import csv
import itertools
import json
import os
import sys
import time
from array import array

import numpy as np
import scipy.sparse as sp
import sklearn
from sklearn.feature_extraction import FeatureHasher
from sklearn.linear_model import SGDClassifier

HASH_FEATURES = 1 << 18


def _is_float(s):
    try:
        float(s)
        return True
    except ValueError:
        return False


def load(path, forced_cat, sniff_rows=1000):
    """Reads the CSV with the csv module, streaming; returns (X, y, classes).

    Column types are inferred from the first `sniff_rows` rows (as pandas
    infers per chunk); a later non-number in a numeric column stops with a
    message naming it (use --categorical). Categorical tokens are hashed in
    chunks of 10,000 rows so the raw strings are never all held at once."""
    with open(path, newline="") as f:
        rd = csv.reader(f)
        header = next(rd, None)
        if not header or len(header) < 2:
            raise SystemExit(f"{path}: needs a header with at least one feature and the target")
        ncol = len(header)
        first = [r for r in itertools.islice(rd, sniff_rows) if r]
        feat_cols = range(ncol - 1)
        num_idx = [j for j in feat_cols
                   if header[j] not in forced_cat and all(_is_float(r[j]) for r in first
                                                          if len(r) == ncol)]
        cat_idx = [j for j in feat_cols if j not in num_idx]
        hasher = FeatureHasher(n_features=HASH_FEATURES, input_type="string")
        dense = array("d")
        blocks, chunk, raw_y = [], [], []
        for line, r in enumerate(itertools.chain(first, rd), start=2):
            if not r:
                continue
            if len(r) != ncol:
                raise SystemExit(f"{path}: a row has {len(r)} fields, the header has {ncol}")
            try:
                dense.extend([float(r[j]) for j in num_idx])
            except ValueError:
                raise SystemExit(f"{path}: a non-number in a numeric column near line {line}; "
                                 f"pass --categorical NAME for it")
            if cat_idx:
                chunk.append([f"{header[j]}={r[j]}" for j in cat_idx])
                if len(chunk) == 10000:
                    blocks.append(hasher.transform(chunk))
                    chunk = []
            raw_y.append(r[-1])
    if not raw_y:
        raise SystemExit(f"{path}: no data rows")
    n = len(raw_y)
    Xd = np.frombuffer(dense, dtype=np.float64).reshape(n, len(num_idx))
    if cat_idx:
        if chunk:
            blocks.append(hasher.transform(chunk))
        X = sp.hstack([sp.csr_matrix(Xd), sp.vstack(blocks)], format="csr")
    else:
        X = Xd
    try:
        y = np.array([float(v) for v in raw_y])
        if np.all(y == np.round(y)):
            y = y.astype(np.int64)
    except ValueError:
        y = np.array(raw_y)
    classes = np.unique(y)
    return X, y, classes


def progressive(X, y, classes, batch):
    """Predict each batch with the model so far, then learn it; returns #correct."""
    clf = SGDClassifier(loss="log_loss", random_state=0)
    n = X.shape[0]
    correct = 0
    fitted = False
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        xb, yb = X[lo:hi], y[lo:hi]
        if fitted:
            pred = clf.predict(xb)
        else:
            pred = np.full(hi - lo, classes[0], dtype=classes.dtype)
        correct += int(np.sum(pred == yb))
        clf.partial_fit(xb, yb, classes=classes)
        fitted = True
    return correct


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv", help="CSV file, header row, target in the last column")
    ap.add_argument("--batch", type=int, default=1000, help="mini-batch size (default 1000)")
    ap.add_argument("--categorical", action="append", default=[], metavar="NAME",
                    help="treat column NAME as categorical (repeatable); otherwise inferred "
                         "from the first 1000 rows")
    a = ap.parse_args()
    if a.batch < 1:
        ap.error("--batch must be >= 1")
    if not os.path.isfile(a.csv):
        ap.error(f"{a.csv}: no such file")

    t0 = time.perf_counter()
    X, y, classes = load(a.csv, set(a.categorical))
    t1 = time.perf_counter()
    correct = progressive(X, y, classes, a.batch)
    t2 = time.perf_counter()

    rows = int(X.shape[0])
    parse_s, loop_s = t1 - t0, t2 - t1
    total = parse_s + loop_s
    out = {
        "peer": "sklearn-sgd",
        "file": a.csv,
        "rows": rows,
        "seconds": round(total, 4),
        "rows_per_second": round(rows / total, 1),
        "accuracy": round(correct / rows, 6),
        "parse_seconds": round(parse_s, 4),
        "loop_seconds": round(loop_s, 4),
        "loop_rows_per_second": round(rows / loop_s, 1),
        "batch": a.batch,
        "reader": "csv",
        "sklearn": sklearn.__version__,
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
