"""Shared machinery of the neighbours estimators: parameters, fitting, and the k-nearest and
radius queries, each answered by one native call (brute force, KD-tree or precomputed).

Tie rule everywhere: neighbours are sorted by (distance, training index), so among equal
distances the earlier training row wins. scikit-learn's brute force uses an unstable sort
there, so on exact distance ties the *order* (and, for the k-th neighbour, the *choice*) of
neighbours can differ; predictions differ only if such a tie changes a vote.
"""

import numbers
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.sparse import csr_matrix, issparse
from sklearn.base import BaseEstimator, MultiOutputMixin
from sklearn.utils import check_array
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from rml import _rml
from rml.utils import as_native_float, n_jobs_arg
from rml.neighbors import _prefilter
from rml.utils._sklearn import align_sparse_api, to_object_array

#: Metric names rml implements, by algorithm. 'ball_tree' is served by the KD-tree: for the
#: Minkowski family both trees return identical neighbours.
VALID_METRICS = {
    "kd_tree": [
        "chebyshev", "cityblock", "euclidean", "infinity", "l1", "l2", "manhattan",
        "minkowski",
    ],
    "brute": [
        "chebyshev", "cityblock", "cosine", "euclidean", "infinity", "l1", "l2", "manhattan",
        "minkowski", "precomputed", "sqeuclidean",
    ],
}
VALID_METRICS["ball_tree"] = VALID_METRICS["kd_tree"]

_NATIVE_METRIC_NAME = {
    "euclidean": "euclidean", "l2": "euclidean", "sqeuclidean": "sqeuclidean",
    "manhattan": "manhattan", "cityblock": "manhattan", "l1": "manhattan",
    "chebyshev": "chebyshev", "infinity": "chebyshev", "cosine": "cosine",
    "minkowski": "minkowski",
}


def _get_weights(dist, weights):
    """Neighbour weights as scikit-learn computes them (None means uniform).

    With 'distance', a query at distance 0 from some training rows gives those rows weight
    1 and every other neighbour weight 0.
    """
    if weights in (None, "uniform"):
        return None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            dist = 1.0 / dist
        inf_mask = np.isinf(dist)
        inf_row = np.any(inf_mask, axis=1)
        dist[inf_row] = inf_mask[inf_row]
        return dist
    return weights(dist)


def _check_precomputed(X):
    """Validate a dense precomputed distance matrix like scikit-learn does."""
    if issparse(X):
        raise TypeError(
            "rml does not support sparse precomputed distance matrices; pass a dense "
            "array or use sklearn.neighbors."
        )
    X = check_array(X, dtype=[np.float64, np.float32])
    if (X < 0).any():
        raise ValueError("Negative values in data passed to precomputed distance matrix.")
    return X


def _reject_sparse(X):
    if issparse(X):
        raise TypeError(
            "rml's neighbours estimators do not accept sparse input; densify X "
            "(X.toarray()) or use sklearn.neighbors for sparse data."
        )


