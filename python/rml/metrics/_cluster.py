"""Silhouette, Calinski-Harabasz and Davies-Bouldin: scikit-learn's functions, Rust kernels.

Same signatures, parameter validation, error messages and label handling (labels are
encoded with scikit-learn's ``LabelEncoder``, so a noise label ``-1`` is just one more
cluster) as ``sklearn.metrics``.
"""

from numbers import Integral, Real

import numpy as np
from scipy.sparse import issparse

from rml._rml import cluster as _native
from rml.utils._cluster_metrics import (
    Interval,
    LabelEncoder,
    StrOptions,
    _VALID_METRICS,
    check_random_state,
    check_X_y,
    pairwise_distances,
    sk_silhouette_samples,
    validate_params,
)
from rml.utils._validation import as_native_float, n_jobs_arg

# metric name -> native metric name (p for minkowski comes from kwds)
_NATIVE_METRICS = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "manhattan": "manhattan",
    "cityblock": "manhattan",
    "l1": "manhattan",
    "chebyshev": "chebyshev",
    "minkowski": "minkowski",
}


def check_number_of_labels(n_labels, n_samples):
    """Check that 2 <= n_labels <= n_samples - 1 (scikit-learn's check and message)."""
    if not 1 < n_labels < n_samples:
        raise ValueError(
            "Number of labels is %d. Valid values are 2 to n_samples - 1 (inclusive)" % n_labels
        )


def _encode_labels(labels):
    """``LabelEncoder().fit_transform(labels)`` and the number of classes.

    Integer labels with a compact range are encoded in O(n) with a bincount (the same
    sorted-unique encoding LabelEncoder produces by sorting); anything else goes through
    scikit-learn's LabelEncoder.
    """
    labels = np.asarray(labels)
    if labels.ndim == 1 and labels.dtype.kind in "iu" and labels.size:
        lo, hi = int(labels.min()), int(labels.max())
        span = hi - lo
        if span <= 2 * labels.size + 1024:
            present = np.bincount((labels - lo).astype(np.intp), minlength=span + 1) > 0
            lookup = np.cumsum(present, dtype=np.int64) - 1
            return lookup[(labels - lo).astype(np.intp)], int(present.sum())
    le = LabelEncoder()
    enc = le.fit_transform(labels)
    return enc.astype(np.int64, copy=False), len(le.classes_)


