"""scikit-learn private helpers used by rml's DBSCAN and OPTICS (one place to fix on upgrade)."""

import numpy as np
from sklearn.base import _fit_context
from sklearn.metrics.pairwise import _VALID_METRICS, PAIRWISE_BOOLEAN_FUNCTIONS
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "_fit_context",
    "_VALID_METRICS",
    "PAIRWISE_BOOLEAN_FUNCTIONS",
    "Interval",
    "StrOptions",
    "validate_params",
    "check_sample_weight",
    "resolve_metric",
    "check_precomputed",
    "check_algorithm",
]

# Metric names the rml kernels compute (exactly, in float64). Aliases as scikit-learn's.
_SUPPORTED = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "manhattan": "manhattan",
    "cityblock": "manhattan",
    "l1": "manhattan",
    "chebyshev": "chebyshev",
    "infinity": "chebyshev",
    "minkowski": "minkowski",
    "cosine": "cosine",
    "precomputed": "precomputed",
}


def check_sample_weight(sample_weight, X):
    """scikit-learn's ``_check_sample_weight`` (float64, shape and finiteness checks)."""
    return _check_sample_weight(sample_weight, X, dtype=np.float64)


def resolve_metric(estimator_name, metric, p, metric_params, default_p=2):
    """``(metric name, p)`` for the native call, as ``NearestNeighbors`` would resolve them.

    ``p`` applies to "minkowski" only (``metric_params["p"]`` wins over ``p``, as in
    scikit-learn). Metrics or parameters the native kernels do not compute raise
    ``NotImplementedError`` instead of being silently approximated.
    """
    if callable(metric) or metric not in _SUPPORTED:
        raise NotImplementedError(
            f"rml's {estimator_name} supports metric in {sorted(_SUPPORTED)}; got {metric!r}. "
            "Use scikit-learn's estimator for other metrics."
        )
    params = dict(metric_params or {})
    name = _SUPPORTED[metric]
    if name == "minkowski":
        p_eff = params.pop("p", default_p if p is None else p)
    else:
        params.pop("p", None)
        p_eff = 2.0
    if params:
        raise NotImplementedError(
            f"rml's {estimator_name} does not support metric_params {sorted(params)} "
            f"(only 'p' for metric='minkowski')."
        )
    p_eff = float(p_eff)
    if name == "minkowski":
        if not p_eff >= 1:
            raise NotImplementedError(
                f"rml's {estimator_name} supports minkowski with p >= 1 only (p < 1 is not a "
                f"metric); got p={p_eff}."
            )
        if p_eff == 1:
            name = "manhattan"
        elif p_eff == 2:
            name = "euclidean"
        elif np.isinf(p_eff):
            name = "chebyshev"
    return name, (p_eff if name == "minkowski" else 2.0)


def check_algorithm(metric, algorithm):
    """scikit-learn's error for a metric its tree does not support."""
    from sklearn.neighbors import VALID_METRICS

    if algorithm in ("kd_tree", "ball_tree") and metric not in VALID_METRICS[algorithm]:
        raise ValueError(
            "Metric '%s' not valid. Use "
            "sorted(sklearn.neighbors.VALID_METRICS['%s']) "
            "to get valid options. "
            "Metric can also be a callable function." % (metric, algorithm)
        )


def check_precomputed(X):
    """scikit-learn's checks on a dense precomputed distance matrix."""
    if X.shape[0] != X.shape[1]:
        raise ValueError(
            "Precomputed matrix must be square. Input is a {}x{} matrix.".format(*X.shape)
        )
    if (X < 0).any():
        raise ValueError("Negative values in data passed to X.")
