"""scikit-learn helpers used by ``rml.metrics`` (the only place it touches their private
modules, so a scikit-learn upgrade is one fix here)."""

from sklearn.metrics import calinski_harabasz_score as sk_calinski_harabasz_score
from sklearn.metrics import davies_bouldin_score as sk_davies_bouldin_score
from sklearn.metrics import silhouette_samples as sk_silhouette_samples
from sklearn.metrics.pairwise import _VALID_METRICS, pairwise_distances
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_X_y
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "Interval",
    "LabelEncoder",
    "StrOptions",
    "_VALID_METRICS",
    "check_X_y",
    "check_random_state",
    "pairwise_distances",
    "sk_calinski_harabasz_score",
    "sk_davies_bouldin_score",
    "sk_silhouette_samples",
    "validate_params",
]
