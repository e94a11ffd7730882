"""The Lloyd assignment kernel and centre sums through the Python boundary.

The Rust tests check the kernels bitwise against scalar references; these check the same
promises end to end on the shapes the SIMD kernels split into steps (rows not a multiple of
the 16/8-row step, centres not a multiple of the 4-centre block, features with and without a
tile remainder): exact ties go to the smaller centre index as in scikit-learn (float32 and
float64 alike, on integer data where every score is exact in both), and a fit gives
bit-identical results with one and two threads.
"""

import numpy as np
import pytest
from sklearn import cluster as skc

from rml import _rml
from rml.cluster import KMeans

SHAPES = [(1003, 9, 5), (517, 16, 17), (1001, 33, 64), (250, 70, 3)]


def _integer_problem(n, d, k, seed, dtype):
    rng = np.random.default_rng(seed)
    X = rng.integers(-3, 4, size=(n, d)).astype(dtype)
    C = rng.integers(-3, 4, size=(k, d)).astype(dtype)
    C[3::4] = C[0 : k - 3 : 4][: len(C[3::4])]  # duplicated centres: exact ties
    return X, C


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d,k", SHAPES)
def test_exact_ties_go_to_the_smaller_index_as_sklearn(n, d, k, dtype):
    X, C = _integer_problem(n, d, k, d * 31 + k, dtype)
    w = np.ones(n, dtype=dtype)
    labels, _ = _rml.cluster.kmeans_labels_inertia(X, w, C, 1)
    sk = skc.KMeans(n_clusters=k, init=C, n_init=1, max_iter=1).fit(X)
    sk.cluster_centers_ = C.copy()
    np.testing.assert_array_equal(labels, sk.predict(X))
    # Duplicated centres never win over the earlier copy.
    assert not np.isin(labels, np.arange(3, k, 4)).any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n,d,k", SHAPES)
def test_fit_is_identical_for_one_and_two_threads(n, d, k, dtype):
    rng = np.random.default_rng(d + k)
    X = (rng.standard_normal((n, d)) + rng.integers(0, 4, size=(n, 1)) * 3).astype(dtype)
    C = X[rng.choice(n, k, replace=False)].copy()
    w = rng.uniform(0.5, 2.0, size=n).astype(dtype)
    one = _rml.cluster.kmeans_single(X, w, C, 20, 0.0, "lloyd", False, 1)
    two = _rml.cluster.kmeans_single(X, w, C, 20, 0.0, "lloyd", False, 2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    assert one[2] == two[2] and one[3] == two[3]


@pytest.mark.parametrize("n,d,k", SHAPES)
def test_float32_labels_are_nearest_within_rounding(n, d, k):
    rng = np.random.default_rng(n + d)
    X64 = rng.standard_normal((n, d)) * 3
    C64 = rng.standard_normal((k, d)) * 3
    X, C = X64.astype(np.float32), C64.astype(np.float32)
    labels, inertia = _rml.cluster.kmeans_labels_inertia(X, np.ones(n, np.float32), C, 2)
    dist = ((X.astype(np.float64)[:, None, :] - C.astype(np.float64)[None]) ** 2).sum(-1)
    chosen = dist[np.arange(n), labels]
    best = dist.min(axis=1)
    # A float32 score carries a rounding error of a few ulps of ||x||² + ||c||².
    scale = (X.astype(np.float64) ** 2).sum(1) + (C.astype(np.float64) ** 2).sum(1).max()
    assert np.all(chosen - best <= 1e-5 * scale)
    assert (labels == dist.argmin(axis=1)).mean() > 0.99
    np.testing.assert_allclose(inertia, chosen.sum(), rtol=1e-5)
    est = KMeans(n_clusters=k, init=C, n_init=1, max_iter=1).fit(X)
    assert est.cluster_centers_.dtype == np.float32


@pytest.mark.parametrize("d,k,seed", [(12, 10, 0), (32, 24, 1), (70, 6, 2)])
def test_long_runs_with_skipped_rows_match_sklearn(d, k, seed):
    # After the first iterations Hamerly's bounds skip most rows of separated blobs (the Rust
    # tests check the skipped passes bitwise against dense ones); end to end the run must
    # still be scikit-learn's: same labels and n_iter_, centres and inertia within 1e-10.
    rng = np.random.default_rng(seed)
    means = rng.uniform(-10, 10, size=(k, d))
    X = means[rng.integers(0, k, size=6000)] + rng.standard_normal((6000, d)) * 2.0
    init = X[rng.choice(len(X), k, replace=False)]
    kw = dict(n_clusters=k, init=init, n_init=1, max_iter=300, tol=0.0)
    ours, ref = KMeans(**kw).fit(X), skc.KMeans(**kw).fit(X)
    assert ours.n_iter_ == ref.n_iter_ and ours.n_iter_ > 5
    np.testing.assert_array_equal(ours.labels_, ref.labels_)
    np.testing.assert_allclose(ours.cluster_centers_, ref.cluster_centers_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.inertia_, ref.inertia_, rtol=1e-10)
