"""scikit-learn helpers used by ``rml.preprocessing`` and ``rml.impute``.

Everything private that those packages need from scikit-learn is imported here and only
here, so a scikit-learn upgrade that moves one of them is a one-line fix.
"""

import numpy as np
from sklearn.base import _fit_context
from sklearn.impute import SimpleImputer as SkSimpleImputer
from sklearn.impute._base import _check_inputs_dtype
from sklearn.preprocessing import StandardScaler as SkStandardScaler
from sklearn.preprocessing._data import _handle_zeros_in_scale, _is_constant_feature
from sklearn.utils._mask import _get_mask
from sklearn.utils._missing import is_pandas_na, is_scalar_nan
from sklearn.utils.validation import (
    FLOAT_DTYPES,
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

try:  # scikit-learn >= 1.6
    from sklearn.utils._array_api import supported_float_dtypes as _sfd

    def scaler_float_dtypes(X):
        """The float dtypes StandardScaler accepts for ``X`` (highest precision first)."""
        from sklearn.utils._array_api import get_namespace_and_device

        xp, _, device = get_namespace_and_device(X)
        return _sfd(xp, device)

except ImportError:  # pragma: no cover

    def scaler_float_dtypes(X):
        return FLOAT_DTYPES


def init_callback_context(est):
    """scikit-learn's fit callback context (1.9+), or None on versions without callbacks."""
    init = getattr(est, "_init_callback_context", None)
    return init() if init is not None else None


__all__ = [
    "FLOAT_DTYPES",
    "SkSimpleImputer",
    "SkStandardScaler",
    "_check_inputs_dtype",
    "_check_sample_weight",
    "_fit_context",
    "_get_mask",
    "_handle_zeros_in_scale",
    "_is_constant_feature",
    "check_array",
    "check_is_fitted",
    "init_callback_context",
    "is_pandas_na",
    "is_scalar_nan",
    "np",
    "scaler_float_dtypes",
    "validate_data",
]
