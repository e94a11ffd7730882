"""AffinityPropagation and Birch: rml vs scikit-learn on the same data.

    .venv/bin/python benchmarks/bench_ap_birch.py [--quick]

AffinityPropagation: n = 2,000 and 5,000 blobs, d = 8; each fit runs in a fresh subprocess so
its peak memory (VmHWM above the RSS before fit) is measured cleanly. Birch: n = 1,000,000
blobs, d = 8, threshold 2.0, n_clusters = 8, in this process. Every row reports medians over
the repeats, the speed-up (sklearn time / rml time) and whether the results are identical.
``run(quick)`` returns the rows; ``--quick`` uses small sizes.
"""

import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

_CHILD = r"""
import json, sys, time, warnings
import numpy as np
from sklearn.datasets import make_blobs
warnings.simplefilter("ignore")
impl, n, d = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if impl == "rml":
    from rml.cluster import AffinityPropagation
else:
    from sklearn.cluster import AffinityPropagation
X, _ = make_blobs(n, d, centers=8, random_state=0)
def rss(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = rss("VmRSS:")
t = time.perf_counter()
m = AffinityPropagation(random_state=0).fit(X)
dt = time.perf_counter() - t
peak = rss("VmHWM:")
print(json.dumps({"time": dt, "peak": peak - base, "n_iter": int(m.n_iter_),
                  "labels_hash": int(np.asarray(m.labels_, dtype=np.int64) @ np.arange(n, dtype=np.int64) % 1000003),
                  "k": int(len(m.cluster_centers_indices_))}))
"""


def _child(impl, n, d):
    out = subprocess.run([sys.executable, "-c", _CHILD, impl, str(n), str(d)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_affinity(n, d, repeats):
    res = {impl: [_child(impl, n, d) for _ in range(repeats)] for impl in ("rml", "sklearn")}
    med = {impl: statistics.median(r["time"] for r in rs) for impl, rs in res.items()}
    peak = {impl: statistics.median(r["peak"] for r in rs) / 2**20 for impl, rs in res.items()}
    same = all(res["rml"][0][k] == res["sklearn"][0][k] for k in ("n_iter", "labels_hash", "k"))
    return {
        "estimator": "AffinityPropagation", "n": n, "d": d,
        "sklearn_s": med["sklearn"], "rml_s": med["rml"], "speedup": med["sklearn"] / med["rml"],
        "sklearn_peak_mb": peak["sklearn"], "rml_peak_mb": peak["rml"],
        "identical": same, "n_iter": res["rml"][0]["n_iter"], "repeats": repeats,
    }


def bench_birch(n, d, repeats, sk_repeats):
    import warnings

    from sklearn.cluster import Birch as SkBirch
    from sklearn.datasets import make_blobs

    from rml.cluster import Birch

    X, _ = make_blobs(n, d, centers=8, random_state=0)
    kw = dict(threshold=2.0, n_clusters=8)
    times = {"rml": [], "sklearn": []}
    fitted = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for impl, cls, r in (("rml", Birch, repeats), ("sklearn", SkBirch, sk_repeats)):
            for _ in range(r):
                t = time.perf_counter()
                fitted[impl] = cls(**kw).fit(X)
                times[impl].append(time.perf_counter() - t)
    a, b = fitted["sklearn"], fitted["rml"]
    same = (np.array_equal(a.subcluster_centers_, b.subcluster_centers_)
            and np.array_equal(a.labels_, b.labels_))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "estimator": "Birch", "n": n, "d": d, "sklearn_s": med["sklearn"], "rml_s": med["rml"],
        "speedup": med["sklearn"] / med["rml"], "identical": bool(same),
        "n_subclusters": int(b.subcluster_centers_.shape[0]), "repeats": repeats,
    }


def run(quick=False):
    rows = []
    if quick:
        rows.append(bench_affinity(500, 8, 1))
        rows.append(bench_birch(50_000, 8, 1, 1))
    else:
        rows.append(bench_affinity(2000, 8, 3))
        rows.append(bench_affinity(5000, 8, 1))
        rows.append(bench_birch(1_000_000, 8, 3, 1))
    return rows


def main():
    quick = "--quick" in sys.argv
    rows = run(quick)
    print(f"cores: {os.cpu_count()}  (timings on a shared machine are noisy)")
    print(f"{'estimator':<20}{'n':>10}{'d':>4}{'sklearn s':>11}{'rml s':>9}{'speedup':>9}"
          f"{'sk peak MB':>12}{'rml peak MB':>12}  identical")
    for r in rows:
        print(f"{r['estimator']:<20}{r['n']:>10}{r['d']:>4}{r['sklearn_s']:>11.2f}{r['rml_s']:>9.2f}"
              f"{r['speedup']:>8.1f}x{r.get('sklearn_peak_mb', float('nan')):>12.0f}"
              f"{r.get('rml_peak_mb', float('nan')):>12.0f}  {r['identical']}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
