"""Nearest-neighbour estimators with a Rust engine (drop-in for ``sklearn.neighbors``)."""

from rml.neighbors._base import VALID_METRICS
from rml.neighbors._classification import KNeighborsClassifier
from rml.neighbors._regression import KNeighborsRegressor
from rml.neighbors._unsupervised import NearestNeighbors

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors", "VALID_METRICS"]
