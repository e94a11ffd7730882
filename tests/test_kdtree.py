"""rml.neighbors.KDTree against sklearn.neighbors.KDTree: parity on random and real data,
every metric, float32/float64, ties, duplicates, query_radius flags, pickle, bad input."""

import copy
import os
import pickle
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import KDTree as SkKDTree
from sklearn.preprocessing import StandardScaler

from rml import _rml
from rml.neighbors import KDTree

DATA = Path(__file__).resolve().parent.parent / "data"

# (metric, kwargs) pairs covering every accepted name.
METRICS = [
    ("minkowski", {}),
    ("euclidean", {}),
    ("l2", {}),
    ("manhattan", {}),
    ("cityblock", {}),
    ("l1", {}),
    ("chebyshev", {}),
    ("infinity", {}),
    ("minkowski", {"p": 1}),
    ("minkowski", {"p": 3}),
    ("minkowski", {"p": 1.5}),
    ("minkowski", {"p": np.inf}),
    ("minkowski", {"p": 0.5}),
    ("p", {"p": 3}),
]


def _sk_dist(metric, kwargs):
    return DistanceMetric.get_metric(metric, **kwargs)


def _rtol(dtype):
    return 1e-6 if dtype == np.float64 else 2e-5


def assert_knn_matches(tree_data, Q, k, metric, kwargs, dtype, leaf_size=40):
    """Distances equal sklearn's within tolerance; indices equal wherever the neighbour is
    not tied (within tolerance) with the one before or after it; rml's order is
    (distance, index)."""
    X = np.asarray(tree_data, dtype=dtype)
    Q = np.asarray(Q, dtype=dtype)
    rtol = _rtol(dtype)
    n = X.shape[0]
    tree = KDTree(X, leaf_size=leaf_size, metric=metric, **kwargs)
    d, i = tree.query(Q, k=k)
    assert d.dtype == dtype and i.dtype == np.intp and d.shape == i.shape == (Q.shape[0], k)
    assert np.array_equal(tree.query(Q, k=k, return_distance=False), i)
    # sklearn in float64 (its KDTree converts float32 to float64).
    k2 = min(k + 1, n)
    sd, si = SkKDTree(X.astype(np.float64), leaf_size=leaf_size, metric=metric, **kwargs).query(
        Q.astype(np.float64), k=k2
    )
    scale = max(1.0, float(np.abs(sd).max()))
    atol = rtol * scale
    np.testing.assert_allclose(d, sd[:, :k], rtol=rtol, atol=atol)
    # Distances of the returned indices, recomputed exactly in float64.
    dm = _sk_dist(metric, kwargs)
    for row in range(Q.shape[0]):
        true = dm.pairwise(Q[row : row + 1].astype(np.float64), X[i[row]].astype(np.float64))[0]
        np.testing.assert_allclose(true, sd[row, :k], rtol=rtol, atol=atol)
        for j in range(k):
            tied_before = j > 0 and abs(sd[row, j] - sd[row, j - 1]) <= atol
            tied_after = j + 1 < k2 and abs(sd[row, j + 1] - sd[row, j]) <= atol
            if not (tied_before or tied_after):
                assert i[row, j] == si[row, j], (row, j)
        # (distance, index) order within exact ties.
        for j in range(1, k):
            assert d[row, j - 1] < d[row, j] or (d[row, j - 1] == d[row, j] and i[row, j - 1] < i[row, j])
    return tree


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("metric,kwargs", METRICS)
def test_query_parity_random(metric, kwargs, dtype):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 4))
    Q = rng.normal(size=(40, 4))
    for k in (1, 3, 5, 15):
        assert_knn_matches(X, Q, k, metric, kwargs, dtype, leaf_size=10)
    assert_knn_matches(X, X[:30], 5, metric, kwargs, dtype, leaf_size=1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", [1, 3, 5, 15])
def test_query_parity_iris_digits(k, dtype):
    iris = load_iris().data  # many exact duplicates and ties
    assert_knn_matches(iris, iris, k, "euclidean", {}, dtype)
    assert_knn_matches(iris, iris[::7] + 0.05, k, "manhattan", {}, dtype, leaf_size=5)
    digits = load_digits().data  # integer pixels: heavy ties, d=64
    assert_knn_matches(digits, digits[::9], k, "euclidean", {}, dtype)
    assert_knn_matches(digits, digits[::23], k, "chebyshev", {}, dtype, leaf_size=3)


def _csv_numeric(name):
    pd = pytest.importorskip("pandas")
    df = pd.read_csv(DATA / name)
    drop = [c for c in df.columns if c.lower() in ("user id", "customer_id", "customerid", "country")]
    num = df.drop(columns=drop).select_dtypes("number")
    return num.to_numpy(dtype=np.float64)


@pytest.mark.parametrize(
    "name", ["social_network_ads.csv", "pima_diabetes.csv", "country_data.csv", "mall_customers.csv", "bank_churn.csv"]
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_query_parity_real_csv(name, dtype):
    raw = _csv_numeric(name)
    if raw.shape[0] > 3000:
        raw = raw[:3000]
    scaled = StandardScaler().fit_transform(raw)
    for k in (1, 5, 15):
        assert_knn_matches(scaled, scaled[::5], k, "euclidean", {}, dtype)
    # Raw integer-valued columns: lots of exact ties.
    assert_knn_matches(raw, raw[::11], 5, "manhattan", {}, dtype)
    assert_knn_matches(raw, raw[::13], 3, "minkowski", {"p": 3}, dtype)


def test_ties_broken_by_training_index():
    rng = np.random.RandomState(1)
    X = rng.randint(0, 4, size=(500, 2)).astype(np.float64)
    Q = rng.randint(0, 4, size=(60, 2)).astype(np.float64)
    for metric in ("euclidean", "manhattan", "chebyshev"):
        tree = KDTree(X, leaf_size=3, metric=metric)
        d, i = tree.query(Q, k=25)
        full = _sk_dist(metric, {}).pairwise(Q, X)
        for row in range(Q.shape[0]):
            order = np.lexsort((np.arange(X.shape[0]), full[row]))[:25]
            assert np.array_equal(i[row], order)
            assert np.array_equal(d[row], full[row, order])


def test_duplicates_and_identical_points():
    X = np.ones((20000, 3))
    tree = KDTree(X, leaf_size=2)
    d, i = tree.query(X[:3], k=4)
    assert np.array_equal(i, np.tile(np.arange(4), (3, 1)))
    assert np.all(d == 0)
    assert np.array_equal(tree.query_radius([[1, 1, 1.5]], r=0.5, count_only=True), [20000])
    X2 = np.vstack([np.zeros((100, 2)), np.ones((100, 2))])
    tree = KDTree(X2, leaf_size=1)
    d, i = tree.query([[0.9, 0.9]], k=3)
    assert np.array_equal(i, [[100, 101, 102]])


def test_one_point():
    tree = KDTree([[1.0, 2.0]])
    d, i = tree.query([[1.0, 2.0], [4.0, 6.0]], k=1)
    assert np.array_equal(i, [[0], [0]])
    np.testing.assert_allclose(d, [[0.0], [5.0]])
    with pytest.raises(ValueError, match="k must be less than or equal to the number of training points"):
        tree.query([[1.0, 2.0]], k=2)
    ind = tree.query_radius([[1.0, 2.0]], r=0.1)
    assert ind.dtype == object and np.array_equal(ind[0], [0])


def test_one_feature():
    rng = np.random.RandomState(2)
    X = rng.normal(size=(200, 1))
    for k in (1, 3, 15):
        assert_knn_matches(X, X[::4] + 0.01, k, "euclidean", {}, np.float64, leaf_size=4)


def test_k_zero_like_sklearn():
    X = np.random.RandomState(0).rand(10, 3)
    d, i = KDTree(X).query(X[:2], k=0)
    sd, si = SkKDTree(X).query(X[:2], k=0)
    assert d.shape == sd.shape and i.shape == si.shape


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("metric,kwargs", [m for m in METRICS if m[0] in ("minkowski", "manhattan", "chebyshev")])
def test_query_radius_parity(metric, kwargs, dtype):
    rng = np.random.RandomState(3)
    X = rng.normal(size=(400, 3)).astype(dtype)
    Q = rng.normal(size=(30, 3)).astype(dtype)
    tree = KDTree(X, leaf_size=8, metric=metric, **kwargs)
    sk = SkKDTree(X.astype(np.float64), leaf_size=8, metric=metric, **kwargs)
    Q64 = Q.astype(np.float64)
    for r in (0.0, 0.3, 1.0, np.linspace(0.1, 2.0, 30)):
        counts = tree.query_radius(Q, r, count_only=True)
        sk_counts = sk.query_radius(Q64, r, count_only=True)
        ind = tree.query_radius(Q, r)
        ind_d, dist = tree.query_radius(Q, r, return_distance=True)
        ind_s, dist_s = tree.query_radius(Q, r, return_distance=True, sort_results=True)
        sk_ind, sk_dist = sk.query_radius(Q64, r, return_distance=True, sort_results=True)
        assert counts.dtype == np.intp and counts.shape == (30,)
        assert ind.dtype == object and ind.shape == (30,)
        for row in range(30):
            if dtype == np.float64:
                assert counts[row] == sk_counts[row]
                assert set(ind[row]) == set(sk_ind[row])
                np.testing.assert_allclose(dist_s[row], sk_dist[row], rtol=1e-12)
            assert len(ind[row]) == counts[row] == len(ind_d[row]) == len(dist[row])
            assert set(ind[row]) == set(ind_d[row]) == set(ind_s[row])
            assert dist_s[row].dtype == dtype and ind_s[row].dtype == np.intp
            # sorted by (distance, index)
            order = np.lexsort((ind_s[row], dist_s[row]))
            assert np.array_equal(order, np.arange(len(order)))
            # unsorted distances belong to their indices
            sorted_again = np.lexsort((ind_d[row], dist[row]))
            assert np.array_equal(ind_d[row][sorted_again], ind_s[row])
        if dtype == np.float32:
            # float32 tree vs float64 sklearn: equal away from the boundary.
            rr = np.broadcast_to(r, (30,))
            full = _sk_dist(metric, kwargs).pairwise(Q64, X.astype(np.float64))
            for row in range(30):
                sure_in = set(np.flatnonzero(full[row] <= rr[row] * (1 - 1e-5)))
                sure_out = set(np.flatnonzero(full[row] > rr[row] * (1 + 1e-5) + 1e-6))
                assert sure_in <= set(ind[row]) and not (sure_out & set(ind[row]))


def test_query_radius_errors_and_shapes():
    X = np.random.RandomState(4).rand(20, 2)
    tree = KDTree(X)
    with pytest.raises(ValueError, match="count_only and return_distance cannot both be true"):
        tree.query_radius(X, 0.1, return_distance=True, count_only=True)
    with pytest.raises(ValueError, match="return_distance must be True if sort_results is True"):
        tree.query_radius(X, 0.1, sort_results=True)
    with pytest.raises(ValueError, match="r must be broadcastable to X.shape"):
        tree.query_radius(X, [0.1, 0.2])
    with pytest.raises(ValueError, match="r must be broadcastable to X.shape"):
        tree.query_radius(X[:2], [[0.1, 0.2]])
    assert np.array_equal(tree.query_radius(X[:2], -1.0, count_only=True), [0, 0])
    assert np.array_equal(tree.query_radius(X[:2], [np.inf, 0.0], count_only=True), [20, 1])
    sk = SkKDTree(X).query_radius(X[:2], [np.inf, 0.0], count_only=True)
    assert np.array_equal(sk, [20, 1])


def test_get_arrays_like_sklearn():
    rng = np.random.RandomState(5)
    X = rng.normal(size=(1000, 3))
    for metric, kwargs in [("euclidean", {}), ("manhattan", {}), ("chebyshev", {}), ("minkowski", {"p": 3})]:
        tree = KDTree(X, metric=metric, **kwargs)
        sk = SkKDTree(X, metric=metric, **kwargs)
        data, idx, nd, nb = tree.get_arrays()
        sdata, sidx, snd, snb = sk.get_arrays()
        assert np.array_equal(data, sdata) and data.dtype == sdata.dtype
        assert nd.dtype == snd.dtype and nd.shape == snd.shape and nb.shape == snb.shape
        assert np.array_equal(np.sort(idx), np.arange(1000)) and idx.dtype == np.intp
        # Same layout rule: same node ranges, same leaves, same radii (node bounds are the
        # tight boxes of the same point sets).
        assert np.array_equal(nd["idx_start"], snd["idx_start"])
        assert np.array_equal(nd["idx_end"], snd["idx_end"])
        assert np.array_equal(nd["is_leaf"], snd["is_leaf"])
        np.testing.assert_allclose(nd["radius"], snd["radius"], rtol=1e-12)
        np.testing.assert_array_equal(nb, snb)
        for node in range(len(nd)):
            pts = X[idx[nd["idx_start"][node] : nd["idx_end"][node]]]
            assert np.array_equal(pts.min(0), nb[0, node]) and np.array_equal(pts.max(0), nb[1, node])
    assert tree.data is data
    assert KDTree.valid_metrics == SkKDTree.valid_metrics


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pickle_and_deepcopy_round_trip(dtype):
    rng = np.random.RandomState(6)
    X = rng.normal(size=(300, 3)).astype(dtype)
    tree = KDTree(X, leaf_size=7, metric="minkowski", p=3)
    d, i = tree.query(X[:20], k=5)
    for clone in (pickle.loads(pickle.dumps(tree)), copy.deepcopy(tree)):
        d2, i2 = clone.query(X[:20], k=5)
        assert np.array_equal(d, d2) and np.array_equal(i, i2) and d2.dtype == dtype
        assert np.array_equal(
            np.concatenate(clone.query_radius(X[:5], 1.0)), np.concatenate(tree.query_radius(X[:5], 1.0))
        )
    state = tree.__getstate__()
    for v in state.values():
        assert isinstance(v, (np.ndarray, int, float, str))


def test_tampered_state_is_a_value_error_never_a_crash():
    X = np.random.RandomState(7).rand(100, 2)
    tree = KDTree(X, leaf_size=5)
    tampers = {
        "idx_array": lambda s: s["idx_array"].__setitem__(3, 10**6),
        "idx_neg": lambda s: s["idx_array"].__setitem__(3, -1),
        "node_range": lambda s: s["node_data"].__setitem__((1, 1), 99),
        "leaf_flag": lambda s: s["node_data"].__setitem__((s["node_data"].shape[0] - 1, 2), 0),
        "root": lambda s: s["node_data"].__setitem__((0, 1), 5),
    }
    for name, tamper in tampers.items():
        state = copy.deepcopy(tree.__getstate__())
        tamper(state)
        bad = KDTree.__new__(KDTree)
        bad.__setstate__(state)
        with pytest.raises(ValueError, match="invalid KD-tree"):
            bad.query(X[:3], k=2)
        with pytest.raises(ValueError, match="invalid KD-tree"):
            bad.query_radius(X[:3], 0.2)
    state = copy.deepcopy(tree.__getstate__())
    state["node_bounds"] = state["node_bounds"][:, :3]
    bad = KDTree.__new__(KDTree)
    bad.__setstate__(state)
    with pytest.raises(ValueError, match="invalid KD-tree"):
        bad.query(X[:3], k=2)
    state = copy.deepcopy(tree.__getstate__())
    state["idx_array"] = state["idx_array"].astype(np.int32)
    bad.__setstate__(state)
    with pytest.raises(TypeError):
        bad.query(X[:3], k=2)


def _sk_error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - we compare type and message
        return type(e), str(e)
    raise AssertionError("sklearn did not raise")


BAD_X = [
    np.array([[1.0, np.nan]]),
    np.array([[1.0, np.inf]]),
    np.zeros((0, 3)),
    np.zeros((3, 0)),
    np.array([1.0, 2.0]),
    np.zeros((2, 2, 2)),
    np.array([[1 + 1j, 2]]),
    np.array([["a", "b"]], dtype=object),
]


@pytest.mark.parametrize("bad", BAD_X, ids=["nan", "inf", "0rows", "0cols", "1d", "3d", "complex", "str"])
def test_bad_X_like_sklearn(bad):
    etype, msg = _sk_error(lambda: SkKDTree(bad))
    with pytest.raises(etype) as exc:
        KDTree(bad)
    assert str(exc.value).split("\n")[0] == msg.split("\n")[0]
    tree = KDTree(np.random.RandomState(0).rand(10, 2 if bad.ndim != 2 or bad.shape[1] == 0 else bad.shape[1]))
    sk = SkKDTree(tree.data)
    etype, msg = _sk_error(lambda: sk.query(bad))
    with pytest.raises(etype) as exc:
        tree.query(bad)
    assert str(exc.value).split("\n")[0] == msg.split("\n")[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"leaf_size": 0},
        {"leaf_size": -1},
        {"leaf_size": 2.5},
        {"metric": "cosine"},
        {"metric": "foo"},
        {"metric": "haversine"},
        {"metric": "minkowski", "p": 0},
        {"metric": "minkowski", "p": -1},
        {"metric": "euclidean", "p": 3},
        {"metric": "manhattan", "foo": 3},
    ],
)
def test_bad_params_like_sklearn(kwargs):
    X = np.random.RandomState(0).rand(10, 2)
    etype, msg = _sk_error(lambda: SkKDTree(X, **kwargs))
    with pytest.raises(etype) as exc:
        KDTree(X, **kwargs)
    if etype is ValueError:
        assert str(exc.value) == msg


