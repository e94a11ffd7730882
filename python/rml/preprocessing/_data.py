"""StandardScaler: scikit-learn's estimator, statistics and transform computed in Rust."""

import numpy as np
from scipy import sparse as sp

from rml._rml import preprocessing as _native
from rml.utils._preprocessing import (
    SkStandardScaler,
    _check_sample_weight,
    _fit_context,
    _handle_zeros_in_scale,
    _is_constant_feature,
    check_array,
    check_is_fitted,
    init_callback_context,
    scaler_float_dtypes,
    validate_data,
)
from rml.utils._validation import as_native_float

_NATIVE = (np.dtype(np.float32), np.dtype(np.float64))


def _combine(last_mean, last_variance, last_sample_count, new_sum, new_count, new_m2):
    """scikit-learn's ``_incremental_mean_and_var`` update, given the new batch's moments.

    The batch moments (``new_sum``, ``new_count`` and the centred sum of squares ``new_m2``)
    come from the Rust kernel; the combination with the previous state is scikit-learn's
    formula, operation for operation, so ``partial_fit`` behaves exactly the same.
    """
    last_sample_count = np.asarray(last_sample_count, dtype=np.float64)
    if last_variance is not None and not np.all(new_count):
        # scikit-learn divides by the new batch's count here (T = new_sum / new_count) and
        # warns about 0/0 for features without any non-NaN value in the batch; so do we.
        new_sum / new_count
    last_sum = last_mean * last_sample_count
    updated_sample_count = last_sample_count + new_count
    updated_mean = (last_sum + new_sum) / updated_sample_count
    if last_variance is None:
        return updated_mean, None, updated_sample_count
    new_unnormalized_variance = new_m2
    last_unnormalized_variance = last_variance * last_sample_count
    with np.errstate(divide="ignore", invalid="ignore"):
        last_over_new_count = last_sample_count / new_count
        updated_unnormalized_variance = (
            last_unnormalized_variance
            + new_unnormalized_variance
            + last_over_new_count
            / updated_sample_count
            * (last_sum / last_over_new_count - new_sum) ** 2
        )
    zeros = last_sample_count == 0
    updated_unnormalized_variance[zeros] = new_unnormalized_variance[zeros]
    updated_variance = updated_unnormalized_variance / updated_sample_count
    return updated_mean, updated_variance, updated_sample_count


