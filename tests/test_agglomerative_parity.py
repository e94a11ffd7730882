"""rml.cluster.AgglomerativeClustering vs sklearn.cluster.AgglomerativeClustering."""

import os
import pickle

import numpy as np
import pytest
from sklearn.cluster import AgglomerativeClustering as SkA
from sklearn.datasets import load_iris, make_blobs
from sklearn.neighbors import kneighbors_graph

from rml.cluster import AgglomerativeClustering

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
LINKAGES = ["ward", "complete", "average", "single"]


def _csv(name, drop=()):
    import pandas as pd

    df = pd.read_csv(os.path.join(DATA, name)).drop(columns=list(drop)).select_dtypes("number")
    X = df.to_numpy(dtype=np.float64)
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _jitter(X, seed=0):
    # The seed CSVs hold integer-valued columns, so exact distance ties are common; a tiny
    # jitter makes merge distances distinct, where identical children_ are required.
    return X + 1e-7 * np.random.RandomState(seed).standard_normal(X.shape)


DATASETS = {
    "blobs": lambda: make_blobs(n_samples=300, n_features=3, centers=4, random_state=0)[0],
    "iris": lambda: _jitter(load_iris().data.astype(np.float64)),
    "country": lambda: _csv("country_data.csv"),
    "mall": lambda: _jitter(_csv("mall_customers.csv", drop=["CustomerID"])),
    "pima": lambda: _jitter(_csv("pima_diabetes.csv", drop=["Outcome"])[:400]),
}


def _assert_same(a, b, distances=True):
    np.testing.assert_array_equal(b.children_, a.children_)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    assert b.n_clusters_ == a.n_clusters_
    assert b.n_leaves_ == a.n_leaves_
    assert b.n_connected_components_ == a.n_connected_components_
    assert b.labels_.dtype == a.labels_.dtype and b.children_.dtype == a.children_.dtype
    if distances:
        np.testing.assert_allclose(b.distances_, a.distances_, rtol=1e-10, atol=1e-13)
    else:
        assert not hasattr(b, "distances_")


@pytest.mark.parametrize("linkage", LINKAGES)
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_n_clusters_and_threshold_match_sklearn(name, linkage):
    X = DATASETS[name]()
    for k in (1, 2, 5, 17):
        kw = dict(n_clusters=k, linkage=linkage)
        _assert_same(SkA(**kw).fit(X), AgglomerativeClustering(**kw).fit(X), distances=False)
    a = SkA(n_clusters=3, linkage=linkage, compute_distances=True).fit(X)
    _assert_same(a, AgglomerativeClustering(n_clusters=3, linkage=linkage,
                                            compute_distances=True).fit(X))
    for q in (0.5, 0.9, 0.99):
        t = float(np.quantile(a.distances_, q))
        kw = dict(n_clusters=None, distance_threshold=t, linkage=linkage)
        _assert_same(SkA(**kw).fit(X), AgglomerativeClustering(**kw).fit(X))


@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", ["l1", "l2", "manhattan", "cityblock", "cosine",
                                    "precomputed", "chebyshev", "callable"])
def test_metrics_match_sklearn(linkage, metric):
    X = DATASETS["blobs"]()[:150]
    data = X
    if metric == "precomputed":
        from sklearn.metrics import pairwise_distances

        data = pairwise_distances(X)
    m = (lambda Z: np.abs(Z[:, None, :] - Z[None, :, :]).max(-1)) if metric == "callable" else metric
    kw = dict(n_clusters=4, linkage=linkage, metric=m, compute_distances=True)
    _assert_same(SkA(**kw).fit(data), AgglomerativeClustering(**kw).fit(data))


def test_precomputed_reads_the_upper_triangle_only():
    X = DATASETS["blobs"]()[:80]
    from sklearn.metrics import pairwise_distances

    D = pairwise_distances(X)
    D[np.tril_indices(len(D), -1)] = 123.0
    for linkage in ["complete", "average", "single"]:
        kw = dict(n_clusters=3, linkage=linkage, metric="precomputed", compute_distances=True)
        _assert_same(SkA(**kw).fit(D), AgglomerativeClustering(**kw).fit(D))


