"""Clustering estimators with a Rust engine, drop-in replacements for sklearn.cluster."""

from rml.cluster._affinity_propagation import AffinityPropagation
from rml.cluster._birch import Birch

__all__ = ["AffinityPropagation", "Birch"]
