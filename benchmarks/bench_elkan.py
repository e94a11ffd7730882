"""Elkan vs Lloyd at low k*d on well-separated clusters, in rml and in scikit-learn.

Issue 3 asks for "Elkan no slower than Lloyd where Elkan should win (low k*d, well-separated
clusters)". This benchmark measures that claim in both libraries on the same data, one
process: whole fits to strict convergence (``max_iter=300``, ``tol=0``), the same init array
for all four fits of a case, median of ``--repeats`` fits.

Cases: n=200,000 Gaussian blobs with standard deviation 0.2 around centres drawn uniformly
in [-10, 10]^d (the ``separated`` data of ``bench_kmeans.py``), for d in {2, 8, 32} and k up
to 64; init either ``k-means++`` (``sklearn.cluster.kmeans_plusplus``, random_state=0: the
clusters are found) or k distinct random rows (as ``bench_kmeans.py``: some blobs get two
centres and some centres two blobs, so many rows stay close to a boundary).

Columns: ``iters`` (n_iter_, equal in the four fits), fit times in ms, and ``elkan/lloyd``,
the ratio of the Elkan fit's time to the Lloyd fit's in the same library (below 1: Elkan
wins).

Run: ``.venv/bin/python benchmarks/bench_elkan.py [--quick] [--repeats R]`` after
``make build``.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_kmeans import _blobs, format_table  # noqa: E402  (same harness and data)

from sklearn import cluster as skc  # noqa: E402

from rml import cluster as rmc  # noqa: E402

CASES = [  # (d, k, data seed, init)
    (2, 8, 4, "rows"),
    (2, 8, 4, "k-means++"),
    (2, 32, 6, "k-means++"),
    (8, 16, 5, "rows"),
    (8, 16, 5, "k-means++"),
    (8, 64, 7, "k-means++"),
    (32, 64, 0, "k-means++"),
]


def _median_fit(E, kw, X, repeats):
    ts, est = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        est = E(**kw).fit(X)
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), est


def run(quick=False, repeats=3):
    n = 50_000 if quick else 200_000
    rows = []
    for d, k, seed, init_kind in CASES:
        X = _blobs(n, d, k, seed, np.float64, std=0.2)
        if init_kind == "rows":
            init = X[np.random.default_rng(1).choice(n, k, replace=False)].copy()
        else:
            init, _ = skc.kmeans_plusplus(X, k, random_state=0)
        res = {}
        for lib, E in (("rml", rmc.KMeans), ("sk", skc.KMeans)):
            for algorithm in ("lloyd", "elkan"):
                kw = dict(n_clusters=k, init=init, n_init=1, max_iter=300, tol=0.0, algorithm=algorithm)
                res[lib, algorithm] = _median_fit(E, kw, X, repeats)
        iters = {int(e.n_iter_) for _, e in res.values()}
        same = all(np.array_equal(e.labels_, res["sk", "lloyd"][1].labels_) for _, e in res.values())
        row = {"case": f"n={n} d={d} k={k} init={init_kind}", "iters": "/".join(map(str, sorted(iters)))}
        for lib in ("rml", "sk"):
            tl, te = res[lib, "lloyd"][0], res[lib, "elkan"][0]
            row[f"{lib}_lloyd_ms"] = tl * 1e3
            row[f"{lib}_elkan_ms"] = te * 1e3
            row[f"{lib}_elkan/lloyd"] = te / tl
        row["same_labels"] = same
        rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows = run(args.quick, args.repeats)
    cols = [
        "case",
        "iters",
        "rml_lloyd_ms",
        "rml_elkan_ms",
        "rml_elkan/lloyd",
        "sk_lloyd_ms",
        "sk_elkan_ms",
        "sk_elkan/lloyd",
        "same_labels",
    ]
    print(f"cores {os.cpu_count()}, load {load:.1f}")
    print(format_table(rows, cols))


if __name__ == "__main__":
    main()
