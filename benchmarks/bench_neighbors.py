"""Neighbours benchmark: rml vs scikit-learn (and FAISS / scikit-learn-intelex when installed)
on the same data, in one process, all cores. ``make bench`` runs it.

Cases (issue 2):
  1. brute-force kNN classification, n_train=100,000, n_query=10,000, k=5, d in {8, 32, 128},
     float64 and float32; effective GFLOP/s = 2 * n_train * n_query * d / time (top-k and vote
     included) as a percentage of this machine's numpy matmul roofline;
  2. algorithm='auto' at d=8 (both libraries may choose a tree);
  4. peak memory of predicting 1,000,000 queries against 100,000 points, d=32, in a fresh
     subprocess, against inputs + the working-memory budget (1 GiB, scikit-learn's default).

Usage:  python benchmarks/bench_neighbors.py [--quick] [--repeats N] [--dims D ...]
                                             [--no-memory] [--memory-sklearn] [--out PATH]
Prints a table and writes JSON (default benchmarks/results/neighbors.json).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import (  # noqa: E402
    format_table,
    machine_info,
    matmul_gflops,
    peak_rss_subprocess,
    roofline,
    timeit,
    write_json,
)

K = 5
N_CLASSES = 5
WORKING_MEMORY_MIB = 1024  # scikit-learn's working_memory default; rml's budget too


# ---------------------------------------------------------------------------------------------
# The rml calls under test. Switching to the estimators is one line in each function.
# ---------------------------------------------------------------------------------------------
def _vote(ind, y):
    """Uniform-weight majority vote, ties to the smallest class (for peers that only search)."""
    classes, yi = np.unique(y, return_inverse=True)
    m = ind.shape[0]
    counts = np.bincount(
        (np.arange(m)[:, None] * len(classes) + yi[ind]).ravel(), minlength=m * len(classes)
    ).reshape(m, len(classes))
    return classes[counts.argmax(axis=1)]


def rml_brute_predict(X_train, y, X_query):
    """rml brute-force kNN predict through the estimator (fit + predict)."""
    from rml.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=K, algorithm="brute", n_jobs=-1)
    return clf.fit(X_train, y).predict(X_query)


def rml_auto_predict(X_train, y, X_query):
    """rml algorithm='auto' kNN predict (fit + predict): the KD-tree at d <= 15."""
    from rml.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=K, algorithm="auto", n_jobs=-1)
    return clf.fit(X_train, y).predict(X_query)


RML_AUTO_IS_BRUTE = False


def sklearn_predict(X_train, y, X_query, algorithm):
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=K, algorithm=algorithm, n_jobs=-1)
    return clf.fit(X_train, y).predict(X_query)


def _optional_peers():
    peers = {}
    try:
        import faiss  # noqa: F401

        def faiss_predict(X_train, y, X_query):
            import faiss

            index = faiss.IndexFlatL2(X_train.shape[1])
            index.add(np.ascontiguousarray(X_train, dtype=np.float32))
            _, ind = index.search(np.ascontiguousarray(X_query, dtype=np.float32), K)
            return _vote(ind, y)

        peers["faiss"] = faiss_predict
    except ImportError:
        pass
    try:
        from sklearnex.neighbors import KNeighborsClassifier as XKNN  # noqa: F401

        def sklearnex_predict(X_train, y, X_query, algorithm="brute"):
            from sklearnex.neighbors import KNeighborsClassifier as XKNN

            return XKNN(n_neighbors=K, algorithm=algorithm, n_jobs=-1).fit(X_train, y).predict(X_query)

        peers["sklearnex"] = sklearnex_predict
    except ImportError:
        pass
    return peers


def make_data(n_train, n_query, d, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train, d)).astype(dtype)
    Q = rng.standard_normal((n_query, d)).astype(dtype)
    y = rng.integers(0, N_CLASSES, n_train)
    return X, y, Q


# ---------------------------------------------------------------------------------------------
def bench_brute(sizes, roof, repeats, peers, warmup=1):
    rows = []
    n_train, n_query = sizes["n_train"], sizes["n_query"]
    for d in sizes["dims"]:
        for dtype in (np.float64, np.float32):
            name = np.dtype(dtype).name
            X, y, Q = make_data(n_train, n_query, d, dtype)
            flops = 2.0 * n_train * n_query * d
            # The machine may be shared: re-measure the roofline right before each case so the
            # % of roofline compares like with like (also reported against the start value).
            roof_now = matmul_gflops(dtype, 2048, 3)
            t_rml, _, p_rml = timeit(lambda: rml_brute_predict(X, y, Q), repeats, warmup)
            t_skl, _, p_skl = timeit(lambda: sklearn_predict(X, y, Q, "brute"), repeats, warmup)
            row = {
                "case": "brute",
                "dtype": name,
                "d": d,
                "rml_s": t_rml,
                "sklearn_s": t_skl,
                "speedup": t_skl / t_rml,
                "rml_GFLOPs": flops / t_rml / 1e9,
                "roof_GFLOPs": roof_now,
                "rml_%roof": 100 * flops / t_rml / 1e9 / roof_now,
                "skl_%roof": 100 * flops / t_skl / 1e9 / roof_now,
                "rml_%roof_start": 100 * flops / t_rml / 1e9 / roof[name],
                "agree": float(np.mean(p_rml == p_skl)),
            }
            if "faiss" in peers:
                row["faiss_s"], _, _ = timeit(lambda: peers["faiss"](X, y, Q), repeats, warmup)
            if "sklearnex" in peers:
                row["sklearnex_s"], _, _ = timeit(lambda: peers["sklearnex"](X, y, Q), repeats, warmup)
            rows.append(row)
            print(format_table([row], list(row)), flush=True)
    return rows


def bench_auto(sizes, repeats, peers, warmup=1):
    d = 8
    X, y, Q = make_data(sizes["n_train"], sizes["n_query"], d, np.float64, seed=1)
    t_rml, _, p_rml = timeit(lambda: rml_auto_predict(X, y, Q), repeats, warmup)
    t_skl, _, p_skl = timeit(lambda: sklearn_predict(X, y, Q, "auto"), repeats, warmup)
    row = {
        "case": "auto (rml=brute until KD-tree lands)" if RML_AUTO_IS_BRUTE else "auto",
        "dtype": "float64",
        "d": d,
        "rml_s": t_rml,
        "sklearn_s": t_skl,
        "speedup": t_skl / t_rml,
        "agree": float(np.mean(p_rml == p_skl)),
    }
    if "sklearnex" in peers:
        row["sklearnex_s"], _, _ = timeit(lambda: peers["sklearnex"](X, y, Q, "auto"), repeats, warmup)
    print(format_table([row], list(row)), flush=True)
    return [row]


_MEMORY_SNIPPET = """
import os, sys
sys.path.insert(0, {bench_dir!r})
import numpy as np
import bench_neighbors as B
{imports}
rng = np.random.default_rng(0)
X = rng.standard_normal(({n_train}, {d}))
Q = rng.standard_normal(({n_query}, {d}))
y = rng.integers(0, B.N_CLASSES, {n_train})
_reset_peak()
_mark("inputs")
pred = {call}
_mark("after")
"""


def bench_memory(sizes, with_sklearn):
    n_train, n_query, d = sizes["mem_n_train"], sizes["mem_n_query"], 32
    bench_dir = os.path.dirname(os.path.abspath(__file__))
    input_mib = (n_train + n_query) * d * 8 / 2**20
    output_mib = n_query * (K + 1) * 8 / 2**20  # indices + predictions
    calls = {"rml": ("from rml import _rml", "B.rml_brute_predict(X, y, Q)")}
    if with_sklearn:
        calls["sklearn"] = ("import sklearn.neighbors", "B.sklearn_predict(X, y, Q, 'brute')")
    rows = []
    for lib, (imports, call) in calls.items():
        code = _MEMORY_SNIPPET.format(
            bench_dir=bench_dir, imports=imports, n_train=n_train, n_query=n_query, d=d, call=call
        )
        marks = peak_rss_subprocess(code)
        extra = marks["after_peak"] - marks["inputs_rss"]
        row = {
            "case": f"memory {n_query}x{n_train} d={d}",
            "lib": lib,
            "inputs_MiB": input_mib,
            "rss_at_inputs_MiB": marks["inputs_rss"],
            "peak_MiB": marks["after_peak"],
            "extra_MiB": extra,
            "budget_MiB": WORKING_MEMORY_MIB + output_mib,
            "within_budget": bool(extra <= WORKING_MEMORY_MIB + output_mib),
        }
        print(format_table([row], list(row)), flush=True)
        rows.append(row)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per case (median)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed runs before timing each case")
    ap.add_argument("--dims", type=int, nargs="+", default=None, help="feature counts of case 1")
    ap.add_argument(
        "--cases", nargs="+", choices=("brute", "auto", "kdtree", "memory"),
        default=("brute", "auto", "kdtree", "memory"),
        help="which cases to run (default: all)",
    )
    ap.add_argument("--memory-queries", type=int, default=None, help="queries of case 4 (default 1,000,000)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory case")
    ap.add_argument(
        "--memory-sklearn",
        action="store_true",
        help="also measure scikit-learn's peak memory in case 4 (slow: minutes at full size)",
    )
    ap.add_argument(
        "--out",
        default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "neighbors.json"),
    )
    args = ap.parse_args(argv)
    if args.quick:
        sizes = dict(n_train=20_000, n_query=2_000, dims=(8, 32, 128), mem_n_train=20_000, mem_n_query=100_000)
        repeats = args.repeats or 1
    else:
        sizes = dict(n_train=100_000, n_query=10_000, dims=(8, 32, 128), mem_n_train=100_000, mem_n_query=1_000_000)
        repeats = args.repeats or 3
    if args.dims:
        sizes["dims"] = tuple(args.dims)
    if args.memory_queries:
        sizes["mem_n_query"] = args.memory_queries

    import sklearn

    import rml

    info = machine_info()
    info.update(sklearn=sklearn.__version__, rml=rml.__version__)
    print("machine:", info)
    roof = roofline()
    print(
        "GEMM roofline (numpy matmul, all threads): "
        f"float64 {roof['float64']:.1f} GFLOP/s, float32 {roof['float32']:.1f} GFLOP/s",
        flush=True,
    )
    peers = _optional_peers()
    print("optional peers:", sorted(peers) or "none installed (faiss-cpu, scikit-learn-intelex)")

    results = {"machine": info, "roofline_gflops": roof, "sizes": sizes, "repeats": repeats, "warmup": args.warmup}
    results["brute"] = bench_brute(sizes, roof, repeats, peers, args.warmup) if "brute" in args.cases else []
    results["auto"] = bench_auto(sizes, repeats, peers, args.warmup) if "auto" in args.cases else []
    if "kdtree" in args.cases:
        import bench_kdtree

        print("\nKDTree class (case 3): rml vs sklearn.neighbors.KDTree vs scipy cKDTree(workers=-1)", flush=True)
        results["kdtree"] = bench_kdtree.run(args.quick)
    if not args.no_memory and "memory" in args.cases:
        results["memory"] = bench_memory(sizes, with_sklearn=args.memory_sklearn)

    print()
    print(f"GEMM roofline: float64 {roof['float64']:.1f} GFLOP/s, float32 {roof['float32']:.1f} GFLOP/s")
    cols = ["case", "dtype", "d", "rml_s", "sklearn_s", "speedup", "roof_GFLOPs", "rml_%roof", "skl_%roof", "agree"]
    for extra in ("faiss_s", "sklearnex_s"):
        if any(extra in r for r in results["brute"] + results["auto"]):
            cols.append(extra)
    if results["brute"] + results["auto"]:
        print(format_table(results["brute"] + results["auto"], cols))
    if results.get("kdtree"):
        import bench_kdtree

        print()
        bench_kdtree.print_table(results["kdtree"])
    if "memory" in results:
        print()
        print(format_table(results["memory"], list(results["memory"][0])))
    write_json(args.out, results)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
