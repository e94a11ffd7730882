"""The brute-force and precomputed neighbour kernels at the native boundary, against
scikit-learn's brute-force NearestNeighbors on small data (float32 and float64)."""

import numpy as np
import pytest
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from rml._rml import neighbors as nb

METRICS = [
    ("euclidean", 2.0),
    ("sqeuclidean", 2.0),
    ("manhattan", 1.0),
    ("chebyshev", 2.0),
    ("minkowski", 3.0),
    ("cosine", 2.0),
]


def _data(seed, n=300, m=40, d=7, dtype=np.float64):
    rng = np.random.RandomState(seed)
    return rng.randn(m, d).astype(dtype), rng.randn(n, d).astype(dtype)


def _reference_distances(X, Y, metric, p):
    kw = {"p": p} if metric == "minkowski" else {}
    return pairwise_distances(X.astype(np.float64), Y.astype(np.float64), metric=metric, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric,p", METRICS)
@pytest.mark.parametrize("k", [1, 3, 15])
def test_kneighbors_matches_exact_reference(metric, p, k, dtype):
    X, Y = _data(0, dtype=dtype)
    dist, ind = nb.brute_kneighbors(X, Y, k, metric, p, True, None)
    assert dist.dtype == dtype and ind.dtype == np.int64 and ind.shape == (len(X), k)
    D = _reference_distances(X, Y, metric, p)
    order = np.lexsort((np.broadcast_to(np.arange(Y.shape[0]), D.shape), D), axis=1)[:, :k]
    np.testing.assert_array_equal(ind, order)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(dist, np.take_along_axis(D, order, 1), rtol=rtol, atol=1e-12)
    none, ind2 = nb.brute_kneighbors(X, Y, k, metric, p, False, 1)
    assert none is None
    np.testing.assert_array_equal(ind2, ind)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [2, 32, 100])
