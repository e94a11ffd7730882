"""DBSCAN and OPTICS: rml vs scikit-learn, time and peak memory, same data, same labels.

Each (side, case) runs in its own subprocess so its peak RSS (``ru_maxrss``) is its own; the
scikit-learn subprocess gets an address-space cap (``RLIMIT_AS``, 8 GiB by default) so a
memory explosion is reported as "out of memory at the cap" instead of taking the machine
down. Labels (and OPTICS orderings) are compared between the two sides when both finish.

    .venv/bin/python benchmarks/bench_dbscan.py            # full run
    .venv/bin/python benchmarks/bench_dbscan.py --quick    # smaller repeat counts, skips
                                                           # sklearn OPTICS 50k max_eps=inf
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SK_CAP_BYTES = 8 * 1024**3

CHILD = r"""
import json, resource, sys, time, gc
import numpy as np
side, kind, data_path, out_path, params, repeats, cap = sys.argv[1:8]
params = json.loads(params); repeats = int(repeats); cap = int(cap)
if cap > 0:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
X = np.load(data_path)
if side == "rml":
    import rml.cluster as mod
else:
    import sklearn.cluster as mod
Est = getattr(mod, kind)
Est(**dict(params, **({"eps": 1e-9} if kind == "DBSCAN" else {}))).fit(X[:50])  # warm-up imports
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
times = []
status = "ok"
try:
    for _ in range(repeats):
        t = time.perf_counter()
        est = Est(**params).fit(X)
        times.append(time.perf_counter() - t)
except MemoryError:
    status = "oom"
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
res = {"status": status, "times": times, "base_kb": base, "peak_kb": peak}
if status == "ok":
    np.save(out_path + ".labels.npy", est.labels_)
    if kind == "OPTICS":
        np.save(out_path + ".ordering.npy", est.ordering_)