class StandardScaler(SkStandardScaler):
    """Standardize features by removing the mean and scaling to unit variance.

    Drop-in for :class:`sklearn.preprocessing.StandardScaler`: the same parameters,
    attributes, validation, messages and ``partial_fit`` semantics; dense statistics and the
    transform run in Rust. The standard score of a sample ``x`` is ``z = (x - u) / s`` with
    ``u`` the mean and ``s`` the (population) standard deviation of the training samples.

    Parameters
    ----------
    copy : bool, default=True
        If False, ``transform`` and ``inverse_transform`` scale in place when the input is
        already a writeable C-contiguous float32/float64 array (otherwise a new array is
        returned, as scikit-learn says: in place "is not guaranteed").
    with_mean : bool, default=True
        Center the data before scaling. Sparse input needs ``with_mean=False``.
    with_std : bool, default=True
        Scale the data to unit variance.

    Attributes
    ----------
    scale_ : ndarray of shape (n_features,) or None
        Per-feature scale, ``sqrt(var_)``; near-constant features (variance within the
        rounding error bound of the two-pass algorithm, as scikit-learn's
        ``_is_constant_feature``) get scale 1. None when ``with_std=False``.
    mean_ : ndarray of shape (n_features,) or None
        Per-feature mean (float64). None when both ``with_mean`` and ``with_std`` are False.
    var_ : ndarray of shape (n_features,) or None
        Per-feature population variance (float64). None when ``with_std=False``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when X has string feature names.
    n_samples_seen_ : int or ndarray of shape (n_features,)
        Samples (or summed sample weights) seen per feature, NaN excluded; a scalar when every
        feature saw the same number, as scikit-learn.

    Notes
    -----
    NaN is ignored in ``fit``/``partial_fit`` and kept in ``transform``.

    Complexity: ``fit`` reads X once (one parallel pass over row blocks of about 64 KiB: each
    block's sum and corrected centred sum of squares are computed while the block is in cache,
    and blocks are merged in a fixed order with Chan-Golub-LeVeque's update), O(n·d) time and
    O(d) extra memory per thread. Sums are accumulated in float64 also for float32 input
    (scikit-learn does the same). The result equals scikit-learn's two-pass computation up to
    rounding (relative difference around 1e-15 on ordinary data) and is identical for every
    thread count.

    ``transform`` is ``(X - mean_) / scale_`` evaluated element by element in X's dtype, in
    exactly numpy's order, so it is bit-identical to scikit-learn's given the same statistics.
    float32 input gives float32 output.

    Sparse input (CSR/CSC) is delegated to scikit-learn's implementation (the same class,
    unchanged), so it behaves exactly as scikit-learn, without the Rust speed-up.
    ``array_api_dispatch`` is not supported (the tag says so); inputs are converted to numpy.

    Examples
    --------
    >>> from rml.preprocessing import StandardScaler
    >>> import numpy as np
    >>> X = np.array([[0, 0], [0, 0], [1, 1], [1, 1]])
    >>> scaler = StandardScaler().fit(X)
    >>> scaler.mean_
    array([0.5, 0.5])
    >>> scaler.transform([[2, 2]])
    array([[3., 3.]])
    """

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Online computation of mean and std on X for later scaling.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Individual weights for each sample.

        Returns
        -------
        self : object
            Fitted scaler.
        """
        if sp.issparse(X):
            # Sparse: scikit-learn's own implementation (documented delegation).
            return SkStandardScaler.partial_fit(self, X, y, sample_weight)
        first_call = not hasattr(self, "n_samples_seen_")
        X = validate_data(
            self,
            X,
            accept_sparse=("csr", "csc"),
            dtype=scaler_float_dtypes(X),
            ensure_all_finite="allow-nan",
            reset=first_call,
        )
        if sp.issparse(X):  # e.g. a sparse pandas frame converted by validate_data
            return SkStandardScaler.partial_fit(self, X, y, sample_weight)
        n_features = X.shape[1]
        callback_ctx = init_callback_context(self)
        if callback_ctx is not None:
            callback_ctx.call_on_fit_task_begin(
                estimator=self, X=X, y=y, metadata={"sample_weight": sample_weight}
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=X.dtype)

        dtype = np.int64 if sample_weight is None else X.dtype
        if first_call:
            self.n_samples_seen_ = np.zeros(n_features, dtype=dtype)
        elif np.size(self.n_samples_seen_) == 1:
            self.n_samples_seen_ = np.repeat(self.n_samples_seen_, X.shape[1])
            self.n_samples_seen_ = self.n_samples_seen_.astype(dtype, copy=False)

        if not hasattr(self, "scale_"):
            self.mean_ = 0.0
            self.var_ = 0.0 if self.with_std else None

        if not self.with_mean and not self.with_std:
            self.mean_ = None
            self.var_ = None
            self.n_samples_seen_ += X.shape[0] - np.isnan(X).sum(axis=0)
        else:
            Xn = X if X.dtype in _NATIVE else X.astype(np.float64)
            Xn = as_native_float(Xn)
            sw = None
            if sample_weight is not None:
                sw = np.ascontiguousarray(sample_weight, dtype=Xn.dtype)
            new_sum, new_count, new_m2 = _native.scaler_moments(Xn, sw, None)
            self.mean_, self.var_, self.n_samples_seen_ = _combine(
                self.mean_, self.var_, self.n_samples_seen_, new_sum, new_count, new_m2
            )

        if np.max(self.n_samples_seen_) == np.min(self.n_samples_seen_):
            self.n_samples_seen_ = self.n_samples_seen_[0]

        if self.with_std:
            constant_mask = _is_constant_feature(self.var_, self.mean_, self.n_samples_seen_)
            self.scale_ = _handle_zeros_in_scale(
                np.sqrt(self.var_), copy=False, constant_mask=constant_mask
            )
        else:
            self.scale_ = None

        if callback_ctx is not None:
            callback_ctx.call_on_fit_task_end(
                estimator=self,
                X=X,
                y=y,
                metadata={"sample_weight": sample_weight},
                reconstruction_attributes={},
            )
        return self

    def _apply(self, X, copy, inverse):
        """Scale validated dense X: in place when allowed and possible, else a new array."""
        mean = self.mean_ if self.with_mean else None
        scale = self.scale_ if self.with_std else None
        if X.dtype not in _NATIVE:  # float16: numpy, exactly as scikit-learn
            X = X.copy() if copy else X
            if inverse:
                if scale is not None:
                    X *= scale.astype(X.dtype)
                if mean is not None:
                    X += mean.astype(X.dtype)
            else:
                if mean is not None:
                    X -= mean.astype(X.dtype)
                if scale is not None:
                    X /= scale.astype(X.dtype)
            return X
        mean = None if mean is None else np.ascontiguousarray(mean, dtype=X.dtype)
        scale = None if scale is None else np.ascontiguousarray(scale, dtype=X.dtype)
        if (
            not copy
            and X.flags.c_contiguous
            and X.flags.writeable
            and X.dtype.isnative
        ):
            _native.scaler_transform_inplace(X, mean, scale, inverse, None)
            return X
        return _native.scaler_transform(as_native_float(X, X.dtype), mean, scale, inverse, None)

    def transform(self, X, copy=None):
        """Perform standardization by centering and scaling.

        Parameters
        ----------
        X : {array-like, sparse matrix of shape (n_samples, n_features)
            The data used to scale along the features axis.
        copy : bool, default=None
            Copy the input X or not (None: ``self.copy``).

        Returns
        -------
        X_tr : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Transformed array, in X's float dtype.
        """
        check_is_fitted(self)
        copy = copy if copy is not None else self.copy
        if sp.issparse(X):
            return SkStandardScaler.transform(self, X, copy=copy)
        X = validate_data(
            self,
            X,
            reset=False,
            accept_sparse="csr",
            copy=False,
            dtype=scaler_float_dtypes(X),
            force_writeable=not copy,
            ensure_all_finite="allow-nan",
        )
        if sp.issparse(X):
            return SkStandardScaler.transform(self, X, copy=copy)
        return self._apply(X, copy, inverse=False)

    def inverse_transform(self, X, copy=None):
        """Scale back the data to the original representation.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            The data used to scale along the features axis.
        copy : bool, default=None
            Copy the input `X` or not (None: ``self.copy``).

        Returns
        -------
        X_original : {ndarray, sparse matrix} of shape (n_samples, n_features)
            Transformed array.
        """
        check_is_fitted(self)
        copy = copy if copy is not None else self.copy
        if sp.issparse(X):
            return SkStandardScaler.inverse_transform(self, X, copy=copy)
        X = check_array(
            X,
            accept_sparse="csr",
            copy=False,
            dtype=scaler_float_dtypes(X),
            force_writeable=not copy,
            ensure_all_finite="allow-nan",
        )
        if sp.issparse(X):
            return SkStandardScaler.inverse_transform(self, X, copy=copy)
        return self._apply(X, copy, inverse=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False
        return tags
