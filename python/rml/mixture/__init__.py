"""Mixture models with a Rust engine, drop-in replacements for ``sklearn.mixture``."""

from rml.mixture._gaussian_mixture import GaussianMixture

__all__ = ["GaussianMixture"]
