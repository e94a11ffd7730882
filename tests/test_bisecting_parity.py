"""BisectingKMeans: the in-place bisection engine (rows read through a permutation, no copy
per split) against scikit-learn on data that takes the fused FMA path (d > 8), several seeds,
both strategies, float32/float64, thread-count invariance and input immutability."""

import io
from contextlib import redirect_stdout

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster as skc
from sklearn.datasets import load_digits, load_wine, make_blobs
from sklearn.metrics import adjusted_rand_score

from rml.cluster import BisectingKMeans


def _blobs(n=6000, d=32, k=12, seed=0):
    X, _ = make_blobs(n, n_features=d, centers=k, cluster_std=2.5, random_state=seed)
    return X


def _rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


@pytest.mark.parametrize("strategy", ["biggest_inertia", "largest_cluster"])
@pytest.mark.parametrize(
    "name", ["blobs32", "digits", "wine", "blobs12_weighted"]
)
def test_matches_sklearn_on_wide_data(strategy, name):
    sw = None
    if name == "blobs32":
        X = _blobs()
    elif name == "digits":
        X = load_digits().data
    elif name == "wine":
        X = load_wine().data
    else:
        X = _blobs(n=5000, d=12, k=7, seed=3)
        sw = np.random.RandomState(0).uniform(0.2, 3.0, X.shape[0])
    for seed in range(2):
        kw = dict(n_clusters=9, random_state=seed, bisecting_strategy=strategy)
        a = skc.BisectingKMeans(**kw).fit(X, sample_weight=sw)
        b = BisectingKMeans(**kw).fit(X, sample_weight=sw)
        np.testing.assert_array_equal(b.labels_, a.labels_)
        np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-10, atol=1e-10)
        assert _rel(b.inertia_, a.inertia_) <= 1e-10
        np.testing.assert_array_equal(b.predict(X[::5]), a.predict(X[::5]))


@pytest.mark.parametrize("init", ["k-means++", "random"])
def test_n_init_and_init_kinds(init):
    X = _blobs(n=3000, d=16, k=6, seed=5)
    for seed in range(2):
        kw = dict(n_clusters=5, random_state=seed, init=init, n_init=3)
        a = skc.BisectingKMeans(**kw).fit(X)
        b = BisectingKMeans(**kw).fit(X)
        np.testing.assert_array_equal(b.labels_, a.labels_)
        np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-10, atol=1e-10)


def test_callable_init_gets_the_centred_rows_of_the_leaf():
    X = _blobs(n=2000, d=10, k=4, seed=2)
    seen = []

    def init(Xleaf, k, random_state):
        seen.append(Xleaf.shape[0])
        return Xleaf[[0, -1]]

    a = skc.BisectingKMeans(4, init=init, random_state=0).fit(X)
    sizes_sk = list(seen)
    seen.clear()
    b = BisectingKMeans(4, init=init, random_state=0).fit(X)
    assert seen == sizes_sk
    np.testing.assert_array_equal(b.labels_, a.labels_)


def test_float32_quality_on_wide_data():
    X = _blobs(n=4000, d=24, k=6, seed=1).astype(np.float32)
    a = skc.BisectingKMeans(6, random_state=0).fit(X)
    b = BisectingKMeans(6, random_state=0).fit(X)
    assert b.cluster_centers_.dtype == np.float32
    assert adjusted_rand_score(a.labels_, b.labels_) > 0.99
    assert _rel(b.inertia_, a.inertia_) < 1e-4


def test_same_result_for_one_and_two_threads(monkeypatch):
    X = _blobs(n=9000, d=20, k=10, seed=4)  # more rows than one reduction block
    out = []
    for threads in ("1", "2"):
        monkeypatch.setenv("RML_NUM_THREADS", threads)
        e = BisectingKMeans(8, random_state=0).fit(X)
        out.append((e.labels_, e.cluster_centers_, e.inertia_))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert out[0][2] == out[1][2]


