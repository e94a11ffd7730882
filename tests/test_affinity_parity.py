"""rml.cluster.AffinityPropagation against sklearn.cluster.AffinityPropagation: identical
labels_, cluster_centers_indices_, n_iter_ and affinity_matrix_ (bit for bit)."""

import pathlib
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import AffinityPropagation as SkAP
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from rml._rml import cluster as native
from rml.cluster import AffinityPropagation

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"


def _fit_both(X, **kw):
    with warnings.catch_warnings(record=True) as w_sk:
        warnings.simplefilter("always")
        a = SkAP(**kw).fit(X)
    with warnings.catch_warnings(record=True) as w_rml:
        warnings.simplefilter("always")
        b = AffinityPropagation(**kw).fit(X)
    return a, b, [str(w.message) for w in w_sk], [str(w.message) for w in w_rml]


def _assert_same(a, b):
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.cluster_centers_indices_, b.cluster_centers_indices_)
    assert a.n_iter_ == b.n_iter_
    assert a.affinity_matrix_.dtype == b.affinity_matrix_.dtype
    np.testing.assert_array_equal(a.affinity_matrix_, b.affinity_matrix_)
    if hasattr(a, "cluster_centers_"):
        np.testing.assert_array_equal(a.cluster_centers_, b.cluster_centers_)


def _csv(name, cols):
    df = pd.read_csv(DATA / name)
    X = df[cols].to_numpy(dtype=np.float64)
    return StandardScaler().fit_transform(X)


REAL = {
    "mall": lambda: _csv("mall_customers.csv", ["Age", "Annual Income (k$)", "Spending Score (1-100)"]),
    "country": lambda: _csv("country_data.csv", ["child_mort", "exports", "health", "imports", "income",
                                                 "inflation", "life_expec", "total_fer", "gdpp"]),
    "pima": lambda: _csv("pima_diabetes.csv", ["Glucose", "BloodPressure", "BMI", "Age"])[:400],
    "iris": lambda: load_iris().data,
    "wine": lambda: StandardScaler().fit_transform(load_wine().data),
}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "params",
    [{}, {"damping": 0.9}, {"preference": -20.0}, {"max_iter": 12, "convergence_iter": 3},
     {"damping": 0.75, "convergence_iter": 5}],
)
def test_blobs_identical(dtype, seed, params):
    X, _ = make_blobs(120 + 37 * seed, 4, centers=5, cluster_std=1.2, random_state=seed)
    X = X.astype(dtype)
    a, b, wa, wb = _fit_both(X, random_state=seed, **params)
    _assert_same(a, b)
    assert wa == wb


@pytest.mark.parametrize("name", sorted(REAL))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_real_data_identical(name, dtype):
    X = REAL[name]().astype(dtype)
    a, b, wa, wb = _fit_both(X, random_state=0)
    _assert_same(a, b)
    assert wa == wb
    np.testing.assert_array_equal(a.predict(X[:50]), b.predict(X[:50]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_precomputed_and_per_sample_preference(dtype):
    rng = np.random.RandomState(3)
    X, _ = make_blobs(150, 3, centers=4, random_state=1)
    S = (-((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)).astype(dtype)
    pref = rng.uniform(-60, -5, size=150)
    for kw in [{}, {"preference": pref}, {"preference": -30}]:
        a, b, wa, wb = _fit_both(S, affinity="precomputed", random_state=7, **kw)
        _assert_same(a, b)
        assert wa == wb
    a, b, _, _ = _fit_both(X, preference=pref, random_state=7)
    _assert_same(a, b)


def test_random_state_instance_is_consumed_the_same():
    X, _ = make_blobs(80, 2, centers=3, random_state=0)
    ra, rb = np.random.RandomState(5), np.random.RandomState(5)
    for _ in range(2):
        a = SkAP(random_state=ra).fit(X)
        b = AffinityPropagation(random_state=rb).fit(X)
        _assert_same(a, b)


def test_not_converged_and_no_exemplar_warnings():
    X, _ = make_blobs(60, 2, centers=3, random_state=0)
    a, b, wa, wb = _fit_both(X, max_iter=2, random_state=0)
    _assert_same(a, b)
    assert wa == wb and any("did not converge" in m for m in wb)
    # No exemplar at all: labels -1, empty centers, predict warns and returns -1.
    S = -np.ones((4, 4)) + np.diag([-100.0] * 4)
    S[0, 1] = -2
    a, b, wa, wb = _fit_both(S, affinity="precomputed", max_iter=1, random_state=0)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    assert list(a.cluster_centers_indices_) == list(b.cluster_centers_indices_)
    assert wa == wb
    Xs = np.array([[0.0, 0], [1, 1], [2, 2]])
    b = AffinityPropagation(max_iter=1, preference=-1e6, random_state=0)
    with pytest.warns(ConvergenceWarning):
        b.fit(Xs)
    if len(b.cluster_centers_indices_) == 0:
        with pytest.warns(ConvergenceWarning):
            assert (b.predict(Xs) == -1).all()


@pytest.mark.parametrize("pref", [None, 0.0, -10.0, 10.0])
def test_degenerate_equal_similarities(pref):
    X = np.zeros((5, 2))
    a, b, wa, wb = _fit_both(X, preference=pref, random_state=0)
    _assert_same(a, b)
    assert wa == wb and "mutually equal similarities" in wb[0]
    a, b, wa, wb = _fit_both(np.array([[1.0, 2.0]]), random_state=0)
    _assert_same(a, b)
    assert wa == wb


def test_copy_false_modifies_precomputed_in_place_as_sklearn():
    X, _ = make_blobs(40, 2, centers=3, random_state=0)
    S = -((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    S1, S2 = S.copy(), S.copy()
    SkAP(affinity="precomputed", copy=False, random_state=0).fit(S1)
    AffinityPropagation(affinity="precomputed", copy=False, random_state=0).fit(S2)
    np.testing.assert_array_equal(S1, S2)
    S3 = S.copy()
    AffinityPropagation(affinity="precomputed", random_state=0).fit(S3)
    np.testing.assert_array_equal(S3, S)  # copy=True never touches the caller's array


def test_sparse_input_and_pickle():
    from scipy import sparse
    X, _ = make_blobs(90, 3, centers=3, random_state=2)
    a, b, _, _ = _fit_both(sparse.csr_matrix(X), random_state=0)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    b2 = pickle.loads(pickle.dumps(b))
    np.testing.assert_array_equal(b2.predict(X), b.predict(X))


def test_native_rejects_bad_input_without_panicking():
    with pytest.raises(ValueError):
        native.affinity_propagation(np.zeros((3, 4)), 0.5, 10, 3, None)
    with pytest.raises(ValueError):
        native.affinity_propagation(np.zeros((3, 3)), 1.5, 10, 3, None)
    with pytest.raises(TypeError):
        native.affinity_propagation(np.zeros((3, 3), dtype=np.int64), 0.5, 10, 3, None)


def test_thread_count_does_not_change_results(monkeypatch):
    X, _ = make_blobs(200, 3, centers=4, random_state=4)
    S = -((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    S[np.diag_indices(200)] = np.median(S)
    r1 = native.affinity_propagation(S, 0.5, 200, 15, 1)
    r2 = native.affinity_propagation(S, 0.5, 200, 15, 2)
    r3 = native.affinity_propagation(S, 0.5, 200, 15, 3)
    for r in (r2, r3):
        np.testing.assert_array_equal(r1[0], r[0])
        np.testing.assert_array_equal(r1[1], r[1])
        assert r1[2:] == r[2:]
