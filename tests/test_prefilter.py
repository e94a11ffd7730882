"""algorithm='prefilter': exact at candidate_fraction=1.0, validated parameters, sane output."""

import pickle

import numpy as np
import pytest
from sklearn import neighbors as skn
from sklearn.utils._param_validation import InvalidParameterError

from rml import _rml
from rml.neighbors import KNeighborsClassifier, KNeighborsRegressor
from rml.neighbors._prefilter import target_correlation_projection
from tests._datasets import load, split


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("metric,p", [("minkowski", 2), ("manhattan", 2), ("chebyshev", 2), ("minkowski", 3)])
@pytest.mark.parametrize("dataset", [("seed", "pima_diabetes"), ("seed", "bank_churn"), ("bundled", "wine"),
                                     ("generated", "gaussian_d5")])
def test_full_window_equals_exact_knn(dataset, metric, p, dtype):
    X, y = load(*dataset)
    X_train, X_test, y_train, _ = split(X.astype(dtype), y)
    for k, weights in ((1, "uniform"), (5, "uniform"), (15, "distance")):
        kw = dict(n_neighbors=k, weights=weights, metric=metric, p=p)
        exact = KNeighborsClassifier(algorithm="brute", **kw).fit(X_train, y_train)
        approx = KNeighborsClassifier(algorithm="prefilter", candidate_fraction=1.0, **kw).fit(X_train, y_train)
        d_e, i_e = exact.kneighbors(X_test)
        d_a, i_a = approx.kneighbors(X_test)
        # Same tie rule (distance, training index) in both rml paths: identical indices
        # except where float32 rounding of two routes differs on near-ties.
        np.testing.assert_allclose(d_a, d_e, rtol=1e-5 if dtype == np.float32 else 1e-9, atol=1e-6)
        if dtype == np.float64:
            np.testing.assert_array_equal(i_a, i_e)
            np.testing.assert_array_equal(approx.predict(X_test), exact.predict(X_test))
            np.testing.assert_allclose(approx.predict_proba(X_test), exact.predict_proba(X_test), atol=1e-12)


def test_full_window_regressor_equals_sklearn():
    X, y = load("generated", "gaussian_d5")
    target = X[:, 0] - 2 * X[:, 1]
    X_train, X_test, y_train, _ = split(X, target)
    ours = KNeighborsRegressor(algorithm="prefilter", candidate_fraction=1.0).fit(X_train, y_train)
    ref = skn.KNeighborsRegressor().fit(X_train, y_train)
    np.testing.assert_allclose(ours.predict(X_test), ref.predict(X_test), rtol=1e-12)


def test_recall_grows_with_the_window_on_aligned_data():
    rng = np.random.RandomState(0)
    X = rng.randn(5000, 6)
    X[:, 0] *= 5  # the target feature also dominates the distances
    y = (X[:, 0] > 0).astype(int)
    exact = KNeighborsClassifier(algorithm="brute").fit(X[:4000], y[:4000])
    _, i_e = exact.kneighbors(X[4000:])
    recalls, agreements = [], []
    for fraction in (0.05, 0.2, 0.6):
        approx = KNeighborsClassifier(algorithm="prefilter", candidate_fraction=fraction).fit(X[:4000], y[:4000])
        _, i_a = approx.kneighbors(X[4000:])
        assert all(len(set(r)) == 5 for r in i_a)  # 5 distinct training rows per query
        recalls.append(np.mean([len(np.intersect1d(a, b)) / 5 for a, b in zip(i_a, i_e)]))
        agreements.append(np.mean(approx.predict(X[4000:]) == exact.predict(X[4000:])))
    # Measured here: recall 0.66, 0.997, 1.0 and agreement 0.989, 1.0, 1.0.
    assert recalls[0] < recalls[1] <= recalls[2] == 1.0
    assert recalls[1] > 0.99 and agreements[0] > 0.95


def test_certificate_reports_exact_queries():
    rng = np.random.RandomState(0)
    X = rng.rand(2000, 2)
    w = np.array([1.0, 0.0])
    sx, keys, order = _rml.neighbors.prefilter_build(X, w)
    dist, ind, certified, scanned = _rml.neighbors.prefilter_query(
        sx, keys, order, w, X[:100], 5, "euclidean", 2.0, 2000, True, None)
    assert certified == 100 and scanned < 100 * 2000


def test_projection_picks_target_correlated_features():
    rng = np.random.RandomState(0)
    X = rng.randn(1000, 5)
    y = (2 * X[:, 3] - X[:, 1] > 0).astype(int)
    onehot = np.c_[y == 0, y == 1].astype(float)
    w, chosen = target_correlation_projection(X, onehot, 2)
    assert set(chosen) == {1, 3}
    assert np.isclose(np.linalg.norm(w), 1.0)
    assert np.all(w[[0, 2, 4]] == 0)


@pytest.mark.parametrize("params", [
    dict(candidate_fraction=0.0), dict(candidate_fraction=1.5), dict(prefilter_features=0),
    dict(prefilter_features=2.5), dict(algorithm="bogus"),
])
def test_invalid_parameters(params):
    X = np.random.rand(20, 3)
    y = np.arange(20) % 2
    with pytest.raises(InvalidParameterError):
        KNeighborsClassifier(algorithm=params.pop("algorithm", "prefilter"), **params).fit(X, y)


def test_unsupported_metric_is_a_clear_error():
    X = np.random.rand(20, 3)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="Metric 'cosine' not valid"):
        KNeighborsClassifier(algorithm="prefilter", metric="cosine").fit(X, y)


def test_pickle_round_trip():
    X = np.random.RandomState(0).rand(300, 4)
    y = (X[:, 0] > 0.5).astype(int)
    est = KNeighborsClassifier(algorithm="prefilter", candidate_fraction=0.3).fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
