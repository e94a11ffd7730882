"""Agglomerative clustering with O(n^2)-time Rust linkage algorithms."""

import numpy as np
from scipy.spatial.distance import pdist, squareform
from sklearn.cluster import AgglomerativeClustering as _SkAgglomerativeClustering
from sklearn.metrics import DistanceMetric

from rml import _rml
from rml.utils._gmm_agglo import METRIC_MAPPING64

_ROW_METRICS = {"euclidean", "l2", "l1", "manhattan", "cityblock", "cosine"}


class AgglomerativeClustering(_SkAgglomerativeClustering):
    """Agglomerative clustering with a Rust engine.

    A drop-in replacement for :class:`sklearn.cluster.AgglomerativeClustering` (a subclass:
    same parameters, defaults, validation, attributes and messages) that builds the tree
    with O(n^2)-time algorithms:

    - ``linkage='ward'``: a nearest-neighbour chain over cluster centroids. Memory is
      O(n d): no n x n (or condensed) distance matrix is ever built. scikit-learn (through
      scipy) materialises the condensed matrix, 8 n^2 / 2 bytes twice.
    - ``'complete'`` and ``'average'``: a nearest-neighbour chain over one condensed distance
      matrix (4 n^2 bytes), computed in parallel.
    - ``'single'``: Prim's minimum spanning tree with distances computed on the fly,
      O(n) memory (or read from the precomputed matrix).

    Metrics computed natively: 'euclidean'/'l2', 'l1'/'manhattan'/'cityblock', 'cosine',
    and 'precomputed' (only the upper triangle is read, as in scikit-learn). Other metric
    names and callables are computed by the same Python function scikit-learn uses
    (scipy's ``pdist``, or ``DistanceMetric`` for single linkage) into an n x n matrix,
    then linked natively.

    ``connectivity`` (structured clustering) and ``memory`` (caching) are delegated to
    scikit-learn's own implementation, unchanged: when either is set, scikit-learn fits.

    Parameters
    ----------
    n_clusters : int or None, default=2
        Number of clusters; must be None when ``distance_threshold`` is set.
    metric : str or callable, default='euclidean'
        Distance between samples ('euclidean' only for ward).
    memory : str or object with a ``cache`` method, default=None
        Delegates to scikit-learn when set.
    connectivity : array-like, sparse matrix or callable, default=None
        Delegates to scikit-learn when set.
    compute_full_tree : 'auto' or bool, default='auto'
        The full tree is always built without connectivity (as in scikit-learn).
    linkage : {'ward', 'complete', 'average', 'single'}, default='ward'
    distance_threshold : float, default=None
        Linkage distance at or above which clusters are not merged.
    compute_distances : bool, default=False
        Store ``distances_`` even without ``distance_threshold``.

    Attributes
    ----------
    n_clusters_ : int
    labels_ : ndarray of shape (n_samples,)
    n_leaves_ : int
    n_connected_components_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    children_ : ndarray of shape (n_samples - 1, 2)
        ``children_[i]`` merged into node ``n_samples + i``; merges sorted by distance.
    distances_ : ndarray of shape (n_samples - 1,)
        Only with ``distance_threshold`` or ``compute_distances=True``.

    Notes
    -----
    Time O(n^2 d) for every linkage. Ties: the chain follows scipy's rules (the previous
    chain element wins ties, then the smallest cluster index), merges are sorted by distance
    with a stable sort, and labels come from scikit-learn's ``_hc_cut`` (its heap order), so
    ``labels_`` and ``children_`` equal scikit-learn's whenever merge distances have no
    ties. Ward distances are computed from centroids (``sqrt(2 |A||B| / (|A|+|B|)) *
    ||c_A - c_B||``) rather than by scipy's Lance–Williams recurrence: equal in exact
    arithmetic, within about 1e-12 relative in floating point. All arithmetic is float64
    (as scipy). Threads: all cores, capped by ``RML_NUM_THREADS``; results do not depend on
    the number of threads.
    """

    def _fit(self, X):
        if self.connectivity is not None or self.memory is not None:
            return super()._fit(X)

        if not ((self.n_clusters is None) ^ (self.distance_threshold is None)):
            raise ValueError(
                "Exactly one of n_clusters and "
                "distance_threshold has to be set, and the other "
                "needs to be None."
            )
        if self.distance_threshold is not None and not self.compute_full_tree:
            raise ValueError(
                "compute_full_tree must be True if distance_threshold is set."
            )
        if self.linkage == "ward" and self.metric not in ("euclidean", "l2"):
            raise ValueError(
                f"{self.metric} was provided as metric. Ward can only "
                "work with euclidean distances (i.e. 'euclidean' and 'l2')."
            )

        X = np.ascontiguousarray(X, dtype=np.float64)
        metric = self.metric
        if self.linkage != "ward" and metric == "cosine" and np.any(~np.any(X, axis=1)):
            raise ValueError("Cosine affinity cannot be used when X contains zero vectors")

        if metric == "precomputed":
            data, native_metric, order = X, "precomputed", "sorted"
        elif callable(metric):
            data, native_metric, order = _square(metric(X)), "precomputed", "sorted"
        elif metric in _ROW_METRICS:
            data, native_metric = X, metric
            # scikit-learn's own MST path keeps (older node, new node) in its children.
            order = "mst" if (self.linkage == "single" and metric != "cosine") else "sorted"
        elif self.linkage == "single" and metric in METRIC_MAPPING64:
            data = DistanceMetric.get_metric(metric).pairwise(X)
            native_metric, order = "precomputed", "mst"
        else:
            data = squareform(pdist(X, metric=metric))
            native_metric, order = "precomputed", "sorted"

        children, distances, labels, n_clusters_ = _rml.cluster.agglomerative_fit(
            np.ascontiguousarray(data, dtype=np.float64),
            self.linkage,
            native_metric,
            order,
            None if self.n_clusters is None else int(self.n_clusters),
            None if self.distance_threshold is None else float(self.distance_threshold),
        )
        self.children_ = children.astype(np.intp, copy=False)
        self.n_connected_components_ = 1
        self.n_leaves_ = X.shape[0]
        if self.distance_threshold is not None or self.compute_distances:
            self.distances_ = distances
        self.n_clusters_ = n_clusters_
        self.labels_ = labels.astype(np.intp, copy=False)
        return self


def _square(D):
    """A callable metric's matrix, read as scikit-learn does (upper triangle)."""
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValueError(
            f"Distance matrix should be square, got matrix of shape {D.shape}"
        )
    return D
