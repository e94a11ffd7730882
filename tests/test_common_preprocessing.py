"""scikit-learn's estimator checks over rml's StandardScaler and SimpleImputer."""

import numpy as np
from sklearn.utils.estimator_checks import parametrize_with_checks

from rml.impute import SimpleImputer
from rml.preprocessing import StandardScaler

ESTIMATORS = [
    StandardScaler(),
    StandardScaler(with_mean=False),
    StandardScaler(with_std=False),
    SimpleImputer(),
    SimpleImputer(strategy="median"),
    SimpleImputer(strategy="most_frequent"),
    SimpleImputer(strategy="constant"),
    SimpleImputer(strategy="median", add_indicator=True),
    SimpleImputer(strategy="median", missing_values=-1.0),
]


def expected_failed_checks(estimator):
    # scikit-learn's own SimpleImputer(strategy="most_frequent" or "constant") fails this check
    # the same way (an object array of dicts is accepted instead of raising TypeError, or
    # scipy's mode raises "unhashable type: 'dict'"); scikit-learn
    # only runs its checks on the default strategy, so it lists nothing. Same code path here
    # (delegated), same failure.
    if isinstance(estimator, SimpleImputer) and estimator.strategy in ("most_frequent", "constant"):
        return {"check_dtype_object": "delegated to scikit-learn, which fails it identically"}
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)
