"""KMeans / BisectingKMeans: rml vs scikit-learn (and scikit-learn-intelex when installed),
same data and same initial centres, one process, all cores; medians and ratios.

Run: ``.venv/bin/python benchmarks/bench_kmeans.py [--quick]`` after ``make build``.

Cases (issue 3):
1. KMeans n=1,000,000, d=32, k=64, n_init=1, explicit init, a fixed number of iterations
   (tol=0; 100 iterations, 5 with ``--quick``): time per Lloyd/Elkan iteration, float64 and
   float32; also n=200,000, d=2, k=8 (overlapping and well separated) and d=8, k=16 well
   separated (low k*d, where Elkan's bounds should beat Lloyd).
   Roofline: the share of numpy matmul's GFLOP/s that a dense assignment step reaches
   (``2 n k d`` FLOP). scikit-learn's Lloyd iteration is one dense step (``sk_%roof``).
   rml's Lloyd skips, for ``d > 8``, the rows whose label Hamerly's bounds prove unchanged,
   so its time per iteration is not a roofline figure; ``dense_ms`` / ``dense_%roof`` time
   one dense pass of rml's kernel instead (labels and inertia of all rows for the fitted
   centres, ``_rml.cluster.kmeans_labels_inertia``).
2. BisectingKMeans n=200,000, d=32, k=16 (default init, same seed), with final inertia.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
try:  # the shared harness, when present
    from _harness import format_table, roofline  # noqa: F401
except ImportError:  # a small local fallback

    def roofline(n=2048, repeats=3):
        out = {}
        for dt in (np.float64, np.float32):
            rng = np.random.default_rng(0)
            a = rng.standard_normal((n, n)).astype(dt)
            b = rng.standard_normal((n, n)).astype(dt)
            a @ b
            ts = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                a @ b
                ts.append(time.perf_counter() - t0)
            out[np.dtype(dt).name] = 2.0 * n**3 / statistics.median(ts) / 1e9
        return out

    def format_table(rows, columns):
        def fmt(v):
            if v is None:
                return "-"
            if isinstance(v, float):
                return f"{v:.3g}" if abs(v) < 1e4 else f"{v:.0f}"
            return str(v)

        cells = [[fmt(r.get(c)) for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        lines = ["  ".join(c.rjust(w) for c, w in zip(columns, widths))]
        lines.append("  ".join("-" * w for w in widths))
        lines.extend("  ".join(v.rjust(w) for v, w in zip(row, widths)) for row in cells)
        return "\n".join(lines)


from sklearn import cluster as skc  # noqa: E402

from rml import _rml  # noqa: E402
from rml import cluster as rmc  # noqa: E402

try:  # optional peer
    from sklearnex.cluster import KMeans as ExKMeans  # noqa: E402
except Exception:  # pragma: no cover - not installed here
    ExKMeans = None


def _blobs(n, d, k, seed, dtype, std=2.0):
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-10, 10, size=(k, d))
    lab = rng.integers(0, k, size=n)
    X = centers[lab] + rng.standard_normal((n, d)) * std
    return np.ascontiguousarray(X, dtype=dtype)


def _median_time(fn, repeats):
    ts, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), res


def _kmeans_case(X, k, algorithm, iters, repeats, peak, label=""):
    n, d = X.shape
    init = X[np.random.default_rng(1).choice(n, k, replace=False)].copy()
    kw = dict(n_clusters=k, init=init, n_init=1, max_iter=iters, tol=0.0, algorithm=algorithm)
    peers = [("rml", rmc.KMeans), ("sklearn", skc.KMeans)]
    if ExKMeans is not None:
        peers.append(("sklearnex", ExKMeans))
    res = {}
    for name, E in peers:
        t, est = _median_time(lambda: E(**kw).fit(X), repeats)
        res[name] = (t, est)
    t_rml, e_rml = res["rml"]
    t_sk, e_sk = res["sklearn"]
    per_rml = t_rml / e_rml.n_iter_
    per_sk = t_sk / e_sk.n_iter_
    flops = 2.0 * n * k * d
    dense = None
    if algorithm == "lloyd":
        w = np.ones(n, dtype=X.dtype)
        dense, _ = _median_time(lambda: _rml.cluster.kmeans_labels_inertia(X, w, e_rml.cluster_centers_), 3)
    row = {
        "case": f"KMeans {algorithm} {X.dtype.name} n={n} d={d} k={k}{label}",
        "iters": int(e_rml.n_iter_),
        "rml_total_s": t_rml,
        "sk_total_s": t_sk,
        "rml_ms/it": per_rml * 1e3,
        "sk_ms/it": per_sk * 1e3,
        "speedup": per_sk / per_rml,
        "dense_ms": dense * 1e3 if dense else None,
        "dense_%roof": 100.0 * flops / dense / 1e9 / peak[X.dtype.name] if dense else None,
        "sk_%roof": 100.0 * flops / per_sk / 1e9 / peak[X.dtype.name] if algorithm == "lloyd" else None,
        "same_labels": bool(np.array_equal(e_rml.labels_, e_sk.labels_)),
        "inertia_rel": abs(e_rml.inertia_ - e_sk.inertia_) / e_sk.inertia_,
    }
    if "sklearnex" in res:
        t_ex, e_ex = res["sklearnex"]
        row["ex_ms/it"] = t_ex / max(e_ex.n_iter_, 1) * 1e3
    return row


def _bisect_case(X, k, repeats):
    kw = dict(n_clusters=k, random_state=0)
    t_rml, e_rml = _median_time(lambda: rmc.BisectingKMeans(**kw).fit(X), repeats)
    t_sk, e_sk = _median_time(lambda: skc.BisectingKMeans(**kw).fit(X), repeats)
    n, d = X.shape
    return {
        "case": f"BisectingKMeans {X.dtype.name} n={n} d={d} k={k}",
        "rml_s": t_rml,
        "sk_s": t_sk,
        "speedup": t_sk / t_rml,
        "same_labels": bool(np.array_equal(e_rml.labels_, e_sk.labels_)),
        "inertia_rel": (e_rml.inertia_ - e_sk.inertia_) / e_sk.inertia_,
    }


def run(quick=False):
    """Run every case; return ``(kmeans_rows, bisect_rows, roofline)``."""
    peak = roofline()
    n_big = 200_000 if quick else 1_000_000
    # The protocol: max_iter=100 fixed (tol=0), so the one-off costs of a fit
    # (validation copy, centring, final E-step) are amortised as a user's real fit would.
    iters = 5 if quick else 100
    repeats = 1 if quick else 2
    rows = []
    for dtype in (np.float64, np.float32):
        X = _blobs(n_big, 32, 64, 0, dtype)
        for algorithm in ("lloyd", "elkan"):
            rows.append(_kmeans_case(X, 64, algorithm, iters, repeats, peak))
        del X
    X = _blobs(200_000, 2, 8, 2, np.float64)
    for algorithm in ("lloyd", "elkan"):
        rows.append(_kmeans_case(X, 8, algorithm, 20 if quick else 30, repeats, peak))
    # Well-separated clusters: where Elkan's bounds should prune (tol=0 still runs to
    # strict convergence, so both report time per iteration of the same run).
    X = _blobs(200_000, 2, 8, 4, np.float64, std=0.2)
    for algorithm in ("lloyd", "elkan"):
        rows.append(_kmeans_case(X, 8, algorithm, 20 if quick else 30, repeats, peak, " separated"))
    # Low k*d, well-separated blobs: the case Elkan's bounds are made for.
    X = _blobs(200_000, 8, 16, 5, np.float64, std=0.2)
    for algorithm in ("lloyd", "elkan"):
        rows.append(_kmeans_case(X, 16, algorithm, 20 if quick else 30, repeats, peak, " separated"))
    X = _blobs(200_000, 32, 16, 3, np.float64)
    brows = [_bisect_case(X, 16, repeats)]
    return rows, brows, peak


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows, brows, peak = run(args.quick)
    print(f"numpy matmul roofline: float64 {peak['float64']:.1f} GFLOP/s, float32 {peak['float32']:.1f} GFLOP/s; "
          f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    cols = ["case", "iters", "rml_total_s", "sk_total_s", "rml_ms/it", "sk_ms/it", "speedup", "dense_ms", "dense_%roof", "sk_%roof", "same_labels", "inertia_rel"]
    if any("ex_ms/it" in r for r in rows):
        cols.insert(4, "ex_ms/it")
    print(format_table(rows, cols))
    print()
    print(format_table(brows, ["case", "rml_s", "sk_s", "speedup", "same_labels", "inertia_rel"]))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
