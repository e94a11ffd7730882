"""Clustering estimators with a Rust engine, drop-in replacements for ``sklearn.cluster``."""

from rml.cluster._bisect_k_means import BisectingKMeans
from rml.cluster._kmeans import KMeans, kmeans_plusplus
from rml.cluster._minibatch_kmeans import MiniBatchKMeans

__all__ = [
    "BisectingKMeans",
    "KMeans",
    "MiniBatchKMeans",
    "kmeans_plusplus",
]