@pytest.mark.parametrize("copy_x", [True, False])
def test_input_is_never_modified(copy_x):
    X = _blobs(n=1500, d=12, k=5, seed=6)
    X0 = X.copy()
    BisectingKMeans(5, random_state=0, copy_x=copy_x).fit(X)
    np.testing.assert_array_equal(X, X0)
    Xro = X.copy()
    Xro.flags.writeable = False
    e = BisectingKMeans(5, random_state=0).fit(Xro)
    assert e.labels_.shape == (1500,)


def test_non_contiguous_input_and_one_cluster():
    X = np.asfortranarray(_blobs(n=1200, d=9, k=3, seed=7))
    a = skc.BisectingKMeans(3, random_state=1).fit(X)
    b = BisectingKMeans(3, random_state=1).fit(X)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    a1 = skc.BisectingKMeans(1, random_state=1).fit(X)
    b1 = BisectingKMeans(1, random_state=1).fit(X)
    np.testing.assert_allclose(b1.cluster_centers_, a1.cluster_centers_, rtol=1e-12)
    assert (b1.labels_ == 0).all()


def test_verbose_and_elkan_paths_match_sklearn():
    X = _blobs(n=1500, d=10, k=4, seed=8)
    for kw in (dict(algorithm="elkan"), dict(verbose=1)):
        with redirect_stdout(io.StringIO()):
            a = skc.BisectingKMeans(4, random_state=0, **kw).fit(X)
        buf = io.StringIO()
        with redirect_stdout(buf):
            b = BisectingKMeans(4, random_state=0, **kw).fit(X)
        np.testing.assert_array_equal(b.labels_, a.labels_)
        if "verbose" in kw:
            assert "Converged at iteration" in buf.getvalue()


def _choice_case(seed, n, dtype):
    g = np.random.RandomState(seed)
    w = g.uniform(0.01, 5, n).astype(dtype)
    if seed % 3 == 0:
        w[g.randint(n)] = 1e4  # one dominant weight: the first round often picks it twice
    order = g.permutation(n + 10).astype(np.int64)
    sw = np.ones(n + 10, dtype=dtype)
    sw[order[3 : 3 + n]] = w
    return sw, order


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_random_seeds_are_numpys_choice(dtype):
    # The native part of the random init must give numpy's RandomState.choice positions and
    # leave the random state exactly where choice leaves it (duplicates redrawn as numpy).
    from rml.cluster._bisect_k_means import BisectingKMeans as Est

    for seed in range(120):
        n = [2, 3, 5, 17, 130, 1000, 4099][seed % 7]
        sw, order = _choice_case(seed, n, dtype)
        e = Est()
        e._order = order
        e._random_state = np.random.RandomState(seed + 1)
        got = e._random_seeds(sw, 3, 3 + n)
        rs = np.random.RandomState(seed + 1)
        leaf = sw[order[3 : 3 + n]]
        expected = rs.choice(n, size=2, replace=False, p=leaf / leaf.sum())
        np.testing.assert_array_equal(got, expected)
        assert e._random_state.random_sample() == rs.random_sample()


@pytest.mark.parametrize(
    "weights, message",
    [
        ([1.0, -1.0, 2.0], "probabilities are not non-negative"),
        ([1.0, 0.0, 0.0], "Fewer non-zero entries in p than size"),
        ([1.0, np.nan, 1.0], "probabilities contain NaN"),
    ],
)
def test_random_seeds_raise_numpys_errors(weights, message):
    from rml.cluster._bisect_k_means import BisectingKMeans as Est

    sw = np.asarray(weights)
    with pytest.raises(ValueError, match=message):
        np.random.RandomState(0).choice(3, size=2, replace=False, p=sw / sw.sum())
    e = Est()
    e._order = np.arange(3, dtype=np.int64)
    e._random_state = np.random.RandomState(0)
    with pytest.raises(ValueError, match=message):
        e._random_seeds(sw, 0, 3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(1, 2), (77, 3), (8193, 17), (5000, 32), (3001, 65)])