def test_euclidean_matches_sklearn_brute(d, dtype):
    X, Y = _data(1, n=2000, m=150, d=d, dtype=dtype)
    ref = NearestNeighbors(n_neighbors=5, algorithm="brute").fit(Y)
    rd, ri = ref.kneighbors(X)
    dist, ind = nb.brute_kneighbors(X, Y, 5, "euclidean", 2.0, True, -1)
    np.testing.assert_array_equal(ind, ri)
    np.testing.assert_allclose(dist, rd, rtol=1e-5 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("metric,p", METRICS)
def test_radius_matches_sklearn_brute(metric, p, dtype):
    X, Y = _data(2, dtype=dtype)
    radius = 0.4 if metric == "cosine" else (4.0 if metric == "sqeuclidean" else 2.0)
    if metric == "sqeuclidean":
        D = _reference_distances(X, Y, "sqeuclidean", p)
    else:
        D = _reference_distances(X, Y, metric, p)
    dist, ind, offsets = nb.brute_radius_neighbors(X, Y, radius, metric, p, True, True, 2)
    assert offsets.dtype == np.int64 and offsets.shape == (len(X) + 1,)
    assert ind.dtype == np.int64 and dist.dtype == dtype
    for i in range(len(X)):
        row = ind[offsets[i] : offsets[i + 1]]
        want = np.flatnonzero(D[i] <= radius)
        want = want[np.lexsort((want, D[i, want]))]
        np.testing.assert_array_equal(row, want)
        np.testing.assert_allclose(dist[offsets[i] : offsets[i + 1]], D[i, want], rtol=1e-5)
    none, ind_u, off_u = nb.brute_radius_neighbors(X, Y, radius, metric, p, False, False, 1)
    assert none is None
    np.testing.assert_array_equal(off_u, offsets)
    for i in range(len(X)):
        np.testing.assert_array_equal(
            ind_u[off_u[i] : off_u[i + 1]], np.sort(ind[offsets[i] : offsets[i + 1]])
        )


def test_ties_broken_by_training_index_like_sklearn():
    rng = np.random.RandomState(3)
    Y = rng.randint(0, 3, size=(500, 4)).astype(np.float64)
    X = rng.randint(0, 3, size=(60, 4)).astype(np.float64)
    for dtype in (np.float32, np.float64):
        dist, ind = nb.brute_kneighbors(X.astype(dtype), Y.astype(dtype), 12, "euclidean", 2.0, True, None)
        D = _reference_distances(X, Y, "euclidean", 2.0)
        order = np.lexsort((np.broadcast_to(np.arange(len(Y)), D.shape), D), axis=1)[:, :12]
        np.testing.assert_array_equal(ind, order)


def test_results_do_not_depend_on_n_jobs():
    X, Y = _data(4, n=3000, m=333, d=16, dtype=np.float32)
    a = nb.brute_kneighbors(X, Y, 7, "euclidean", 2.0, True, 1)
    b = nb.brute_kneighbors(X, Y, 7, "euclidean", 2.0, True, 2)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    a = nb.brute_radius_neighbors(X, Y, 3.0, "manhattan", 1.0, True, True, 1)
    b = nb.brute_radius_neighbors(X, Y, 3.0, "manhattan", 1.0, True, True, 2)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_precomputed_matches_sklearn(dtype):
    X, Y = _data(5, n=120, m=30, d=3, dtype=dtype)
    D = pairwise_distances(X, Y).astype(dtype)
    ref = NearestNeighbors(n_neighbors=4, metric="precomputed").fit(pairwise_distances(Y, Y))
    rd, ri = ref.kneighbors(D)
    dist, ind = nb.precomputed_kneighbors(D, 4, True, None)
    np.testing.assert_array_equal(ind, ri)
    np.testing.assert_array_equal(dist, rd.astype(dtype))
    rdist, rind = ref.radius_neighbors(D, radius=0.9, sort_results=True)
    dist, ind, off = nb.precomputed_radius_neighbors(D, 0.9, True, True, None)
    for i in range(len(D)):
        np.testing.assert_array_equal(ind[off[i] : off[i + 1]], rind[i])
        np.testing.assert_array_equal(dist[off[i] : off[i + 1]], rdist[i].astype(dtype))


def test_inputs_are_not_modified_and_layouts_accepted():
    X, Y = _data(6, n=50, m=10, d=5)
    Xc, Yc = X.copy(), Y.copy()
    Xf = np.asfortranarray(X)
    a = nb.brute_kneighbors(X, Y, 3, "euclidean", 2.0, True, None)
    b = nb.brute_kneighbors(Xf, Y[::1], 3, "euclidean", 2.0, True, None)
    np.testing.assert_array_equal(a[1], b[1])
    Xr = X.copy()
    Xr.setflags(write=False)
    nb.brute_kneighbors(Xr, Y, 3, "euclidean", 2.0, True, None)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(Y, Yc)


def test_bad_input_raises_value_error_never_panics():
    X, Y = _data(7, n=10, m=3, d=4)
    with pytest.raises(ValueError, match="n_neighbors"):
        nb.brute_kneighbors(X, Y, 11, "euclidean", 2.0, True, None)
    with pytest.raises(ValueError):
        nb.brute_kneighbors(X, Y, 0, "euclidean", 2.0, True, None)
    with pytest.raises(ValueError, match="features"):
        nb.brute_kneighbors(X[:, :3].copy(), Y, 1, "euclidean", 2.0, True, None)
    with pytest.raises(ValueError, match="dtype"):
        nb.brute_kneighbors(X, Y.astype(np.float32), 1, "euclidean", 2.0, True, None)
    with pytest.raises(ValueError):
        nb.brute_kneighbors(X.astype(np.int64), Y, 1, "euclidean", 2.0, True, None)
    with pytest.raises(ValueError):
        nb.brute_kneighbors(X, Y, 1, "haversine", 2.0, True, None)
    with pytest.raises(ValueError):
        nb.brute_kneighbors(X, Y, 1, "minkowski", 0.5, True, None)
    with pytest.raises(ValueError):
        nb.brute_radius_neighbors(X, Y, -1.0, "euclidean", 2.0, True, True, None)
    with pytest.raises(ValueError):
        nb.brute_radius_neighbors(X, Y, float("nan"), "euclidean", 2.0, True, True, None)
    with pytest.raises(ValueError):
        nb.precomputed_kneighbors(np.zeros((2, 3)), 4, True, None)
    with pytest.raises(ValueError):
        nb.brute_kneighbors(X, Y, 1, "euclidean", 2.0, True, 0)
    with pytest.raises((ValueError, OverflowError, TypeError)):
        nb.brute_kneighbors(X, Y, -1, "euclidean", 2.0, True, None)


def test_huge_values_do_not_panic():
    Y = np.array([[1e308, -1e308], [0.0, 0.0], [-1e308, 1e308], [1.0, 1.0]])
    X = np.array([[0.0, 0.0], [1e308, 1e308]])
    dist, ind = nb.brute_kneighbors(X, Y, 4, "euclidean", 2.0, True, None)
    np.testing.assert_array_equal(ind[0], [1, 3, 0, 2])
    assert np.isinf(dist[0, 2:]).all()
    dist, ind, off = nb.brute_radius_neighbors(X, Y, np.inf, "euclidean", 2.0, True, True, None)
    assert off[-1] == 8
