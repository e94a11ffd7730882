"""Helpers shared by rml estimators.

This package is the only place in rml that touches scikit-learn's private helpers, so a
scikit-learn upgrade is one fix here.
"""

from rml.utils._validation import as_native_float, native_dtype, n_jobs_arg

__all__ = ["as_native_float", "native_dtype", "n_jobs_arg"]
