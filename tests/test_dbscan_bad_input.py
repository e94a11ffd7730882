"""CHECKLIST rows that apply to DBSCAN and OPTICS: scikit-learn's errors, never a crash."""

import pickle
import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster as skc
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from rml.cluster import DBSCAN, OPTICS

ESTIMATORS = [DBSCAN, OPTICS]
SK = {DBSCAN: skc.DBSCAN, OPTICS: skc.OPTICS}


def _X(n=30, d=3, seed=0):
    return np.random.RandomState(seed).normal(size=(n, d))


def _sk_error(Est, X, **kw):
    with pytest.raises(Exception) as e:
        SK[Est](**kw).fit(X)
    return e.type, str(e.value)


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "X",
    [
        np.array([[1.0, np.nan], [0.0, 1.0], [2.0, 2.0]]),
        np.array([[1.0, np.inf], [0.0, 1.0], [2.0, 2.0]]),
        np.zeros((0, 3)),
        np.zeros((10, 0)),
        np.arange(5.0),
        np.zeros((2, 2, 2)),
        np.array([[1 + 1j, 2], [3, 4]]),
        np.array([["a", "b"], ["c", "d"]], dtype=object),
    ],
    ids=["nan", "inf", "0_samples", "0_features", "1d", "3d", "complex", "strings"],
)
def test_same_error_as_sklearn(Est, X):
    etype, msg = _sk_error(Est, X)
    with pytest.raises(etype, match=re.escape(msg[:60])):
        Est().fit(X)


@pytest.mark.parametrize(
    "Est,kw",
    [
        (DBSCAN, {"eps": 0}),
        (DBSCAN, {"eps": -1.0}),
        (DBSCAN, {"eps": np.nan}),
        (DBSCAN, {"min_samples": 0}),
        (DBSCAN, {"min_samples": 2.5}),
        (DBSCAN, {"metric": "nope"}),
        (DBSCAN, {"algorithm": "nope"}),
        (DBSCAN, {"leaf_size": 0}),
        (DBSCAN, {"p": -1}),
        (OPTICS, {"min_samples": 1}),
        (OPTICS, {"min_samples": 1.5}),
        (OPTICS, {"max_eps": -1}),
        (OPTICS, {"xi": 2.0}),
        (OPTICS, {"cluster_method": "nope"}),
        (OPTICS, {"p": 0.5}),
        (OPTICS, {"memory": 3}),
    ],
)
def test_invalid_parameters_raise_at_fit_with_sklearns_message(Est, kw):
    est = Est(**kw)  # __init__ stores only
    etype, msg = _sk_error(Est, _X(), **kw)
    assert etype is InvalidParameterError
    with pytest.raises(InvalidParameterError, match=re.escape(msg)):
        est.fit(_X())


def test_eps_message_matches_checklist():
    with pytest.raises(
        InvalidParameterError,
        match=re.escape("The 'eps' parameter of DBSCAN must be a float in the range (0.0, inf). Got 0 instead."),
    ):
        DBSCAN(eps=0).fit(_X())


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_sparse_input_is_a_clean_type_error(Est):
    with pytest.raises(TypeError, match="[Ss]parse"):
        Est().fit(sp.csr_matrix(_X()))


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_unsupported_metric_is_not_silently_approximated(Est):
    with pytest.raises(NotImplementedError, match="metric"):
        Est(metric="correlation").fit(_X())
    with pytest.raises(NotImplementedError, match="metric"):
        Est(metric=lambda a, b: 0.0).fit(_X())
    with pytest.raises(NotImplementedError, match="metric_params"):
        Est(metric="minkowski", metric_params={"w": np.ones(3)}).fit(_X())


def test_minkowski_p_below_one_is_rejected_clearly():
    with pytest.raises(NotImplementedError, match="p >= 1"):
        DBSCAN(metric="minkowski", p=0.5).fit(_X())


def test_kd_tree_with_cosine_is_rejected():
    with pytest.raises(ValueError, match="cosine"):
        DBSCAN(metric="cosine", algorithm="kd_tree").fit(_X())


def test_precomputed_checks():
    with pytest.raises(ValueError, match="Precomputed matrix must be square. Input is a 3x4 matrix."):
        DBSCAN(metric="precomputed").fit(np.ones((3, 4)))
    with pytest.raises(ValueError, match="Negative values in data passed to X."):
        OPTICS(metric="precomputed", min_samples=2).fit(-np.ones((3, 3)))


def test_one_sample_and_all_identical_points():
    assert DBSCAN().fit(np.zeros((1, 2))).labels_.tolist() == [-1]
    assert DBSCAN(min_samples=1).fit(np.zeros((1, 2))).labels_.tolist() == [0]
    X = np.ones((200, 3))
    np.testing.assert_array_equal(DBSCAN().fit(X).labels_, skc.DBSCAN().fit(X).labels_)
    a, b = OPTICS().fit(X), skc.OPTICS().fit(X)
    np.testing.assert_array_equal(a.ordering_, b.ordering_)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    with pytest.raises(ValueError, match="n_samples = 1"):
        OPTICS(min_samples=1.0).fit(np.zeros((1, 2)))
    with pytest.raises(ValueError, match=re.escape("min_samples must be no greater than the number of samples (3). Got 5")):
        OPTICS().fit(np.zeros((3, 2)))


