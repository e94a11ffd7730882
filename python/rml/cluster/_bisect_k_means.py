"""Bisecting K-means with a Rust engine (scikit-learn's ``BisectingKMeans``).

The bisection tree is built in Python exactly as scikit-learn builds it; every 2-means run,
per-cluster inertia and prediction step is one Rust call (the same kernels as ``KMeans``).
"""

from numbers import Integral

import numpy as np

from rml import _rml
from rml.cluster._kmeans import _BaseKMeans, _native_f
from rml.utils._kmeans import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    check_is_fitted,
    check_random_state,
)

_native = _rml.cluster


class _BisectingTree:
    """Tree structure representing the hierarchical clusters of BisectingKMeans."""

    def __init__(self, center, indices, score):
        self.center = center
        self.indices = indices
        self.score = score
        self.left = None
        self.right = None

    def split(self, labels, centers, scores):
        self.left = _BisectingTree(
            indices=self.indices[labels == 0], center=centers[0], score=scores[0]
        )
        self.right = _BisectingTree(
            indices=self.indices[labels == 1], center=centers[1], score=scores[1]
        )
        self.indices = None

    def get_cluster_to_bisect(self):
        max_score = None
        for cluster_leaf in self.iter_leaves():
            if max_score is None or cluster_leaf.score > max_score:
                max_score = cluster_leaf.score
                best_cluster_leaf = cluster_leaf
        return best_cluster_leaf

    def iter_leaves(self):
        if self.left is None:
            yield self
        else:
            yield from self.left.iter_leaves()
            yield from self.right.iter_leaves()


