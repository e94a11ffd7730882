"""rml vs scikit-learn (and fastcluster when installed): GaussianMixture (diag) and
AgglomerativeClustering, same data, one process; medians and ratios.

    .venv/bin/python benchmarks/bench_gmm_agglo.py           # full sizes (issue 5)
    .venv/bin/python benchmarks/bench_gmm_agglo.py --quick   # small sizes, a smoke run
    .venv/bin/python benchmarks/bench_gmm_agglo.py --agglo-only   # AgglomerativeClustering only

``run(quick)`` returns the rows (dicts) that are printed. Peak memory of ward, average and
complete linkage is measured in a fresh subprocess per library and linkage (peak resident set,
``VmHWM``, after the fit minus before), so Rust allocations count too; those rows also give the
fresh-process fit time (first touch of the memory included).
"""

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from sklearn.datasets import make_blobs

HERE = os.path.dirname(os.path.abspath(__file__))


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _blobs(n, d, centers, seed=0):
    X, _ = make_blobs(n_samples=n, n_features=d, centers=centers, random_state=seed)
    return X


# ----------------------------------------------------------------------------- GMM
def bench_gmm(quick):
    from sklearn.mixture import GaussianMixture as SkGM

    from rml.mixture import GaussianMixture as RmlGM

    from threadpoolctl import threadpool_limits

    n, d, k = (50_000, 16, 16) if quick else (500_000, 16, 16)
    iters = 5
    X = _blobs(n, d, k)
    rng = np.random.RandomState(0)
    means = X[rng.choice(n, k, replace=False)]
    kw = dict(
        n_components=k, covariance_type="diag", tol=0.0, max_iter=iters,
        weights_init=np.full(k, 1.0 / k), means_init=means,
        precisions_init=np.ones((k, d)) / X.var(axis=0),
    )

    def per_iter(cls, repeats):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # iters EM passes + the final E-step of fit
            return _median_time(lambda: cls(**kw).fit(X), repeats) / (iters + 1)

    reps = 3 if quick else 1
    with threadpool_limits(1):
        sk1 = per_iter(SkGM, reps)
    sk = per_iter(SkGM, reps)
    old = os.environ.get("RML_NUM_THREADS")
    os.environ["RML_NUM_THREADS"] = "1"
    try:
        rml1 = per_iter(RmlGM, 3)
    finally:
        if old is None:
            del os.environ["RML_NUM_THREADS"]
        else:
            os.environ["RML_NUM_THREADS"] = old
    rml = per_iter(RmlGM, 3)
    return [dict(
        bench="GaussianMixture diag, ms per EM iteration", n=n, d=d, k=k,
        sklearn_1thread_ms=1e3 * sk1, sklearn_ms=1e3 * sk,
        rml_1thread_ms=1e3 * rml1, rml_ms=1e3 * rml,
        ratio=min(sk, sk1) / rml, ratio_1thread=sk1 / rml1,
    )]


# ----------------------------------------------------------------------------- agglo
_PEAK_CODE = r"""
import resource, sys, time, numpy as np
from sklearn.datasets import make_blobs
lib, n, d, linkage = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
X, _ = make_blobs(n_samples=n, n_features=d, centers=10, random_state=0)
if lib == "sklearn":
    from sklearn.cluster import AgglomerativeClustering as A
    f = lambda: A(n_clusters=10, linkage=linkage).fit(X)
elif lib == "rml":
    from rml.cluster import AgglomerativeClustering as A
    f = lambda: A(n_clusters=10, linkage=linkage).fit(X)
elif linkage == "ward":
    import fastcluster
    f = lambda: fastcluster.linkage_vector(X, method="ward")
else:
    import fastcluster
    f = lambda: fastcluster.linkage(X, method=linkage)
def hwm_kb():
    # VmHWM belongs to this address space (ru_maxrss survives exec from a big parent).
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
base = hwm_kb()
t0 = time.perf_counter()
f()
t = time.perf_counter() - t0
print(t, (hwm_kb() - base) / 1024.0)
"""


