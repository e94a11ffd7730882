"""rml.metrics clustering metrics against sklearn.metrics."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse as sp
from sklearn import metrics as skm
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.metrics.pairwise import pairwise_distances

from rml import metrics as rm

DATA = Path(__file__).resolve().parent.parent / "data"
SEED_CSVS = ["bank_churn", "country_data", "mall_customers", "pima_diabetes", "social_network_ads"]
RTOL = 1e-10
SCORES = ["silhouette_score", "calinski_harabasz_score", "davies_bouldin_score"]


def csv_with_kmeans_like_labels(name, k=4, n_max=600):
    X = pd.read_csv(DATA / f"{name}.csv").select_dtypes("number").to_numpy(float)[:n_max]
    # deterministic labels from the rank of the first principal direction (no KMeans needed)
    Xc = (X - X.mean(0)) / (X.std(0) + 1e-12)
    proj = Xc @ np.linalg.svd(Xc, full_matrices=False)[2][0]
    labels = np.searchsorted(np.quantile(proj, np.linspace(0, 1, k + 1)[1:-1]), proj)
    return X, labels


def datasets():
    out = []
    X, y = load_iris(return_X_y=True)
    out.append(("iris", X, y))
    X, y = load_wine(return_X_y=True)
    out.append(("wine", X, y))
    for name in SEED_CSVS:
        X, y = csv_with_kmeans_like_labels(name)
        out.append((name, X, y))
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 5))  # crosses the 1024-column tile boundary
    out.append(("random", X, rng.integers(0, 7, 1500)))
    X, y = make_blobs(n_samples=300, centers=5, random_state=1)
    out.append(("blobs_noise", X, np.where(np.arange(300) % 11 == 0, -1, y)))
    return out


DATASETS = datasets()
IDS = [d[0] for d in DATASETS]


@pytest.mark.parametrize("name,X,y", DATASETS, ids=IDS)
@pytest.mark.parametrize("score", SCORES)
def test_scores_match_sklearn(name, X, y, score):
    a = getattr(rm, score)(X, y)
    b = getattr(skm, score)(X, y)
    assert isinstance(a, float)
    assert a == pytest.approx(b, rel=RTOL, abs=1e-13)


@pytest.mark.parametrize("name,X,y", DATASETS, ids=IDS)
def test_silhouette_samples_match_sklearn(name, X, y):
    a = rm.silhouette_samples(X, y)
    b = skm.silhouette_samples(X, y)
    assert a.dtype == b.dtype and a.shape == b.shape
    # coefficients are in [-1, 1]: relative to 1 (sklearn's own GEMM formula has
    # cancellation error of this order on close pairs)
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-10)


@pytest.mark.parametrize("metric,kw", [
    ("manhattan", {}), ("cityblock", {}), ("l1", {}), ("chebyshev", {}), ("l2", {}),
    ("minkowski", {"p": 3}), ("minkowski", {"p": 1.5}), ("minkowski", {}),
    ("cosine", {}), ("sqeuclidean", {}),  # delegated to scikit-learn
])
def test_silhouette_other_metrics(metric, kw):
    X, y = load_wine(return_X_y=True)
    a = rm.silhouette_samples(X, y, metric=metric, **kw)
    b = skm.silhouette_samples(X, y, metric=metric, **kw)
    assert a.dtype == b.dtype
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-10)
    assert rm.silhouette_score(X, y, metric=metric, **kw) == pytest.approx(
        skm.silhouette_score(X, y, metric=metric, **kw), rel=RTOL)


def test_silhouette_callable_metric_is_delegated():
    X, y = load_iris(return_X_y=True)
    f = lambda a, b: np.abs(a - b).sum()  # noqa: E731
    assert rm.silhouette_score(X[:60], y[:60] % 2, metric=f) == pytest.approx(
        skm.silhouette_score(X[:60], y[:60] % 2, metric=f), rel=RTOL)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_silhouette_precomputed(dtype):
    X, y = load_wine(return_X_y=True)
    D = pairwise_distances(X).astype(dtype)
    a = rm.silhouette_samples(D, y, metric="precomputed")
    b = skm.silhouette_samples(D, y, metric="precomputed")
    assert a.dtype == b.dtype
    f64 = dtype == np.float64
    np.testing.assert_allclose(a, b, rtol=RTOL if f64 else 1e-6, atol=1e-10 if f64 else 1e-6)
    D[0, 0] = 1.0
    with pytest.raises(ValueError, match="non-zero elements on the diagonal"):
        rm.silhouette_samples(D, y, metric="precomputed")


@pytest.mark.parametrize("sample_size,seed", [(50, 0), (100, 42), (177, 3)])
@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
def test_silhouette_sample_size_selects_same_rows(sample_size, seed, metric):
    X, y = load_wine(return_X_y=True)
    Xm = pairwise_distances(X) if metric == "precomputed" else X
    a = rm.silhouette_score(Xm, y, metric=metric, sample_size=sample_size, random_state=seed)
    b = skm.silhouette_score(Xm, y, metric=metric, sample_size=sample_size, random_state=seed)
    assert a == pytest.approx(b, rel=RTOL)
    rs_a, rs_b = np.random.RandomState(seed), np.random.RandomState(seed)
    assert rm.silhouette_score(X, y, sample_size=60, random_state=rs_a) == pytest.approx(
        skm.silhouette_score(X, y, sample_size=60, random_state=rs_b), rel=RTOL)


def test_float32():
    X, y = load_iris(return_X_y=True)
    X32 = X.astype(np.float32)
    a = rm.silhouette_samples(X32, y)
    assert a.dtype == np.float32
    np.testing.assert_allclose(a, skm.silhouette_samples(X32, y), rtol=1e-5, atol=1e-6)
    for score in SCORES:
        assert getattr(rm, score)(X32, y) == pytest.approx(getattr(skm, score)(X32, y), rel=1e-5)


def test_singleton_clusters_and_string_labels():
    X, y = load_iris(return_X_y=True)
    y = y.copy()
    y[[0, 60]] = [7, 8]  # two singleton clusters
    a = rm.silhouette_samples(X, y)
    np.testing.assert_allclose(a, skm.silhouette_samples(X, y), rtol=RTOL, atol=1e-10)
    assert a[0] == 0 and a[60] == 0
    names = np.array(["a", "b", "c"])[load_iris().target]
    for score in SCORES:
        assert getattr(rm, score)(X, names) == pytest.approx(getattr(skm, score)(X, names), rel=RTOL)


@pytest.mark.parametrize("score", SCORES + ["silhouette_samples"])
def test_number_of_labels_errors(score):
    X = np.random.default_rng(0).normal(size=(10, 2))
    msg = r"Number of labels is 1. Valid values are 2 to n_samples - 1 \(inclusive\)"
    with pytest.raises(ValueError, match=msg):
        getattr(rm, score)(X, np.zeros(10))
    msg = r"Number of labels is 10. Valid values are 2 to n_samples - 1 \(inclusive\)"
    with pytest.raises(ValueError, match=msg):
        getattr(rm, score)(X, np.arange(10))


@pytest.mark.parametrize("score", SCORES)
def test_bad_input_messages_as_sklearn(score):
    f, g = getattr(rm, score), getattr(skm, score)
    X = np.random.default_rng(0).normal(size=(10, 2))
    for bad in [
        (X, np.arange(5) % 2),                    # inconsistent lengths
        (np.where(X > 1, np.nan, X), np.arange(10) % 2),  # NaN
        (X[:, :0], np.arange(10) % 2),            # 0 features
    ]:
        with pytest.raises(ValueError) as ours:
            f(*bad)
        with pytest.raises(ValueError) as ref:
            g(*bad)
        assert str(ours.value) == str(ref.value)


def test_param_validation_messages():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="The 'sample_size' parameter of silhouette_score must be"):
        rm.silhouette_score(X, y, sample_size=0)
    with pytest.raises(ValueError, match="The 'metric' parameter of silhouette_samples must be"):
        rm.silhouette_samples(X, y, metric="nope")


def test_sparse_is_delegated():
    X, y = load_iris(return_X_y=True)
    Xs = sp.csr_matrix(X)
    assert rm.silhouette_score(Xs, y) == pytest.approx(skm.silhouette_score(Xs, y), rel=RTOL)


def test_inputs_not_mutated_and_thread_count_invariant():
    X, y = load_wine(return_X_y=True)
    X = np.ascontiguousarray(X)
    X0, y0 = X.copy(), y.copy()
    a = rm.silhouette_samples(X, y, n_jobs=1)
    b = rm.silhouette_samples(X, y, n_jobs=2)
    np.testing.assert_array_equal(a, b)
    rm.calinski_harabasz_score(X, y)
    rm.davies_bouldin_score(X, y)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)


def test_identical_points_and_zero_dispersion():
    X = np.repeat([[0.0, 0.0], [1.0, 1.0]], 5, axis=0)
    y = np.repeat([0, 1], 5)
    for score in SCORES:
        assert getattr(rm, score)(X, y) == pytest.approx(getattr(skm, score)(X, y), rel=RTOL)
    X = np.zeros((6, 2))
    y = np.array([0, 0, 0, 1, 1, 1])
    for score in SCORES:
        assert getattr(rm, score)(X, y) == getattr(skm, score)(X, y)
