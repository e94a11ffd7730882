"""scikit-learn private helpers used by MiniBatchKMeans (one place to fix on an upgrade)."""

from sklearn.base import _fit_context
from sklearn.cluster._kmeans import _kmeans_plusplus
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.parallel import _get_threadpool_controller
from sklearn.utils.validation import _check_sample_weight, _is_arraylike_not_scalar

__all__ = [
    "Interval",
    "StrOptions",
    "check_sample_weight",
    "fit_context",
    "is_arraylike_not_scalar",
    "sklearn_kmeans_plusplus",
]

fit_context = _fit_context
check_sample_weight = _check_sample_weight
is_arraylike_not_scalar = _is_arraylike_not_scalar


def sklearn_kmeans_plusplus(X, n_clusters, x_squared_norms, sample_weight, random_state):
    """scikit-learn's greedy k-means++ (``_kmeans_plusplus``), returning the centres only.

    Used on MiniBatchKMeans's ``init_size`` subsample so that the initial centres, and the
    random numbers they consume, are exactly scikit-learn's for the same ``random_state``.
    """
    # The subsample is small (3 * batch_size rows by default): one BLAS thread is as fast
    # and does not spin on a busy machine.
    with _get_threadpool_controller().limit(limits=1, user_api="blas"):
        centers, _ = _kmeans_plusplus(
            X,
            n_clusters,
            random_state=random_state,
            x_squared_norms=x_squared_norms,
            sample_weight=sample_weight,
        )
    return centers
