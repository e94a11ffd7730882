"""KDTree benchmark (issue case 3 + an estimator-sized case): rml vs scikit-learn KDTree vs
scipy.spatial.cKDTree, same data, one process, medians and ratios.

    .venv/bin/python benchmarks/bench_kdtree.py            # full sizes
    .venv/bin/python benchmarks/bench_kdtree.py --quick    # small sizes, one repeat

Cases
-----
* kdtree_1e6_d3: 1,000,000 uniform points in [0, 1]^3, 100,000 queries, k=10: build, query;
  query_radius with r giving about 30 neighbours per point (indices, and counts).
* kdtree_1e5_d8: 100,000 standard-normal points, d=8, 10,000 queries, k=5: build + query.

rml uses all cores (capped by RML_NUM_THREADS); cKDTree uses workers=-1; scikit-learn's
KDTree is single-threaded (that is how it runs). ``run(quick)`` returns the rows as dicts so the
main benchmark can include them.
"""

import argparse
import os
import statistics
import sys
import time

import numpy as np


def _timed(fns, repeats):
    """Median seconds and last output of each function, run round-robin (rml, sklearn,
    cKDTree, rml, ...) so a change in machine load hits every library alike."""
    times = {name: [] for name in fns}
    outs = {}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            outs[name] = fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}, outs


def _row(case, op, lib, seconds, ref):
    return {
        "case": case,
        "op": op,
        "library": lib,
        "seconds": seconds,
        "ratio_vs_rml": seconds / ref if ref else float("nan"),
    }


def _case(name, X, Q, k, radius, repeats):
    from scipy.spatial import cKDTree
    from sklearn.neighbors import KDTree as SkKDTree

    from rml.neighbors import KDTree

    rows = []
    libs = ("rml", "sklearn", "cKDTree")

    def add(op, t):
        for lib in libs:
            rows.append(_row(name, op, lib, t[lib], t["rml"]))

    tb, trees = _timed(
        {"rml": lambda: KDTree(X, leaf_size=40), "sklearn": lambda: SkKDTree(X, leaf_size=40), "cKDTree": lambda: cKDTree(X)},
        repeats,
    )
    tree, sk, ck = trees["rml"], trees["sklearn"], trees["cKDTree"]
    add("build", tb)
    tq, out = _timed(
        {
            "rml": lambda: tree.query(Q, k=k),
            "sklearn": lambda: sk.query(Q, k=k),
            "cKDTree": lambda: ck.query(Q, k=k, workers=-1),
        },
        repeats,
    )
    d = out["rml"][0]
    np.testing.assert_allclose(d, out["sklearn"][0], rtol=1e-9)
    np.testing.assert_allclose(d, out["cKDTree"][0].reshape(d.shape), rtol=1e-9)
    add(f"query k={k}", tq)
    add(f"build+query k={k}", {lib: tb[lib] + tq[lib] for lib in libs})

    if radius is not None:
        tr, out = _timed(
            {
                "rml": lambda: tree.query_radius(Q, radius),
                "sklearn": lambda: sk.query_radius(Q, radius),
                "cKDTree": lambda: ck.query_ball_point(Q, radius, workers=-1),
            },
            repeats,
        )
        counts = np.array([len(a) for a in out["rml"]])
        assert np.array_equal(counts, [len(a) for a in out["sklearn"]])
        assert np.array_equal(counts, [len(a) for a in out["cKDTree"]])
        add(f"query_radius (mean {counts.mean():.1f} nbrs)", tr)
        tc, out = _timed(
            {
                "rml": lambda: tree.query_radius(Q, radius, count_only=True),
                "sklearn": lambda: sk.query_radius(Q, radius, count_only=True),
                "cKDTree": lambda: ck.query_ball_point(Q, radius, workers=-1, return_length=True),
            },
            repeats,
        )
        assert np.array_equal(out["rml"], counts) and np.array_equal(out["cKDTree"], counts)
        add("query_radius count_only", tc)
    return rows


def run(quick: bool = False) -> list[dict]:
    """Run the KD-tree cases; ``quick`` uses 10x fewer points and one repeat."""
    repeats = 1 if quick else 3
    rng = np.random.RandomState(0)
    n, m = (100_000, 10_000) if quick else (1_000_000, 100_000)
    X = rng.random_sample((n, 3))
    Q = rng.random_sample((m, 3))
    # E[neighbours] = n * (4/3) pi r^3 (boundary effects make it a little less).
    r = (30.0 / (n * 4.0 / 3.0 * np.pi)) ** (1.0 / 3.0)
    rows = _case(f"kdtree_{n:.0e}_d3".replace("+0", ""), X, Q, 10, r, repeats)
    n, m = (20_000, 2_000) if quick else (100_000, 10_000)
    X = rng.normal(size=(n, 8))
    Q = rng.normal(size=(m, 8))
    rows += _case(f"kdtree_{n:.0e}_d8".replace("+0", ""), X, Q, 5, None, repeats)
    return rows


def print_table(rows):
    print(f"{'case':<16} {'op':<36} {'library':<9} {'median s':>9} {'x rml':>7}")
    for r in rows:
        print(f"{r['case']:<16} {r['op']:<36} {r['library']:<9} {r['seconds']:>9.3f} {r['ratio_vs_rml']:>7.2f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    from rml import _rml

    print(
        f"cores={os.cpu_count()} rml threads={_rml.effective_n_threads(None)} "
        f"python={sys.version.split()[0]} numpy={np.__version__}"
    )
    print_table(run(args.quick))


if __name__ == "__main__":
    main()
