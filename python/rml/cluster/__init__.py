"""Clustering estimators with a Rust engine, drop-in replacements for ``sklearn.cluster``."""

from rml.cluster._agglomerative import AgglomerativeClustering

__all__ = [
    "AgglomerativeClustering",
]
