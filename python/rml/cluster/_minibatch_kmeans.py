"""MiniBatchKMeans with a Rust engine: scikit-learn's algorithm, random stream and API."""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.utils import check_array, check_random_state
from sklearn.utils.extmath import row_norms
from sklearn.utils.validation import check_is_fitted, validate_data

from rml import _rml
from rml.cluster._kmeans import _kmeans_plusplus
from rml.utils._minibatch import (
    Interval,
    StrOptions,
    check_sample_weight,
    fit_context,
    is_arraylike_not_scalar,
)
from rml.utils._validation import as_native_float

_native = _rml.cluster


class MiniBatchKMeans(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Mini-Batch K-Means clustering (scikit-learn's ``MiniBatchKMeans``, Rust engine).

    Same parameters, defaults, attributes, messages and random-number stream as
    :class:`sklearn.cluster.MiniBatchKMeans`: with the same ``random_state`` (and so the same
    initial centres, mini-batches and reassignments) the fitted centres agree with
    scikit-learn's to floating-point rounding. The whole optimisation loop, the final label
    pass, ``predict``, ``score`` and ``transform`` run in Rust with the GIL released, on all
    cores (capped by the ``RML_NUM_THREADS`` environment variable); results do not depend on
    the number of threads.

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form as well as the number of centroids to generate.

    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Method for initialization: scikit-learn's greedy k-means++ on an ``init_size``
        random subsample, ``n_clusters`` random rows, an explicit array, or a callable
        ``init(X, n_clusters, random_state=...)``.

    max_iter : int, default=100
        Maximum number of passes over the complete dataset (the loop runs at most
        ``max_iter * n_samples // batch_size`` mini-batch steps).

    batch_size : int, default=1024
        Size of the mini batches.

    verbose : int, default=0
        Verbosity mode. The messages are scikit-learn's, printed when the native fit returns.

    compute_labels : bool, default=True
        Compute label assignment and inertia for the complete dataset once the minibatch
        optimization has converged in fit.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation for centroid initialization, mini-batch sampling
        and random reassignment. numpy's ``RandomState`` stream is followed exactly: a
        ``RandomState`` instance passed here is advanced as scikit-learn would advance it.

    tol : float, default=0.0
        Early stopping on the squared change of the centres, relative to the mean feature
        variance of ``X``; 0 disables it.

    max_no_improvement : int, default=10
        Early stopping after this many consecutive mini-batches without improvement of the
        smoothed inertia; None disables it.

    init_size : int, default=None
        Number of samples randomly drawn for the initialization. If None,
        ``3 * batch_size`` (or ``3 * n_clusters`` if that is larger than ``3 * batch_size``).

    n_init : 'auto' or int, default='auto'
        Number of random initializations tried; the best on a validation subsample is used.
        'auto' means 1 for 'k-means++' and an array, 3 for 'random' and a callable.

    reassignment_ratio : float, default=0.01
        Centres whose accumulated weight is below this fraction of the largest are
        periodically moved to random batch members.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers, float32 for float32 input, else float64.

    labels_ : ndarray of shape (n_samples,), dtype=int32
        Labels of each point (if compute_labels is set to True).

    inertia_ : float
        Weighted sum of squared distances of the samples to their closest centre if
        ``compute_labels``, else the exponentially weighted average of the batch inertias
        scaled by the total weight.

    n_iter_ : int
        Number of iterations over the full dataset.

    n_steps_ : int
        Number of minibatches processed.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit` (only when they are all strings).

    Notes
    -----
    Complexity: each step costs O(batch_size * n_clusters * n_features) for the nearest-centre
    search (a matrix product) plus O(batch_size * log n_samples) for weighted sampling; the
    final label pass costs O(n_samples * n_clusters * n_features). Memory: O(batch_size *
    n_features + 256 * n_clusters) per thread beyond the input and ``labels_``.

    dtypes: float32 input keeps float32 centres, counts and arithmetic (as scikit-learn);
    inertias are accumulated in float64 (scikit-learn accumulates them in the input dtype).

    Ties: a sample equidistant from several centres goes to the lowest-index centre
    (distances are computed as ``||c||^2 - 2 x.c``, as scikit-learn does).

    Differences from scikit-learn: sparse input is not supported (a ``TypeError`` is
    raised); ``predict``/``score``/``transform`` cast ``X`` to the centres' dtype instead of
    failing on a mismatch; when more than half a batch of centres would be reassigned at once,
    the ones kept are chosen with a stable sort (numpy's ``argsort`` is not stable), which
    can only differ from scikit-learn when several such centres have exactly equal counts.

    Examples
    --------
    >>> import numpy as np
    >>> from rml.cluster import MiniBatchKMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0],
    ...               [4, 2], [4, 0], [4, 4],
    ...               [4, 5], [0, 1], [2, 2],
    ...               [3, 2], [5, 5], [1, -1]])
    >>> kmeans = MiniBatchKMeans(n_clusters=2, random_state=0, batch_size=6,
    ...                          max_iter=10, n_init="auto").fit(X)
    >>> kmeans.cluster_centers_
    array([[3.20967742, 3.56451613],
           [1.32758621, 0.77586207]])
    >>> kmeans.predict([[0, 0], [4, 4]])
    array([1, 0], dtype=int32)
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "compute_labels": ["boolean"],
        "max_no_improvement": [Interval(Integral, 0, None, closed="left"), None],
        "init_size": [Interval(Integral, 1, None, closed="left"), None],
        "reassignment_ratio": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        max_iter=100,
        batch_size=1024,
        verbose=0,
        compute_labels=True,
        random_state=None,
        tol=0.0,
        max_no_improvement=10,
        init_size=None,
        n_init="auto",
        reassignment_ratio=0.01,
    ):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self.compute_labels = compute_labels
        self.random_state = random_state
        self.tol = tol
        self.max_no_improvement = max_no_improvement
        self.init_size = init_size
        self.n_init = n_init
        self.reassignment_ratio = reassignment_ratio

    # ------------------------------------------------------------------ checks and init
    def _check_params_vs_input(self, X):
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}."
            )
        self._tol = 0 if self.tol == 0 else np.mean(np.var(X, axis=0)) * self.tol

        if self.n_init == "auto":
            if isinstance(self.init, str) and self.init == "k-means++":
                self._n_init = 1
            elif isinstance(self.init, str) and self.init == "random":
                self._n_init = 3
            elif callable(self.init):
                self._n_init = 3
            else:
                self._n_init = 1
        else:
            self._n_init = self.n_init

        if is_arraylike_not_scalar(self.init) and self._n_init != 1:
            warnings.warn(
                (
                    "Explicit initial center position passed: performing only"
                    f" one init in {self.__class__.__name__} instead of "
                    f"n_init={self._n_init}."
                ),
                RuntimeWarning,
                stacklevel=3,
            )
            self._n_init = 1

        self._batch_size = min(self.batch_size, X.shape[0])
        self._init_size = self.init_size
        if self._init_size is None:
            self._init_size = 3 * self._batch_size
            if self._init_size < self.n_clusters:
                self._init_size = 3 * self.n_clusters
        elif self._init_size < self.n_clusters:
            warnings.warn(
                (
                    f"init_size={self._init_size} should be larger than "
                    f"n_clusters={self.n_clusters}. Setting it to "
                    "min(3*n_clusters, n_samples)"
                ),
                RuntimeWarning,
                stacklevel=3,
            )
            self._init_size = 3 * self.n_clusters
        self._init_size = min(self._init_size, X.shape[0])

    def _validate_center_shape(self, X, centers):
        if centers.shape[0] != self.n_clusters:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of clusters {self.n_clusters}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of features of the data {X.shape[1]}."
            )

    def _checked_init(self, X):
        init = self.init
        if is_arraylike_not_scalar(init):
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)
        return init

    def _init_centroids(self, X, init, random_state, sample_weight, init_size):
        """scikit-learn's ``_init_centroids``: same draws from ``random_state``, same order."""
        n_samples = X.shape[0]
        n_clusters = self.n_clusters
        if init_size is not None and init_size < n_samples:
            init_indices = random_state.randint(0, n_samples, init_size)
            X = X[init_indices]
            n_samples = X.shape[0]
            sample_weight = sample_weight[init_indices]

        if isinstance(init, str) and init == "k-means++":
            centers, _ = _kmeans_plusplus(
                X,
                n_clusters,
                x_squared_norms=row_norms(X, squared=True),
                sample_weight=sample_weight,
                random_state=random_state,
            )
        elif isinstance(init, str) and init == "random":
            seeds = random_state.choice(
                n_samples,
                size=n_clusters,
                replace=False,
                p=sample_weight / sample_weight.sum(),
            )
            centers = X[seeds]
        elif is_arraylike_not_scalar(self.init):
            centers = init
        elif callable(init):
            centers = init(X, n_clusters, random_state=random_state)
            centers = check_array(centers, dtype=X.dtype, copy=False, order="C")
            self._validate_center_shape(X, centers)
        return as_native_float(centers, X.dtype)

    @staticmethod
    def _mt_state(random_state):
        state = random_state.get_state(legacy=True)
        if state[0] != "MT19937":  # pragma: no cover - RandomState is always MT19937
            raise ValueError(f"unsupported bit generator {state[0]!r}")
        return state

    @staticmethod
    def _set_mt_state(random_state, state, key, pos):
        random_state.set_state((state[0], np.asarray(key, dtype=np.uint32), int(pos), state[3], state[4]))

    def _print_log(self, log, n_steps):
        for event in log:
            kind = event[0]
            if kind == "init":
                print(f"Inertia for init {event[1] + 1}/{self._n_init}: {event[2]}")
            elif kind == "first":
                print(f"Minibatch step {event[1]}/{n_steps}: mean batch inertia: {event[2]}")
            elif kind == "step":
                print(
                    f"Minibatch step {event[1]}/{n_steps}: mean batch inertia: "
                    f"{event[2]}, ewa inertia: {event[3]}"
                )
            elif kind == "reassign":
                print(f"[MiniBatchKMeans] Reassigning {event[1]} cluster centers.")
            elif kind == "converged_centers":
                print(f"Converged (small centers change) at step {event[1]}/{n_steps}")
            elif kind == "converged_no_improvement":
                print(
                    "Converged (lack of improvement in inertia) at step "
                    f"{event[1]}/{n_steps}"
                )

    # ------------------------------------------------------------------------------ fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute the centroids on X by chunking it into mini-batches.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training instances to cluster (dense; float32 stays float32).

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X: mini-batches are drawn with probability
            proportional to them, and they weight the validation and final inertia. Not
            used during initialization if `init` is a callable or an array.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32], order="C")
        self._check_params_vs_input(X)
        random_state = check_random_state(self.random_state)
        sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
        n_samples = X.shape[0]
        X = as_native_float(X, X.dtype)
        sample_weight = as_native_float(sample_weight, X.dtype)

        init = self._checked_init(X)
        validation_indices = random_state.randint(0, n_samples, self._init_size)
        candidates = []
        for init_idx in range(self._n_init):
            if self.verbose:
                print(f"Init {init_idx + 1}/{self._n_init} with method {init}")
            candidates.append(
                self._init_centroids(X, init, random_state, sample_weight, self._init_size)
            )
        inits = np.ascontiguousarray(np.stack(candidates), dtype=X.dtype)

        sum_of_weights = np.sum(sample_weight)
        normalized_sample_weight = sample_weight / sum_of_weights
        # numpy's RandomState.choice(n, size, p=...) checks p then samples
        # cdf.searchsorted(random_sample(size), side="right"); check p with numpy's own
        # messages (a size-0 draw from a throwaway generator) and build the same cdf.
        np.random.RandomState(0).choice(n_samples, 0, p=normalized_sample_weight)
        cdf = np.asarray(normalized_sample_weight, dtype=np.float64).cumsum()
        cdf /= cdf[-1]
        n_steps = (self.max_iter * n_samples) // self._batch_size

        state = self._mt_state(random_state)
        out = _native.minibatch_fit(
            X,
            sample_weight,
            cdf,
            inits,
            np.ascontiguousarray(validation_indices, dtype=np.int64),
            np.ascontiguousarray(state[1], dtype=np.uint32),
            int(state[2]),
            int(self._batch_size),
            int(n_steps),
            float(self._tol),
            None if self.max_no_improvement is None else int(self.max_no_improvement),
            float(self.reassignment_ratio),
            bool(self.compute_labels),
            bool(self.verbose),
        )
        self._set_mt_state(random_state, state, out["mt_key"], out["mt_pos"])
        if self.verbose:
            self._print_log(out["log"], n_steps)

        self.cluster_centers_ = out["centers"]
        self._counts = out["counts"]
        self._ewa_inertia = out["ewa_inertia"]
        self._ewa_inertia_min = out["ewa_inertia_min"]
        self._no_improvement = out["no_improvement"]
        self._n_since_last_reassign = out["n_since_last_reassign"]
        self._n_features_out = self.cluster_centers_.shape[0]
        self.n_steps_ = out["n_steps"]
        self.n_iter_ = int(np.ceil((self.n_steps_ * self._batch_size) / n_samples))
        if self.compute_labels:
            self.labels_ = out["labels"]
            self.inertia_ = out["inertia"]
        else:
            self.inertia_ = self._ewa_inertia * sum_of_weights
        return self

    def _random_reassign(self):
        """Reassign every 10 * n_clusters samples, or whenever a centre has no weight."""
        self._n_since_last_reassign += self._batch_size
        if (self._counts == 0).any() or self._n_since_last_reassign >= (10 * self.n_clusters):
            self._n_since_last_reassign = 0
            return True
        return False

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Update k means estimate on a single mini-batch X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training instances to cluster.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X. Not used during initialization if
            `init` is a callable or an array.

        Returns
        -------
        self : object
            Return updated estimator.
        """
        has_centers = hasattr(self, "cluster_centers_")
        X = validate_data(
            self, X, dtype=[np.float64, np.float32], order="C", reset=not has_centers
        )
        self._random_state = getattr(
            self, "_random_state", check_random_state(self.random_state)
        )
        sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
        self.n_steps_ = getattr(self, "n_steps_", 0)

        if not has_centers:
            self._check_params_vs_input(X)
            X = as_native_float(X, X.dtype)
            init = self._checked_init(X)
            self.cluster_centers_ = self._init_centroids(
                X, init, self._random_state, sample_weight, self._init_size
            )
            self._counts = np.zeros(self.n_clusters, dtype=X.dtype)
            self._n_since_last_reassign = 0

        dtype = self.cluster_centers_.dtype
        X = as_native_float(X, dtype)
        sample_weight = as_native_float(sample_weight, dtype)
        random_reassign = self._random_reassign()
        state = self._mt_state(self._random_state)
        out = _native.minibatch_partial_fit(
            X,
            sample_weight,
            as_native_float(self.cluster_centers_, dtype),
            as_native_float(self._counts, dtype),
            bool(random_reassign),
            float(self.reassignment_ratio),
            bool(self.compute_labels),
            bool(self.verbose),
            np.ascontiguousarray(state[1], dtype=np.uint32),
            int(state[2]),
        )
        self._set_mt_state(self._random_state, state, out["mt_key"], out["mt_pos"])
        if self.verbose:
            self._print_log(out["log"], None)
        self.cluster_centers_ = out["centers"]
        self._counts = out["counts"]
        if self.compute_labels:
            self.labels_ = out["labels"]
            self.inertia_ = out["inertia"]
        self.n_steps_ += 1
        self._n_features_out = self.cluster_centers_.shape[0]
        return self

    # ---------------------------------------------------------------- predict and friends
    def _check_test_data(self, X):
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        return as_native_float(X, self.cluster_centers_.dtype)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centers and predict cluster index for each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the closest cluster each sample in X belongs to (lowest index on ties).

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
        ones = np.ones(X.shape[0], dtype=X.dtype)
        labels, _ = _native.kmeans_labels_inertia(X, ones, self.cluster_centers_)
        return labels

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and transform X to cluster-distance space.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distances to the centres, in the centres' dtype.
        """
        return self.fit(X, sample_weight=sample_weight).transform(X)

    def transform(self, X):
        """Transform X to a cluster-distance space (euclidean distance to each centre).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            X transformed in the new space.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        return _native.kmeans_transform(X, self.cluster_centers_)

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the value of X on the K-means objective.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data.

        y : Ignored
            Not used, present here for API consistency by convention.

        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        score : float
            Opposite of the value of X on the K-means objective.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        sample_weight = as_native_float(
            check_sample_weight(sample_weight, X, dtype=X.dtype), X.dtype
        )
        _, inertia = _native.kmeans_labels_inertia(X, sample_weight, self.cluster_centers_)
        return -inertia

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags
