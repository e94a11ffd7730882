"""DBSCAN with scikit-learn's labels, computed in Rust in bounded memory."""

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import DBSCAN as _SkDBSCAN
from sklearn.utils.validation import validate_data

from rml import _rml
from rml.utils import as_native_float, n_jobs_arg
from rml.utils._dbscan import _fit_context, check_algorithm, check_precomputed, check_sample_weight, resolve_metric


class DBSCAN(ClusterMixin, BaseEstimator):
    """Density-Based Spatial Clustering of Applications with Noise, with a Rust engine.

    A drop-in replacement for :class:`sklearn.cluster.DBSCAN`: same parameters, defaults,
    validation messages and attributes, and the same ``labels_`` (cluster numbering
    included) and ``core_sample_indices_``.

    Unlike scikit-learn, rml never holds every eps-neighbourhood at once. One streamed pass
    over chunks of radius queries finds core samples and merges core-core edges in a
    union-find whose root is the smallest index (so clusters are numbered as scikit-learn's
    index-order depth-first search numbers them); a second pass re-queries only the non-core
    samples next to a core sample and gives each the smallest neighbouring cluster label
    (the first cluster scikit-learn's search would reach it from). Without
    ``sample_weight``, with the euclidean (or sqeuclidean) metric on the KD-tree, a faster
    path decides the same neighbour pairs with the same arithmetic but far fewer of them:
    core counts stop at ``min_samples``, and components are linked while skipping samples
    and subtrees already known to be connected (see ``docs/dbscan_optics.md``).

    Parameters
    ----------
    eps : float, default=0.5
        Maximum distance for two samples to be neighbours (inclusive: ``dist <= eps``).
    min_samples : int, default=5
        Weight (count, or sum of ``sample_weight``) of a neighbourhood, the sample itself
        included, for the sample to be a core sample.
    metric : str, default='euclidean'
        'euclidean', 'l2', 'sqeuclidean', 'manhattan', 'cityblock', 'l1', 'chebyshev',
        'infinity', 'minkowski' (p >= 1), 'cosine' or 'precomputed' (a dense square distance
        matrix). Other scikit-learn metrics and callables raise ``NotImplementedError``.
    metric_params : dict, default=None
        Only ``{'p': value}`` with ``metric='minkowski'`` is supported.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        Neighbour index. 'ball_tree' is served by the KD-tree (same neighbours: distances are
        exact in every index). 'kd_tree'/'ball_tree' reject 'cosine' as scikit-learn does.
    leaf_size : int, default=30
        Leaf size of the KD-tree.
    p : float, default=None
        Minkowski power (``metric='minkowski'`` only); None means 2.
    n_jobs : int, default=None
        Threads for the neighbour queries (None or -1: all cores). Labels do not depend on it.

    Attributes
    ----------
    core_sample_indices_ : ndarray of shape (n_core_samples,)
    components_ : ndarray of shape (n_core_samples, n_features)
        Copy of each core sample (in the input's dtype).
    labels_ : ndarray of shape (n_samples,)
        Cluster labels; noise is -1.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Complexity: two radius-query passes over the data (the second only over border
    candidates), each O(n log n + total neighbours) with the KD-tree; memory O(n) plus one
    chunk of neighbourhoods (a few million entries), never O(total neighbours). The
    unweighted euclidean KD-tree path does much less than one full query per sample (core
    counts stop at ``min_samples``; linking skips already-connected samples) in memory O(n)
    plus the short neighbour lists of non-core samples (within the same chunk budget).

    Dtype: float32 input is widened exactly to float64 for the distance computations,
    because scikit-learn's KD-tree (its choice for low-dimensional data) computes in float64;
    computing in float32 would move the ``eps`` boundary. ``components_`` keeps the input dtype.

    Ties and rounding: distances are computed exactly (``sum((a - b)**2)``, no dot-product
    expansion), so a sample exactly at ``eps`` is a neighbour, as in scikit-learn's KD-tree.
    scikit-learn's brute path (used for ``n_features > 15`` or 'cosine') uses a
    dot-product expansion whose last-bit rounding can differ for pairs at ``eps`` to within
    ~1e-16 relative; on such measure-zero ties labels can differ. Non-integer
    ``sample_weight`` sums are accumulated in neighbour order, which may differ from
    scikit-learn's by one rounding at exactly ``min_samples``.
    """

    _parameter_constraints: dict = dict(_SkDBSCAN._parameter_constraints)

    def __init__(
        self,
        eps=0.5,
        *,
        min_samples=5,
        metric="euclidean",
        metric_params=None,
        algorithm="auto",
        leaf_size=30,
        p=None,
        n_jobs=None,
    ):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.metric_params = metric_params
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Perform DBSCAN clustering from features, or distance matrix.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples)
            Training instances, or distances between instances if ``metric='precomputed'``.
            Sparse input is not supported (TypeError).
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each sample; a sample with weight at least ``min_samples`` is by itself
            a core sample; a negative weight may inhibit its neighbour from being core.

        Returns
        -------
        self : object
        """
        X = validate_data(self, X, accept_sparse=False)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float64)
        metric, p = resolve_metric("DBSCAN", self.metric, self.p, self.metric_params)
        if metric == "precomputed":
            check_precomputed(X)
        else:
            check_algorithm(self.metric, self.algorithm)
        Xn = as_native_float(X, np.float64)
        labels, core = _rml.cluster.dbscan(
            Xn,
            float(self.eps),
            int(self.min_samples),
            metric,
            p,
            self.algorithm,
            int(self.leaf_size),
            sample_weight,
            n_jobs_arg(self.n_jobs),
        )
        self.core_sample_indices_ = core.astype(np.intp, copy=False)
        self.labels_ = labels.astype(np.intp, copy=False)
        if len(self.core_sample_indices_):
            self.components_ = X[self.core_sample_indices_].copy()
        else:
            self.components_ = np.empty((0, X.shape[1]))
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute clusters and return ``labels_`` (see :meth:`fit`).

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels; noise is -1.
        """
        self.fit(X, sample_weight=sample_weight)
        return self.labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = False
        return tags