def test_native_mean_is_numpys_bit_for_bit(dtype, shape, monkeypatch):
    from rml import _rml

    g = np.random.default_rng(shape[0])
    X = (g.standard_normal(shape) * 10 ** g.uniform(-3, 3, (shape[0], 1))).astype(dtype)
    expected = X.mean(axis=0)
    for threads in ("1", "2"):
        monkeypatch.setenv("RML_NUM_THREADS", threads)
        got = _rml.cluster.bisecting_mean(X)
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_raises_sklearns_error(bad):
    X = _blobs(n=300, d=6, k=3, seed=9)
    X[17, 4] = bad
    with pytest.raises(ValueError) as sk_err:
        skc.BisectingKMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError) as rml_err:
        BisectingKMeans(3, random_state=0).fit(X)
    assert str(rml_err.value) == str(sk_err.value)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_overflowing_sums_are_not_an_error():
    # Finite entries whose column sum overflows: scikit-learn's finiteness check passes, and
    # so must rml's (the native mean is not finite, which only sends X to the full check).
    X = _blobs(n=200, d=4, k=2, seed=10)
    X[:, 0] = 1e308
    a = skc.BisectingKMeans(2, random_state=0).fit(X)
    b = BisectingKMeans(2, random_state=0).fit(X)
    np.testing.assert_array_equal(b.labels_, a.labels_)


@pytest.mark.parametrize("strategy", ["biggest_inertia", "largest_cluster"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_threads_and_input_untouched_for_every_path(strategy, dtype, monkeypatch):
    # n_jobs 1 vs 2 bit for bit (labels, centres, inertia) on data with many reduction
    # blocks and leaves copied into the scratch buffer, and the caller's arrays unchanged.
    X = _blobs(n=20000, d=24, k=9, seed=11).astype(dtype)
    sw = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0]).astype(dtype)
    X0, sw0 = X.copy(), sw.copy()
    out = []
    for threads in ("1", "2"):
        monkeypatch.setenv("RML_NUM_THREADS", threads)
        e = BisectingKMeans(9, random_state=3, bisecting_strategy=strategy).fit(X, sample_weight=sw)
        out.append((e.labels_, e.cluster_centers_, e.inertia_))
    np.testing.assert_array_equal(out[0][0], out[1][0])
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert out[0][2] == out[1][2]
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(sw, sw0)


def test_inertia_from_the_leaves_matches_a_full_pass():
    # inertia_ is the sum of the leaves' inertias (no final pass over X): it equals
    # scikit-learn's and a direct recomputation within rounding.
    X = _blobs(n=8000, d=20, k=7, seed=12)
    sw = np.random.RandomState(2).uniform(0.5, 2.0, X.shape[0])
    for strategy in ("biggest_inertia", "largest_cluster"):
        kw = dict(n_clusters=7, random_state=0, bisecting_strategy=strategy)
        a = skc.BisectingKMeans(**kw).fit(X, sample_weight=sw)
        b = BisectingKMeans(**kw).fit(X, sample_weight=sw)
        direct = float(np.sum(sw * ((X - b.cluster_centers_[b.labels_]) ** 2).sum(axis=1)))
        assert _rel(b.inertia_, a.inertia_) <= 1e-12
        assert _rel(b.inertia_, direct) <= 1e-12


def test_sparse_input_is_rejected_with_a_clear_error():
    X = _blobs(60, 3, 3, 0)
    with pytest.raises(TypeError, match="Sparse data was passed for BisectingKMeans"):
        BisectingKMeans(2, random_state=0).fit(sp.csr_matrix(X))
    est = BisectingKMeans(2, random_state=0).fit(X)
    with pytest.raises(TypeError, match="Sparse data was passed for BisectingKMeans"):
        est.predict(sp.csr_matrix(X))
