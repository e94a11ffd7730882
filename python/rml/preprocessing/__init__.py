"""Feature scaling with a Rust engine (scikit-learn's ``sklearn.preprocessing``)."""

from rml.preprocessing._data import StandardScaler

__all__ = ["StandardScaler"]
