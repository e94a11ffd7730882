"""SimpleImputer: scikit-learn's estimator, mean/median statistics and the fill in Rust."""

import numbers
import warnings

import numpy as np
from scipy import sparse as sp

from rml._rml import preprocessing as _native
from rml.utils._preprocessing import (
    FLOAT_DTYPES,
    SkSimpleImputer,
    _fit_context,
    _check_inputs_dtype,
    _get_mask,
    check_is_fitted,
    is_pandas_na,
    is_scalar_nan,
    validate_data,
)
from rml.utils._validation import as_native_float

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def _native_missing(missing_values):
    """``missing_values`` as the float the kernels take, or None if they cannot handle it."""
    if is_pandas_na(missing_values):
        return None
    if is_scalar_nan(missing_values):
        return float("nan")
    if isinstance(missing_values, numbers.Real) and not isinstance(missing_values, bool):
        return float(missing_values)
    return None


class SimpleImputer(SkSimpleImputer):
    """Univariate imputer for completing missing values with simple strategies.

    Drop-in for :class:`sklearn.impute.SimpleImputer`: the same parameters, attributes
    (``statistics_``, ``indicator_``), validation, warnings and messages. For dense
    float32/float64 data, the 'mean' and 'median' statistics and the fill itself (every
    strategy) run in Rust; everything else (sparse input, object/string/integer data,
    ``missing_values=pd.NA``, 'most_frequent' and 'constant' statistics, callable strategies)
    is delegated explicitly to scikit-learn's implementation, so it gives scikit-learn's
    results, tie rules included (most_frequent: the smallest of the most frequent values).

    Parameters
    ----------
    missing_values : int, float, str, np.nan, None or pandas.NA, default=np.nan
        The placeholder for the missing values.
    strategy : {'mean', 'median', 'most_frequent', 'constant'} or callable, default='mean'
    fill_value : str or numerical value, default=None
        Replacement for 'constant' (0 for numbers, "missing_value" for strings by default).
    copy : bool, default=True
        If False, imputation is done in place when X is already a writeable C-contiguous
        float array and no column is dropped; otherwise a new array is returned.
    add_indicator : bool, default=False
        Append scikit-learn's :class:`~sklearn.impute.MissingIndicator` output.
    keep_empty_features : bool, default=False
        Keep features with no observed value (imputed with 0, or ``fill_value`` for
        'constant') instead of dropping them with scikit-learn's warning.

    Attributes
    ----------
    statistics_ : ndarray of shape (n_features,)
        The imputation fill value for each feature (NaN for a feature that is dropped).
        dtype as scikit-learn: float64 for 'mean', the data's dtype for 'median'.
    indicator_ : MissingIndicator or None
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)

    Notes
    -----
    Complexity: 'mean' is one parallel pass over X (sums in float64, also for float32 data:
    scikit-learn sums float32 data in float32, so float32 means can differ in the last
    float32 digits; float64 means agree to about 1e-15 relative). 'median' gathers the
    observed values of each feature (columns in cache-line groups, in parallel) and selects
    the middle one(s) with ``select_nth_unstable`` — O(n) per feature on average instead of
    scikit-learn's full sort — with numpy's convention: for an even count,
    ``(lo + hi) / 2`` in the data's dtype; the result is identical to ``numpy.ma.median``.
    Extra memory: one gathered column per feature in flight (n values each). The fill is
    one parallel pass, out of place (or in place, see ``copy``).

    Examples
    --------
    >>> import numpy as np
    >>> from rml.impute import SimpleImputer
    >>> imp = SimpleImputer(strategy='median').fit([[7, 2, 3], [4, np.nan, 6], [10, 5, 9]])
    >>> imp.transform([[np.nan, 2, 3], [4, np.nan, 6], [10, np.nan, 9]])
    array([[ 7. ,  2. ,  3. ],
           [ 4. ,  3.5,  6. ],
           [10. ,  3.5,  9. ]])
    """

    def _validate_input(self, X, in_fit, copy=None, force_writeable=None):
        """scikit-learn's ``SimpleImputer._validate_input`` with an explicit ``copy``.

        Identical checks and messages; ``copy`` and ``force_writeable`` let the native path
        skip the defensive copy (the kernel writes a new array anyway). ``force_writeable=None``
        means scikit-learn's choice (True in transform, None in fit).
        """
        if copy is None:
            copy = self.copy
        if force_writeable is None and not in_fit:
            force_writeable = True
        if self.strategy in ("most_frequent", "constant"):
            if isinstance(X, list) and any(isinstance(elem, str) for row in X for elem in row):
                dtype = object
            else:
                dtype = None
        else:
            dtype = FLOAT_DTYPES

        if not in_fit and self._fit_dtype.kind == "O":
            dtype = self._fit_dtype

        if is_pandas_na(self.missing_values) or is_scalar_nan(self.missing_values):
            ensure_all_finite = "allow-nan"
        else:
            ensure_all_finite = True

        try:
            X = validate_data(
                self,
                X,
                reset=in_fit,
                accept_sparse="csc",
                dtype=dtype,
                force_writeable=force_writeable,
                ensure_all_finite=ensure_all_finite,
                copy=copy,
            )
        except ValueError as ve:
            if "could not convert" in str(ve):
                new_ve = ValueError(
                    "Cannot use {} strategy with non-numeric data:\n{}".format(self.strategy, ve)
                )
                raise new_ve from None
            else:
                raise ve

        if in_fit:
            self._fit_dtype = X.dtype

        _check_inputs_dtype(X, self.missing_values)
        if X.dtype.kind not in ("i", "u", "f", "O"):
            raise ValueError(
                "SimpleImputer does not support data with dtype "
                "{0}. Please provide either a numeric array (with"
                " a floating point or integer dtype) or "
                "categorical data represented either as an array "
                "with integer dtype or an array of string values "
                "with an object dtype.".format(X.dtype)
            )

        if sp.issparse(X) and self.missing_values == 0:
            raise ValueError(
                "Imputation not possible when missing_values "
                "== 0 and input is sparse. Provide a dense "
                "array instead."
            )

        if self.strategy == "constant":
            if in_fit and self.fill_value is not None:
                fill_value_dtype = type(self.fill_value)
                err_msg = (
                    f"fill_value={self.fill_value!r} (of type {fill_value_dtype!r}) "
                    f"cannot be cast to the input data that is {X.dtype!r}. "
                    "If fill_value is a Python scalar, instead pass  a numpy scalar "
                    "(e.g. fill_value=np.uint8(0) if your data is of type np.uint8). "
                    "Make sure that both dtypes are of the same kind."
                )
            elif not in_fit:
                fill_value_dtype = self._fill_dtype
                err_msg = (
                    f"The dtype of the filling value (i.e. {fill_value_dtype!r}) "
                    f"cannot be cast to the input data that is {X.dtype!r}. "
                    "Make sure that the dtypes of the input data are of the same kind "
                    "between fit and transform."
                )
            else:
                fill_value_dtype = X.dtype

            if not np.can_cast(fill_value_dtype, X.dtype, casting="same_kind"):
                raise ValueError(err_msg)

        return X

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the imputer on X.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)
            Input data, where `n_samples` is the number of samples and
            `n_features` is the number of features.
        y : Ignored
            Not used, present here for API consistency by convention.

        Returns
        -------
        self : object
            Fitted estimator.
        """
        # Fitting only reads X (natively and in scikit-learn's delegated paths), so the
        # defensive copy scikit-learn makes when copy=True is skipped; the state is the same.
        X = self._validate_input(X, in_fit=True, copy=False)
        if self.fill_value is None:
            if X.dtype.kind in ("i", "u", "f"):
                fill_value = 0
            else:
                fill_value = "missing_value"
        else:
            fill_value = self.fill_value
        self._fill_dtype = X.dtype
        if sp.issparse(X):
            self.statistics_ = self._sparse_fit(X, self.strategy, self.missing_values, fill_value)
        else:
            self.statistics_ = self._dense_fit(X, self.strategy, self.missing_values, fill_value)
        return self

    def _dense_fit(self, X, strategy, missing_values, fill_value):
        """Mean/median of dense float data in Rust; every other case is scikit-learn's."""
        miss = _native_missing(missing_values)
        if strategy not in ("mean", "median") or X.dtype not in _NATIVE or miss is None:
            return super()._dense_fit(X, strategy, missing_values, fill_value)
        if self.add_indicator:
            self._fit_indicator(_get_mask(X, missing_values))
        else:
            self.indicator_ = None
        stats = _native.imputer_statistics(as_native_float(X, X.dtype), strategy, miss, None)
        if strategy == "median":
            stats = stats.astype(X.dtype)
        # NaN marks a feature without any observed value (scikit-learn's masked result).
        stats[np.isnan(stats)] = 0 if self.keep_empty_features else np.nan
        return stats

    def transform(self, X):
        """Impute all missing values in `X`.

        Parameters
        ----------
        X : {array-like, sparse matrix}, shape (n_samples, n_features)
            The input data to complete.

        Returns
        -------
        X_imputed : {ndarray, sparse matrix} of shape (n_samples, n_features_out)
            `X` with imputed values.
        """
        check_is_fitted(self)
        miss = _native_missing(self.missing_values)
        if sp.issparse(X) or miss is None or self._fit_dtype.kind == "O":
            return super().transform(X)
        X = self._validate_input(X, in_fit=False, copy=False, force_writeable=not self.copy)
        statistics = self.statistics_
        if X.shape[1] != statistics.shape[0]:
            raise ValueError(
                "X has %d features per sample, expected %d"
                % (X.shape[1], self.statistics_.shape[0])
            )
        missing_mask = _get_mask(X, self.missing_values) if self.add_indicator else None

        if self.keep_empty_features:
            valid_statistics = statistics.astype(self._fill_dtype, copy=False)
            valid_statistics_indexes = None
        else:
            invalid_mask = _get_mask(statistics, np.nan)
            valid_mask = np.logical_not(invalid_mask)
            valid_statistics = statistics[valid_mask].astype(self._fill_dtype, copy=False)
            valid_statistics_indexes = np.flatnonzero(valid_mask)
            if invalid_mask.any():
                invalid_features = np.arange(X.shape[1])[invalid_mask]
                if hasattr(self, "feature_names_in_"):
                    invalid_features = self.feature_names_in_[invalid_features]
                warnings.warn(
                    "Skipping features without any observed values:"
                    f" {invalid_features}. At least one non-missing value is needed"
                    f" for imputation with strategy='{self.strategy}'."
                )
            else:
                valid_statistics_indexes = None

        if X.dtype in _NATIVE:
            fill = np.ascontiguousarray(valid_statistics.astype(X.dtype), dtype=X.dtype)
            if (
                not self.copy
                and valid_statistics_indexes is None
                and X.flags.c_contiguous
                and X.flags.writeable
                and X.dtype.isnative
            ):
                _native.imputer_transform_inplace(X, fill, miss, None)
            else:
                keep = (
                    None
                    if valid_statistics_indexes is None
                    else np.ascontiguousarray(valid_statistics_indexes, dtype=np.int64)
                )
                X = _native.imputer_transform(as_native_float(X, X.dtype), fill, keep, miss, None)
        else:
            # Integer data (most_frequent / constant): scikit-learn's numpy fill.
            X = X.copy() if self.copy else X
            if valid_statistics_indexes is not None:
                X = X[:, valid_statistics_indexes]
                mask_valid_features = _get_mask(X, self.missing_values)
            else:
                mask_valid_features = _get_mask(X, self.missing_values)
            n_missing = np.sum(mask_valid_features, axis=0)
            values = np.repeat(valid_statistics, n_missing)
            coordinates = np.where(mask_valid_features.transpose())[::-1]
            X[coordinates] = values

        X_indicator = self._transform_indicator(missing_mask)
        return self._concatenate_indicator(X, X_indicator)