def test_float32_and_int_input():
    X = DATASETS["blobs"]()
    for Z in (X.astype(np.float32), np.round(X * 1000).astype(np.int64)):
        for linkage in LINKAGES:
            kw = dict(n_clusters=4, linkage=linkage, compute_distances=True)
            a, b = SkA(**kw).fit(Z), AgglomerativeClustering(**kw).fit(Z)
            np.testing.assert_array_equal(b.labels_, a.labels_)
            np.testing.assert_allclose(b.distances_, a.distances_, rtol=1e-10)


def test_connectivity_and_memory_delegate_to_sklearn(tmp_path):
    X = DATASETS["blobs"]()
    conn = kneighbors_graph(X, 10, include_self=False)
    for linkage in LINKAGES:
        kw = dict(n_clusters=4, linkage=linkage, connectivity=conn)
        _assert_same(SkA(**kw).fit(X), AgglomerativeClustering(**kw).fit(X), distances=False)
    kw = dict(n_clusters=4, memory=str(tmp_path))
    _assert_same(SkA(**kw).fit(X), AgglomerativeClustering(**kw).fit(X), distances=False)


@pytest.mark.parametrize(
    "kw, X",
    [
        (dict(n_clusters=None), None),
        (dict(n_clusters=2, distance_threshold=1.0), None),
        (dict(n_clusters=None, distance_threshold=1.0, compute_full_tree=False), None),
        (dict(linkage="ward", metric="l1"), None),
        (dict(n_clusters=11), np.arange(20.0).reshape(10, 2)),
        (dict(linkage="average", metric="cosine"), np.vstack([np.zeros(2), np.ones((4, 2))])),
        (dict(linkage="average", metric="precomputed"), np.ones((4, 3))),
        (dict(n_clusters=0), None),
        (dict(linkage="median"), None),
    ],
)
def test_errors_match_sklearn(kw, X):
    if X is None:
        X = DATASETS["iris"]()[:30]
    with pytest.raises(ValueError) as ea:
        SkA(**kw).fit(X)
    with pytest.raises(ValueError) as eb:
        AgglomerativeClustering(**kw).fit(X)
    assert type(eb.value) is type(ea.value)
    assert str(eb.value) == str(ea.value)


def test_ties_are_deterministic_and_valid():
    # integer grid: many equal distances
    X = np.array([[i, j] for i in range(8) for j in range(8)], dtype=float)
    for linkage in LINKAGES:
        a = AgglomerativeClustering(n_clusters=5, linkage=linkage, compute_distances=True).fit(X)
        b = AgglomerativeClustering(n_clusters=5, linkage=linkage, compute_distances=True).fit(X)
        np.testing.assert_array_equal(a.children_, b.children_)
        s = SkA(n_clusters=5, linkage=linkage, compute_distances=True).fit(X)
        np.testing.assert_allclose(a.distances_, s.distances_, rtol=1e-10)
        assert len(np.unique(a.labels_)) == 5


def test_pickle_and_input_not_mutated():
    X = DATASETS["mall"]()
    X0 = X.copy()
    b = AgglomerativeClustering(n_clusters=3).fit(X)
    np.testing.assert_array_equal(X, X0)
    c = pickle.loads(pickle.dumps(b))
    np.testing.assert_array_equal(c.labels_, b.labels_)
    assert AgglomerativeClustering().get_params() == SkA().get_params()


@pytest.mark.parametrize("linkage", ["complete", "average"])
def test_larger_complete_average_match_sklearn(linkage):
    # Big enough for several compactions of the lazily updated matrix (every time half of
    # the clusters are merged away) and long replays; a few exact duplicates exercise the
    # exact scan used for zero distances.
    X = make_blobs(n_samples=1500, n_features=8, centers=6, random_state=3)[0]
    X[1400:1410] = X[:10]
    kw = dict(n_clusters=10, linkage=linkage, compute_distances=True)
    a, b = SkA(**kw).fit(X), AgglomerativeClustering(**kw).fit(X)
    nz = a.distances_ > 0  # the ten zero-distance merges are ties among themselves
    assert np.sum(~nz) == 10
    np.testing.assert_array_equal(b.distances_, a.distances_)
    np.testing.assert_array_equal(b.children_[nz], a.children_[nz])
    np.testing.assert_array_equal(b.labels_, a.labels_)