def _native_plan(metric, kwds):
    """``(native metric, p, n_jobs)`` if the Rust kernel computes this call, else None."""
    if metric == "precomputed":
        extra = set(kwds) - {"n_jobs"}
        return None if extra else ("precomputed", 2.0, kwds.get("n_jobs"))
    if not isinstance(metric, str) or metric not in _NATIVE_METRICS:
        return None
    name = _NATIVE_METRICS[metric]
    allowed = {"n_jobs", "p"} if name == "minkowski" else {"n_jobs"}
    if set(kwds) - allowed:
        return None
    p = 2.0
    if name == "minkowski":
        p = kwds.get("p", 2)
        if not isinstance(p, Real) or isinstance(p, bool) or not p >= 1:
            return None  # scikit-learn / scipy raise their own error
        p = float(p)
    n_jobs = kwds.get("n_jobs")
    if n_jobs is not None and (not isinstance(n_jobs, Integral) or n_jobs == 0):
        return None
    return name, p, n_jobs


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "labels": ["array-like"],
        "metric": [StrOptions(set(_VALID_METRICS) | {"precomputed"}), callable],
        "sample_size": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None, **kwds):
    """Compute the mean Silhouette Coefficient of all samples.

    Same as :func:`sklearn.metrics.silhouette_score` (``(b - a) / max(a, b)`` per sample,
    ``a`` the mean intra-cluster distance, ``b`` the mean distance to the nearest other
    cluster), computed by :func:`silhouette_samples`.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_a, n_samples_a) if metric == \
            "precomputed" or (n_samples_a, n_features) otherwise
        An array of pairwise distances between samples, or a feature array.
    labels : array-like of shape (n_samples,)
        Predicted labels for each sample.
    metric : str or callable, default='euclidean'
        Natively computed: 'euclidean'/'l2', 'manhattan'/'cityblock'/'l1', 'chebyshev',
        'minkowski' (with ``p >= 1``) and 'precomputed'. Any other metric, a callable, other
        keyword arguments or sparse X are delegated to scikit-learn's implementation.
    sample_size : int, default=None
        Size of a random subset of the samples to use; None uses all samples.
    random_state : int, RandomState instance or None, default=None
        Selects the subset when ``sample_size`` is given, with the same call as scikit-learn
        (``check_random_state(random_state).permutation(n_samples)[:sample_size]``), so the
        same seed selects the same rows.
    **kwds : optional keyword parameters
        ``n_jobs`` (threads; None means all cores) and ``p`` (minkowski) are used natively.

    Returns
    -------
    silhouette : float
        Mean Silhouette Coefficient for all samples.
    """
    if sample_size is not None:
        X, labels = check_X_y(X, labels, accept_sparse=["csc", "csr"])
        random_state = check_random_state(random_state)
        indices = random_state.permutation(X.shape[0])[:sample_size]
        if metric == "precomputed":
            X, labels = X[indices].T[indices].T, labels[indices]
        else:
            X, labels = X[indices], labels[indices]
    return float(np.mean(silhouette_samples(X, labels, metric=metric, **kwds)))


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "labels": ["array-like"],
        "metric": [StrOptions(set(_VALID_METRICS) | {"precomputed"}), callable],
    },
    prefer_skip_nested_validation=True,
)
def silhouette_samples(X, labels, *, metric="euclidean", **kwds):
    """Compute the Silhouette Coefficient for each sample.

    Same results as :func:`sklearn.metrics.silhouette_samples`; samples of a singleton
    cluster get 0.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples_a, n_samples_a) if metric == \
            "precomputed" or (n_samples_a, n_features) otherwise
        An array of pairwise distances between samples, or a feature array.
    labels : array-like of shape (n_samples,)
        Label values for each sample.
    metric : str or callable, default='euclidean'
        See :func:`silhouette_score` for what runs natively and what is delegated.
    **kwds : optional keyword parameters
        ``n_jobs`` and ``p`` (minkowski) natively; anything else is delegated.

    Returns
    -------
    silhouette : ndarray of shape (n_samples,)
        Silhouette Coefficients for each sample (float32 for float32 X with the euclidean or
        precomputed metric, float64 otherwise, as scikit-learn).

    Notes
    -----
    Samples are grouped by label, then the distance matrix is computed in tiles of 64 query
    rows by 1024 columns and never held whole: for euclidean, each tile is one matrix product
    with scikit-learn's formula ``sqrt(max(|x|^2 - 2 x.y + |y|^2, 0))`` (the self distance
    is exactly 0), then per-cluster sums of each query row are contiguous segment sums in
    float64. Time O(n^2 d) (a GEMM), memory O(n d + threads * (64 k + 64 * 1024)) for k
    clusters. Distances are computed in float64 also for float32 X (scikit-learn computes
    float32 euclidean distances in float64 too, then rounds them to float32). Query chunks
    run in parallel and each query's sums are reduced in a fixed order: the result does not
    depend on ``n_jobs``. Other Minkowski metrics use exact row kernels
    (``sum |x - y|^p``), O(n^2 d) scalar work.
    """
    plan = _native_plan(metric, kwds)
    if plan is None or issparse(X):
        return sk_silhouette_samples(X, labels, metric=metric, **kwds)
    X, labels = check_X_y(X, labels, accept_sparse=["csr"])
    if issparse(X):  # pragma: no cover - check_X_y keeps dense input dense
        return sk_silhouette_samples(X, labels, metric=metric, **kwds)
    name, p, n_jobs = plan
    if metric == "precomputed":
        error_msg = ValueError(
            "The precomputed distance matrix contains non-zero elements on the diagonal. "
            "Use np.fill_diagonal(X, 0)."
        )
        if X.dtype.kind == "f":
            atol = np.finfo(X.dtype).eps * 100
            if np.any(np.abs(X.diagonal()) > atol):
                raise error_msg
        elif np.any(X.diagonal() != 0):
            raise error_msg
        if X.dtype not in (np.float32, np.float64):
            return sk_silhouette_samples(X, labels, metric=metric, **kwds)

    enc, n_labels = _encode_labels(labels)
    n_samples = len(enc)
    check_number_of_labels(n_labels, n_samples)
    enc = np.ascontiguousarray(enc, dtype=np.int64)
    if metric == "precomputed":
        if X.shape[0] != X.shape[1]:
            # scikit-learn's pairwise_distances_chunked message for a non-square matrix
            return sk_silhouette_samples(X, labels, metric=metric, **kwds)
        Xn = as_native_float(X, X.dtype)
        sil = _native.silhouette_samples_precomputed(Xn, enc, n_labels, n_jobs_arg(n_jobs))
        return sil.astype(X.dtype, copy=False)
    Xn = as_native_float(X)
    if name == "minkowski" and p == 2.0:
        name = "euclidean"
    sil = _native.silhouette_samples(Xn, enc, n_labels, name, p, n_jobs_arg(n_jobs))
    if name == "euclidean" and Xn.dtype == np.float32 and metric != "minkowski":
        sil = sil.astype(np.float32)
    return sil


