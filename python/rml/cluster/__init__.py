"""Clustering estimators with a Rust engine (scikit-learn's ``sklearn.cluster`` API)."""

from ._minibatch_kmeans import MiniBatchKMeans

__all__ = ["MiniBatchKMeans"]