def test_not_implemented_options_raise():
    X = np.random.RandomState(0).rand(10, 2)
    tree = KDTree(X)
    with pytest.raises(NotImplementedError):
        tree.query(X, dualtree=True)
    with pytest.raises(NotImplementedError):
        tree.query(X, breadth_first=True)
    with pytest.raises(NotImplementedError):
        KDTree(X, sample_weight=np.ones(10))
    with pytest.raises(NotImplementedError):
        KDTree(X, metric="minkowski", p=3, w=np.ones(2))
    assert not hasattr(tree, "kernel_density") and not hasattr(tree, "two_point_correlation")
    # A DistanceMetric object works for the parameter-free metrics.
    d, i = KDTree(X, metric=DistanceMetric.get_metric("manhattan")).query(X, k=2)
    sd, si = SkKDTree(X, metric="manhattan").query(X, k=2)
    np.testing.assert_allclose(d, sd)


def test_k_validation_like_sklearn():
    X = np.random.RandomState(0).rand(10, 3)
    tree, sk = KDTree(X), SkKDTree(X)
    for k in (11, -1, 2.5):
        etype, msg = _sk_error(lambda: sk.query(X[:2], k=k))
        with pytest.raises(etype):
            tree.query(X[:2], k=k)
    assert np.array_equal(tree.query(X[:2], k=np.int64(2))[1], sk.query(X[:2], k=2)[1])
    with pytest.raises(ValueError, match="query data dimension must match training data dimension"):
        tree.query(X[:2, :2])
    with pytest.raises(ValueError, match="query data dimension must match training data dimension"):
        tree.query_radius(X[:2, :2], 0.1)


