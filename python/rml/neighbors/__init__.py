"""Nearest neighbours: scikit-learn's ``sklearn.neighbors`` on a Rust engine."""

from rml.neighbors._base import VALID_METRICS
from rml.neighbors._classification import KNeighborsClassifier
from rml.neighbors._kd_tree import KDTree
from rml.neighbors._regression import KNeighborsRegressor
from rml.neighbors._unsupervised import NearestNeighbors

__all__ = ["KDTree", "KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors", "VALID_METRICS"]
