"""Birch with the CF-tree in Rust.

The tree is kept on the estimator as plain numpy arrays (``_cf_tree``) and passed back to the
native ``birch_fit`` for ``partial_fit``, so pickle, ``clone`` and ``deepcopy`` need no special
code. The split step calls scikit-learn's own ``euclidean_distances``; the global step is
rml's ``AgglomerativeClustering`` for an int ``n_clusters``, as ``sklearn.cluster.Birch`` uses
scikit-learn's (the two give identical labels; tests/test_agglomerative_parity.py).
"""

import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn._config import config_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import pairwise_distances_argmin
from sklearn.metrics.pairwise import euclidean_distances
from sklearn.utils._param_validation import Interval
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, validate_data

from rml._rml import cluster as _native

_STATE_KEYS = (
    "n_features", "root", "node_is_leaf", "node_ptr", "node_subs", "leaf_order",
    "n_samples", "linear_sum", "squared_sum", "centroid", "sq_norm", "child",
)


def _split_distances(centroids, sq_norms):
    """What scikit-learn's ``_split_node`` computes (the same function, so the same bits)."""
    return euclidean_distances(centroids, Y_norm_squared=sq_norms, squared=True)


def _dense_rows(X):
    """Sparse rows densified as scikit-learn's ``_iterate_sparse_X`` does (float64 rows)."""
    return np.ascontiguousarray(X.toarray(), dtype=np.float64)


