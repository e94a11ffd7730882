"""Clustering estimators with a Rust engine, drop-in replacements for ``sklearn.cluster``."""

from rml.cluster._affinity_propagation import AffinityPropagation
from rml.cluster._agglomerative import AgglomerativeClustering
from rml.cluster._birch import Birch
from rml.cluster._bisect_k_means import BisectingKMeans
from rml.cluster._kmeans import KMeans, kmeans_plusplus

__all__ = [
    "AffinityPropagation",
    "AgglomerativeClustering",
    "Birch",
    "BisectingKMeans",
    "KMeans",
    "kmeans_plusplus",
]