class NeighborsBase(MultiOutputMixin, BaseEstimator):
    """Base class of rml's neighbours estimators (parameters and fitting)."""

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "radius": [Interval(Real, 0, None, closed="both"), None],
        "algorithm": [StrOptions({"auto", "ball_tree", "kd_tree", "brute"})],
        "leaf_size": [Interval(Integral, 1, None, closed="left")],
        # scikit-learn also accepts 0 < p < 1 (a semi-metric, brute force only); rml
        # requires p >= 1 and says so at fit.
        "p": [Interval(Real, 1, None, closed="left"), None],
        "metric": [StrOptions(set(VALID_METRICS["brute"]))],
        "metric_params": [dict, None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        n_neighbors=None,
        radius=None,
        algorithm="auto",
        leaf_size=30,
        metric="minkowski",
        p=2,
        metric_params=None,
        n_jobs=None,
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.metric_params = metric_params
        self.p = p
        self.n_jobs = n_jobs

    # -- fitting -----------------------------------------------------------------------------

    def _check_algorithm_metric(self):
        if self.algorithm == "auto":
            alg_check = "brute" if self.metric in ("precomputed", "cosine", "sqeuclidean") else "ball_tree"
        elif self.algorithm == "prefilter":
            alg_check = "kd_tree"  # the key's exactness bound needs a Minkowski-family metric
        else:
            alg_check = self.algorithm
        if self.metric not in VALID_METRICS[alg_check]:
            raise ValueError(
                "Metric '%s' not valid. Use sorted(rml.neighbors.VALID_METRICS['%s']) to get "
                "valid options." % (self.metric, alg_check)
            )
        if self.metric_params is not None:
            unknown = set(self.metric_params) - {"p"}
            if unknown:
                raise NotImplementedError(
                    f"metric_params {sorted(unknown)} are not supported by rml (only 'p' is); "
                    "use sklearn.neighbors for weighted Minkowski or other metric parameters."
                )
            if "p" in self.metric_params and self.p is not None:
                warnings.warn(
                    "Parameter p is found in metric_params. The corresponding parameter from "
                    "__init__ is ignored.",
                    SyntaxWarning,
                    stacklevel=3,
                )

    def _fit(self, X, y=None):
        """Validate X (and y), choose the algorithm as scikit-learn does, build the index."""
        _reject_sparse(X)
        if y is not None or self.__sklearn_tags__().target_tags.required:
            X, y = validate_data(
                self, X, y, multi_output=True, order="C", dtype=[np.float64, np.float32],
                y_numeric=not self._is_classifier_like(),
            )
        else:
            X = validate_data(self, X, order="C", dtype=[np.float64, np.float32])

        self._check_algorithm_metric()
        self.effective_metric_params_ = dict(self.metric_params or {})
        effective_p = self.effective_metric_params_.get("p", self.p)
        if effective_p is None:
            effective_p = 2
        if self.metric == "minkowski":
            if not (isinstance(effective_p, Real) and effective_p >= 1):
                raise ValueError(
                    f"rml supports the Minkowski metric for p >= 1 only, got p={effective_p}."
                )
            self.effective_metric_params_.pop("p", None)
            if effective_p == 1:
                self.effective_metric_ = "manhattan"
            elif effective_p == 2:
                self.effective_metric_ = "euclidean"
            elif effective_p == np.inf:
                self.effective_metric_ = "chebyshev"
            else:
                self.effective_metric_ = "minkowski"
                self.effective_metric_params_["p"] = effective_p
        else:
            self.effective_metric_ = self.metric
            self.effective_metric_params_.pop("p", None)
        self._effective_p = float(effective_p)

        if self.metric == "precomputed":
            X = _check_precomputed(X)
            if X.shape[0] != X.shape[1]:
                raise ValueError(
                    "Precomputed matrix must be square. Input is a {}x{} matrix.".format(
                        X.shape[0], X.shape[1]
                    )
                )
            self.n_features_in_ = X.shape[1]

        self._fit_X = as_native_float(X)
        self.n_samples_fit_ = X.shape[0]
        self._fit_method = self._choose_method()
        self._tree = None
        if self._fit_method in ("kd_tree", "ball_tree"):
            self._tree = _rml.neighbors.kdtree_build(self._fit_X, int(self.leaf_size))
        return y

    def _is_classifier_like(self):
        return False

    def _fit_prefilter(self, targets):
        """Build the pre-filter index from (n_samples, n_targets) numeric targets."""
        w, chosen = _prefilter.target_correlation_projection(
            self._fit_X, targets, self.prefilter_features
        )
        self.prefilter_weights_ = w
        self.prefilter_features_in_ = chosen
        self._prefilter_index = _prefilter.build(self._fit_X, w)

    def _choose_method(self):
        """scikit-learn's 'auto' rule: brute for precomputed, d > 15 or k >= n/2, else a tree."""
        method = self.algorithm
        if method == "auto":
            if (
                self.metric == "precomputed"
                or self._fit_X.shape[1] > 15
                or (self.n_neighbors is not None and self.n_neighbors >= self._fit_X.shape[0] // 2)
                or self.effective_metric_ not in VALID_METRICS["kd_tree"]
            ):
                method = "brute"
            else:
                method = "kd_tree"
        return method

    # -- queries -----------------------------------------------------------------------------

    def _native_metric(self):
        return _NATIVE_METRIC_NAME[self.effective_metric_]

    def _validate_query(self, X):
        if self.metric == "precomputed":
            X = _check_precomputed(X)
            if X.shape[1] != self.n_samples_fit_:
                raise ValueError(
                    "Precomputed metric requires shape (n_queries, n_indexed). Got "
                    f"({X.shape[0]}, {X.shape[1]}) for {self.n_samples_fit_} indexed."
                )
        else:
            _reject_sparse(X)
            X = validate_data(self, X, reset=False, order="C", dtype=[np.float64, np.float32])
        return as_native_float(X, dtype=self._fit_X.dtype)

    def _knn(self, X, k, return_distance):
        """One native k-nearest query; X already validated and in the fitted dtype."""
        n_jobs = n_jobs_arg(self.n_jobs)
        if self.metric == "precomputed":
            dist, ind = _rml.neighbors.precomputed_kneighbors(X, k, return_distance, n_jobs)
        elif self._fit_method == "prefilter":
            dist, ind, _, _ = _prefilter.query(
                self._prefilter_index, self.prefilter_weights_, X, k, self._native_metric(),
                self._effective_p, self.candidate_fraction, return_distance, self.n_jobs,
            )
        elif self._fit_method == "brute":
            dist, ind = _rml.neighbors.brute_kneighbors(
                X, self._fit_X, k, self._native_metric(), self._effective_p, return_distance,
                n_jobs,
            )
        else:
            idx, node_data, node_bounds = self._tree
            dist, ind = _rml.neighbors.kdtree_query(
                self._fit_X, idx, node_data, node_bounds, X, k, self._native_metric(),
                self._effective_p, return_distance, n_jobs,
            )
        if dist is not None:
            # scikit-learn returns float64 distances whatever the input dtype.
            dist = dist.astype(np.float64, copy=False)
        return dist, ind

    def _radius(self, X, radius, return_distance, sort_results):
        """One native radius query returning CSR-shaped (dist, ind, offsets)."""
        n_jobs = n_jobs_arg(self.n_jobs)
        if self.metric == "precomputed":
            out = _rml.neighbors.precomputed_radius_neighbors(
                X, float(radius), return_distance, sort_results, n_jobs
            )
        elif self._fit_method == "brute":
            out = _rml.neighbors.brute_radius_neighbors(
                X, self._fit_X, float(radius), self._native_metric(), self._effective_p,
                return_distance, sort_results, n_jobs,
            )
        else:
            idx, node_data, node_bounds = self._tree
            r = np.full(X.shape[0], float(radius), dtype=np.float64)
            out = _rml.neighbors.kdtree_query_radius(
                self._fit_X, idx, node_data, node_bounds, X, r, self._native_metric(),
                self._effective_p, return_distance, False, sort_results, n_jobs,
            )
        dist, ind, offsets = out
        if dist is not None:
            dist = dist.astype(np.float64, copy=False)
        return dist, ind, offsets

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.positive_only = tags.input_tags.pairwise
        tags.input_tags.allow_nan = False
        return tags


#: Parameters of KNeighborsClassifier and KNeighborsRegressor: the base set without radius,
#: plus vote weights and the pre-filter options.
KNEIGHBORS_ESTIMATOR_CONSTRAINTS: dict = {
    **{k: v for k, v in NeighborsBase._parameter_constraints.items() if k != "radius"},
    "weights": [StrOptions({"uniform", "distance"}), callable, None],
    "algorithm": [StrOptions({"auto", "ball_tree", "kd_tree", "brute", "prefilter"})],
    "prefilter_features": [Interval(Integral, 1, None, closed="left")],
    "candidate_fraction": [Interval(Real, 0, 1, closed="right")],
}


class KNeighborsMixin:
    """k-nearest-neighbour queries: ``kneighbors`` and ``kneighbors_graph``."""

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest neighbours of each query point.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), or (n_queries, n_indexed) if
            metric == 'precomputed', default=None
            The query points. If None, the neighbours of each training point are returned,
            the point itself excluded.
        n_neighbors : int, default=None
            Number of neighbours; defaults to the constructor's value.
        return_distance : bool, default=True
            Whether to return the distances.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors), float64
            Distances, ascending; only if ``return_distance``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors), int64
            Training-row indices. Among equal distances the smaller index comes first.

        Notes
        -----
        Brute force costs O(n_queries * n_samples_fit * n_features) in GEMM-shaped,
        cache-blocked tiles with memory bounded by a working-memory budget; the KD-tree
        costs about O(n_queries * log n_samples_fit) in low dimensions.
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        elif not isinstance(n_neighbors, numbers.Integral) or isinstance(n_neighbors, bool):
            raise TypeError(
                "n_neighbors does not take %s value, enter integer value" % type(n_neighbors)
            )
        elif n_neighbors <= 0:
            raise ValueError("Expected n_neighbors > 0. Got %d" % n_neighbors)
        n_neighbors = int(n_neighbors)

        query_is_train = X is None
        if query_is_train:
            X = self._fit_X
            n_neighbors += 1
        else:
            X = self._validate_query(X)

        n_samples_fit = self.n_samples_fit_
        if n_neighbors > n_samples_fit:
            if query_is_train:
                n_neighbors -= 1
                inequality_str = "n_neighbors < n_samples_fit"
            else:
                inequality_str = "n_neighbors <= n_samples_fit"
            raise ValueError(
                f"Expected {inequality_str}, but n_neighbors = {n_neighbors}, "
                f"n_samples_fit = {n_samples_fit}, n_samples = {X.shape[0]}"
            )

        neigh_dist, neigh_ind = self._knn(X, n_neighbors, return_distance)
        if not query_is_train:
            return (neigh_dist, neigh_ind) if return_distance else neigh_ind

        # Drop each training point from its own list. With more duplicates than neighbours
        # the point may not be in its list: drop the first entry instead (scikit-learn's rule).
        n_queries = X.shape[0]
        sample_mask = neigh_ind != np.arange(n_queries)[:, None]
        dup_gr_nbrs = np.all(sample_mask, axis=1)
        sample_mask[:, 0][dup_gr_nbrs] = False
        neigh_ind = np.reshape(neigh_ind[sample_mask], (n_queries, n_neighbors - 1))
        if return_distance:
            neigh_dist = np.reshape(neigh_dist[sample_mask], (n_queries, n_neighbors - 1))
            return neigh_dist, neigh_ind
        return neigh_ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of the k nearest neighbours of each query point.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query points; None means the training points, each excluding itself.
        n_neighbors : int, default=None
            Number of neighbours; defaults to the constructor's value.
        mode : {'connectivity', 'distance'}, default='connectivity'
            Edge values: ones, or the distances.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit), CSR
        """
        check_is_fitted(self)
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if mode == "connectivity":
            A_ind = self.kneighbors(X, n_neighbors, return_distance=False)
            A_data = np.ones(A_ind.shape[0] * n_neighbors)
        elif mode == "distance":
            A_data, A_ind = self.kneighbors(X, n_neighbors, return_distance=True)
            A_data = np.ravel(A_data)
        else:
            raise ValueError(
                'Unsupported mode, must be one of "connectivity", '
                f'or "distance" but got "{mode}" instead'
            )
        n_queries = A_ind.shape[0]
        A_indptr = np.arange(0, n_queries * n_neighbors + 1, n_neighbors)
        graph = csr_matrix((A_data, A_ind.ravel(), A_indptr), shape=(n_queries, self.n_samples_fit_))
        return align_sparse_api(graph)


class RadiusNeighborsMixin:
    """Within-radius queries: ``radius_neighbors`` and ``radius_neighbors_graph``."""

    def _radius_csr(self, X, radius, return_distance, sort_results):
        check_is_fitted(self)
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        query_is_train = X is None
        X = self._fit_X if query_is_train else self._validate_query(X)
        if radius is None:
            radius = self.radius
        radius = float(radius)
        if np.isnan(radius) or radius < 0:
            raise ValueError(f"radius must be a non-negative number, got {radius!r}.")
        dist, ind, offsets = self._radius(X, radius, return_distance, sort_results)
        if query_is_train:
            # A training point is not its own neighbour.
            n_queries = X.shape[0]
            row_of = np.repeat(np.arange(n_queries), np.diff(offsets))
            keep = ind != row_of
            counts = np.bincount(row_of[keep], minlength=n_queries)
            ind = ind[keep]
            if dist is not None:
                dist = dist[keep]
            offsets = np.zeros(n_queries + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
        return dist, ind, offsets

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the neighbours within a given radius of each query point.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query points; None means the training points, each excluding itself.
        radius : float, default=None
            Limiting distance (inclusive); defaults to the constructor's value.
        return_distance : bool, default=True
            Whether to return the distances.
        sort_results : bool, default=False
            Sort each row by distance (then by index); requires ``return_distance``.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,) of float64 arrays
            Only if ``return_distance``.
        neigh_ind : ndarray of shape (n_queries,) of int64 arrays
            Training-row indices. Unsorted rows are in increasing training order.
        """
        dist, ind, offsets = self._radius_csr(X, radius, return_distance, sort_results)
        ind_rows = to_object_array(np.split(ind, offsets[1:-1]))
        if return_distance:
            return to_object_array(np.split(dist, offsets[1:-1])), ind_rows
        return ind_rows

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity", sort_results=False):
        """Sparse graph of the neighbours within ``radius`` of each query point.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
            Query points; None means the training points, each excluding itself.
        radius : float, default=None
            Limiting distance (inclusive); defaults to the constructor's value.
        mode : {'connectivity', 'distance'}, default='connectivity'
            Edge values: ones, or the distances.
        sort_results : bool, default=False
            Sort each row by distance (mode='distance' only).

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit), CSR
        """
        if mode == "connectivity":
            _, ind, offsets = self._radius_csr(X, radius, False, False)
            data = np.ones(ind.shape[0])
        elif mode == "distance":
            data, ind, offsets = self._radius_csr(X, radius, True, sort_results)
        else:
            raise ValueError(
                'Unsupported mode, must be one of "connectivity", '
                f'or "distance" but got "{mode}" instead'
            )
        graph = csr_matrix(
            (data, ind, offsets), shape=(offsets.shape[0] - 1, self.n_samples_fit_)
        )
        return align_sparse_api(graph)
