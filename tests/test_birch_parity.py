"""rml.cluster.Birch against sklearn.cluster.Birch: identical subcluster_centers_,
subcluster_labels_ and labels_ (bit for bit), for n_clusters None / int / estimator, float32
and float64, fit and chunked partial_fit; the tree survives pickle."""

import copy
import pathlib
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.cluster import Birch as SkBirch
from sklearn.cluster import KMeans
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from rml._rml import cluster as native
from rml.cluster import Birch

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"


def _assert_same(a, b):
    assert a.subcluster_centers_.dtype == b.subcluster_centers_.dtype
    np.testing.assert_array_equal(a.subcluster_centers_, b.subcluster_centers_)
    np.testing.assert_array_equal(a.subcluster_labels_, b.subcluster_labels_)
    if hasattr(a, "labels_"):
        np.testing.assert_array_equal(a.labels_, b.labels_)
    assert a._n_features_out == b._n_features_out


PARAMS = [
    dict(n_clusters=None, threshold=0.6),
    dict(n_clusters=4, threshold=0.9, branching_factor=8),
    dict(n_clusters=3, threshold=0.4, branching_factor=3),
    dict(n_clusters=None, threshold=2.0, branching_factor=50),
]


def _make(kw):
    return SkBirch(**kw), Birch(**kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("kw", PARAMS)
def test_blobs_fit_identical(dtype, seed, kw):
    X, _ = make_blobs(500 + 100 * seed, 2 + 3 * seed, centers=6, cluster_std=1.3, random_state=seed)
    X = X.astype(dtype)
    a, b = _make(kw)
    a.fit(X)
    b.fit(X)
    _assert_same(a, b)
    np.testing.assert_array_equal(a.predict(X[::3]), b.predict(X[::3]))
    np.testing.assert_allclose(a.transform(X[:20]), b.transform(X[:20]))
    assert b.transform(X[:5]).dtype == a.transform(X[:5]).dtype


def test_estimator_global_step():
    X, _ = make_blobs(900, 3, centers=5, random_state=3)
    a = SkBirch(n_clusters=KMeans(4, n_init=2, random_state=0), threshold=0.5).fit(X)
    b = Birch(n_clusters=KMeans(4, n_init=2, random_state=0), threshold=0.5).fit(X)
    _assert_same(a, b)


@pytest.mark.parametrize("name,cols", [
    ("mall_customers.csv", ["Age", "Annual Income (k$)", "Spending Score (1-100)"]),
    ("country_data.csv", ["child_mort", "exports", "health", "imports", "income", "inflation",
                          "life_expec", "total_fer", "gdpp"]),
    ("pima_diabetes.csv", ["Pregnancies", "Glucose", "BloodPressure", "SkinThickness", "Insulin",
                           "BMI", "DiabetesPedigreeFunction", "Age"]),
    ("bank_churn.csv", ["credit_score", "age", "tenure", "balance", "products_number",
                        "estimated_salary"]),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_real_data_identical(name, cols, dtype):
    X = pd.read_csv(DATA / name)[cols].to_numpy(dtype=np.float64)[:2500]
    X = StandardScaler().fit_transform(X).astype(dtype)
    for kw in [dict(n_clusters=None, threshold=0.5), dict(n_clusters=3, threshold=0.8, branching_factor=10)]:
        a, b = _make(kw)
        a.fit(X)
        b.fit(X)
        _assert_same(a, b)


def test_raw_integer_data_with_exact_ties():
    # Unscaled integer-valued data: many exact distance ties and duplicates.
    X = pd.read_csv(DATA / "mall_customers.csv")[["Age", "Annual Income (k$)"]].to_numpy()
    X = np.vstack([X, X[:50]])
    for kw in [dict(n_clusters=None, threshold=3.0, branching_factor=4), dict(n_clusters=5, threshold=1.0)]:
        a, b = _make(kw)
        a.fit(X)
        b.fit(X)
        _assert_same(a, b)
    iris = load_iris().data
    a, b = _make(dict(n_clusters=3, threshold=0.3, branching_factor=5))
    _assert_same(a.fit(iris), b.fit(iris))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_chunks", [2, 7])
def test_partial_fit_in_chunks_identical(dtype, n_chunks):
    X, _ = make_blobs(1200, 4, centers=6, random_state=5)
    X = X.astype(dtype)
    a, b = _make(dict(n_clusters=4, threshold=0.7, branching_factor=6))
    for chunk in np.array_split(X, n_chunks):
        a.partial_fit(chunk)
        b.partial_fit(chunk)
        _assert_same(a, b)
    a.partial_fit()
    b.partial_fit()
    _assert_same(a, b)
    # fit after partial_fit starts a new tree, as scikit-learn
    a.fit(X[:300])
    b.fit(X[:300])
    _assert_same(a, b)


def test_partial_fit_survives_pickle_clone_and_deepcopy():
    X, _ = make_blobs(800, 3, centers=4, random_state=6)
    a = SkBirch(n_clusters=3, threshold=0.6, branching_factor=5).partial_fit(X[:400])
    b = Birch(n_clusters=3, threshold=0.6, branching_factor=5).partial_fit(X[:400])
    b = pickle.loads(pickle.dumps(b))
    b = copy.deepcopy(b)
    a.partial_fit(X[400:])
    b.partial_fit(X[400:])
    _assert_same(a, b)
    c = clone(b)
    assert not hasattr(c, "subcluster_centers_")


def test_sparse_input_identical():
    X, _ = make_blobs(400, 5, centers=4, random_state=7)
    X[X < 0] = 0
    Xs = sparse.csr_matrix(X)
    a, b = _make(dict(n_clusters=3, threshold=0.8))
    a.fit(Xs)
    b.fit(Xs)
    _assert_same(a, b)
    np.testing.assert_array_equal(a.predict(Xs), b.predict(Xs))


def test_not_enough_subclusters_warns_as_sklearn():
    X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0]])
    with pytest.warns(ConvergenceWarning, match="Number of subclusters found"):
        b = Birch(n_clusters=5, threshold=1.0).fit(X)
    a = SkBirch(n_clusters=5, threshold=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a.fit(X)
    _assert_same(a, b)


def test_compute_labels_false_and_no_input_mutation():
    X, _ = make_blobs(300, 2, random_state=0)
    X.setflags(write=False)
    before = X.copy()
    b = Birch(compute_labels=False).fit(X)
    assert not hasattr(b, "labels_")
    np.testing.assert_array_equal(X, before)


def test_native_state_is_validated():
    X = np.random.RandomState(0).rand(50, 2)
    b = Birch(n_clusters=None, threshold=0.1).fit(X)
    st = dict(b._cf_tree)
    st["node_subs"] = st["node_subs"].copy()
    st["node_subs"][0] = 10**6
    keys = ("n_features", "root", "node_is_leaf", "node_ptr", "node_subs", "leaf_order", "n_samples",
            "linear_sum", "squared_sum", "centroid", "sq_norm", "child")
    with pytest.raises(ValueError, match="Birch state"):
        native.birch_fit(X, 0.01, 50, lambda c, s: np.zeros((len(c), len(c))), tuple(st[k] for k in keys))
