"""rml.cluster.DBSCAN gives scikit-learn's labels_ (numbering included) and core samples."""

import numpy as np
import pytest
from sklearn import cluster as skc
from sklearn.metrics import pairwise_distances

from rml.cluster import DBSCAN
from tests._dbscan_data import DATASETS


def _assert_same(sk, ours):
    np.testing.assert_array_equal(ours.labels_, sk.labels_)
    np.testing.assert_array_equal(ours.core_sample_indices_, sk.core_sample_indices_)
    np.testing.assert_array_equal(ours.components_, sk.components_)
    assert ours.labels_.dtype == sk.labels_.dtype
    assert ours.core_sample_indices_.dtype == sk.core_sample_indices_.dtype


def _scale(X):
    """eps values tied to the data: quantiles of a sample of pairwise distances."""
    D = pairwise_distances(X[:200])
    q = np.quantile(D[np.triu_indices_from(D, 1)], [0.01, 0.03, 0.1])
    if q[0] == 0:  # duplicates: grid distances, the eps boundary itself is exercised
        return np.array([0.5, 0.75, 1.0])
    return q


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("min_samples", [1, 4, 10])
def test_labels_equal_sklearn(name, min_samples):
    X = DATASETS[name]
    for eps in _scale(X):
        kw = dict(eps=float(eps), min_samples=min_samples)
        _assert_same(skc.DBSCAN(**kw).fit(X), DBSCAN(**kw).fit(X))


@pytest.mark.parametrize(
    "metric,extra",
    [
        ("euclidean", {}),
        ("l2", {}),
        ("manhattan", {}),
        ("cityblock", {}),
        ("l1", {}),
        ("chebyshev", {}),
        ("minkowski", {"p": 3}),
        ("minkowski", {"p": 1.5}),
        ("minkowski", {"metric_params": {"p": 4}}),
        ("minkowski", {}),
        ("sqeuclidean", {}),
        ("cosine", {}),
    ],
)
@pytest.mark.parametrize("name", ["blobs", "moons", "wine", "mall_customers", "duplicates"])
def test_every_metric(metric, extra, name):
    X = DATASETS[name]
    if metric == "cosine" and name == "duplicates":
        X = X + 3.0  # keep rows away from the zero vector (cosine undefined there)
    if metric == "sqeuclidean":
        eps_list = _scale(X) ** 2
    elif metric == "cosine":
        eps_list = [0.001, 0.01, 0.05]
    else:
        eps_list = _scale(X)
    for eps in eps_list:
        kw = dict(eps=float(eps), min_samples=5, metric=metric, **extra)
        sk_kw = dict(kw)
        if metric == "minkowski" and not extra:
            # scikit-learn 1.9 crashes on minkowski with p=None (TypeError in
            # NearestNeighbors); rml reads p=None as 2, which is what the docs promise.
            sk_kw["p"] = 2
        _assert_same(skc.DBSCAN(**sk_kw).fit(X), DBSCAN(**kw).fit(X))


@pytest.mark.parametrize("algorithm", ["auto", "brute", "kd_tree", "ball_tree"])
@pytest.mark.parametrize("name", ["blobs", "varying_density", "pima_diabetes"])
def test_every_algorithm(algorithm, name):
    X = DATASETS[name]
    eps = float(_scale(X)[1])
    kw = dict(eps=eps, min_samples=5, algorithm=algorithm, leaf_size=7)
    _assert_same(skc.DBSCAN(**kw).fit(X), DBSCAN(**kw).fit(X))


@pytest.mark.parametrize("name", ["blobs", "moons", "duplicates", "iris", "country_data"])
@pytest.mark.parametrize("kind", ["int", "zero_and_negative", "float"])
def test_sample_weight(name, kind):
    X = DATASETS[name]
    rng = np.random.RandomState(0)
    n = X.shape[0]
    if kind == "int":
        w = rng.randint(0, 4, size=n)
    elif kind == "zero_and_negative":
        w = rng.randint(-2, 5, size=n).astype(float)
    else:
        w = rng.uniform(0.25, 3.0, size=n).round(2) * 4  # multiples of 0.04: sums rarely tie
    for eps in _scale(X)[:2]:
        for ms in [3, 8]:
            kw = dict(eps=float(eps), min_samples=ms)
            _assert_same(
                skc.DBSCAN(**kw).fit(X, sample_weight=w), DBSCAN(**kw).fit(X, sample_weight=w)
            )


