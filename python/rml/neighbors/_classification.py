"""k-nearest-neighbours classification."""

import warnings
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from rml.neighbors._base import (
    KNEIGHBORS_ESTIMATOR_CONSTRAINTS,
    KNeighborsMixin,
    NeighborsBase,
    _get_weights,
)


class KNeighborsClassifier(KNeighborsMixin, ClassifierMixin, NeighborsBase):
    """Classifier implementing the k-nearest neighbours vote, with a Rust engine.

    A drop-in replacement for :class:`sklearn.neighbors.KNeighborsClassifier`: the same
    parameters, defaults, methods and fitted attributes, and the same predictions.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours that vote.
    weights : {'uniform', 'distance'}, callable or None, default='uniform'
        'uniform': every neighbour counts 1. 'distance': weight 1/distance (a neighbour at
        distance 0 takes the whole vote, shared with any other at distance 0). A callable
        maps the (n_queries, n_neighbors) distance array to weights.
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        'auto' applies scikit-learn's rule (brute force when n_features > 15, when
        n_neighbors >= n_samples / 2, or for non-Minkowski metrics; else a tree).
        'ball_tree' is served by rml's KD-tree: for the supported metrics both trees return
        identical neighbours.
    leaf_size : int, default=30
        Leaf size of the KD-tree (affects speed only).
    p : float, default=2
        Minkowski power, p >= 1 (scikit-learn also allows 0 < p < 1; rml raises).
    metric : str, default='minkowski'
        One of 'minkowski', 'euclidean'/'l2', 'manhattan'/'l1'/'cityblock',
        'chebyshev'/'infinity', 'sqeuclidean' and 'cosine' (brute force), 'precomputed'.
        Callables and other metrics raise ``InvalidParameterError``: use scikit-learn.
    metric_params : dict, default=None
        Only ``{'p': value}`` is supported.
    n_jobs : int, default=None
        Threads for queries; None and -1 mean all cores (capped by ``RML_NUM_THREADS``).
        Results do not depend on it.

    prefilter_features : int, default=4
        Only for ``algorithm='prefilter'``: how many of the features most correlated with
        the target form the sort key.
    candidate_fraction : float in (0, 1], default=0.2
        Only for ``algorithm='prefilter'``: the largest share of the training set scanned per
        query. 1.0 makes the search exact.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,) or list of such arrays
    effective_metric_ : str
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_samples_fit_ : int
    outputs_2d_ : bool

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

    Vote ties go to the smallest class (in ``classes_`` order), as in scikit-learn. Among
    neighbours at equal distance the earlier training row is chosen; scikit-learn's brute
    force does not guarantee that order, so on exact distance ties at the k-th neighbour the
    two libraries may pick different (equidistant) neighbours.

    Sparse input is not supported (TypeError). float32 input is searched in float32;
    probabilities are float64, as in scikit-learn.
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

    def _is_classifier_like(self):
        return True

    def fit(self, X, y):
        """Fit the classifier from the training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) if
            metric='precomputed'
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self : KNeighborsClassifier
        """
        self._validate_params()
        y = self._fit(X, y)
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            if y.ndim != 1:
                warnings.warn(
                    "A column-vector y was passed when a 1d array was expected. Please change "
                    "the shape of y to (n_samples,), for example using ravel().",
                    DataConversionWarning,
                    stacklevel=2,
                )
            self.outputs_2d_ = False
            y = y.reshape((-1, 1))
        else:
            self.outputs_2d_ = True
        check_classification_targets(y)
        self.classes_ = []
        self._y = np.empty(y.shape, dtype=np.intp)
        for k in range(self._y.shape[1]):
            classes, self._y[:, k] = np.unique(y[:, k], return_inverse=True)
            self.classes_.append(classes)
        if self._fit_method == "prefilter":
            # One-vs-rest indicators of every class of every output.
            self._fit_prefilter(np.hstack([
                (self._y[:, [k]] == np.arange(len(c))).astype(np.float64)
                for k, c in enumerate(self.classes_)
            ]))
        if not self.outputs_2d_:
            self.classes_ = self.classes_[0]
            self._y = self._y.ravel()
        return self

    def _vote(self, X):
        """Per-output class scores (unnormalised), from one native neighbour query."""
        check_is_fitted(self, "_fit_method")
        if self.weights == "uniform":
            neigh_ind = self.kneighbors(X, return_distance=False)
            weights = None
        else:
            neigh_dist, neigh_ind = self.kneighbors(X)
            weights = _get_weights(neigh_dist, self.weights)
            if weights is not None and np.any(np.all(weights == 0, axis=1)):
                raise ValueError(
                    "All neighbors of some sample is getting zero weights. Please modify "
                    "'weights' to avoid this case if you are using a user-defined function."
                )
        _y = self._y.reshape((-1, 1)) if not self.outputs_2d_ else self._y
        classes = [self.classes_] if not self.outputs_2d_ else self.classes_
        n_queries, k = neigh_ind.shape
        rows = np.repeat(np.arange(n_queries), k)
        scores = []
        for out, classes_k in enumerate(classes):
            n_classes = len(classes_k)
            flat = rows * n_classes + _y[neigh_ind, out].ravel()
            if weights is None:
                counts = np.bincount(flat, minlength=n_queries * n_classes).astype(np.float64)
            else:
                counts = np.bincount(
                    flat, weights=np.asarray(weights, dtype=np.float64).ravel(),
                    minlength=n_queries * n_classes,
                )
            scores.append(counts.reshape(n_queries, n_classes))
        return scores, classes

    def predict(self, X):
        """Predict class labels: the (weighted) majority vote of the k nearest neighbours.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), or None
            None predicts each training point from its neighbours, itself excluded.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        scores, classes = self._vote(X)
        # argmax returns the first maximum: vote ties go to the smallest class.
        preds = [c.take(np.argmax(s, axis=1)) for s, c in zip(scores, classes)]
        if not self.outputs_2d_:
            return preds[0]
        y_pred = np.empty((preds[0].shape[0], len(preds)), dtype=classes[0].dtype)
        for k, p in enumerate(preds):
            y_pred[:, k] = p
        return y_pred

    def predict_proba(self, X):
        """Class probabilities: each class's share of the (weighted) neighbour vote.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), or None

        Returns
        -------
        p : ndarray of shape (n_queries, n_classes), float64, or a list of such arrays
            (one per output); columns follow ``classes_``.
        """
        scores, _ = self._vote(X)
        probas = []
        for s in scores:
            normalizer = s.sum(axis=1)[:, np.newaxis]
            normalizer[normalizer == 0.0] = 1.0
            probas.append(s / normalizer)
        return probas if self.outputs_2d_ else probas[0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.pairwise = self.metric == "precomputed"
        return tags
