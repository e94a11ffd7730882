"""Elkan with lazily updated lower bounds against scikit-learn's Elkan, on runs that iterate
long (tol=0, up to 50 iterations) so that many centre shifts are replayed late.

rml keeps a log of the centre shifts and brings a sample's lower bounds up to date only when
they are read; the replay is the eager update step for step, so the results must be exactly
scikit-learn's (labels_, n_iter_ identical; centres and inertia to 1e-10 in float64). The
bit-for-bit comparison with the eager update (threads, log capacities, relocation) is in the
Rust tests (``kmeans::elkan::elkan_tests``).
"""

import numpy as np
import pytest
from sklearn import cluster as skc
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_limits

from rml.cluster import KMeans

RTOL = 1e-10


@pytest.fixture(autouse=True)
def _sklearn_single_threaded():
    with threadpool_limits(1):
        yield


def _rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300))


# (n, d, true centres, k, cluster_std): well separated and overlapping blobs.
CASES = {
    "separated_d2_k8": (4000, 2, 8, 8, 0.3),
    "separated_d8_k16": (3000, 8, 10, 16, 0.5),
    "overlapping_d2_k8": (4000, 2, 8, 8, 3.0),
    "overlapping_d5_k12": (3000, 5, 6, 12, 4.0),
    "d1_k5": (2000, 1, 4, 5, 1.0),
}


def _case(name, dtype=np.float64):
    n, d, c, k, std = CASES[name]
    X, _ = make_blobs(n, n_features=d, centers=c, cluster_std=std, center_box=(-10, 10), random_state=7)
    X = X.astype(dtype)
    # Random rows as initial centres: some blobs get two centres, which keeps many samples
    # near a boundary (their bounds are read) for many iterations.
    init = X[np.random.RandomState(3).choice(n, k, replace=False)].copy()
    return X, init, k


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("weighted", [False, True])
def test_long_runs_match_sklearn_float64(name, weighted):
    X, init, k = _case(name)
    sw = None
    if weighted:
        sw = np.random.RandomState(1).uniform(0.5, 2.0, X.shape[0])
        sw[::7] = 0.0  # zero weights
    kw = dict(n_clusters=k, init=init, n_init=1, algorithm="elkan", tol=0.0, max_iter=50)
    a = skc.KMeans(**kw).fit(X, sample_weight=sw)
    b = KMeans(**kw).fit(X, sample_weight=sw)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    assert b.n_iter_ == a.n_iter_
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=RTOL, atol=RTOL * np.abs(a.cluster_centers_).max())
    assert _rel(b.inertia_, a.inertia_) <= RTOL
    # A stop at max_iter (no strict convergence) runs the final E-step.
    kw["max_iter"] = max(2, a.n_iter_ // 2)
    a = skc.KMeans(**kw).fit(X, sample_weight=sw)
    b = KMeans(**kw).fit(X, sample_weight=sw)
    np.testing.assert_array_equal(b.labels_, a.labels_)
    assert b.n_iter_ == a.n_iter_
    assert _rel(b.inertia_, a.inertia_) <= RTOL


def test_cases_iterate_long():
    """The cases above are worth their name: most run 10+ iterations."""
    long = 0
    for name in CASES:
        X, init, k = _case(name)
        it = KMeans(n_clusters=k, init=init, n_init=1, algorithm="elkan", tol=0.0, max_iter=50).fit(X).n_iter_
        long += it >= 10
    assert long >= 3


@pytest.mark.parametrize("name", sorted(CASES))
def test_long_runs_float32(name):
    """float32: rml sums the centres in float64 (scikit-learn in float32), so centres agree to
    float32 precision; on well-separated blobs the labels are the same."""
    X, init, k = _case(name, np.float32)
    kw = dict(n_clusters=k, init=init, n_init=1, algorithm="elkan", tol=0.0, max_iter=50)
    a = skc.KMeans(**kw).fit(X)
    b = KMeans(**kw).fit(X)
    assert b.cluster_centers_.dtype == np.float32
    if name.startswith("separated"):
        np.testing.assert_array_equal(b.labels_, a.labels_)
        assert b.n_iter_ == a.n_iter_
    assert adjusted_rand_score(a.labels_, b.labels_) > 0.99
    np.testing.assert_allclose(b.cluster_centers_, a.cluster_centers_, rtol=1e-4, atol=1e-4 * np.abs(X).max())
    assert _rel(b.inertia_, a.inertia_) < 1e-4
    # rml's float32 Elkan and Lloyd agree with each other as well (same centres sums).
    c = KMeans(**{**kw, "algorithm": "lloyd"}).fit(X)
    assert adjusted_rand_score(c.labels_, b.labels_) > 0.99
