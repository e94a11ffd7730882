"""scikit-learn private helpers used by MiniBatchKMeans (one place to fix on an upgrade)."""

from sklearn.base import _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import _check_sample_weight, _is_arraylike_not_scalar

__all__ = [
    "Interval",
    "StrOptions",
    "check_sample_weight",
    "fit_context",
    "is_arraylike_not_scalar",
]

fit_context = _fit_context
check_sample_weight = _check_sample_weight
is_arraylike_not_scalar = _is_arraylike_not_scalar
