"""Bisecting K-means with a Rust engine (scikit-learn's ``BisectingKMeans``).

The bisection tree is built in Python exactly as scikit-learn builds it, and every random
initialisation is drawn here with numpy, so the random stream is scikit-learn's. The rows are
never copied: the estimator keeps one permutation of the row indices in which every leaf owns
a contiguous range (ascending, the order of scikit-learn's ``X[indices]``), and each bisection
is one Rust call (``bisecting_split``) that runs the 2-means on the rows of one range, read in
place, and partitions that range (label 0 first). The rows of a leaf other than the root are
copied (centred) once per bisection into one scratch buffer allocated by numpy once per fit,
so the copies reuse memory already mapped.
"""

from numbers import Integral

import numpy as np

from rml import _rml
from rml.cluster._kmeans import _BaseKMeans, _native_f
from rml.utils._bisecting import assert_all_finite_X
from rml.utils._kmeans import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    check_is_fitted,
    check_random_state,
    row_norms,
    validate_data,
)

_native = _rml.cluster


class _BisectingTree:
    """Tree structure representing the hierarchical clusters of BisectingKMeans.

    A leaf owns the rows ``order[start:end]`` of the estimator's permutation ``order``.
    """

    def __init__(self, center, start, end, score):
        self.center = center
        self.start = start
        self.end = end
        self.score = score
        self.left = None
        self.right = None

    def split(self, n_left, centers, scores, inertias):
        mid = self.start + n_left
        self.left = _BisectingTree(center=centers[0], start=self.start, end=mid, score=scores[0])
        self.right = _BisectingTree(center=centers[1], start=mid, end=self.end, score=scores[1])
        self.left.inertia, self.right.inertia = inertias

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
    Cost: ``n_clusters - 1`` 2-means runs, each ``O(n_leaf * n_features)`` per iteration,
    reading the leaf's rows in place (no copy of X per bisection; extra memory ``O(n_samples)``
    for the row permutation). Results are identical for any number of threads (fixed-order
    reductions). The Lloyd arithmetic, label decision (ties to the left child) and random
    stream are scikit-learn's, so with the same ``random_state`` the labels are scikit-learn's.
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

    def _random_seeds(self, sample_weight, start, end):
        """``self._random_state.choice(m, 2, replace=False, p=w / w.sum())`` with ``w`` the
        weights of the rows ``self._order[start:end]`` (scikit-learn's random init of a leaf),
        returning the same positions and consuming the same random numbers.

        numpy's sampling loop is reproduced here: each round draws its uniforms with
        ``random_sample`` (what ``choice`` calls, in the same order), and the ``O(m)`` part of
        the round (``p``, numpy's checks of it, the cdf and ``searchsorted``) runs natively on
        the weights in place, without the ``O(m)`` temporary arrays of ``choice``.
        """
        size = 2
        found = []
        while len(found) < size:
            x = self._random_state.random_sample(size - len(found))
            new = _native.bisecting_choice(
                sample_weight, self._order, start, end, x, found, size
            )
            # np.unique(new, return_index=True), indices sorted: first occurrences, in order
            for v in new:
                if v not in found:
                    found.append(v)
        return np.asarray(found, dtype=np.int64)

    def _bisect(self, X, sample_weight, cluster_to_bisect):
        """Split one leaf: ``n_init`` initialisations (numpy's stream, as scikit-learn), then
        one native call that runs the 2-means runs on the leaf's rows in place, keeps the best
        and partitions the leaf's range of ``self._order``.

        X is the caller's (uncentred) data; every value the algorithm sees is
        ``X - self._X_mean`` computed in X's dtype, the values of scikit-learn's centred X.
        """
        start, end = cluster_to_bisect.start, cluster_to_bisect.end
        indices = self._order[start:end]
        X_leaf = None
        inits = []
        for _ in range(self.n_init):
            if isinstance(self.init, str) and self.init == "random":
                # scikit-learn's _init_centroids(init="random") on X[indices], without the copy
                seeds = self._random_seeds(sample_weight, start, end)
                inits.append(X[indices[seeds]] - self._X_mean)
            else:
                if X_leaf is None:
                    sw_leaf = sample_weight[indices]
                    X_leaf = X[indices] - self._X_mean
                    x_squared_norms = row_norms(X_leaf, squared=True)
                inits.append(
                    self._init_centroids(
                        X_leaf,
                        x_squared_norms=x_squared_norms,
                        init=self.init,
                        random_state=self._random_state,
                        n_centroids=2,
                        sample_weight=sw_leaf,
                    )
                )
        centers_inits = np.ascontiguousarray(np.stack(inits), dtype=X.dtype)
        scratch = None
        if end - start < X.shape[0] and self._inner_algorithm == "lloyd" and not self.verbose:
            # The leaf's rows are copied (centred) into one buffer reused by every later
            # bisection: sized for the largest leaf, allocated once per fit.
            if self._scratch is None:
                largest = max(leaf.end - leaf.start for leaf in self._bisecting_tree.iter_leaves())
                self._scratch = np.empty(largest * (X.shape[1] + 1), dtype=X.dtype)
            scratch = self._scratch
        centers, scores, n_left, _, log, inertias = _native.bisecting_split(
            X,
            self._X_mean,
            sample_weight,
            self._order,
            start,
            end,
            centers_inits,
            int(self.max_iter),
            float(self.tol),
            self._inner_algorithm,
            self.bisecting_strategy,
            bool(self.verbose),
            scratch,
        )
        for line in log:
            print(line)
        if self.verbose:
            print(f"New centroids from bisection: {centers}")
        if self.bisecting_strategy == "largest_cluster":
            scores = (int(scores[0]), int(scores[1]))
        cluster_to_bisect.split(n_left, centers, scores, inertias)

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
        self._reject_sparse(X)
        # X is only read (the centring is done on the fly), so it is never copied nor
        # modified, whatever copy_x says.
        # The finiteness check is folded into the native mean below (one pass over X instead
        # of two): a NaN or inf entry makes its column's sum non-finite, and a non-finite sum
        # sends X through scikit-learn's own check (its error, or no error on an overflow).
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            copy=False,
            ensure_all_finite=False,
        )
        X = _native_f(X, X.dtype)
        if X.shape[1] >= 2 and X.flags.c_contiguous:
            # numpy's X.mean(axis=0), bit for bit (rows added in order), in parallel
            X_mean = _native.bisecting_mean(X)
            if not np.isfinite(X_mean).all():
                assert_all_finite_X(X, self)
        else:
            assert_all_finite_X(X, self)
            X_mean = X.mean(axis=0)
        self._check_params_vs_input(X)
        self._random_state = check_random_state(self.random_state)
        sample_weight = _native_f(_check_sample_weight(sample_weight, X, dtype=X.dtype), X.dtype)

        if self.algorithm == "lloyd" or self.n_clusters == 1:
            self._inner_algorithm = "lloyd"
        else:
            self._inner_algorithm = "elkan"

        self._X_mean = X_mean
        # The root's centre is only used when it stays a leaf (n_clusters=1).
        root_center = (X - self._X_mean).mean(axis=0) if self.n_clusters == 1 else None
        self._order = np.arange(X.shape[0], dtype=np.int64)
        self._scratch = None
        try:
            self._bisecting_tree = _BisectingTree(
                center=root_center, start=0, end=X.shape[0], score=0
            )
            for _ in range(self.n_clusters - 1):
                cluster_to_bisect = self._bisecting_tree.get_cluster_to_bisect()
                self._bisect(X, sample_weight, cluster_to_bisect)

            self.labels_ = np.full(X.shape[0], -1, dtype=np.int32)
            self.cluster_centers_ = np.empty((self.n_clusters, X.shape[1]), dtype=X.dtype)
            for i, cluster_node in enumerate(self._bisecting_tree.iter_leaves()):
                self.labels_[self._order[cluster_node.start : cluster_node.end]] = i
                self.cluster_centers_[i] = cluster_node.center
                cluster_node.label = i
        finally:
            del self._order, self._scratch
        self.cluster_centers_ += self._X_mean
        if self.n_clusters == 1:
            self.inertia_ = _native.kmeans_inertia(
                X, sample_weight, self.cluster_centers_, self.labels_, None
            )
        else:
            # The leaves' inertias, computed by their bisections on the centred rows: the
            # same quantity as scikit-learn's final pass over X (equal within rounding,
            # ~1e-15 relative), without that pass.
            inertia = 0.0
            for cluster_node in self._bisecting_tree.iter_leaves():
                inertia += cluster_node.inertia
            self.inertia_ = inertia
        self._n_features_out = self.cluster_centers_.shape[0]
        return self

    def _check_params_vs_input(self, X):
        # scikit-learn's base check, without KMeans' variance-scaled tolerance (an O(n d)
        # pass BisectingKMeans never uses: its tol is used as given).
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}."
            )
        self._n_init = self.n_init

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
