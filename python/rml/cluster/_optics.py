"""OPTICS with scikit-learn's ordering, its main loop in Rust."""

import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import OPTICS as _SkOPTICS
from sklearn.cluster import cluster_optics_dbscan as _sk_cluster_optics_dbscan
from sklearn.cluster import cluster_optics_xi as _sk_cluster_optics_xi
from sklearn.utils.validation import check_memory, validate_data

from rml import _rml
from rml.utils import as_native_float, n_jobs_arg
from rml.utils._dbscan import (
    PAIRWISE_BOOLEAN_FUNCTIONS,
    _fit_context,
    check_algorithm,
    check_precomputed,
    resolve_metric,
)

# The extraction steps are O(n) numpy code in scikit-learn; they are its public functions
# and rml re-exports them unchanged, so they equal scikit-learn's by construction.
cluster_optics_dbscan = _sk_cluster_optics_dbscan
cluster_optics_xi = _sk_cluster_optics_xi


def _optics_graph(X, min_samples, max_eps, metric, p, algorithm, leaf_size, n_jobs):
    ordering, core, reach, pred = _rml.cluster.optics_graph(
        X, float(min_samples), float(max_eps), metric, p, algorithm, int(leaf_size), n_jobs
    )
    return (
        ordering.astype(np.intp, copy=False),
        core,
        reach,
        pred.astype(np.intp, copy=False),
    )


