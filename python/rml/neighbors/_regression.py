"""k-nearest-neighbours regression."""

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.utils.validation import check_is_fitted

from rml.neighbors._base import (
    KNEIGHBORS_ESTIMATOR_CONSTRAINTS,
    KNeighborsMixin,
    NeighborsBase,
    _get_weights,
)


class KNeighborsRegressor(KNeighborsMixin, RegressorMixin, NeighborsBase):
    """Regression by the (weighted) mean target of the k nearest neighbours, Rust engine.

    A drop-in replacement for :class:`sklearn.neighbors.KNeighborsRegressor`: the same
    parameters, defaults, methods and fitted attributes, and the same predictions.

    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        As in :class:`rml.neighbors.KNeighborsClassifier`.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        'ball_tree' is served by the KD-tree (identical neighbours for supported metrics).
    leaf_size : int, default=30
    p : float, default=2
        Minkowski power, p >= 1.
    metric : str, default='minkowski'
        See :class:`rml.neighbors.KNeighborsClassifier` for the supported names.
    metric_params : dict, default=None
        Only ``{'p': value}``.
    n_jobs : int, default=None
        Threads for queries (None, -1: all cores). Results do not depend on it.

    prefilter_features : int, default=4
        Only for ``algorithm='prefilter'``: how many of the features most correlated with
        the target form the sort key.
    candidate_fraction : float in (0, 1], default=0.2
        Only for ``algorithm='prefilter'``: the largest share of the training set scanned per
        query. 1.0 makes the search exact.

    Attributes
    ----------
    effective_metric_ : str
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_samples_fit_ : int

    Notes
    -----
    **algorithm='prefilter'** (approximate, rml only). Fit ranks the features by absolute
    correlation with the target (one-vs-rest for classes), keeps ``prefilter_features`` of
    them and sorts the training rows on one combined key: the projection onto the unit vector
    of their signed correlations. Each query is located by binary search and the rows are
    scanned outward in key order, nearest key first, computing exact distances on all
    features. Because ``|key(a) - key(b)| <= ||w||_q * dist(a, b)`` (Hölder), the scan stops
    as soon as no unscanned row can beat the current k-th neighbour: the answer is then
    *exact*, and only when ``candidate_fraction * n_samples`` rows are scanned first is it
    approximate. A single combined key was chosen over successive halving on several sorted
    features because it keeps this exactness certificate and costs one sort and one binary
    search; halving drops true neighbours silently. Measured (docs/prefilter.md): it is an
    accuracy/speed knob with an exactness certificate, not a speed-up; rml's exact KD-tree
    and GEMM brute force are faster at every fraction above 0.05, so for speed use
    ``algorithm='auto'``.
    Metrics: the Minkowski family only. Attributes ``prefilter_weights_`` (the key direction)
    and ``prefilter_features_in_`` (the chosen feature indices) are set by fit.

    Predictions have the dtype of the training targets after scikit-learn's validation
    (float32 targets stay float32). Neighbour ties: see KNeighborsClassifier.
    """

    _parameter_constraints: dict = KNEIGHBORS_ESTIMATOR_CONSTRAINTS

    def __init__(
        self,
        n_neighbors=5,
        *,
        weights="uniform",
        algorithm="auto",
        leaf_size=30,
        p=2,
        metric="minkowski",
        metric_params=None,
        n_jobs=None,
        prefilter_features=4,
        candidate_fraction=0.2,
    ):
        super().__init__(
            n_neighbors=n_neighbors,
            algorithm=algorithm,
            leaf_size=leaf_size,
            metric=metric,
            p=p,
            metric_params=metric_params,
            n_jobs=n_jobs,
        )
        self.weights = weights
        self.prefilter_features = prefilter_features
        self.candidate_fraction = candidate_fraction

    def fit(self, X, y):
        """Fit the regressor from the training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) if
            metric='precomputed'
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : KNeighborsRegressor
        """
        self._validate_params()
        self._y = self._fit(X, y)
        if self._fit_method == "prefilter":
            self._fit_prefilter(np.asarray(self._y, dtype=np.float64).reshape(self._y.shape[0], -1))
        return self

    def predict(self, X):
        """Predict the target as the (weighted) mean of the neighbours' targets.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), or None
            None predicts each training point from its neighbours, itself excluded.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        check_is_fitted(self, "_fit_method")
        if self.weights == "uniform":
            neigh_ind = self.kneighbors(X, return_distance=False)
            neigh_dist = None
        else:
            neigh_dist, neigh_ind = self.kneighbors(X)
        weights = _get_weights(neigh_dist, self.weights)
        _y = self._y
        if _y.ndim == 1:
            _y = _y.reshape((-1, 1))
        if weights is None:
            y_pred = np.mean(_y[neigh_ind], axis=1)
        else:
            y_pred = np.empty((neigh_dist.shape[0], _y.shape[1]), dtype=np.float64)
            denom = np.sum(weights, axis=1)
            for j in range(_y.shape[1]):
                num = np.sum(_y[neigh_ind, j] * weights, axis=1)
                y_pred[:, j] = num / denom
        if self._y.ndim == 1:
            y_pred = y_pred.ravel()
        return y_pred

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags
