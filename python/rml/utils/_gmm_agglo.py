"""scikit-learn helpers used by rml's GaussianMixture and AgglomerativeClustering (the only
place they are imported from, so a scikit-learn upgrade is one fix here)."""

from sklearn.base import _fit_context
from sklearn.metrics._dist_metrics import METRIC_MAPPING64
from sklearn.utils._array_api import get_namespace
from sklearn.utils.validation import check_is_fitted, check_random_state, validate_data

__all__ = [
    "_fit_context",
    "METRIC_MAPPING64",
    "check_is_fitted",
    "check_random_state",
    "get_namespace",
    "validate_data",
]