class OPTICS(ClusterMixin, BaseEstimator):
    """OPTICS (Ordering Points To Identify the Clustering Structure), with a Rust engine.

    A drop-in replacement for :class:`sklearn.cluster.OPTICS`: same parameters, defaults,
    validation and attributes; ``ordering_``, ``predecessor_`` and ``labels_`` equal
    scikit-learn's, ``reachability_`` and ``core_distances_`` match to the last bits (both
    are rounded to 15 decimals exactly as scikit-learn does).

    The ordering loop (scikit-learn's Python loop over points) runs in Rust: the next point
    is the unprocessed one of smallest reachability, ties (inf included) to the smallest
    index, kept in an indexed binary heap; each step queries the processed point's
    neighbours within ``max_eps`` (a KD-tree or brute radius query; a scan of the
    unprocessed points when ``max_eps`` is inf) with the work spread over ``n_jobs`` threads.

    Parameters
    ----------
    min_samples : int > 1 or float between 0 and 1, default=5
    max_eps : float, default=np.inf
    metric : str, default='minkowski'
        'minkowski' (p >= 1), 'euclidean', 'l2', 'sqeuclidean', 'manhattan', 'cityblock',
        'l1', 'chebyshev', 'infinity', 'cosine' or 'precomputed' (dense). Other metrics and
        callables raise ``NotImplementedError``.
    p : float, default=2
    metric_params : dict, default=None
        Only ``{'p': value}`` with ``metric='minkowski'``.
    cluster_method : {'xi', 'dbscan'}, default='xi'
    eps : float, default=None
    xi : float between 0 and 1, default=0.05
    predecessor_correction : bool, default=True
    min_cluster_size : int > 1 or float between 0 and 1, default=None
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        'ball_tree' is served by the KD-tree.
    leaf_size : int, default=30
    memory : str or object with the joblib.Memory interface, default=None
        Caches the graph computation, as in scikit-learn.
    n_jobs : int, default=None
        Threads (None or -1: all cores); results do not depend on it.

    Attributes
    ----------
    labels_, reachability_, ordering_, core_distances_, predecessor_,
    cluster_hierarchy_, n_features_in_, feature_names_in_ : as scikit-learn's.

    Notes
    -----
    Complexity: n k-nearest-neighbour queries, then n steps of the ordering loop, each a
    radius query (O(n) scan when ``max_eps`` is inf, as in scikit-learn) and O(log n) heap
    updates per improved neighbour. Memory O(n) plus one neighbourhood.

    Dtype: computed in float64 (scikit-learn converts the input to float64 too).

    Rounding: distances are computed exactly (sum of squared differences), which is what
    scikit-learn computes for the default metric ('minkowski' goes to scipy's ``cdist``)
    and in its KD-tree. With ``metric='euclidean'`` or 'cosine' scikit-learn's reachability
    step uses a dot-product expansion instead; its values differ in the last bits, which can
    reorder points whose reachabilities tie to within ~1e-16 relative.
    """

    _parameter_constraints: dict = dict(_SkOPTICS._parameter_constraints)

    def __init__(
        self,
        *,
        min_samples=5,
        max_eps=np.inf,
        metric="minkowski",
        p=2,
        metric_params=None,
        cluster_method="xi",
        eps=None,
        xi=0.05,
        predecessor_correction=True,
        min_cluster_size=None,
        algorithm="auto",
        leaf_size=30,
        memory=None,
        n_jobs=None,
    ):
        self.max_eps = max_eps
        self.min_samples = min_samples
        self.min_cluster_size = min_cluster_size
        self.algorithm = algorithm
        self.metric = metric
        self.metric_params = metric_params
        self.p = p
        self.leaf_size = leaf_size
        self.cluster_method = cluster_method
        self.eps = eps
        self.xi = xi
        self.predecessor_correction = predecessor_correction
        self.memory = memory
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Perform OPTICS clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples)
            Features, or distances if ``metric='precomputed'``. Sparse input is not
            supported (TypeError).
        y : Ignored

        Returns
        -------
        self : object
        """
        if self.metric in PAIRWISE_BOOLEAN_FUNCTIONS:
            raise NotImplementedError(
                f"rml's OPTICS does not support boolean metric {self.metric!r}."
            )
        X = validate_data(self, X, dtype=float, accept_sparse=False)
        metric, p = resolve_metric("OPTICS", self.metric, self.p, self.metric_params)
        if metric == "precomputed":
            check_precomputed(X)
        else:
            check_algorithm(self.metric, self.algorithm)
        n_samples = X.shape[0]
        if self.min_samples > n_samples:
            raise ValueError(
                "min_samples must be no greater than the number of samples (%d). Got %d"
                % (n_samples, self.min_samples)
            )
        k = self.min_samples
        if k <= 1:
            k = max(2, int(k * n_samples))
        if k > n_samples:
            # scikit-learn's kneighbors query (core distances) rejects it this way.
            raise ValueError(
                "Expected n_neighbors <= n_samples_fit, but n_neighbors = %d,"
                " n_samples_fit = %d, n_samples = %d" % (k, n_samples, n_samples)
            )
        memory = check_memory(self.memory)
        (
            self.ordering_,
            self.core_distances_,
            self.reachability_,
            self.predecessor_,
        ) = memory.cache(_optics_graph)(
            as_native_float(X, np.float64),
            self.min_samples,
            self.max_eps,
            metric,
            p,
            self.algorithm,
            self.leaf_size,
            n_jobs_arg(self.n_jobs),
        )
        if np.all(np.isinf(self.reachability_)):
            warnings.warn(
                (
                    "All reachability values are inf. Set a larger"
                    " max_eps or all data will be considered outliers."
                ),
                UserWarning,
            )
        if self.cluster_method == "xi":
            labels_, clusters_ = cluster_optics_xi(
                reachability=self.reachability_,
                predecessor=self.predecessor_,
                ordering=self.ordering_,
                min_samples=self.min_samples,
                min_cluster_size=self.min_cluster_size,
                xi=self.xi,
                predecessor_correction=self.predecessor_correction,
            )
            self.cluster_hierarchy_ = clusters_
        elif self.cluster_method == "dbscan":
            eps = self.max_eps if self.eps is None else self.eps
            if eps > self.max_eps:
                raise ValueError(
                    "Specify an epsilon smaller than %s. Got %s." % (self.max_eps, eps)
                )
            labels_ = cluster_optics_dbscan(
                reachability=self.reachability_,
                core_distances=self.core_distances_,
                ordering=self.ordering_,
                eps=eps,
            )
        self.labels_ = labels_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = False
        return tags
