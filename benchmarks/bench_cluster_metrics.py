"""rml vs scikit-learn: silhouette_score, calinski_harabasz_score, davies_bouldin_score.

    .venv/bin/python benchmarks/bench_cluster_metrics.py           # silhouette n=20k, 50k; CH/DB n=1M
    .venv/bin/python benchmarks/bench_cluster_metrics.py --quick   # smaller sizes

Same data for both, one process, all cores for rml; prints medians, speed-ups and the
relative difference of the results.
"""

import argparse
import gc
import time

import numpy as np
from sklearn import metrics as skm
from sklearn.datasets import make_blobs

from rml import metrics as rm


def _median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def run(quick=False):
    """Return rows: dicts with case, n, d, rml_s, sklearn_s, speedup, rel_diff."""
    rows = []
    sil_sizes = [2_000, 5_000] if quick else [20_000, 50_000]
    big_n = 100_000 if quick else 1_000_000
    d, k = 16, 8
    for n in sil_sizes:
        X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=3.0, random_state=0)
        t_rml, a = _median_time(lambda: rm.silhouette_score(X, y), 3)
        t_sk, b = _median_time(lambda: skm.silhouette_score(X, y), 1)
        rows.append(dict(case="silhouette_score", n=n, d=d, rml_s=t_rml, sklearn_s=t_sk,
                         speedup=t_sk / t_rml, rel_diff=abs(a - b) / abs(b)))
    X, y = make_blobs(n_samples=big_n, n_features=d, centers=k, cluster_std=3.0, random_state=0)
    for name in ("calinski_harabasz_score", "davies_bouldin_score"):
        t_rml, a = _median_time(lambda: getattr(rm, name)(X, y), 5)
        t_sk, b = _median_time(lambda: getattr(skm, name)(X, y), 3)
        rows.append(dict(case=name, n=big_n, d=d, rml_s=t_rml, sklearn_s=t_sk,
                         speedup=t_sk / t_rml, rel_diff=abs(a - b) / abs(b)))
    return rows


def print_table(rows):
    print("| case | n x d | rml (s) | sklearn (s) | speed-up | rel diff |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['n']:,} x {r['d']} | {r['rml_s']:.3f} | {r['sklearn_s']:.3f} | "
              f"{r['speedup']:.1f}x | {r['rel_diff']:.1e} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    print_table(run(quick=p.parse_args().quick))