def test_input_layouts_and_no_mutation():
    rng = np.random.RandomState(8)
    base = rng.normal(size=(200, 6))
    X = base[::2, ::2]  # strided view
    ref_d, ref_i = KDTree(np.ascontiguousarray(X)).query(X[:10], k=4)
    variants = [
        np.asfortranarray(X),
        X.astype(">f8"),
        X.tolist(),
        X.astype(np.float32).astype(np.float64),
        X,
    ]
    ro = np.ascontiguousarray(X).copy()
    ro.setflags(write=False)
    variants.append(ro)
    for v in variants:
        before = np.array(v, copy=True)
        d, i = KDTree(v).query(v[:10] if not isinstance(v, list) else v[:10], k=4)
        assert np.array_equal(i, ref_i)
        np.testing.assert_allclose(d, ref_d, rtol=1e-6)
        assert np.array_equal(np.asarray(v), before)
    # ints and bools work (converted to float64)
    Xi = rng.randint(0, 5, size=(50, 2))
    assert KDTree(Xi).data.dtype == np.float64
    assert KDTree(Xi.astype(bool)).query(Xi[:2].astype(bool), k=2)[0].dtype == np.float64
    # float32 stays float32; float32 queries on a float64 tree are fine
    t32 = KDTree(X.astype(np.float32))
    assert t32.data.dtype == np.float32 and t32.query(X[:3], k=2)[0].dtype == np.float32
    assert KDTree(X).query(X[:3].astype(np.float32), k=2)[0].dtype == np.float64