@pytest.mark.parametrize("eps", [1e-300, 1e-12, 1e6, 1e300, np.inf])
def test_tiny_and_huge_eps(eps):
    X = _X(100, 2)
    kw = dict(eps=eps, min_samples=3)
    try:
        want = skc.DBSCAN(**kw).fit(X).labels_
    except InvalidParameterError as e:
        with pytest.raises(InvalidParameterError, match=re.escape(str(e))):
            DBSCAN(**kw).fit(X)
        return
    np.testing.assert_array_equal(DBSCAN(**kw).fit(X).labels_, want)


def test_huge_and_tiny_values_do_not_crash():
    X = np.array([[1e308, 0.0], [-1e308, 0.0], [1e-308, 0.0], [0.0, 0.0], [5e-324, 1.0]] * 4)
    for kw in [dict(eps=0.5, min_samples=2), dict(eps=1e300, min_samples=2)]:
        np.testing.assert_array_equal(DBSCAN(**kw).fit(X).labels_, skc.DBSCAN(**kw).fit(X).labels_)
    o = OPTICS(min_samples=2).fit(X)
    assert sorted(o.ordering_.tolist()) == list(range(len(X)))


@pytest.mark.parametrize(
    "make",
    [
        lambda X: X.astype(">f8"),
        lambda X: np.asfortranarray(X),
        lambda X: np.repeat(X, 2, axis=0)[::2],
        lambda X: X.astype(np.int64),
        lambda X: X.astype(object),
        lambda X: X.tolist(),
    ],
    ids=["big_endian", "fortran", "strided", "int", "object", "list"],
)
def test_layouts_and_dtypes_give_identical_labels(make):
    X = np.round(_X(120, 2) * 3)
    want = DBSCAN(eps=1.5, min_samples=3).fit(X).labels_
    np.testing.assert_array_equal(DBSCAN(eps=1.5, min_samples=3).fit(make(X)).labels_, want)
    np.testing.assert_array_equal(
        OPTICS(min_samples=3).fit(make(X)).ordering_, OPTICS(min_samples=3).fit(X).ordering_
    )


def test_read_only_input_and_no_mutation():
    X = _X(80, 2)
    w = np.abs(_X(80, 1)).ravel()
    X.setflags(write=False)
    w.setflags(write=False)
    Xc, wc = X.copy(), w.copy()
    DBSCAN(eps=0.4).fit(X, sample_weight=w)
    OPTICS().fit(X)
    np.testing.assert_array_equal(X, Xc)
    np.testing.assert_array_equal(w, wc)


def test_sample_weight_errors_as_sklearn():
    X = _X(10, 2)
    for w in [np.ones(3), np.ones((10, 2)), np.array([np.nan] + [1.0] * 9)]:
        with pytest.raises(ValueError) as e:
            skc.DBSCAN().fit(X, sample_weight=w)
        with pytest.raises(ValueError, match=re.escape(str(e.value)[:50])):
            DBSCAN().fit(X, sample_weight=w)
    import pandas as pd

    w = np.arange(10.0)
    np.testing.assert_array_equal(
        DBSCAN(eps=1.0, min_samples=3).fit(X, sample_weight=list(w)).labels_,
        DBSCAN(eps=1.0, min_samples=3).fit(X, sample_weight=pd.Series(w)).labels_,
    )


def test_dataframe_sets_feature_names():
    import pandas as pd

    df = pd.DataFrame(_X(40, 2), columns=["a", "b"])
    for Est in ESTIMATORS:
        assert list(Est().fit(df).feature_names_in_) == ["a", "b"]


def test_pickle_clone_determinism():
    X = _X(200, 2)
    for est in [DBSCAN(eps=0.3), OPTICS()]:
        a = est.fit(X)
        b = pickle.loads(pickle.dumps(a))
        np.testing.assert_array_equal(a.labels_, b.labels_)
        c = clone(a).fit(X)
        np.testing.assert_array_equal(a.labels_, c.labels_)


def test_n_jobs_zero_and_bad_type():
    with pytest.raises(ValueError, match="n_jobs == 0"):
        DBSCAN(n_jobs=0).fit(_X())
    with pytest.raises(InvalidParameterError):
        OPTICS(n_jobs=1.5).fit(_X())


def test_keyboard_interrupt_is_not_swallowed_by_a_panic():
    # A kernel never panics on the checklist inputs: fuzz small random inputs.
    rng = np.random.RandomState(0)
    for _ in range(30):
        n, d = rng.randint(1, 20), rng.randint(1, 4)
        X = rng.choice([0.0, 1.0, -1.0, 1e-300, 1e300], size=(n, d))
        DBSCAN(eps=rng.choice([1e-3, 1.0, 1e301]), min_samples=rng.randint(1, 5)).fit(X)
        if n >= 2:
            OPTICS(min_samples=2, max_eps=rng.choice([0.0, 1.0, np.inf])).fit(X)
