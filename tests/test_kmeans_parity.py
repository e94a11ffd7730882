"""rml.cluster KMeans / kmeans_plusplus / BisectingKMeans against scikit-learn.

With the same initial centres, labels_ and n_iter_ are identical and centres/inertia agree to
1e-10 relative (float64), for lloyd and elkan. rml reproduces scikit-learn's RandomState stream
for 'k-means++' and 'random', so seeded runs are compared exactly as well.
"""

import copy
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn import cluster as skc
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.utils._param_validation import InvalidParameterError
from threadpoolctl import threadpool_limits

from rml import _rml
from rml.cluster import BisectingKMeans, KMeans, kmeans_plusplus

DATA = Path(__file__).resolve().parent.parent / "data"
RTOL = 1e-10


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)) if a.size else 0.0


def _csv(name, columns=None):
    df = pd.read_csv(DATA / name)
    df = df.select_dtypes("number") if columns is None else df[columns]
    return df.to_numpy(dtype=np.float64)


def _datasets():
    rng = np.random.RandomState(0)
    blobs, _ = make_blobs(2000, n_features=6, centers=5, cluster_std=2.0, random_state=1)
    return {
        "blobs": blobs,
        "uniform": rng.uniform(size=(1500, 3)),
        "wide": rng.normal(size=(600, 40)),
        "iris": load_iris().data,
        "wine": load_wine().data,
        "digits": load_digits().data[:800],
        "mall": _csv("mall_customers.csv", ["Age", "Annual Income (k$)", "Spending Score (1-100)"]),
        "country": _csv("country_data.csv"),
    }


DATASETS = _datasets()


@pytest.fixture(autouse=True)
def _sklearn_single_threaded():
    """scikit-learn's OpenMP loops spin badly on a busy 2-core machine; one thread keeps the
    reference runs fast (rml's own thread count is not affected: it uses rayon)."""
    with threadpool_limits(1):
        yield


def _assert_same_fit(a, b, rtol=RTOL):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a.n_iter_ == b.n_iter_
    assert b.cluster_centers_.dtype == a.cluster_centers_.dtype
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=rtol, atol=rtol * np.abs(a.cluster_centers_).max())
    assert _rel(b.inertia_, a.inertia_) <= rtol


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("weighted", [False, True])
def test_explicit_init_matches_sklearn_float64(name, algorithm, weighted):
    X = DATASETS[name]
    k = 6
    rng = np.random.RandomState(42)
    init = X[rng.choice(X.shape[0], k, replace=False)].copy()
    sw = rng.uniform(0.2, 3.0, size=X.shape[0]) if weighted else None
    kw = dict(n_clusters=k, init=init, n_init=1, algorithm=algorithm, tol=1e-6)
    a = skc.KMeans(**kw).fit(X, sample_weight=sw)
    b = KMeans(**kw).fit(X, sample_weight=sw)
    _assert_same_fit(a, b)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))
    np.testing.assert_allclose(b.transform(X), a.transform(X), rtol=1e-9, atol=1e-9 * np.abs(X).max())
    assert _rel(b.score(X, sample_weight=sw), a.score(X, sample_weight=sw)) <= RTOL


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("max_iter", [1, 2, 300])
def test_max_iter_and_tol_paths_match(algorithm, max_iter):
    X = DATASETS["blobs"]
    init = X[:8].copy()
    for tol in [0.0, 1e-4, 1e-1]:
        kw = dict(n_clusters=8, init=init, n_init=1, algorithm=algorithm, max_iter=max_iter, tol=tol)
        _assert_same_fit(skc.KMeans(**kw).fit(X), KMeans(**kw).fit(X))


@pytest.mark.parametrize("init", ["k-means++", "random"])
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_seeded_runs_match_sklearn_exactly(init, algorithm):
    """rml draws from numpy's RandomState exactly as scikit-learn does."""
    X = DATASETS["blobs"]
    for seed in range(6):
        kw = dict(n_clusters=5, init=init, random_state=seed, algorithm=algorithm, n_init=3)
        _assert_same_fit(skc.KMeans(**kw).fit(X), KMeans(**kw).fit(X))


