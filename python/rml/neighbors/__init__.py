"""Nearest neighbours: scikit-learn's ``sklearn.neighbors`` on a Rust engine."""

from rml.neighbors._kd_tree import KDTree

__all__ = ["KDTree"]
