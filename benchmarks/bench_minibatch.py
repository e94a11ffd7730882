"""MiniBatchKMeans: rml vs scikit-learn on the same data, in one process.

    .venv/bin/python benchmarks/bench_minibatch.py          # full: n=1,000,000, d=32, k=64
    .venv/bin/python benchmarks/bench_minibatch.py --quick  # n=100,000

Both estimators get the same data, parameters and random_state, so they draw the same
k-means++ init and the same mini-batches: the final inertia must agree (it is printed for
both). Times are medians over repeats of the whole fit (init, mini-batch loop, final label
pass with compute_labels=True); the "loop" row times fit(compute_labels=False) and the
"labels" row predict() on all of X, to show where the time goes.
"""

import argparse
import json
import statistics
import sys
import time

import numpy as np
from sklearn.cluster import MiniBatchKMeans as SkMBK
from sklearn.datasets import make_blobs

from rml.cluster import MiniBatchKMeans as RmlMBK


def _peers():
    peers = {"sklearn": SkMBK}
    try:  # scikit-learn-intelex has no MiniBatchKMeans of its own; listed when it patches one
        from sklearnex.cluster import MiniBatchKMeans as XMBK  # noqa: F401

        peers["sklearnex"] = XMBK
    except Exception:
        pass
    return peers


def _median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(quick=False, repeats=None, breakdown=True):
    n = 100_000 if quick else 1_000_000
    d, k = 32, 64
    if repeats is None:
        repeats = 1 if quick else 3
    X64, _ = make_blobs(n, n_features=d, centers=k, cluster_std=2.0, random_state=0)
    rows = []
    for dtype in (np.float64, np.float32):
        X = X64.astype(dtype)
        params = dict(n_clusters=k, random_state=0)
        results = {}
        for name, cls in [("rml", RmlMBK), *_peers().items()]:
            t, est = _median_time(lambda: cls(**params).fit(X), repeats)
            if breakdown:
                t_loop, _ = _median_time(lambda: cls(compute_labels=False, **params).fit(X), repeats)
                t_pred, _ = _median_time(lambda: est.predict(X), repeats)
            else:
                t_loop = t_pred = float("nan")
            results[name] = dict(fit_s=t, loop_s=t_loop, predict_s=t_pred,
                                 inertia=float(est.inertia_), n_steps=int(est.n_steps_))
        base = results["rml"]
        for name, r in results.items():
            if name == "rml":
                continue
            rows.append(dict(
                case=f"MiniBatchKMeans n={n:,} d={d} k={k}", dtype=np.dtype(dtype).name, peer=name,
                peer_fit_s=r["fit_s"], rml_fit_s=base["fit_s"], fit_ratio=r["fit_s"] / base["fit_s"],
                peer_loop_s=r["loop_s"], rml_loop_s=base["loop_s"], loop_ratio=r["loop_s"] / base["loop_s"],
                peer_predict_s=r["predict_s"], rml_predict_s=base["predict_s"],
                predict_ratio=r["predict_s"] / base["predict_s"],
                peer_inertia=r["inertia"], rml_inertia=base["inertia"],
                inertia_rel_diff=(base["inertia"] - r["inertia"]) / r["inertia"],
                peer_steps=r["n_steps"], rml_steps=base["n_steps"],
            ))
    return rows


def _print(rows):
    hdr = (f"{'case':<38}{'dtype':<9}{'peer':<10}{'peer fit':>10}{'rml fit':>10}{'x':>7}"
           f"{'peer loop':>11}{'rml loop':>10}{'x':>7}{'peer pred':>11}{'rml pred':>10}{'x':>7}"
           f"{'steps':>12}{'inertia peer':>16}{'inertia rml':>16}")
    print(hdr)
    for r in rows:
        print(f"{r['case']:<38}{r['dtype']:<9}{r['peer']:<10}{r['peer_fit_s']:>10.3f}{r['rml_fit_s']:>10.3f}"
              f"{r['fit_ratio']:>7.1f}{r['peer_loop_s']:>11.3f}{r['rml_loop_s']:>10.3f}{r['loop_ratio']:>7.1f}"
              f"{r['peer_predict_s']:>11.3f}{r['rml_predict_s']:>10.3f}{r['predict_ratio']:>7.1f}"
              f"{str(r['peer_steps']) + '/' + str(r['rml_steps']):>12}{r['peer_inertia']:>16.6g}{r['rml_inertia']:>16.6g}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=None, help="fits per timing (median)")
    ap.add_argument("--no-breakdown", action="store_true",
                    help="skip the compute_labels=False fit and the predict timings")
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args()
    rows = run(args.quick, args.repeats, not args.no_breakdown)
    _print(rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    sys.exit(0)