def _peak(lib, n, d, linkage="ward"):
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_CODE, lib, str(n), str(d), linkage],
        capture_output=True, text=True, check=True,
    )
    t, mb = out.stdout.split()
    return float(t), float(mb)


def bench_agglo(quick):
    from sklearn.cluster import AgglomerativeClustering as SkA

    from rml.cluster import AgglomerativeClustering as RmlA

    try:
        import fastcluster  # noqa: F401

        have_fc = True
    except ImportError:
        have_fc = False

    rows = []
    n_ward, d = (5_000, 8) if quick else (20_000, 8)
    res = {}
    # RML_BENCH_SKIP_SKLEARN_WARD=1 skips scikit-learn's ward (+3 GB at n=20,000) on a
    # machine that cannot spare the memory.
    skip_sk = os.environ.get("RML_BENCH_SKIP_SKLEARN_WARD") == "1"
    libs = (["rml"] if skip_sk else ["sklearn", "rml"]) + (["fastcluster"] if have_fc else [])
    for lib in libs:
        res[lib] = _peak(lib, n_ward, d)
    nan = (float("nan"), float("nan"))
    sk = res.get("sklearn", nan)
    row = dict(
        bench="Agglomerative ward (fit, one run each, fresh process)", n=n_ward, d=d,
        sklearn_s=sk[0], rml_s=res["rml"][0], ratio=sk[0] / res["rml"][0],
        sklearn_peak_mb=sk[1], rml_peak_mb=res["rml"][1],
    )
    if have_fc:
        row.update(fastcluster_s=res["fastcluster"][0], fastcluster_peak_mb=res["fastcluster"][1],
                   ratio_vs_fastcluster=res["fastcluster"][0] / res["rml"][0])
    rows.append(row)

    n = 3_000 if quick else 10_000
    X = _blobs(n, 8, 10)
    for linkage in ("single", "average", "complete"):
        ts = {}
        for name, cls in (("sklearn", SkA), ("rml", RmlA)):
            ts[name] = _median_time(
                lambda: cls(n_clusters=10, linkage=linkage).fit(X), 3 if quick else 1
            )
        row = dict(bench=f"Agglomerative {linkage}", n=n, d=8, sklearn_s=ts["sklearn"],
                   rml_s=ts["rml"], ratio=ts["sklearn"] / ts["rml"])
        if have_fc:
            import fastcluster

            ts["fc"] = _median_time(lambda: fastcluster.linkage(X, method=linkage), 1)
            row.update(fastcluster_s=ts["fc"])
        rows.append(row)
    # Fresh-process time and peak memory of the two linkages that hold an n x n matrix.
    for linkage in ("average", "complete"):
        res = {lib: _peak(lib, n, 8, linkage) for lib in ["sklearn", "rml"]}
        rows.append(dict(
            bench=f"Agglomerative {linkage} (fit, one run each, fresh process)", n=n, d=8,
            sklearn_s=res["sklearn"][0], rml_s=res["rml"][0],
            ratio=res["sklearn"][0] / res["rml"][0],
            sklearn_peak_mb=res["sklearn"][1], rml_peak_mb=res["rml"][1],
        ))
    return rows


def run(quick=False, agglo_only=False):
    """Run every benchmark (only AgglomerativeClustering's if ``agglo_only``); return the rows."""
    return ([] if agglo_only else bench_gmm(quick)) + bench_agglo(quick)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--agglo-only", action="store_true",
                    help="only the AgglomerativeClustering cases")
    ap.add_argument("--json", default=None, help="also write the rows to this file")
    args = ap.parse_args()
    from rml import _rml

    print(f"threads: rml {_rml.effective_n_threads(None)}, cpu_count {os.cpu_count()}")
    rows = run(args.quick, args.agglo_only)
    for r in rows:
        print("  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
