"""MiniBatchKMeans: rml vs scikit-learn on the same data, in one process.

    .venv/bin/python benchmarks/bench_minibatch.py            # n=1,000,000, d=32, k=64
    .venv/bin/python benchmarks/bench_minibatch.py --quick    # n=100,000
    .venv/bin/python benchmarks/bench_minibatch.py --threads 1  # both single-threaded

Both estimators get the same data, parameters and random_state, so they draw the same
k-means++ init and the same mini-batches: the number of steps and the final inertia must
agree (both are printed). Times are medians over repeats of the whole fit (init, mini-batch
loop, final label pass with compute_labels=True), wall clock and CPU time of the process.
For rml the fit is also broken down: "loop" is fit(compute_labels=False), "labels" is
predict() on all of X (the final label pass). scikit-learn-intelex is included when installed
(it has no MiniBatchKMeans of its own; its patched sklearn is what it would run).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np
from sklearn.cluster import MiniBatchKMeans as SkMBK
from sklearn.datasets import make_blobs

from rml.cluster import MiniBatchKMeans as RmlMBK


def _peers():
    peers = {"sklearn": SkMBK}
    try:
        from sklearnex.cluster import MiniBatchKMeans as XMBK

        peers["sklearnex"] = XMBK
    except Exception:
        pass
    return peers


def _timed(fn, repeats):
    walls, cpus, out = [], [], None
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus), out


def run(quick=False, repeats=None, threads=None):
    """Rows of the comparison; ``threads`` limits both libraries (None: all cores)."""
    from threadpoolctl import threadpool_limits

    n = 100_000 if quick else 1_000_000
    d, k = 32, 64
    if repeats is None:
        repeats = 1 if quick else 3
    if threads is not None:
        os.environ["RML_NUM_THREADS"] = str(threads)
    X64, _ = make_blobs(n, n_features=d, centers=k, cluster_std=2.0, random_state=0)
    rows = []
    for dtype in (np.float64, np.float32):
        X = X64.astype(dtype)
        params = dict(n_clusters=k, random_state=0)
        wall, cpu, est = _timed(lambda: RmlMBK(**params).fit(X), repeats)
        loop_wall, _, _ = _timed(lambda: RmlMBK(compute_labels=False, **params).fit(X), repeats)
        pred_wall, _, _ = _timed(lambda: est.predict(X), repeats)
        rml = dict(wall=wall, cpu=cpu, inertia=float(est.inertia_), steps=int(est.n_steps_))
        for name, cls in _peers().items():
            if threads is not None:
                with threadpool_limits(limits=threads):
                    pw, pc, pest = _timed(lambda: cls(**params).fit(X), repeats)
            else:
                pw, pc, pest = _timed(lambda: cls(**params).fit(X), repeats)
            rows.append(dict(
                case=f"MiniBatchKMeans n={n:,} d={d} k={k}", dtype=np.dtype(dtype).name,
                threads="all" if threads is None else threads, peer=name,
                peer_wall_s=pw, rml_wall_s=rml["wall"], wall_ratio=pw / rml["wall"],
                peer_cpu_s=pc, rml_cpu_s=rml["cpu"], cpu_ratio=pc / rml["cpu"],
                rml_loop_s=loop_wall, rml_labels_s=pred_wall,
                peer_inertia=float(pest.inertia_), rml_inertia=rml["inertia"],
                inertia_rel_diff=(rml["inertia"] - float(pest.inertia_)) / float(pest.inertia_),
                peer_steps=int(pest.n_steps_), rml_steps=rml["steps"],
            ))
    return rows


def _print(rows):
    print(f"{'case':<39}{'dtype':<8}{'thr':>4} {'peer':<10}{'peer s':>9}{'rml s':>8}{'x':>7}"
          f"{'peer cpu':>10}{'rml cpu':>9}{'x':>7}{'rml loop':>10}{'rml labels':>11}"
          f"{'steps p/r':>12}{'inertia peer':>15}{'inertia rml':>15}")
    for r in rows:
        print(f"{r['case']:<39}{r['dtype']:<8}{str(r['threads']):>4} {r['peer']:<10}"
              f"{r['peer_wall_s']:>9.3f}{r['rml_wall_s']:>8.3f}{r['wall_ratio']:>7.1f}"
              f"{r['peer_cpu_s']:>10.3f}{r['rml_cpu_s']:>9.3f}{r['cpu_ratio']:>7.1f}"
              f"{r['rml_loop_s']:>10.3f}{r['rml_labels_s']:>11.3f}"
              f"{str(r['peer_steps']) + '/' + str(r['rml_steps']):>12}"
              f"{r['peer_inertia']:>15.7g}{r['rml_inertia']:>15.7g}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None, help="fits per timing (median)")
    ap.add_argument("--threads", type=int, default=None,
                    help="limit both libraries to this many threads (default: all cores)")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    rows = run(args.quick, args.repeats, args.threads)
    _print(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    sys.exit(0)
