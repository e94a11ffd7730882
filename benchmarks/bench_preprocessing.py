"""rml vs scikit-learn: StandardScaler and SimpleImputer fit+transform on the same data.

    .venv/bin/python benchmarks/bench_preprocessing.py            # n=1,000,000, d=50, 10% NaN
    .venv/bin/python benchmarks/bench_preprocessing.py --quick    # n=100,000

Both libraries run in this process on the same array (all cores for rml; scikit-learn's
numpy code is single-threaded here). Prints the median of the repeats and the speed-up, and
checks that the outputs agree (max relative difference) so a fast wrong answer cannot pass.
"""

import argparse
import gc
import time

import numpy as np
from sklearn.impute import SimpleImputer as SkSimpleImputer
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from rml.impute import SimpleImputer
from rml.preprocessing import StandardScaler


def _median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def _max_rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    both = ~(np.isnan(a) & np.isnan(b))
    denom = np.maximum(np.abs(b[both]), 1.0)
    return float(np.max(np.abs(a[both] - b[both]) / denom)) if both.any() else 0.0


def make_data(n, d, nan_frac=0.1, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 5, d) + rng.uniform(-10, 10, d)
    X[rng.random((n, d)) < nan_frac] = np.nan
    return X.astype(dtype, copy=False)


def run(quick=False):
    """Run every case and return rows: dicts with case, rml_s, sklearn_s, speedup, max_rel_diff."""
    n, d = (100_000, 50) if quick else (1_000_000, 50)
    repeats = 3 if quick else 3
    rows = []
    for dtype in (np.float64, np.float32):
        X = make_data(n, d, dtype=dtype)
        cases = [
            ("StandardScaler", lambda: StandardScaler().fit(X).transform(X),
             lambda: SkStandardScaler().fit(X).transform(X)),
            ("SimpleImputer(median)", lambda: SimpleImputer(strategy="median").fit(X).transform(X),
             lambda: SkSimpleImputer(strategy="median").fit(X).transform(X)),
            ("SimpleImputer(mean)", lambda: SimpleImputer(strategy="mean").fit(X).transform(X),
             lambda: SkSimpleImputer(strategy="mean").fit(X).transform(X)),
        ]
        for name, ours, ref in cases:
            t_rml, a = _median_time(ours, repeats)
            t_sk, b = _median_time(ref, 1 if (not quick and "median" in name) else repeats)
            rows.append({
                "case": f"{name} fit+transform",
                "dtype": np.dtype(dtype).name,
                "n": n,
                "d": d,
                "rml_s": t_rml,
                "sklearn_s": t_sk,
                "speedup": t_sk / t_rml,
                "max_rel_diff": _max_rel(a, b),
            })
            del a, b
        del X
    return rows


def print_table(rows):
    print(f"| case | dtype | n x d | rml (s) | sklearn (s) | speed-up | max rel diff |")
    print("|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['case']} | {r['dtype']} | {r['n']:,} x {r['d']} | {r['rml_s']:.3f} | "
              f"{r['sklearn_s']:.3f} | {r['speedup']:.1f}x | {r['max_rel_diff']:.1e} |")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    print_table(run(quick=p.parse_args().quick))
