"""scikit-learn helpers used by rml's K-means family (the only place they are imported from).

Keeping every private import in this one file means a scikit-learn upgrade is one fix here.
"""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import (
    _check_sample_weight,
    _is_arraylike_not_scalar,
    check_array,
    check_is_fitted,
    check_random_state,
    validate_data,
)

__all__ = [
    "_fit_context",
    "Interval",
    "StrOptions",
    "validate_params",
    "row_norms",
    "_check_sample_weight",
    "_is_arraylike_not_scalar",
    "check_array",
    "check_is_fitted",
    "check_random_state",
    "validate_data",
]
