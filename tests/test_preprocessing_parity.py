"""rml.preprocessing.StandardScaler and rml.impute.SimpleImputer against scikit-learn."""

import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import sparse as sp
from sklearn.base import clone
from sklearn.impute import SimpleImputer as SkSimpleImputer
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from rml.impute import SimpleImputer
from rml.preprocessing import StandardScaler

DATA = Path(__file__).resolve().parent.parent / "data"
SEED_CSVS = ["bank_churn", "country_data", "mall_customers", "pima_diabetes", "social_network_ads"]
RTOL = 1e-12


def numeric_csv(name, nan_frac=0.1, seed=0):
    df = pd.read_csv(DATA / f"{name}.csv").select_dtypes("number")
    X = df.to_numpy(dtype=np.float64)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < nan_frac] = np.nan
    return X


def random_data(n=500, d=6, nan_frac=0.1, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(loc=rng.uniform(-50, 50, d), scale=rng.uniform(0.1, 20, d), size=(n, d))
    X[rng.random(X.shape) < nan_frac] = np.nan
    return X.astype(dtype)


def assert_close(a, b, rtol=RTOL, atol=0.0):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                               rtol=rtol, atol=atol, equal_nan=True)


def assert_transform_close(A, B, ref, inverse=False, rtol=RTOL):
    """Relative comparison with a per-column absolute floor: when the statistics differ in
    their last bit, an output near 0 differs by ~ulp(mean)/scale, which no relative bound
    can absorb (the same holds between two numpy summation orders)."""
    mean = np.zeros(A.shape[1]) if ref.mean_ is None or not ref.with_mean else np.abs(ref.mean_)
    scale = np.ones(A.shape[1]) if ref.scale_ is None else ref.scale_
    floor = (mean + scale) if inverse else (mean / scale + 1.0)
    diff = np.abs(np.asarray(A, float) - np.asarray(B, float))
    bound = rtol * (np.abs(np.asarray(B, float)) + floor[None, :])
    bad = ~((diff <= bound) | (np.isnan(A) & np.isnan(B)))
    assert not bad.any(), f"{bad.sum()} elements differ, max diff {np.nanmax(diff)}"


def assert_same_attrs(ours, ref, rtol=RTOL):
    for name in ("mean_", "var_", "scale_"):
        assert_close(getattr(ours, name), getattr(ref, name), rtol=rtol)
    assert np.shape(ours.n_samples_seen_) == np.shape(ref.n_samples_seen_)
    assert np.asarray(ours.n_samples_seen_).dtype == np.asarray(ref.n_samples_seen_).dtype
    assert_close(ours.n_samples_seen_, ref.n_samples_seen_, rtol=0)


DATASETS = [("random", lambda: random_data())] + [(n, (lambda n=n: numeric_csv(n))) for n in SEED_CSVS]


# ------------------------------------------------------------------------------ StandardScaler
@pytest.mark.parametrize("name,make", DATASETS)
@pytest.mark.parametrize("with_mean,with_std", [(True, True), (False, True), (True, False), (False, False)])
def test_scaler_matches_sklearn(name, make, with_mean, with_std):
    X = make()
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    ref = SkStandardScaler(with_mean=with_mean, with_std=with_std).fit(X)
    assert_same_attrs(ours, ref)
    assert_transform_close(ours.transform(X), ref.transform(X), ref)
    Z = ref.transform(X)
    assert_transform_close(ours.inverse_transform(Z), ref.inverse_transform(Z), ref, inverse=True)


@pytest.mark.parametrize("seed", range(3))
def test_scaler_sample_weight(seed):
    X = random_data(seed=seed)
    w = np.random.default_rng(seed).uniform(0, 3, X.shape[0])
    w[:10] = 0
    ours = StandardScaler().fit(X, sample_weight=w)
    ref = SkStandardScaler().fit(X, sample_weight=w)
    assert_same_attrs(ours, ref)
    assert_transform_close(ours.transform(X), ref.transform(X), ref)


