"""BisectingKMeans: rml vs scikit-learn, same data, same seed, one process, all cores;
medians and ratios, with the final inertia and whether the labels are identical.

Run: ``.venv/bin/python benchmarks/bench_bisecting.py [--quick] [--repeats R]`` after
``make build``. The case is issue 3's BisectingKMeans n=200,000, d=32, k=16 (the data of
``bench_kmeans.py``'s bisecting row); ``--quick`` uses n=50,000. Also printed: the CPU time
of one single-threaded fit of each (``RML_NUM_THREADS=1`` / threadpoolctl), a figure less
sensitive to a shared machine's load.
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
from threadpoolctl import threadpool_limits  # noqa: E402

from rml import cluster as rmc  # noqa: E402


def _median(fn, repeats, clock=time.perf_counter):
    ts, res = [], None
    for _ in range(repeats):
        t0 = clock()
        res = fn()
        ts.append(clock() - t0)
    return statistics.median(ts), res


def run(quick=False, repeats=3):
    n = 50_000 if quick else 200_000
    X = _blobs(n, 32, 16, 3, np.float64)
    rows = []
    for strategy in ("biggest_inertia", "largest_cluster"):
        kw = dict(n_clusters=16, random_state=0, bisecting_strategy=strategy)
        rmc.BisectingKMeans(**kw).fit(X)  # warm-up (pool start, page faults)
        t_rml, e_rml = _median(lambda: rmc.BisectingKMeans(**kw).fit(X), repeats)
        t_sk, e_sk = _median(lambda: skc.BisectingKMeans(**kw).fit(X), repeats)
        # single-threaded CPU time (less sensitive to other processes on the machine)
        old = os.environ.get("RML_NUM_THREADS")
        os.environ["RML_NUM_THREADS"] = "1"
        try:
            c_rml, _ = _median(lambda: rmc.BisectingKMeans(**kw).fit(X), repeats, time.process_time)
        finally:
            if old is None:
                del os.environ["RML_NUM_THREADS"]
            else:
                os.environ["RML_NUM_THREADS"] = old
        with threadpool_limits(1):
            c_sk, _ = _median(lambda: skc.BisectingKMeans(**kw).fit(X), repeats, time.process_time)
        rows.append(
            {
                "case": f"BisectingKMeans {strategy} float64 n={n} d=32 k=16",
                "rml_s": t_rml,
                "sk_s": t_sk,
                "speedup": t_sk / t_rml,
                "rml_cpu1_s": c_rml,
                "sk_cpu1_s": c_sk,
                "speedup_1t": c_sk / c_rml,
                "same_labels": bool(np.array_equal(e_rml.labels_, e_sk.labels_)),
                "inertia_rel": (e_rml.inertia_ - e_sk.inertia_) / e_sk.inertia_,
            }
        )
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = run(args.quick, args.repeats)
    print(f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
    cols = ["case", "rml_s", "sk_s", "speedup", "rml_cpu1_s", "sk_cpu1_s", "speedup_1t", "same_labels", "inertia_rel"]
    print(format_table(rows, cols))


if __name__ == "__main__":
    main()
