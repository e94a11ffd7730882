"""KDTree: scikit-learn's ``sklearn.neighbors.KDTree`` API on rml's Rust KD-tree.

The fitted tree is four numpy arrays held by the Python object (``data``, ``idx_array``,
``node_data``, ``node_bounds``), exactly the arrays scikit-learn exposes through
``get_arrays()``; every query passes them to one native call, which validates them (so a
tampered pickle raises ``ValueError`` instead of crashing) and runs with the GIL released on
all cores (capped by ``RML_NUM_THREADS``).
"""

import numbers

import numpy as np
from sklearn.metrics import DistanceMetric
from sklearn.utils import check_array

from rml import _rml
from rml.utils import as_native_float

__all__ = ["KDTree"]

# scikit-learn's KDTree.valid_metrics, in its order.
VALID_METRICS = [
    "euclidean",
    "l2",
    "minkowski",
    "p",
    "manhattan",
    "cityblock",
    "l1",
    "chebyshev",
    "infinity",
]

# scikit-learn's NodeData dtype (get_arrays()[2]).
NodeData = np.dtype(
    [("idx_start", np.intp), ("idx_end", np.intp), ("is_leaf", np.intp), ("radius", np.float64)]
)

_NATIVE_METRIC = {
    "EuclideanDistance64": "euclidean",
    "ManhattanDistance64": "manhattan",
    "ChebyshevDistance64": "chebyshev",
    "MinkowskiDistance64": "minkowski",
}


def _resolve_metric(metric, kwargs):
    """(native metric name, p) for a scikit-learn metric spec; sklearn's own errors."""
    if isinstance(metric, DistanceMetric):
        name = type(metric).__name__
        if name in ("EuclideanDistance64", "ManhattanDistance64", "ChebyshevDistance64") and not kwargs:
            return _NATIVE_METRIC[name], {"EuclideanDistance64": 2.0, "ManhattanDistance64": 1.0}.get(
                name, np.inf
            )
        raise NotImplementedError(
            f"rml's KDTree takes the metric as a name (e.g. metric='minkowski', p=3), "
            f"not as a {name} object."
        )
    # scikit-learn's validation and messages: unknown names, bad p, unexpected keywords.
    dm = DistanceMetric.get_metric(metric, **kwargs)
    name = type(dm).__name__
    if name not in _NATIVE_METRIC:
        raise ValueError(f"metric {name} is not valid for KDTree64")
    if kwargs.get("w") is not None:
        raise NotImplementedError("weighted Minkowski (w=...) is not supported by rml's KDTree.")
    native = _NATIVE_METRIC[name]
    if native == "minkowski":
        p = float(kwargs.get("p", 2))
    else:
        p = {"euclidean": 2.0, "manhattan": 1.0, "chebyshev": np.inf}[native]
    return native, p


def _check_int(value, name):
    if isinstance(value, numbers.Integral):
        return int(value)
    raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}.")


