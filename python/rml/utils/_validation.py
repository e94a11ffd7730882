"""Array preparation for the native boundary.

Validation itself is scikit-learn's (``validate_data``, ``check_array``); these helpers only
bring an already validated array into the layout the Rust kernels borrow: C-contiguous,
native byte order, float32 or float64.
"""

import numbers

import numpy as np

_NATIVE_FLOATS = (np.float32, np.float64)


def native_dtype(X):
    """Return float32 if ``X`` is float32, else float64 (every other dtype is widened)."""
    return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64


def as_native_float(X, dtype=None):
    """C-contiguous, native-endian float32/float64 view or copy of ``X``.

    The caller's array is never modified: a copy is made whenever the layout, byte order or
    dtype differs, and a read-only array is borrowed as is (kernels only read it).
    """
    if dtype is None:
        dtype = native_dtype(X)
    X = np.asarray(X)
    if X.dtype.byteorder not in ("=", "|") or X.dtype != dtype:
        X = X.astype(np.dtype(dtype).newbyteorder("="), copy=True)
    return np.ascontiguousarray(X)


def n_jobs_arg(n_jobs):
    """``n_jobs`` as the native functions take it (None or a non-zero int)."""
    if n_jobs is None:
        return None
    if isinstance(n_jobs, numbers.Integral) and not isinstance(n_jobs, bool):
        if int(n_jobs) == 0:
            raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive integer.")
        return int(n_jobs)
    raise TypeError(f"n_jobs must be None or an int, got {n_jobs!r}.")
