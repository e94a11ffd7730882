"""Unsupervised nearest-neighbour search."""

from rml.neighbors._base import KNeighborsMixin, NeighborsBase, RadiusNeighborsMixin


class NearestNeighbors(KNeighborsMixin, RadiusNeighborsMixin, NeighborsBase):
    """Unsupervised learner for neighbour searches, with a Rust engine.

    A drop-in replacement for :class:`sklearn.neighbors.NearestNeighbors`.

    Parameters
    ----------
    n_neighbors : int, default=5
        Default number of neighbours for :meth:`kneighbors`.
    radius : float, default=1.0
        Default radius for :meth:`radius_neighbors` (inclusive).
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
        'ball_tree' is served by the KD-tree (identical neighbours for supported metrics).
    leaf_size : int, default=30
    metric : str, default='minkowski'
        See :class:`rml.neighbors.KNeighborsClassifier` for the supported names.
    p : float, default=2
        Minkowski power, p >= 1.
    metric_params : dict, default=None
        Only ``{'p': value}``.
    n_jobs : int, default=None
        Threads for queries (None, -1: all cores). Results do not depend on it.

    Attributes
    ----------
    effective_metric_ : str
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    n_samples_fit_ : int
    """

    def __init__(
        self,
        *,
        n_neighbors=5,
        radius=1.0,
        algorithm="auto",
        leaf_size=30,
        metric="minkowski",
        p=2,
        metric_params=None,
        n_jobs=None,
    ):
        super().__init__(
            n_neighbors=n_neighbors,
            radius=radius,
            algorithm=algorithm,
            leaf_size=leaf_size,
            metric=metric,
            p=p,
            metric_params=metric_params,
            n_jobs=n_jobs,
        )

    def fit(self, X, y=None):
        """Fit the nearest-neighbours index from the training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) if
            metric='precomputed'
        y : Ignored

        Returns
        -------
        self : NearestNeighbors
        """
        self._validate_params()
        self._fit(X)
        return self