class Birch(
    ClassNamePrefixFeaturesOutMixin, ClusterMixin, TransformerMixin, BaseEstimator
):
    """BIRCH clustering with the CF-tree in Rust.

    A drop-in replacement for :class:`sklearn.cluster.Birch`: same parameters, validation,
    attributes and results (``subcluster_centers_``, ``subcluster_labels_``, ``labels_``).

    Parameters
    ----------
    threshold : float, default=0.5
        The radius of the subcluster obtained by merging a new sample and the closest
        subcluster must be at most this, else a new subcluster is started.

    branching_factor : int, default=50
        Maximum number of CF subclusters in each node; a node that overflows is split in two.

    n_clusters : int, instance of sklearn.cluster model or None, default=3
        The global step over the subcluster centroids: None (none; every subcluster is a
        cluster), an int (rml's ``AgglomerativeClustering(n_clusters)``, identical to scikit-learn's, as
        scikit-learn's Birch) or a clusterer with ``fit_predict``.

    compute_labels : bool, default=True
        Whether to compute ``labels_`` for each fit.

    Attributes
    ----------
    subcluster_centers_ : ndarray of shape (n_subclusters, n_features)
        Centroids of the leaf subclusters, in leaf order.
    subcluster_labels_ : ndarray of shape (n_subclusters,)
        Global-step label of each subcluster.
    labels_ : ndarray of shape (n_samples,)
        Labels of the (last batch of) training data.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when they are all strings.

    Notes
    -----
    ``root_`` and ``dummy_leaf_`` (scikit-learn's Python tree objects) are not provided: the
    tree is stored as flat numpy arrays in the private ``_cf_tree`` dict (nodes, their
    subclusters, the leaf order, and each subcluster's count, linear sum, squared sum,
    centroid, squared norm and child), which pickle and clone handle as any array.

    Complexity: each sample descends the tree, O(branching_factor * depth * n_features); the
    labels are an exact nearest-subcluster search (KD-tree over the subclusters, parallel
    over samples).

    dtype: float32 input is processed in float32, as scikit-learn (the tree's arithmetic is in
    the data's dtype). Sparse input is densified to float64 rows as scikit-learn's own
    ``_iterate_sparse_X`` does; for float32 sparse input scikit-learn mixes float64 rows with
    float32 node arrays, which rml does not reproduce (it keeps float64).

    Ties: the closest subcluster is the first on ties (numpy ``argmin``); labels go to the
    smallest subcluster index among equidistant ones. Dot products are summed in order like
    OpenBLAS's ``ddot`` for fewer than 16 features; a decision that ties to the last bit
    under numpy's other BLAS kernels may differ (never observed in the parity tests).
    """

    _parameter_constraints: dict = {
        "threshold": [Interval(Real, 0.0, None, closed="neither")],
        "branching_factor": [Interval(Integral, 1, None, closed="neither")],
        "n_clusters": [None, ClusterMixin, Interval(Integral, 1, None, closed="left")],
        "compute_labels": ["boolean"],
    }

    def __init__(
        self,
        *,
        threshold=0.5,
        branching_factor=50,
        n_clusters=3,
        compute_labels=True,
    ):
        self.threshold = threshold
        self.branching_factor = branching_factor
        self.n_clusters = n_clusters
        self.compute_labels = compute_labels

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build a CF-tree for the input data.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self
            Fitted estimator.
        """
        return self._fit(X, partial=False)

    def _fit(self, X, partial):
        has_root = getattr(self, "_cf_tree", None) is not None
        first_call = not (partial and has_root)

        X = validate_data(
            self,
            X,
            accept_sparse="csr",
            reset=first_call,
            dtype=[np.float64, np.float32],
        )
        Xn = _dense_rows(X) if sparse.issparse(X) else np.ascontiguousarray(X)
        if first_call:
            state = None
        else:
            tree = self._cf_tree
            state = tuple(tree[k] for k in _STATE_KEYS)
            if tree["linear_sum"].dtype != Xn.dtype:
                # scikit-learn keeps the first call's dtype for the node arrays; follow it.
                Xn = Xn.astype(tree["linear_sum"].dtype)
        new_state, centers = _native.birch_fit(
            Xn, float(self.threshold**2), int(self.branching_factor), _split_distances, state,
        )
        self._cf_tree = dict(zip(_STATE_KEYS, new_state))
        self.subcluster_centers_ = centers
        self._n_features_out = self.subcluster_centers_.shape[0]

        self._global_clustering(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X=None, y=None):
        """Online learning: insert X into the current CF-tree.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), default=None
            Input data. If None, only the global clustering step is done.

        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self
            Fitted estimator.
        """
        if X is None:
            self._global_clustering()
            return self
        return self._fit(X, partial=True)

    def predict(self, X):
        """Predict data using the subcluster centroids.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Labels (the global label of the nearest subcluster).
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        return self._predict(X)

    def _predict(self, X):
        if sparse.issparse(X):
            kwargs = {"Y_norm_squared": self._subcluster_norms}
            with config_context(assume_finite=True):
                argmin = pairwise_distances_argmin(
                    X, self.subcluster_centers_, metric_kwargs=kwargs
                )
        else:
            argmin = _native.birch_nearest(
                np.ascontiguousarray(X, dtype=np.float64),
                np.ascontiguousarray(self.subcluster_centers_, dtype=np.float64),
                None,
            )
        return self.subcluster_labels_[argmin]

    def transform(self, X):
        """Transform X into distances to each subcluster centroid.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        X_trans : ndarray of shape (n_samples, n_subclusters)
            Euclidean distances (scikit-learn's ``euclidean_distances``).
        """
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", reset=False)
        with config_context(assume_finite=True):
            return euclidean_distances(X, self.subcluster_centers_)

    def _global_clustering(self, X=None):
        """The global clustering of the leaf subclusters (scikit-learn's step)."""
        clusterer = self.n_clusters
        centroids = self.subcluster_centers_
        compute_labels = (X is not None) and self.compute_labels

        not_enough_centroids = False
        if isinstance(clusterer, Integral):
            from rml.cluster._agglomerative import AgglomerativeClustering

            clusterer = AgglomerativeClustering(n_clusters=self.n_clusters)
            if len(centroids) < self.n_clusters:
                not_enough_centroids = True

        self._subcluster_norms = row_norms(self.subcluster_centers_, squared=True)

        if clusterer is None or not_enough_centroids:
            self.subcluster_labels_ = np.arange(len(centroids))
            if not_enough_centroids:
                warnings.warn(
                    "Number of subclusters found (%d) by BIRCH is less "
                    "than (%d). Decrease the threshold."
                    % (len(centroids), self.n_clusters),
                    ConvergenceWarning,
                )
        else:
            self.subcluster_labels_ = clusterer.fit_predict(self.subcluster_centers_)

        if compute_labels:
            self.labels_ = self._predict(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags
