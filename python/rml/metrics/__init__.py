"""Clustering metrics with a Rust engine (scikit-learn's ``sklearn.metrics`` names)."""

from rml.metrics._cluster import (
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_samples,
    silhouette_score,
)

__all__ = [
    "calinski_harabasz_score",
    "davies_bouldin_score",
    "silhouette_samples",
    "silhouette_score",
]