class KDTree:
    """KDTree for fast nearest-neighbour queries (scikit-learn's ``KDTree``, in Rust).

    A drop-in for :class:`sklearn.neighbors.KDTree` for the Minkowski-family metrics.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training points. Validated with scikit-learn's ``check_array`` (no NaN or infinity,
        2-d, at least one sample and one feature). float32 input stays float32 (distances are
        then float32); every other dtype is converted to float64.
    leaf_size : int, default=40
        Number of points at which to switch to brute force. Leaves hold between
        ``leaf_size`` and ``2 * leaf_size`` points (fewer if ``n_samples < leaf_size``), as in
        scikit-learn. Changes speed and memory, never results.
    metric : str, default='minkowski'
        One of ``valid_metrics``: 'minkowski' (with ``p``, default 2), 'p', 'euclidean'/'l2',
        'manhattan'/'cityblock'/'l1', 'chebyshev'/'infinity'. Any other metric raises
        scikit-learn's ``ValueError``. A ``DistanceMetric`` object is accepted for euclidean,
        manhattan and chebyshev.
    sample_weight : None
        Only used by scikit-learn's ``kernel_density``, which rml does not implement; anything
        but None raises ``NotImplementedError``.
    **kwargs
        Metric parameters: ``p`` for 'minkowski' (any p > 0, as scikit-learn). ``w``
        (weighted Minkowski) raises ``NotImplementedError``; unknown keywords raise
        scikit-learn's ``TypeError``.

    Attributes
    ----------
    data : ndarray of shape (n_samples, n_features)
        The training data (C-contiguous float32/float64; scikit-learn exposes a memoryview).
    valid_metrics : list of str
        The metric names accepted.

    Notes
    -----
    Building takes O(n d log(n / leaf_size)) time (median splits on the dimension of largest
    spread, by selection, parallel over the nodes of each level) and bounded depth, so
    duplicated or identical points are fine. Queries are depth-first, nearest child first,
    parallel over query chunks.

    Ties: neighbours are always sorted by (distance, training index), so among equidistant
    points the smaller training index comes first and the k-th neighbour tie is resolved in
    favour of smaller indices. scikit-learn's order among exactly equal distances depends on
    its traversal; the sets of distances are the same. Results do not depend on the thread
    count.

    Not implemented (documented, not stubbed): ``kernel_density``, ``two_point_correlation``,
    ``query(dualtree=True)``, ``query(breadth_first=True)`` (the last two only change
    scikit-learn's traversal strategy; they raise ``NotImplementedError``),
    ``get_tree_stats`` and ``get_n_calls``.
    """

    valid_metrics = list(VALID_METRICS)

    def __init__(self, X, leaf_size=40, metric="minkowski", sample_weight=None, **kwargs):
        data = check_array(X, dtype=[np.float64, np.float32], order="C")
        if data.size == 0:
            raise ValueError("X is an empty array")
        leaf_size = _check_int(leaf_size, "leaf_size")
        if leaf_size < 1:
            raise ValueError("leaf_size must be greater than or equal to 1")
        if sample_weight is not None:
            raise NotImplementedError(
                "sample_weight is only used by kernel_density, which rml's KDTree does not implement."
            )
        self._metric, self._p = _resolve_metric(metric, kwargs)
        self.leaf_size = leaf_size
        self.data = as_native_float(data)
        self.idx_array, self._node_data, self.node_bounds = _rml.neighbors.kdtree_build(
            self.data, leaf_size
        )

    # -- state: plain numpy arrays (pickle, copy.deepcopy) ---------------------------------
    def __getstate__(self):
        return {
            "data": self.data,
            "idx_array": self.idx_array,
            "node_data": self._node_data,
            "node_bounds": self.node_bounds,
            "leaf_size": self.leaf_size,
            "metric": self._metric,
            "p": self._p,
        }

    def __setstate__(self, state):
        self.data = state["data"]
        self.idx_array = state["idx_array"]
        self._node_data = state["node_data"]
        self.node_bounds = state["node_bounds"]
        self.leaf_size = state["leaf_size"]
        self._metric = state["metric"]
        self._p = state["p"]

    @property
    def node_data(self):
        """Node records as scikit-learn's structured ``NodeData`` array."""
        nd = self._node_data
        out = np.zeros(nd.shape[0], dtype=NodeData)
        out["idx_start"] = nd[:, 0]
        out["idx_end"] = nd[:, 1]
        out["is_leaf"] = nd[:, 2]
        half = 0.5 * np.abs(self.node_bounds[1].astype(np.float64) - self.node_bounds[0])
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isinf(self._p):
                # scikit-learn computes pow(max_j half_j, 1 / p) with p = inf, i.e. 1.0;
                # mirrored so get_arrays() matches it field for field.
                out["radius"] = np.power(half.max(axis=1), 0.0)
            else:
                out["radius"] = np.power(np.power(half, self._p).sum(axis=1), 1.0 / self._p)
        return out

    def get_arrays(self):
        """Return (data, idx_array, node_data, node_bounds), as scikit-learn does.

        ``node_data`` is a structured array with fields idx_start, idx_end, is_leaf, radius.
        """
        return self.data, self.idx_array, self.node_data, self.node_bounds

    def _native_metric(self):
        # The native layer takes "minkowski" for 1 <= p < inf and maps p = 1, 2 itself;
        # 0 < p < 1 (allowed by scikit-learn) is served by the same kernel.
        return self._metric, (self._p if self._metric == "minkowski" else 2.0)

    def _check_query(self, X):
        X = check_array(X, dtype=[np.float64, np.float32], order="C")
        if X.shape[X.ndim - 1] != self.data.shape[1]:
            raise ValueError("query data dimension must match training data dimension")
        return as_native_float(X, self.data.dtype)

    def query(self, X, k=1, return_distance=True, dualtree=False, breadth_first=False, sort_results=True):
        """Query the tree for the k nearest neighbours.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
        k : int, default=1
            Number of neighbours; ``k > n_samples`` raises ValueError (``k = 0`` returns empty
            arrays, as scikit-learn).
        return_distance : bool, default=True
        dualtree, breadth_first : bool, default=False
            scikit-learn traversal strategies; rml has one (single-tree, depth-first, nearest
            child first) and raises NotImplementedError for True.
        sort_results : bool, default=True
            Results are always sorted by (distance, training index); with False scikit-learn
            returns an arbitrary order, and sorted is one of them.

        Returns
        -------
        (distances, indices) if return_distance else indices, each of shape
        (n_queries, k). Distances are float64 (float32 for a float32 tree).
        """
        if dualtree:
            raise NotImplementedError("dualtree=True is not implemented by rml's KDTree.")
        if breadth_first:
            raise NotImplementedError("breadth_first=True is not implemented by rml's KDTree.")
        X = self._check_query(X)
        k = _check_int(k, "k")
        if self.data.shape[0] < k:
            raise ValueError("k must be less than or equal to the number of training points")
        if k < 0:
            raise ValueError("negative dimensions are not allowed")
        if k == 0:
            dist = np.zeros((X.shape[0], 0), dtype=self.data.dtype)
            ind = np.zeros((X.shape[0], 0), dtype=np.intp)
            return (dist, ind) if return_distance else ind
        metric, p = self._native_metric()
        dist, ind = _rml.neighbors.kdtree_query(
            self.data, self.idx_array, self._node_data, self.node_bounds, X, k, metric, p,
            bool(return_distance), None,
        )
        return (dist, ind) if return_distance else ind

    def query_radius(self, X, r, return_distance=False, count_only=False, sort_results=False):
        """Query the tree for neighbours within a radius ``r`` (inclusive).

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features)
        r : float or array-like of shape (n_queries,)
        return_distance : bool, default=False
        count_only : bool, default=False
            Cannot be combined with return_distance.
        sort_results : bool, default=False
            Sort each row by (distance, training index); requires return_distance. Unsorted
            rows come in tree order (deterministic, not scikit-learn's order).

        Returns
        -------
        counts (int array) if count_only; else ind, or (ind, dist) if return_distance:
        object arrays of shape (n_queries,) holding one array per query.
        """
        if count_only and return_distance:
            raise ValueError("count_only and return_distance cannot both be true")
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True")
        X = self._check_query(X)
        r = np.atleast_1d(np.asarray(r, dtype=np.float64, order="C"))
        if r.shape == (1,):
            r = np.full(X.shape[0], r[0], dtype=np.float64)
        elif r.shape != X.shape[:1]:
            raise ValueError("r must be broadcastable to X.shape")
        r = np.ascontiguousarray(r)
        metric, p = self._native_metric()
        dist, ind, offsets = _rml.neighbors.kdtree_query_radius(
            self.data, self.idx_array, self._node_data, self.node_bounds, X, r, metric, p,
            bool(return_distance), bool(count_only), bool(sort_results), None,
        )
        if count_only:
            return offsets.astype(np.intp, copy=False)
        ind_rows = np.empty(X.shape[0], dtype=object)
        ind_rows[:] = np.split(ind, offsets[1:-1]) if X.shape[0] else []
        if not return_distance:
            return ind_rows
        dist_rows = np.empty(X.shape[0], dtype=object)
        dist_rows[:] = np.split(dist, offsets[1:-1]) if X.shape[0] else []
        return ind_rows, dist_rows
