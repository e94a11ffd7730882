"""K-means clustering with a Rust engine: ``KMeans`` and ``kmeans_plusplus``.

Behaviour is scikit-learn 1.9's (``sklearn.cluster.KMeans``): same parameters, defaults,
validation messages, attributes, initialisation random stream, convergence rules and
empty-cluster relocation. See ``docs/kmeans.md`` for the few documented differences.
"""

import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    ClusterMixin,
    TransformerMixin,
)
from sklearn.exceptions import ConvergenceWarning

from rml import _rml
from rml.utils._kmeans import (
    Interval,
    StrOptions,
    _check_sample_weight,
    _fit_context,
    _is_arraylike_not_scalar,
    check_array,
    check_is_fitted,
    check_random_state,
    row_norms,
    validate_data,
    validate_params,
)
from rml.utils._validation import as_native_float

_native = _rml.cluster


def _native_f(a, dtype):
    """C-contiguous native-endian copy/view of ``a`` with ``dtype`` (never mutates ``a``)."""
    return as_native_float(a, dtype=dtype)


###############################################################################
# Initialisation


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "sample_weight": ["array-like", None],
        "x_squared_norms": ["array-like", None],
        "random_state": ["random_state"],
        "n_local_trials": [Interval(Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def kmeans_plusplus(
    X,
    n_clusters,
    *,
    sample_weight=None,
    x_squared_norms=None,
    random_state=None,
    n_local_trials=None,
):
    """Init n_clusters seeds according to greedy k-means++ (as ``sklearn.cluster.kmeans_plusplus``).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The data to pick seeds from. float32 stays float32; other dtypes become float64.
        Sparse input is not supported (TypeError).
    n_clusters : int
        The number of centroids to initialize.
    sample_weight : array-like of shape (n_samples,), default=None
        The weights for each observation in `X`.
    x_squared_norms : array-like of shape (n_samples,), default=None
        Squared Euclidean norm of each data point.
    random_state : int or RandomState instance, default=None
        Determines random number generation. The draws are made with numpy's
        ``RandomState`` exactly as scikit-learn makes them, so a seed gives scikit-learn's
        seeds (up to floating-point ties).
    n_local_trials : int, default=None
        Seeding trials per centre (except the first); None means ``2 + int(ln(n_clusters))``.

    Returns
    -------
    centers : ndarray of shape (n_clusters, n_features)
        The initial centers.
    indices : ndarray of shape (n_clusters,)
        The index location of the chosen centers in X.

    Notes
    -----
    Cost: ``O(n_clusters * n_local_trials * n_samples * n_features)`` (one GEMM per step, in
    Rust, all cores), memory ``O(n_local_trials * n_samples)``.
    """
    if sp.issparse(X):
        raise TypeError(
            "Sparse data was passed to kmeans_plusplus, but dense data is required by rml."
        )
    X = check_array(X, dtype=[np.float64, np.float32])
    sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)
    if X.shape[0] < n_clusters:
        raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={n_clusters}.")
    if x_squared_norms is None:
        x_squared_norms = row_norms(X, squared=True)
    else:
        x_squared_norms = check_array(x_squared_norms, dtype=X.dtype, ensure_2d=False)
    if x_squared_norms.shape[0] != X.shape[0]:
        raise ValueError(
            f"The length of x_squared_norms {x_squared_norms.shape[0]} should "
            f"be equal to the length of n_samples {X.shape[0]}."
        )
    random_state = check_random_state(random_state)
    X = _native_f(X, X.dtype)
    return _kmeans_plusplus(
        X, n_clusters, x_squared_norms, sample_weight, random_state, n_local_trials
    )


def _kmeans_plusplus(
    X, n_clusters, x_squared_norms, sample_weight, random_state, n_local_trials=None
):
    """scikit-learn's greedy k-means++ loop; the distance work runs in Rust.

    The random draws (``choice`` then ``uniform`` per centre), the ``cumsum``/``searchsorted``
    sampling and the greedy choice are the same numpy calls as scikit-learn's, so the
    RandomState stream and the chosen indices match scikit-learn's.
    """
    n_samples, n_features = X.shape
    dtype = X.dtype
    X = _native_f(X, dtype)
    norms = _native_f(x_squared_norms, dtype)
    sw = _native_f(sample_weight, dtype)
    centers = np.empty((n_clusters, n_features), dtype=dtype)
    if n_local_trials is None:
        n_local_trials = 2 + int(np.log(n_clusters))

    center_id = random_state.choice(n_samples, p=sample_weight / sample_weight.sum())
    indices = np.full(n_clusters, -1, dtype=int)
    centers[0] = X[center_id]
    indices[0] = center_id

    dist, pot = _native.kmeanspp_candidates(
        X, norms, np.array([center_id], dtype=np.int64), None, sw
    )
    closest_dist_sq = dist  # shape (1, n) as in scikit-learn
    current_pot = pot.astype(dtype)

    for c in range(1, n_clusters):
        rand_vals = random_state.uniform(size=n_local_trials) * current_pot
        candidate_ids = np.searchsorted(np.cumsum(sample_weight * closest_dist_sq), rand_vals)
        np.clip(candidate_ids, None, closest_dist_sq.size - 1, out=candidate_ids)
        dist, pots = _native.kmeanspp_candidates(
            X,
            norms,
            candidate_ids.astype(np.int64, copy=False),
            np.ascontiguousarray(closest_dist_sq.reshape(-1)),
            sw,
        )
        pots = pots.astype(dtype)
        best = np.argmin(pots)
        current_pot = pots[best]
        closest_dist_sq = dist[best]
        best_candidate = candidate_ids[best]
        centers[c] = X[best_candidate]
        indices[c] = best_candidate

    return centers, indices


def _tolerance(X, tol):
    """A tolerance scaled by the mean per-feature variance of X (scikit-learn's ``_tolerance``)."""
    if tol == 0:
        return 0
    variances = np.var(X, axis=0)
    return np.mean(variances) * tol


def _is_same_clustering(labels1, labels2, n_clusters):
    """True if labels1 maps onto labels2 (every label of 1 goes to one label of 2)."""
    pairs = labels1.astype(np.int64) * n_clusters + labels2.astype(np.int64)
    return np.unique(pairs).size == np.unique(labels1).size


###############################################################################
# Estimator


class _BaseKMeans(
    ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator
):
    """Shared parts of rml's KMeans and BisectingKMeans (scikit-learn's ``_BaseKMeans``)."""

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means++", "random"}), callable, "array-like"],
        "n_init": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters, *, init, n_init, max_iter, tol, verbose, random_state):
        self.n_clusters = n_clusters
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.n_init = n_init
        self.verbose = verbose
        self.random_state = random_state

    def _reject_sparse(self, X):
        """rml's K-means estimators take dense arrays only: a clear TypeError for sparse X."""
        if sp.issparse(X):
            raise TypeError(
                f"Sparse data was passed for {type(self).__name__}, but dense data is "
                "required by rml. Use X.toarray() to convert to a dense numpy array."
            )

    def _validate_fit_data(self, X):
        self._reject_sparse(X)
        X = validate_data(
            self,
            X,
            dtype=[np.float64, np.float32],
            order="C",
            copy=self.copy_x,
        )
        native = _native_f(X, X.dtype)
        if native is not X:
            X = native
        elif not X.flags.writeable:
            X = X.copy()
        return X

    def _check_params_vs_input(self, X, default_n_init=None):
        if X.shape[0] < self.n_clusters:
            raise ValueError(
                f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}."
            )
        self._tol = _tolerance(X, self.tol)
        if self.n_init == "auto":
            if isinstance(self.init, str) and self.init == "k-means++":
                self._n_init = 1
            elif isinstance(self.init, str) and self.init == "random":
                self._n_init = default_n_init
            elif callable(self.init):
                self._n_init = default_n_init
            else:
                self._n_init = 1
        else:
            self._n_init = self.n_init
        if _is_arraylike_not_scalar(self.init) and self._n_init != 1:
            warnings.warn(
                (
                    "Explicit initial center position passed: performing only"
                    f" one init in {self.__class__.__name__} instead of "
                    f"n_init={self._n_init}."
                ),
                RuntimeWarning,
                stacklevel=2,
            )
            self._n_init = 1

    def _validate_center_shape(self, X, centers, n_centroids=None):
        if n_centroids is None:
            n_centroids = self.n_clusters
        if centers.shape[0] != n_centroids:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of clusters {n_centroids}."
            )
        if centers.shape[1] != X.shape[1]:
            raise ValueError(
                f"The shape of the initial centers {centers.shape} does not "
                f"match the number of features of the data {X.shape[1]}."
            )

    def _check_test_data(self, X):
        self._reject_sparse(X)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        return _native_f(X, X.dtype)

    def _init_centroids(
        self, X, x_squared_norms, init, random_state, sample_weight, n_centroids=None
    ):
        n_samples = X.shape[0]
        n_clusters = self.n_clusters if n_centroids is None else n_centroids
        if isinstance(init, str) and init == "k-means++":
            if x_squared_norms is None:
                x_squared_norms = row_norms(X, squared=True)
            centers, _ = _kmeans_plusplus(
                X,
                n_clusters,
                random_state=random_state,
                x_squared_norms=x_squared_norms,
                sample_weight=sample_weight,
            )
        elif isinstance(init, str) and init == "random":
            seeds = random_state.choice(
                n_samples,
                size=n_clusters,
                replace=False,
                p=sample_weight / sample_weight.sum(),
            )
            centers = X[seeds]
        elif _is_arraylike_not_scalar(self.init):
            centers = init
        elif callable(init):
            centers = init(X, n_clusters, random_state=random_state)
            centers = check_array(centers, dtype=X.dtype, copy=False, order="C")
            self._validate_center_shape(X, centers, n_centroids=n_clusters)
        if sp.issparse(centers):
            centers = centers.toarray()
        return _native_f(centers, X.dtype)

    def _centers_like(self, X):
        return _native_f(self.cluster_centers_, X.dtype)

    def fit_predict(self, X, y=None, sample_weight=None):
        """Compute cluster centers and predict cluster index for each sample.

        Equivalent to ``fit(X).labels_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored
            Not used, present for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int32
            Index of the cluster each sample belongs to.
        """
        return self.fit(X, sample_weight=sample_weight).labels_

    def predict(self, X):
        """Predict the closest cluster each sample in X belongs to.

        Ties (equal ``||c||² - 2 x·c``) go to the smaller cluster index. Cost
        ``O(n_samples * n_clusters * n_features)`` (one GEMM per chunk, all cores).

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
        labels, _ = _native.kmeans_labels_inertia(X, sample_weight, self._centers_like(X))
        return labels

    def fit_transform(self, X, y=None, sample_weight=None):
        """Compute clustering and transform X to cluster-distance space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data to transform.
        y : Ignored
            Not used, present here for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            X transformed in the new space.
        """
        return self.fit(X, sample_weight=sample_weight)._transform(X)

    def transform(self, X):
        """Transform X to a cluster-distance space (euclidean distance to every centre).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            New data to transform.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_clusters)
            Distances, float32 when both X and the centres are float32, else float64.
        """
        check_is_fitted(self)
        X = self._check_test_data(X)
        return self._transform(X)

    def _transform(self, X):
        X = check_array(X, dtype=[np.float64, np.float32])
        dtype = (
            np.float32
            if X.dtype == np.float32 and self.cluster_centers_.dtype == np.float32
            else np.float64
        )
        return _native.kmeans_transform(
            _native_f(X, dtype), _native_f(self.cluster_centers_, dtype)
        )

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
        sample_weight = _native_f(_check_sample_weight(sample_weight, X, dtype=X.dtype), X.dtype)
        _, inertia = _native.kmeans_labels_inertia(X, sample_weight, self._centers_like(X))
        return -inertia

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        return tags


class KMeans(_BaseKMeans):
    """K-Means clustering (scikit-learn's ``KMeans`` with a Rust engine).

    Parameters
    ----------
    n_clusters : int, default=8
        The number of clusters to form as well as the number of centroids to generate.
    init : {'k-means++', 'random'}, callable or array-like of shape \
            (n_clusters, n_features), default='k-means++'
        Method for initialization: greedy k-means++ (scikit-learn's random stream), random
        rows (weighted by ``sample_weight``), an explicit array, or a callable
        ``init(X, n_clusters, random_state)``.
    n_init : 'auto' or int, default='auto'
        Number of runs with different seeds; the best inertia wins. 'auto' means 1 for
        'k-means++' or an array, 10 for 'random' or a callable.
    max_iter : int, default=300
        Maximum number of iterations of a single run.
    tol : float, default=1e-4
        Relative tolerance: a run stops when ``Σ ||c_new - c_old||²`` is at most
        ``tol * mean(var(X, axis=0))``, or as soon as no label changes.
    verbose : int, default=0
        Verbosity mode (scikit-learn's messages, printed after each run).
    random_state : int, RandomState instance or None, default=None
        Determines random number generation for centroid initialization.
    copy_x : bool, default=True
        If False, X is centred in place during fit and restored afterwards (as
        scikit-learn does), saving one copy of X when it is already C-contiguous and of a
        float dtype.
    algorithm : {'lloyd', 'elkan'}, default='lloyd'
        Lloyd's EM iteration (one GEMM per iteration) or Elkan's bounds (fewer distance
        computations on well-separated clusters; ``n_samples * n_clusters`` extra memory).

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        Coordinates of cluster centers, float32 for float32 X, else float64.
    labels_ : ndarray of shape (n_samples,), dtype=int32
        Labels of each point.
    inertia_ : float
        Sum of squared distances of samples to their closest cluster center, weighted by the
        sample weights.
    n_iter_ : int
        Number of iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit (only when X has string feature names).

    Notes
    -----
    Each Lloyd iteration costs ``O(n_samples * n_clusters * n_features)``: the assignment
    is a GEMM ``X Cᵀ`` fused with an argmin, chunked and parallel over all cores; centre
    sums are accumulated in float64 (also for float32 X) and reduced in a fixed order, so
    the results do not depend on the number of threads. Ties go to the smaller cluster
    index. With the same initial centres, labels and ``n_iter_`` equal scikit-learn's and
    centres/inertia agree to rounding. Sparse X is not supported (TypeError).

    Examples
    --------
    >>> import numpy as np
    >>> from rml.cluster import KMeans
    >>> X = np.array([[1, 2], [1, 4], [1, 0], [10, 2], [10, 4], [10, 0]])
    >>> km = KMeans(n_clusters=2, random_state=0, n_init="auto").fit(X)
    >>> km.labels_
    array([1, 1, 1, 0, 0, 0], dtype=int32)
    """

    _parameter_constraints: dict = {
        **_BaseKMeans._parameter_constraints,
        "copy_x": ["boolean"],
        "algorithm": [StrOptions({"lloyd", "elkan"})],
    }

    def __init__(
        self,
        n_clusters=8,
        *,
        init="k-means++",
        n_init="auto",
        max_iter=300,
        tol=1e-4,
        verbose=0,
        random_state=None,
        copy_x=True,
        algorithm="lloyd",
    ):
        super().__init__(
            n_clusters=n_clusters,
            init=init,
            n_init=n_init,
            max_iter=max_iter,
            tol=tol,
            verbose=verbose,
            random_state=random_state,
        )
        self.copy_x = copy_x
        self.algorithm = algorithm

    def _check_params_vs_input(self, X):
        super()._check_params_vs_input(X, default_n_init=10)
        self._algorithm = self.algorithm
        if self._algorithm == "elkan" and self.n_clusters == 1:
            warnings.warn(
                (
                    "algorithm='elkan' doesn't make sense for a single "
                    "cluster. Using 'lloyd' instead."
                ),
                RuntimeWarning,
            )
            self._algorithm = "lloyd"

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training instances to cluster.
        y : Ignored
            Not used, present here for API consistency by convention.
        sample_weight : array-like of shape (n_samples,), default=None
            The weights for each observation in X (not used by an explicit or callable
            init).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        X = self._validate_fit_data(X)
        self._check_params_vs_input(X)
        random_state = check_random_state(self.random_state)
        sample_weight = _native_f(_check_sample_weight(sample_weight, X, dtype=X.dtype), X.dtype)

        init = self.init
        init_is_array_like = _is_arraylike_not_scalar(init)
        if init_is_array_like:
            init = check_array(init, dtype=X.dtype, copy=True, order="C")
            self._validate_center_shape(X, init)

        X_mean = X.mean(axis=0)
        X -= X_mean
        if init_is_array_like:
            init -= X_mean

        x_squared_norms = None
        if isinstance(init, str) and init == "k-means++":
            x_squared_norms = row_norms(X, squared=True)

        best_inertia, best_labels = None, None
        try:
            for _ in range(self._n_init):
                centers_init = self._init_centroids(
                    X,
                    x_squared_norms=x_squared_norms,
                    init=init,
                    random_state=random_state,
                    sample_weight=sample_weight,
                )
                if self.verbose:
                    print("Initialization complete")
                centers, labels, inertia, n_iter_, log = _native.kmeans_single(
                    X,
                    sample_weight,
                    centers_init,
                    int(self.max_iter),
                    float(self._tol),
                    self._algorithm,
                    bool(self.verbose),
                )
                for line in log:
                    print(line)
                if best_inertia is None or (
                    inertia < best_inertia
                    and not _is_same_clustering(labels, best_labels, self.n_clusters)
                ):
                    best_labels = labels
                    best_centers = centers
                    best_inertia = inertia
                    best_n_iter = n_iter_
        finally:
            if not self.copy_x:
                X += X_mean
        best_centers += X_mean

        distinct_clusters = len(np.unique(best_labels))
        if distinct_clusters < self.n_clusters:
            warnings.warn(
                "Number of distinct clusters ({}) found smaller than "
                "n_clusters ({}). Possibly due to duplicate points "
                "in X.".format(distinct_clusters, self.n_clusters),
                ConvergenceWarning,
                stacklevel=2,
            )

        self.cluster_centers_ = best_centers
        self._n_features_out = self.cluster_centers_.shape[0]
        self.labels_ = best_labels
        self.inertia_ = best_inertia
        self.n_iter_ = best_n_iter
        return self