def test_weight_two_equals_duplicated_row():
    X = DATASETS["moons"]
    w = np.ones(len(X))
    w[::3] = 2
    Xdup = np.vstack([X, X[::3]])
    a = DBSCAN(eps=0.2, min_samples=6).fit(X, sample_weight=w)
    b = DBSCAN(eps=0.2, min_samples=6).fit(Xdup)
    np.testing.assert_array_equal(a.labels_ >= 0, b.labels_[: len(X)] >= 0)


@pytest.mark.parametrize("name", ["blobs", "circles", "duplicates", "wine"])
def test_precomputed(name):
    X = DATASETS[name]
    D = pairwise_distances(X)
    for eps in _scale(X):
        kw = dict(eps=float(eps), min_samples=5, metric="precomputed")
        _assert_same(skc.DBSCAN(**kw).fit(D), DBSCAN(**kw).fit(D))


def test_precomputed_asymmetric_follows_sklearn_traversal():
    rng = np.random.RandomState(1)
    D = rng.uniform(0, 1, size=(120, 120))
    np.fill_diagonal(D, 0)
    for eps in [0.05, 0.1, 0.2]:
        kw = dict(eps=eps, min_samples=4, metric="precomputed")
        _assert_same(skc.DBSCAN(**kw).fit(D), DBSCAN(**kw).fit(D))


@pytest.mark.parametrize("name", ["blobs", "moons", "duplicates", "mall_customers", "wine"])
def test_float32(name):
    X = DATASETS[name].astype(np.float32)
    for eps in _scale(X):
        kw = dict(eps=float(eps), min_samples=5)
        sk, ours = skc.DBSCAN(**kw).fit(X), DBSCAN(**kw).fit(X)
        _assert_same(sk, ours)
        assert ours.components_.dtype == sk.components_.dtype


def test_n_jobs_does_not_change_labels():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(3000, 2))
    a = DBSCAN(eps=0.1, min_samples=5, n_jobs=1).fit(X)
    b = DBSCAN(eps=0.1, min_samples=5, n_jobs=2).fit(X)
    c = DBSCAN(eps=0.1, min_samples=5, n_jobs=-1).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.labels_, c.labels_)
    _assert_same(skc.DBSCAN(eps=0.1, min_samples=5).fit(X), a)


def test_larger_data_spans_many_chunks():
    rng = np.random.RandomState(5)
    centers = rng.uniform(-10, 10, size=(30, 2))
    X = np.vstack([c + rng.normal(scale=0.4, size=(400, 2)) for c in centers])
    X = X[rng.permutation(len(X))]
    for eps, ms in [(0.05, 4), (0.15, 10), (0.6, 100)]:
        kw = dict(eps=eps, min_samples=ms)
        _assert_same(skc.DBSCAN(**kw).fit(X), DBSCAN(**kw).fit(X))


@pytest.mark.parametrize("d", [5, 16])
def test_higher_dimension_blobs(d):
    # The KD-tree fast path (early-exit core counts, linking that skips connected points)
    # at the benchmark's shape, small; sklearn's kd_tree computes the same exact distances.
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(1500, n_features=d, centers=6, cluster_std=1.0, random_state=d)
    D = pairwise_distances(X[:300])
    for q in [0.005, 0.02, 0.05]:
        eps = float(np.quantile(D[np.triu_indices_from(D, 1)], q))
        for ms in [1, 5, 20]:
            kw = dict(eps=eps, min_samples=ms)
            sk = skc.DBSCAN(algorithm="kd_tree", **kw).fit(X)
            for n_jobs in [1, 2]:
                _assert_same(sk, DBSCAN(n_jobs=n_jobs, **kw).fit(X))
                _assert_same(sk, DBSCAN(algorithm="kd_tree", leaf_size=3, n_jobs=n_jobs, **kw).fit(X))


@pytest.mark.parametrize("d", [2, 3])
def test_integer_grid_ties_at_eps(d):
    # Every neighbour of a grid point is at exactly eps = 1: the boundary decides core points.
    rng = np.random.RandomState(d)
    side = 12 if d == 2 else 6
    G = np.stack(np.meshgrid(*[np.arange(side)] * d), -1).reshape(-1, d).astype(float)
    X = G[rng.rand(len(G)) < 0.8]
    X = np.vstack([X, X[::7]])[rng.permutation(len(X) + len(X[::7]))]
    for eps, ms in [(1.0, 2 * d + 1), (1.0, 2 * d), (1.0, 3), (2.0, 9)]:
        kw = dict(eps=eps, min_samples=ms)
        _assert_same(skc.DBSCAN(**kw).fit(X), DBSCAN(**kw).fit(X))