def test_scaler_integer_weight_equals_repetition():
    X = random_data(n=50, nan_frac=0.0)
    w = np.arange(50) % 3
    a = StandardScaler().fit(X, sample_weight=w)
    b = StandardScaler().fit(np.repeat(X, w, axis=0))
    assert_close(a.mean_, b.mean_, rtol=1e-12)
    assert_close(a.var_, b.var_, rtol=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_scaler_partial_fit_matches_sklearn(weighted):
    X = random_data(n=900, seed=3)
    w = np.random.default_rng(1).uniform(0.5, 2, 900) if weighted else None
    ours, ref = StandardScaler(), SkStandardScaler()
    for lo, hi in [(0, 1), (1, 300), (300, 301), (301, 900)]:
        sw = None if w is None else w[lo:hi]
        ours.partial_fit(X[lo:hi], sample_weight=sw)
        ref.partial_fit(X[lo:hi], sample_weight=sw)
        assert_same_attrs(ours, ref, rtol=1e-11)
    assert_transform_close(ours.transform(X), ref.transform(X), ref, rtol=1e-11)


def test_scaler_partial_fit_without_nan_keeps_int_count():
    X = random_data(nan_frac=0.0)
    ours, ref = StandardScaler(), SkStandardScaler()
    for part in np.array_split(X, 3):
        ours.partial_fit(part)
        ref.partial_fit(part)
    assert type(ours.n_samples_seen_) is type(ref.n_samples_seen_)
    assert ours.n_samples_seen_ == ref.n_samples_seen_ == X.shape[0]


def test_scaler_zero_variance_and_constant_columns():
    X = np.column_stack([np.full(20, 3.0), np.full(20, 1e10 + 0.1), np.arange(20.0), np.zeros(20)])
    ours, ref = StandardScaler().fit(X), SkStandardScaler().fit(X)
    assert_same_attrs(ours, ref)
    assert_close(ours.scale_, ref.scale_, rtol=0)
    assert_close(ours.transform(X), ref.transform(X))


def test_scaler_all_nan_column_and_one_sample():
    X = random_data(n=30)
    X[:, 2] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours, ref = StandardScaler().fit(X), SkStandardScaler().fit(X)
    assert_same_attrs(ours, ref)
    assert_close(ours.transform(X), ref.transform(X))
    one = np.array([[1.5, -2.0, 7.0]])
    assert_close(StandardScaler().fit_transform(one), np.zeros_like(one))


def test_scaler_float32_preserved():
    X = random_data(dtype=np.float32)
    ours, ref = StandardScaler().fit(X), SkStandardScaler().fit(X)
    Xt = ours.transform(X)
    assert Xt.dtype == np.float32
    assert ours.mean_.dtype == ref.mean_.dtype == np.float64
    assert_same_attrs(ours, ref, rtol=1e-10)
    np.testing.assert_array_equal(Xt, ref.transform(X))  # same stats -> same float32 ops
    assert ours.inverse_transform(Xt).dtype == np.float32


def test_scaler_copy_false_is_in_place_and_copy_true_is_not():
    X = random_data()
    X0 = X.copy()
    s = StandardScaler().fit(X)
    Y = s.transform(X)
    np.testing.assert_array_equal(X, X0)  # caller's array untouched
    Z = s.transform(X, copy=False)
    assert Z is X
    assert_close(Z, Y, rtol=0)
    s2 = StandardScaler(copy=False).fit(X0)
    W = s2.inverse_transform(Y)
    assert W is Y


def test_scaler_read_only_and_layouts():
    X = random_data()
    ref = SkStandardScaler().fit(X)
    expected = ref.transform(X)
    ro = X.copy()
    ro.setflags(write=False)
    for variant in (ro, np.asfortranarray(X), X.astype(">f8"), np.repeat(X, 2, axis=1)[:, ::2]):
        s = StandardScaler(copy=False).fit(variant)
        assert_close(s.transform(variant), expected)
    np.testing.assert_array_equal(ro, X)


def test_scaler_sparse_is_delegated():
    X = sp.random(40, 5, density=0.3, format="csr", random_state=0)
    ours, ref = StandardScaler(with_mean=False).fit(X), SkStandardScaler(with_mean=False).fit(X)
    assert_close(ours.var_, ref.var_)
    assert_close(ours.transform(X).toarray(), ref.transform(X).toarray())
    with pytest.raises(ValueError, match="Cannot center sparse matrices"):
        StandardScaler().fit(X)


def test_scaler_pandas_names_set_output_and_pickle():
    X = pd.DataFrame(random_data(d=3), columns=["a", "b", "c"])
    s = StandardScaler().set_output(transform="pandas").fit(X)
    out = s.transform(X)
    assert list(out.columns) == ["a", "b", "c"]
    assert list(s.get_feature_names_out()) == ["a", "b", "c"]
    s2 = pickle.loads(pickle.dumps(s))
    pd.testing.assert_frame_equal(s2.transform(X), out)
    assert_close(clone(s).fit(X).mean_, s.mean_, rtol=0)


def test_scaler_bad_input_messages():
    with pytest.raises(ValueError, match="Expected 2D array"):
        StandardScaler().fit(np.arange(5.0))
    with pytest.raises(ValueError, match="0 sample"):
        StandardScaler().fit(np.zeros((0, 3)))
    with pytest.raises(ValueError, match="contains infinity"):
        StandardScaler().fit(np.array([[1.0], [np.inf]]))
    s = StandardScaler().fit(random_data(d=3))
    with pytest.raises(ValueError, match="X has 2 features, but StandardScaler is expecting 3"):
        s.transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(500,\)"):
        StandardScaler().fit(random_data(d=3), sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="Complex data not supported"):
        StandardScaler().fit(np.ones((3, 2), dtype=complex))


def test_scaler_same_result_for_any_thread_count(monkeypatch):
    X = random_data(n=20000, d=4)
    a = StandardScaler().fit(X)
    monkeypatch.setenv("RML_NUM_THREADS", "1")
    b = StandardScaler().fit(X)
    np.testing.assert_array_equal(a.var_, b.var_)
    np.testing.assert_array_equal(a.mean_, b.mean_)


# ------------------------------------------------------------------------------- SimpleImputer
STRATEGIES = ["mean", "median", "most_frequent", "constant"]


def _both(est_kwargs, X, Xt=None):
    Xt = X if Xt is None else Xt
    ours, ref = SimpleImputer(**est_kwargs).fit(X), SkSimpleImputer(**est_kwargs).fit(X)
    with warnings.catch_warnings(record=True) as w1:
        warnings.simplefilter("always")
        A = ours.transform(Xt)
    with warnings.catch_warnings(record=True) as w2:
        warnings.simplefilter("always")
        B = ref.transform(Xt)
    assert [str(w.message) for w in w1] == [str(w.message) for w in w2]
    return ours, ref, A, B


@pytest.mark.parametrize("name,make", DATASETS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_imputer_matches_sklearn(name, make, strategy):
    X = make()
    ours, ref, A, B = _both({"strategy": strategy}, X)
    assert A.shape == B.shape and A.dtype == B.dtype
    assert_close(A, B)
    assert ours.statistics_.dtype == ref.statistics_.dtype
    assert_close(ours.statistics_.astype(float), ref.statistics_.astype(float))


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("add_indicator", [False, True])
@pytest.mark.parametrize("keep_empty_features", [False, True])
def test_imputer_empty_columns_indicator_and_keep(strategy, add_indicator, keep_empty_features):
    X = random_data(n=60, seed=4)
    X[:, 1] = np.nan
    kw = dict(strategy=strategy, add_indicator=add_indicator, keep_empty_features=keep_empty_features)
    ours, ref, A, B = _both(kw, X)
    assert A.shape == B.shape
    assert_close(A, B)
    np.testing.assert_array_equal(ours.get_feature_names_out(), ref.get_feature_names_out())
    if add_indicator:
        np.testing.assert_array_equal(ours.indicator_.features_, ref.indicator_.features_)
        if not keep_empty_features:  # scikit-learn 1.9's inverse_transform fails with both on
            assert_close(ours.inverse_transform(A), ref.inverse_transform(B))
    else:
        assert ours.indicator_ is None


def test_imputer_median_even_count_and_ties():
    X = np.array([[1.0, 5.0], [2.0, np.nan], [np.nan, 5.0], [4.0, 7.0], [3.0, 7.0], [np.nan, 1.0]])
    for strategy in STRATEGIES:
        ours, ref, A, B = _both({"strategy": strategy}, X)
        assert_close(A, B, rtol=0)
    # most frequent tie: smallest value wins, as scikit-learn
    assert SimpleImputer(strategy="most_frequent").fit(X).statistics_[1] == 5.0


@pytest.mark.parametrize("missing", [0.0, -1, 999.5])
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_imputer_numeric_missing_marker(missing, strategy):
    rng = np.random.default_rng(2)
    X = rng.integers(0, 5, size=(80, 4)).astype(float)
    X[rng.random(X.shape) < 0.2] = missing
    ours, ref, A, B = _both({"strategy": strategy, "missing_values": missing}, X)
    assert_close(A, B, rtol=0)


@pytest.mark.parametrize("strategy", ["mean", "median"])
def test_imputer_float32(strategy):
    X = random_data(dtype=np.float32)
    ours, ref, A, B = _both({"strategy": strategy}, X)
    assert A.dtype == B.dtype == np.float32
    assert ours.statistics_.dtype == ref.statistics_.dtype
    assert_close(A, B, rtol=1e-6)
    if strategy == "median":
        assert_close(A, B, rtol=0)  # selection finds the same float32 values


def test_imputer_integer_and_object_data_delegated():
    Xi = np.array([[1, 2], [-1, 3], [7, -1], [1, 3]])
    for strategy in STRATEGIES:
        ours, ref, A, B = _both({"strategy": strategy, "missing_values": -1}, Xi)
        np.testing.assert_array_equal(A, B)
        assert A.dtype == B.dtype
    Xo = np.array([["a", "x"], [np.nan, "y"], ["a", np.nan], ["b", "y"]], dtype=object)
    ours, ref, A, B = _both({"strategy": "most_frequent"}, Xo)
    np.testing.assert_array_equal(A, B)


def test_imputer_copy_semantics_and_no_mutation():
    X = random_data(seed=5)
    X0 = X.copy()
    imp = SimpleImputer(strategy="median").fit(X)
    Y = imp.transform(X)
    np.testing.assert_array_equal(X, X0)
    imp2 = SimpleImputer(strategy="median", copy=False).fit(X)
    np.testing.assert_array_equal(X, X0)
    Z = imp2.transform(X)
    assert Z is X
    np.testing.assert_array_equal(Z, Y)
    ro = X0.copy()
    ro.setflags(write=False)
    np.testing.assert_array_equal(imp2.transform(ro), Y)


def test_imputer_pandas_sparse_and_pickle():
    X = pd.DataFrame(random_data(d=3), columns=["a", "b", "c"])
    X["b"] = np.nan
    kw = {"strategy": "median"}
    ours = SimpleImputer(**kw).set_output(transform="pandas").fit(X)
    with pytest.warns(UserWarning, match=r"Skipping features without any observed values: \['b'\]"):
        out = ours.transform(X)
    assert list(out.columns) == ["a", "c"]
    s = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(s.statistics_, ours.statistics_)
    Xs = sp.random(30, 4, density=0.5, format="csc", random_state=0)
    Xs.data[::3] = np.nan
    ours, ref, A, B = _both({"strategy": "median"}, Xs)
    assert_close(A.toarray(), B.toarray())


def test_imputer_bad_input_messages():
    with pytest.raises(ValueError, match="Cannot use median strategy with non-numeric data"):
        SimpleImputer(strategy="median").fit([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        SimpleImputer(missing_values=0).fit(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="The 'strategy' parameter of SimpleImputer must be"):
        SimpleImputer(strategy="mode").fit([[1.0]])
    imp = SimpleImputer().fit(np.ones((3, 3)))
    with pytest.raises(ValueError, match="X has 2 features, but SimpleImputer is expecting 3"):
        imp.transform(np.ones((2, 2)))
    with pytest.raises(ValueError, match="Found array with 0 sample"):
        SimpleImputer().fit(np.zeros((0, 2)))


def test_imputer_same_result_for_any_thread_count(monkeypatch):
    X = random_data(n=5000, d=9)
    a = SimpleImputer(strategy="mean").fit(X).statistics_
    m = SimpleImputer(strategy="median").fit(X).statistics_
    monkeypatch.setenv("RML_NUM_THREADS", "1")
    np.testing.assert_array_equal(SimpleImputer(strategy="mean").fit(X).statistics_, a)
    np.testing.assert_array_equal(SimpleImputer(strategy="median").fit(X).statistics_, m)