def test_kmeans_plusplus_matches_sklearn():
    X = DATASETS["digits"]
    sw = np.random.RandomState(0).uniform(0.5, 2, X.shape[0])
    for seed in range(5):
        for n_local_trials in [None, 1, 4]:
            ca, ia = skc.kmeans_plusplus(X, 10, random_state=seed, n_local_trials=n_local_trials, sample_weight=sw)
            cb, ib = kmeans_plusplus(X, 10, random_state=seed, n_local_trials=n_local_trials, sample_weight=sw)
            np.testing.assert_array_equal(ib, ia)
            np.testing.assert_array_equal(cb, ca)
    c32, i32 = kmeans_plusplus(X.astype(np.float32), 4, random_state=0)
    assert c32.dtype == np.float32 and i32.shape == (4,)
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=4"):
        kmeans_plusplus(X[:3], 4)
    with pytest.raises(ValueError, match="The length of x_squared_norms 2 should"):
        kmeans_plusplus(X, 4, x_squared_norms=np.ones(2))


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_float32_keeps_float32_and_agrees(algorithm):
    X = DATASETS["blobs"].astype(np.float32)
    init = X[:5].copy()
    a = skc.KMeans(5, init=init, n_init=1, algorithm=algorithm).fit(X)
    b = KMeans(5, init=init, n_init=1, algorithm=algorithm).fit(X)
    assert b.cluster_centers_.dtype == np.float32
    assert b.transform(X).dtype == np.float32
    assert adjusted_rand_score(a.labels_, b.labels_) > 0.99
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-4, atol=1e-4)
    assert _rel(b.inertia_, a.inertia_) < 1e-4


def test_empty_cluster_relocation_matches_sklearn():
    X = DATASETS["uniform"]
    init = np.vstack([X[:3], [[50.0, 50.0, 50.0]]])  # the far centre gets no sample
    for algorithm in ["lloyd", "elkan"]:
        kw = dict(n_clusters=4, init=init, n_init=1, algorithm=algorithm)
        _assert_same_fit(skc.KMeans(**kw).fit(X), KMeans(**kw).fit(X))


def test_duplicates_fewer_distinct_points_than_clusters_warns_like_sklearn():
    X = np.array([[0.0, 0.0]] * 5 + [[1.0, 1.0]] * 5)
    init = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    with pytest.warns(Warning, match="Number of distinct clusters"):
        a = skc.KMeans(3, init=init, n_init=1).fit(X)
    with pytest.warns(Warning, match="Number of distinct clusters"):
        b = KMeans(3, init=init, n_init=1).fit(X)
    _assert_same_fit(a, b)


def test_integer_weight_equals_repeated_rows():
    X = DATASETS["blobs"][:500]
    sw = np.ones(X.shape[0])
    sw[:50] = 3
    Xr = np.vstack([X, X[:50], X[:50]])
    init = X[100:105].copy()
    a = KMeans(5, init=init, n_init=1).fit(X, sample_weight=sw)
    b = KMeans(5, init=init, n_init=1).fit(Xr)
    np.testing.assert_array_equal(a.labels_, b.labels_[:500])
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    assert _rel(a.inertia_, b.inertia_) < 1e-10


@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
def test_results_do_not_depend_on_thread_count(algorithm):
    X = np.ascontiguousarray(DATASETS["blobs"])
    sw = np.ones(X.shape[0])
    init = np.ascontiguousarray(X[:5])
    r1 = _rml.cluster.kmeans_single(X, sw, init, 100, 0.0, algorithm, False, 1)
    r2 = _rml.cluster.kmeans_single(X, sw, init, 100, 0.0, algorithm, False, 2)
    np.testing.assert_array_equal(r1[0], r2[0])
    np.testing.assert_array_equal(r1[1], r2[1])
    assert r1[2] == r2[2] and r1[3] == r2[3]


@pytest.mark.parametrize("strategy", ["biggest_inertia", "largest_cluster"])
@pytest.mark.parametrize("algorithm", ["lloyd", "elkan"])
@pytest.mark.parametrize("init", ["random", "k-means++"])
def test_bisecting_matches_sklearn(strategy, algorithm, init):
    X = DATASETS["blobs"]
    sw = np.random.RandomState(3).uniform(0.5, 2.0, X.shape[0])
    for seed in range(3):
        kw = dict(n_clusters=6, random_state=seed, bisecting_strategy=strategy, algorithm=algorithm, init=init, n_init=2)
        a = skc.BisectingKMeans(**kw).fit(X, sample_weight=sw)
        b = BisectingKMeans(**kw).fit(X, sample_weight=sw)
        np.testing.assert_array_equal(b.labels_, a.labels_)
        np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-10, atol=1e-10)
        assert _rel(b.inertia_, a.inertia_) <= RTOL
        np.testing.assert_array_equal(b.predict(X[::7]), a.predict(X[::7]))
        np.testing.assert_allclose(b.transform(X[:50]), a.transform(X[:50]), rtol=1e-9)
        assert _rel(b.score(X), a.score(X)) <= RTOL