def test_concurrent_queries_from_threads():
    rng = np.random.RandomState(9)
    X = rng.normal(size=(2000, 3))
    tree = KDTree(X)
    ref = tree.query(X, k=5)
    out = [None] * 8

    def work(t):
        out[t] = tree.query(X, k=5)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for o in out:
        assert np.array_equal(o[0], ref[0]) and np.array_equal(o[1], ref[1])


def test_same_results_with_one_thread():
    code = (
        "import numpy as np, sys\n"
        "from rml.neighbors import KDTree\n"
        "X = np.random.RandomState(10).randint(0, 6, size=(3000, 3)).astype(float)\n"
        "t = KDTree(X, leaf_size=5)\n"
        "d, i = t.query(X, k=7)\n"
        "ind, dist = t.query_radius(X[:500], 1.5, return_distance=True)\n"
        "np.save(sys.argv[1], np.concatenate([i.ravel(), np.concatenate(ind), t.idx_array]))\n"
    )
    outs = []
    for threads, name in (("1", "one.npy"), ("2", "two.npy")):
        path = Path(os.environ.get("TMPDIR", "/tmp")) / f"rml_kdtree_{os.getpid()}_{name}"
        env = dict(os.environ, RML_NUM_THREADS=threads)
        res = subprocess.run([sys.executable, "-c", code, str(path)], env=env, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        outs.append(np.load(path))
        path.unlink()
    assert np.array_equal(outs[0], outs[1])


def test_native_boundary_rejects_mismatched_dtypes():
    X = np.random.RandomState(11).rand(30, 2)
    idx, nd, nb = _rml.neighbors.kdtree_build(X, 4)
    with pytest.raises(TypeError):
        _rml.neighbors.kdtree_query(X, idx, nd, nb, X.astype(np.float32), 2, "euclidean", 2.0, True, None)
    with pytest.raises(TypeError):
        _rml.neighbors.kdtree_build(X.astype(np.int64), 4)
    with pytest.raises(ValueError):
        _rml.neighbors.kdtree_build(X, 0)
    with pytest.raises(ValueError):
        _rml.neighbors.kdtree_query(X, idx, nd, nb, X, 31, "euclidean", 2.0, True, None)
    with pytest.raises(ValueError):
        _rml.neighbors.kdtree_query(X, idx, nd, nb, X, 1, "cosine", 2.0, True, None)
    d, i, off = _rml.neighbors.kdtree_query_radius(
        X, idx, nd, nb, X[:3], np.full(3, 0.3), "euclidean", 2.0, False, True, False, None
    )
    assert d is None and i.size == 0 and off.shape == (3,)
