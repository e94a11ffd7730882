"""Missing-value imputation with a Rust engine (scikit-learn's ``sklearn.impute``)."""

from rml.impute._base import SimpleImputer

__all__ = ["SimpleImputer"]