def test_bisecting_float32_quality():
    X = DATASETS["blobs"].astype(np.float32)
    a = skc.BisectingKMeans(5, random_state=0).fit(X)
    b = BisectingKMeans(5, random_state=0).fit(X)
    assert b.cluster_centers_.dtype == np.float32
    assert adjusted_rand_score(a.labels_, b.labels_) > 0.99
    assert _rel(b.inertia_, a.inertia_) < 1e-4


def test_well_separated_blobs_are_recovered():
    X, y = make_blobs(3000, centers=4, cluster_std=0.3, random_state=7)
    for est in [KMeans(4, random_state=0), KMeans(4, random_state=0, algorithm="elkan"), BisectingKMeans(4, random_state=0)]:
        assert adjusted_rand_score(y, est.fit_predict(X)) == 1.0


def test_n_init_and_verbose_output_like_sklearn(capsys):
    X = DATASETS["iris"]
    kw = dict(n_clusters=3, init="random", n_init=4, random_state=1, verbose=1)
    skc.KMeans(**kw).fit(X)
    out_a = capsys.readouterr().out
    KMeans(**kw).fit(X)
    out_b = capsys.readouterr().out
    assert out_a.count("Initialization complete") == out_b.count("Initialization complete") == 4
    assert [l for l in out_a.splitlines() if "Converged" in l][0].split(":")[0] == [
        l for l in out_b.splitlines() if "Converged" in l
    ][0].split(":")[0]


def test_input_is_never_mutated_and_copy_x_false_restores():
    X = DATASETS["wine"].copy()
    before = X.copy()
    sw = np.ones(X.shape[0])
    KMeans(3, random_state=0).fit(X, sample_weight=sw)
    np.testing.assert_array_equal(X, before)
    ro = X.copy()
    ro.flags.writeable = False
    KMeans(3, random_state=0, copy_x=False).fit(ro)
    a = KMeans(3, random_state=0, copy_x=False).fit(X)
    np.testing.assert_allclose(X, before, rtol=1e-12)
    b = KMeans(3, random_state=0).fit(before)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert np.all(sw == 1)


def test_bad_input_messages():
    X = DATASETS["iris"]
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=8"):
        KMeans().fit(X[:3])
    with pytest.raises(InvalidParameterError, match="The 'n_clusters' parameter of KMeans"):
        KMeans(n_clusters=0).fit(X)
    with pytest.raises(InvalidParameterError, match="The 'algorithm' parameter of KMeans"):
        KMeans(algorithm="full").fit(X)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        KMeans(2).fit(np.array([[np.nan, 1.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match=r"The shape of the initial centers \(2, 4\) does not match the number of clusters 3"):
        KMeans(3, init=X[:2]).fit(X)
    with pytest.raises(ValueError, match="sample_weight.shape =="):
        KMeans(2).fit(X, sample_weight=np.ones(3))
    with pytest.raises(TypeError, match="Sparse data"):
        KMeans(2).fit(sp.csr_matrix(X))
    with pytest.warns(RuntimeWarning, match="Explicit initial center position passed"):
        KMeans(2, init=X[:2], n_init=3).fit(X)
    with pytest.warns(RuntimeWarning, match="algorithm='elkan' doesn't make sense"):
        KMeans(1, algorithm="elkan").fit(X)
    km = KMeans(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but KMeans is expecting 4 features"):
        km.predict(X[:, :2])


def test_pickle_and_mixed_dtype_predict():
    X = DATASETS["iris"]
    for est in [KMeans(3, random_state=0).fit(X), BisectingKMeans(3, random_state=0).fit(X)]:
        p = pickle.loads(pickle.dumps(est))
        np.testing.assert_array_equal(p.predict(X), est.predict(X))
        np.testing.assert_array_equal(copy.deepcopy(est).predict(X), est.predict(X))
        np.testing.assert_array_equal(est.predict(X.astype(np.float32)), est.predict(X))