class BisectingKMeans(_BaseKMeans):
    """Bisecting K-Means clustering (scikit-learn's ``BisectingKMeans`` with a Rust engine).

    Starting from one cluster, repeatedly split the leaf with the biggest score (its inertia
    or its size) with a 2-means run, until ``n_clusters`` leaves exist.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form.
    init : {'k-means++', 'random'} or callable, default='random'
        Initialisation of each 2-means run (scikit-learn's random stream).
    n_init : int, default=1
        2-means runs per bisection; the best (inertia smaller by a relative 1e-6) wins.
    random_state : int, RandomState instance or None, default=None
        Determines random number generation for centroid initialization.
    max_iter : int, default=300
        Maximum iterations of each 2-means run.
    verbose : int, default=0
        Verbosity mode.
    tol : float, default=1e-4
        Tolerance of each 2-means run. As in scikit-learn, this value is used as is (it is
        not scaled by the data variance as KMeans does).
    copy_x : bool, default=True
        If False, X is centred in place during fit and restored afterwards.
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        Inner K-means algorithm.
    bisecting_strategy : {'biggest_inertia', 'largest_cluster'}, default='biggest_inertia'
        Which leaf to split next: the one with the largest (weighted) inertia, or the one
        with the most points.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers (dtype of X: float32 or float64).
    labels_ : ndarray of shape (n_samples,), dtype=int32
        Labels of each point.
    inertia_ : float
        Sum of squared distances of samples to their closest cluster center.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit.

    Notes
    -----
    Cost: ``n_clusters - 1`` 2-means runs, each ``O(n_leaf * n_features)`` per iteration.
    Prediction walks down the tree, one nearest-of-two assignment per level; ties go to the
    left child (index 0), as scikit-learn. Sparse X is not supported (TypeError).
    """

    _parameter_constraints: dict = {
        **_BaseKMeans._parameter_constraints,
        "init": [StrOptions({"k-means++", "random"}), callable],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
        "bisecting_strategy": [StrOptions({"biggest_inertia", "largest_cluster"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="random",
        n_init=1,
        random_state=None,
        max_iter=300,
        verbose=0,
        tol=1e-4,
        copy_x=True,
        algorithm="lloyd",
        bisecting_strategy="biggest_inertia",
    ):
        super().__init__(
            n_clusters=n_clusters,
            init=init,
            max_iter=max_iter,
            verbose=verbose,
            random_state=random_state,
            tol=tol,
            n_init=n_init,
        )
        self.copy_x = copy_x
        self.algorithm = algorithm
        self.bisecting_strategy = bisecting_strategy

    def _inertia_per_cluster(self, X, centers, labels, sample_weight):
        n_clusters = centers.shape[0]
        inertia_per_cluster = np.empty(n_clusters)
        for label in range(n_clusters):
            inertia_per_cluster[label] = _native.kmeans_inertia(
                X, sample_weight, centers, labels, label
            )
        return inertia_per_cluster

    def _bisect(self, X, x_squared_norms, sample_weight, cluster_to_bisect):
        X = X[cluster_to_bisect.indices]
        if x_squared_norms is not None:
            x_squared_norms = x_squared_norms[cluster_to_bisect.indices]
        sample_weight = sample_weight[cluster_to_bisect.indices]

        best_inertia = None
        for _ in range(self.n_init):
            centers_init = self._init_centroids(
                X,
                x_squared_norms=x_squared_norms,
                init=self.init,
                random_state=self._random_state,
                n_centroids=2,
                sample_weight=sample_weight,
            )
            centers, labels, inertia, _, log = _native.kmeans_single(
                X,
                sample_weight,
                centers_init,
                int(self.max_iter),
                float(self.tol),
                self._inner_algorithm,
                bool(self.verbose),
            )
            for line in log:
                print(line)
            if best_inertia is None or inertia < best_inertia * (1 - 1e-6):
                best_labels = labels
                best_centers = centers
                best_inertia = inertia

        if self.verbose:
            print(f"New centroids from bisection: {best_centers}")

        if self.bisecting_strategy == "biggest_inertia":
            scores = self._inertia_per_cluster(X, best_centers, best_labels, sample_weight)
        else:
            scores = np.bincount(best_labels, minlength=2)
        cluster_to_bisect.split(best_labels, best_centers, scores)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute bisecting k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training instances to cluster.
        y : Ignored
            Not used, present here for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X (not used by a callable init).

        Returns
        -------
        self
            Fitted estimator.
        """
        X = self._validate_fit_data(X)
        self._check_params_vs_input(X)
        self._random_state = check_random_state(self.random_state)
        sample_weight = _native_f(_check_sample_weight(sample_weight, X, dtype=X.dtype), X.dtype)

        if self.algorithm == "lloyd" or self.n_clusters == 1:
            self._inner_algorithm = "lloyd"
        else:
            self._inner_algorithm = "elkan"

        self._X_mean = X.mean(axis=0)
        X -= self._X_mean
        try:
            self._bisecting_tree = _BisectingTree(
                indices=np.arange(X.shape[0]), center=X.mean(axis=0), score=0
            )
            x_squared_norms = None
            if isinstance(self.init, str) and self.init == "k-means++":
                from rml.utils._kmeans import row_norms

                x_squared_norms = row_norms(X, squared=True)

            for _ in range(self.n_clusters - 1):
                cluster_to_bisect = self._bisecting_tree.get_cluster_to_bisect()
                self._bisect(X, x_squared_norms, sample_weight, cluster_to_bisect)

            self.labels_ = np.full(X.shape[0], -1, dtype=np.int32)
            self.cluster_centers_ = np.empty((self.n_clusters, X.shape[1]), dtype=X.dtype)
            for i, cluster_node in enumerate(self._bisecting_tree.iter_leaves()):
                self.labels_[cluster_node.indices] = i
                self.cluster_centers_[i] = cluster_node.center
                cluster_node.label = i
                cluster_node.indices = None
        finally:
            X += self._X_mean
        self.cluster_centers_ += self._X_mean
        self.inertia_ = _native.kmeans_inertia(
            X, sample_weight, self.cluster_centers_, self.labels_, None
        )
        self._n_features_out = self.cluster_centers_.shape[0]
        return self

    def predict(self, X):
        """Predict which cluster each sample in X belongs to, walking down the tree.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data to predict.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        sample_weight = np.ones(X.shape[0], dtype=X.dtype)
        return self._predict_recursive(X, sample_weight, self._bisecting_tree)

    def _predict_recursive(self, X, sample_weight, cluster_node):
        if cluster_node.left is None:
            return np.full(X.shape[0], cluster_node.label, dtype=np.int32)
        centers = np.vstack((cluster_node.left.center, cluster_node.right.center))
        if hasattr(self, "_X_mean"):
            centers += self._X_mean
        if X.shape[0] == 0:
            cluster_labels = np.empty(0, dtype=np.int32)
        else:
            cluster_labels, _ = _native.kmeans_labels_inertia(
                X, sample_weight, _native_f(centers, X.dtype)
            )
        mask = cluster_labels == 0
        labels = np.full(X.shape[0], -1, dtype=np.int32)
        labels[mask] = self._predict_recursive(
            np.ascontiguousarray(X[mask]), sample_weight[mask], cluster_node.left
        )
        labels[~mask] = self._predict_recursive(
            np.ascontiguousarray(X[~mask]), sample_weight[~mask], cluster_node.right
        )
        return labels

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