json.dump(res, open(out_path, "w"))
"""


def _calibrate_eps(X, target, sample=2000, seed=0):
    """eps giving about ``target`` neighbours per point (itself included), by bisection."""
    from sklearn.neighbors import KDTree

    rng = np.random.RandomState(seed)
    tree = KDTree(X)
    q = X[rng.choice(len(X), min(sample, len(X)), replace=False)]
    lo, hi = 1e-6, float(np.ptp(X, axis=0).max())
    for _ in range(40):
        mid = np.sqrt(lo * hi)
        c = tree.query_radius(q, mid, count_only=True).mean()
        if c < target:
            lo = mid
        else:
            hi = mid
    return float(hi)


def _run_side(side, kind, data_path, params, repeats, tmp, cap, timeout):
    out = os.path.join(tmp, f"{side}_{kind}_{time.time_ns()}.json")
    cmd = [sys.executable, "-c", CHILD, side, kind, data_path, out, json.dumps(params),
           str(repeats), str(cap)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout>{timeout}s"}
    if p.returncode != 0 or not os.path.exists(out):
        err = p.stderr.strip().splitlines()[-1:] if p.stderr else [f"exit {p.returncode}"]
        oom = "MemoryError" in p.stderr or "Cannot allocate" in p.stderr or p.returncode in (-9, 137)
        return {"status": "oom" if oom else "error: " + " ".join(err)}
    res = json.load(open(out))
    res["out"] = out
    return res


def _cases(quick):
    from sklearn.datasets import make_blobs

    c = []
    X, _ = make_blobs(100_000, n_features=2, centers=10, center_box=(-20, 20), random_state=0)
    c.append(("DBSCAN", "1a blobs n=100k d=2 ~40 nb", X, 40, {"min_samples": 5}))
    X, _ = make_blobs(50_000, n_features=16, centers=10, cluster_std=1.0, random_state=1)
    c.append(("DBSCAN", "1b blobs n=50k d=16 ~130 nb", X, 130, {"min_samples": 5}))
    X, _ = make_blobs(200_000, n_features=2, centers=10, center_box=(-20, 20), random_state=2)
    c.append(("DBSCAN", "2a blobs n=200k d=2 ~1000 nb", X, 1000, {"min_samples": 5}))
    X, _ = make_blobs(1_000_000, n_features=2, centers=10, center_box=(-20, 20), random_state=3)
    c.append(("DBSCAN", "2b blobs n=1M d=2 ~1000 nb", X, 1000, {"min_samples": 5}))
    for n in [10_000, 50_000]:
        X, _ = make_blobs(n, n_features=2, random_state=0)
        c.append(("OPTICS", f"3 OPTICS n={n // 1000}k d=2 max_eps=inf", X, None, {}))
        c.append(("OPTICS", f"3 OPTICS n={n // 1000}k d=2 max_eps=0.5", X, None, {"max_eps": 0.5}))
    return c


def run(quick=False, cap=SK_CAP_BYTES, only=None):
    """Run every case; return one dict per case (times in s, memory in MB)."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, name, X, target, params in _cases(quick):
            if only and only not in name:
                continue
            params = dict(params)
            if kind == "DBSCAN":
                params["eps"] = _calibrate_eps(X, target)
            data_path = os.path.join(tmp, "X.npy")
            np.save(data_path, X)
            big = X.shape[0] >= 200_000 or (kind == "OPTICS" and X.shape[0] >= 50_000)
            reps = 1 if (quick or big) else 3
            row = {"case": name, "n": X.shape[0], "d": X.shape[1],
                   "params": {k: round(v, 5) if isinstance(v, float) else v for k, v in params.items()}}
            # rml: all cores. scikit-learn: all cores for DBSCAN (threaded radius queries);
            # OPTICS with n_jobs=None, its fastest setting (n_jobs=-1 starts a pool per point).
            r = _run_side("rml", kind, data_path, dict(params, n_jobs=-1), reps, tmp, 0, 3600)
            skip_sk = quick and kind == "OPTICS" and X.shape[0] >= 50_000 and "inf" in name
            sk_params = dict(params, n_jobs=-1) if kind == "DBSCAN" else dict(params)
            s = {"status": "skipped (--quick)"} if skip_sk else _run_side(
                "sklearn", kind, data_path, sk_params, reps, tmp, cap, 3600)
            for side, res in (("rml", r), ("sklearn", s)):
                row[f"{side}_status"] = res["status"]
                if res["status"] == "ok":
                    row[f"{side}_s"] = float(np.median(res["times"]))
                    row[f"{side}_peak_mb"] = res["peak_kb"] / 1024
                    row[f"{side}_extra_mb"] = (res["peak_kb"] - res["base_kb"]) / 1024
            if r["status"] == "ok" and s["status"] == "ok":
                row["speedup"] = row["sklearn_s"] / row["rml_s"]
                row["mem_ratio_extra"] = row["sklearn_extra_mb"] / max(row["rml_extra_mb"], 1e-3)
                same = np.array_equal(np.load(r["out"] + ".labels.npy"), np.load(s["out"] + ".labels.npy"))
                if kind == "OPTICS":
                    same = same and np.array_equal(np.load(r["out"] + ".ordering.npy"),
                                                   np.load(s["out"] + ".ordering.npy"))
                row["identical"] = bool(same)
            rows.append(row)
            _print_row(row)
    return rows


def _fmt(v, f="{:.2f}"):
    return "-" if v is None else f.format(v)


def _print_row(r):
    print(
        f"{r['case']:<34} | rml {_fmt(r.get('rml_s'))} s peak {_fmt(r.get('rml_peak_mb'), '{:.0f}')} MB "
        f"(+{_fmt(r.get('rml_extra_mb'), '{:.0f}')}) | sklearn "
        + (f"{_fmt(r.get('sklearn_s'))} s peak {_fmt(r.get('sklearn_peak_mb'), '{:.0f}')} MB "
           f"(+{_fmt(r.get('sklearn_extra_mb'), '{:.0f}')})" if r["sklearn_status"] == "ok"
           else r["sklearn_status"])
        + f" | speedup {_fmt(r.get('speedup'), '{:.1f}x')} extra-mem ratio "
        f"{_fmt(r.get('mem_ratio_extra'), '{:.1f}x')} identical {r.get('identical', '-')}",
        flush=True,
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="run the cases whose name contains this")
    ap.add_argument("--cap-gib", type=float, default=8.0)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    print(f"cores: {os.cpu_count()}  sklearn cap: {a.cap_gib} GiB (RLIMIT_AS)")
    rows = run(a.quick, int(a.cap_gib * 1024**3), a.only)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
