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


def _median_time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


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
    t_rml, tree = _median_time(lambda: KDTree(X, leaf_size=40), repeats)
    t_sk, sk = _median_time(lambda: SkKDTree(X, leaf_size=40), repeats)
    t_ck, ck = _median_time(lambda: cKDTree(X), repeats)
    for lib, t in (("rml", t_rml), ("sklearn", t_sk), ("cKDTree", t_ck)):
        rows.append(_row(name, "build", lib, t, t_rml))

    t_rml, (d, i) = _median_time(lambda: tree.query(Q, k=k), repeats)
    t_sk, (sd, si) = _median_time(lambda: sk.query(Q, k=k), repeats)
    t_ck, (cd, ci) = _median_time(lambda: ck.query(Q, k=k, workers=-1), repeats)
    np.testing.assert_allclose(d, sd, rtol=1e-9)
    np.testing.assert_allclose(d, cd.reshape(d.shape), rtol=1e-9)
    for lib, t in (("rml", t_rml), ("sklearn", t_sk), ("cKDTree", t_ck)):
        rows.append(_row(name, f"query k={k}", lib, t, t_rml))
    rows.append(_row(name, f"build+query k={k}", "rml", rows[0]["seconds"] + t_rml, rows[0]["seconds"] + t_rml))
    rows.append(
        _row(name, f"build+query k={k}", "sklearn", rows[1]["seconds"] + t_sk, rows[0]["seconds"] + t_rml)
    )
    rows.append(
        _row(name, f"build+query k={k}", "cKDTree", rows[2]["seconds"] + t_ck, rows[0]["seconds"] + t_rml)
    )

    if radius is not None:
        t_rml, ind = _median_time(lambda: tree.query_radius(Q, radius), repeats)
        t_sk, sind = _median_time(lambda: sk.query_radius(Q, radius), repeats)
        t_ck, cind = _median_time(lambda: ck.query_ball_point(Q, radius, workers=-1), repeats)
        counts = np.array([len(a) for a in ind])
        assert np.array_equal(counts, [len(a) for a in sind])
        assert np.array_equal(counts, [len(a) for a in cind])
        op = f"query_radius (mean {counts.mean():.1f} nbrs)"
        for lib, t in (("rml", t_rml), ("sklearn", t_sk), ("cKDTree", t_ck)):
            rows.append(_row(name, op, lib, t, t_rml))
        t_rml, c = _median_time(lambda: tree.query_radius(Q, radius, count_only=True), repeats)
        t_sk, _ = _median_time(lambda: sk.query_radius(Q, radius, count_only=True), repeats)
        t_ck, cc = _median_time(lambda: ck.query_ball_point(Q, radius, workers=-1, return_length=True), repeats)
        assert np.array_equal(c, counts) and np.array_equal(cc, counts)
        for lib, t in (("rml", t_rml), ("sklearn", t_sk), ("cKDTree", t_ck)):
            rows.append(_row(name, "query_radius count_only", lib, t, t_rml))
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
