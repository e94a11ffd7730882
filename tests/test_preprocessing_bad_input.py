"""CHECKLIST rows for StandardScaler and SimpleImputer: rml raises what scikit-learn raises."""

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.impute import SimpleImputer as SkSimpleImputer
from sklearn.preprocessing import StandardScaler as SkStandardScaler

from rml.impute import SimpleImputer
from rml.preprocessing import StandardScaler

PAIRS = [
    (StandardScaler, SkStandardScaler, {}),
    (SimpleImputer, SkSimpleImputer, {"strategy": "median"}),
    (SimpleImputer, SkSimpleImputer, {"strategy": "mean"}),
]
IDS = ["scaler", "imputer-median", "imputer-mean"]
X = np.random.default_rng(0).normal(size=(10, 3))


def same_outcome(ours, ref, call):
    """Both raise the same exception type and message, or both return equal arrays."""
    try:
        expected = call(ref)
    except Exception as e:  # noqa: BLE001 - the reference decides
        with pytest.raises(type(e)) as got:
            call(ours)
        assert str(got.value) == str(e)
        return
    np.testing.assert_allclose(np.asarray(call(ours), float), np.asarray(expected, float),
                               rtol=1e-12, equal_nan=True)


BAD_FIT = {
    "inf": np.array([[1.0, np.inf], [2.0, 3.0]]),
    "zero_samples": np.zeros((0, 3)),
    "zero_features": np.zeros((10, 0)),
    "one_d": np.arange(5.0),
    "three_d": np.zeros((2, 2, 2)),
    "complex": np.ones((3, 2), dtype=complex),
    "object_numbers": np.array([[1, 2.5], [3, 4]], dtype=object),
    "strings": np.array([["a", "b"], ["c", "d"]]),
    "ints": np.arange(12).reshape(6, 2),
    "bools": np.array([[True, False], [False, False], [True, True]]),
    "one_sample": np.array([[1.0, 2.0, 3.0]]),
    "one_feature": np.arange(7.0).reshape(-1, 1),
    "huge_tiny": np.array([[1e308, 1e-308], [-1e308, 2e-308], [5.0, 0.0]]),
    "list": [[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]],
}


@pytest.mark.parametrize("ours_cls,ref_cls,kw", PAIRS, ids=IDS)
@pytest.mark.parametrize("case", sorted(BAD_FIT))
def test_fit_transform_bad_inputs_like_sklearn(ours_cls, ref_cls, kw, case):
    data = BAD_FIT[case]
    with np.errstate(all="ignore"):
        same_outcome(ours_cls(**kw), ref_cls(**kw), lambda est: est.fit_transform(data))


@pytest.mark.parametrize("ours_cls,ref_cls,kw", PAIRS, ids=IDS)
def test_transform_errors_and_unfitted(ours_cls, ref_cls, kw):
    with pytest.raises(NotFittedError):
        ours_cls(**kw).transform(X)
    ours, ref = ours_cls(**kw).fit(X), ref_cls(**kw).fit(X)
    for bad in (np.array([[np.inf, 0, 0]]), X[:, :2], X[0], np.zeros((0, 3))):
        same_outcome(ours, ref, lambda est: est.transform(bad))


@pytest.mark.parametrize("ours_cls,ref_cls,kw", PAIRS, ids=IDS)
def test_dataframe_feature_name_warnings(ours_cls, ref_cls, kw):
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    ours = ours_cls(**kw).fit(df)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        ours.transform(X)
    with pytest.raises(ValueError, match="The feature names should match those that were passed"):
        ours.transform(df.rename(columns={"a": "z"}))


@pytest.mark.parametrize("weights", [
    [1.0] * 10, pd.Series(np.arange(10.0)), np.ones((10, 1)), np.ones(3), np.zeros(10),
    -np.ones(10),
])
def test_scaler_sample_weight_forms(weights):
    with np.errstate(all="ignore"):
        same_outcome(StandardScaler(), SkStandardScaler(),
                     lambda est: est.fit(X, sample_weight=weights).transform(X))


def test_invalid_parameters_at_fit():
    with pytest.raises(ValueError, match="The 'with_mean' parameter of StandardScaler must be"):
        StandardScaler(with_mean="yes").fit(X)
    with pytest.raises(ValueError, match="The 'copy' parameter of SimpleImputer must be"):
        SimpleImputer(copy=2).fit(X)
