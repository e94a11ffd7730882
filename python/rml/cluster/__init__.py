"""Clustering estimators with scikit-learn's API and a Rust engine."""

from rml.cluster._dbscan import DBSCAN
from rml.cluster._optics import OPTICS, cluster_optics_dbscan, cluster_optics_xi

__all__ = ["DBSCAN", "OPTICS", "cluster_optics_dbscan", "cluster_optics_xi"]
