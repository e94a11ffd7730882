"""Clustering estimators with a Rust engine, drop-in replacements for ``sklearn.cluster``."""

from rml.cluster._affinity_propagation import AffinityPropagation
from rml.cluster._agglomerative import AgglomerativeClustering
from rml.cluster._birch import Birch
from rml.cluster._bisect_k_means import BisectingKMeans
from rml.cluster._dbscan import DBSCAN
from rml.cluster._kmeans import KMeans, kmeans_plusplus
from rml.cluster._minibatch_kmeans import MiniBatchKMeans
from rml.cluster._optics import OPTICS, cluster_optics_dbscan, cluster_optics_xi

__all__ = [
    "AffinityPropagation",
    "AgglomerativeClustering",
    "Birch",
    "BisectingKMeans",
    "cluster_optics_dbscan",
    "cluster_optics_xi",
    "DBSCAN",
    "KMeans",
    "kmeans_plusplus",
    "MiniBatchKMeans",
    "OPTICS",
]