def _dispersion(X, labels):
    """``(n_samples, n_labels, counts, sums, Σ‖x−c‖², Σ‖x−c‖)`` per encoded label.

    Validation is scikit-learn's ``check_X_y``; its finiteness check of X (a full pass over X)
    is fused into the native pass instead: any NaN/inf in X makes a per-cluster sum
    non-finite, and then the full ``check_X_y`` runs and raises scikit-learn's own error
    (as it does first for any other invalid input). Integer labels are encoded inside the
    native call in O(n) (the codes ``LabelEncoder`` gives: ranks of the sorted distinct
    values); other labels (strings, floats, very sparse integers) go through ``LabelEncoder``.
    """
    X_in, labels_in = X, labels
    try:
        X, labels = check_X_y(X, labels, ensure_all_finite=False)
    except Exception:
        check_X_y(X_in, labels_in)  # scikit-learn's first error, with its message
        raise
    n_samples = X.shape[0]
    Xn = as_native_float(X)
    out = None
    lab = np.asarray(labels)
    if lab.dtype.kind in "iu" and lab.size and (
        lab.dtype.kind == "i" or lab.dtype.itemsize < 8 or lab.max() <= np.iinfo(np.int64).max
    ):
        out = _native.cluster_dispersion_labels(Xn, lab.astype(np.int64, copy=False), None)
    if out is None:
        enc, n_labels = _encode_labels(labels)
        disp = _native.cluster_dispersion(Xn, np.ascontiguousarray(enc, dtype=np.int64), n_labels, None)
    else:
        n_labels, disp = out
    counts, sums, sum_sq, sum_dist = disp
    if not np.isfinite(sums).all():
        check_X_y(X_in, labels_in)  # raises scikit-learn's error if X is not finite
    check_number_of_labels(n_labels, n_samples)
    return n_samples, n_labels, counts, sums, sum_sq, sum_dist


@validate_params(
    {"X": ["array-like"], "labels": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def calinski_harabasz_score(X, labels):
    """Compute the Calinski and Harabasz score (Variance Ratio Criterion).

    Same as :func:`sklearn.metrics.calinski_harabasz_score`: the ratio of between-cluster
    to within-cluster dispersion, ``extra * (n - k) / (intra * (k - 1))``, 1.0 when the
    within-cluster dispersion is 0.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,)

    Returns
    -------
    score : float

    Notes
    -----
    One native call: integer labels encoded in O(n) (LabelEncoder's codes), per-cluster sums,
    then per-cluster sums of squared deviations from the centroid, both in float64 with
    fixed-order parallel reductions (O(n d) time, two reads of X — the finiteness check of X
    rides on the first — O(n / 8192 · k d) or O(n + k d) memory).
    """
    n_samples, n_labels, counts, sums, sum_sq, _ = _dispersion(X, labels)
    mean = sums.sum(axis=0) / n_samples
    mean_k = sums / counts[:, None]
    extra_disp = float(np.sum(counts * np.sum((mean_k - mean) ** 2, axis=1)))
    intra_disp = float(np.sum(sum_sq))
    return float(
        1.0
        if intra_disp == 0.0
        else extra_disp * (n_samples - n_labels) / (intra_disp * (n_labels - 1.0))
    )


@validate_params(
    {"X": ["array-like"], "labels": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def davies_bouldin_score(X, labels):
    """Compute the Davies-Bouldin score.

    Same as :func:`sklearn.metrics.davies_bouldin_score`: the mean over clusters of the
    largest ``(s_i + s_j) / d(c_i, c_j)``, ``s`` the mean distance of a cluster's samples to
    its centroid; 0.0 when every ``s`` or every centroid distance is (close to) 0.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,)

    Returns
    -------
    score : float

    Notes
    -----
    One native call computes the centroids and each cluster's summed euclidean distance to
    its centroid (computed directly, in float64); the k x k centroid part is scikit-learn's
    code on the k centroids.
    """
    _, _, counts, sums, _, sum_dist = _dispersion(X, labels)
    centroids = sums / counts[:, None]
    intra_dists = sum_dist / counts
    centroid_distances = pairwise_distances(centroids)
    if np.all(np.isclose(intra_dists, 0.0)) or np.all(np.isclose(centroid_distances, 0.0)):
        return 0.0
    centroid_distances[centroid_distances == 0] = np.inf
    combined_intra_dists = intra_dists[:, None] + intra_dists
    scores = np.max(combined_intra_dists / centroid_distances, axis=1)
    return float(np.mean(scores))
