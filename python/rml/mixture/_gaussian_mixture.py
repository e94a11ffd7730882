"""Gaussian mixture with a Rust EM engine for diagonal and spherical covariances."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as _SkGaussianMixture

from rml import _rml
from rml.utils._gmm_agglo import (
    _fit_context,
    check_is_fitted,
    check_random_state,
    get_namespace,
    validate_data,
)
from rml.utils._validation import as_native_float

_NATIVE = ("diag", "spherical")


class GaussianMixture(_SkGaussianMixture):
    """Gaussian mixture fitted by EM, with a Rust engine for 'diag' and 'spherical'.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: same parameters,
    defaults, validation messages, attributes and random-state semantics. It *is* a
    scikit-learn ``GaussianMixture`` (a subclass), so ``get_params``, ``sample``, ``aic``,
    ``bic``, pickling and cloning are scikit-learn's.

    What runs where:

    - ``covariance_type='diag'`` or ``'spherical'``: the EM loop (E-step, log-sum-exp,
      M-step, convergence test) and ``predict`` / ``predict_proba`` / ``score_samples`` run
      in Rust: one fused, parallel pass over ``X`` per iteration, O(n k d) time and
      O(k d) extra memory per thread (no ``(n, k)`` temporaries).
    - ``covariance_type='full'`` (scikit-learn's default, kept for ``get_params`` parity) or
      ``'tied'``: scikit-learn's own implementation runs, unchanged (explicit delegation).

    Initialisation is scikit-learn's code (``'kmeans'`` calls ``sklearn.cluster.KMeans``,
    ``'k-means++'``, ``'random'`` and ``'random_from_data'`` make the same ``RandomState``
    calls), so a seeded run starts from exactly scikit-learn's parameters.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        Covariance structure. Only 'diag' and 'spherical' use the Rust engine.
    tol : float, default=1e-3
        EM stops when the lower bound changes by less than ``tol``.
    reg_covar : float, default=1e-6
        Added to the diagonal of the covariances.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the best lower bound wins.
    init_params : {'kmeans', 'k-means++', 'random', 'random_from_data'}, default='kmeans'
        How responsibilities are initialised.
    weights_init, means_init, precisions_init : array-like, default=None
        User-provided initial parameters (shapes as in scikit-learn).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation and :meth:`sample`.
    warm_start : bool, default=False
        Start from the previous fit (``n_init`` ignored after the first fit).
    verbose : int, default=0
        1 prints initialisations and iterations, 2 also the lower-bound change and times.
        For the Rust path the per-iteration lines are printed when each initialisation's
        EM run returns (with the per-iteration times measured in Rust).
    verbose_interval : int, default=10
        Iterations between two verbose lines.

    Attributes
    ----------
    weights_, means_, covariances_, precisions_, precisions_cholesky_ : ndarray
        Fitted parameters, in the dtype of ``X`` (float32 stays float32).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood of the training data under the parameters of the last E-step.
    lower_bounds_ : list of float
        The lower bound after each iteration of the best initialisation.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` has string feature names.

    Notes
    -----
    Numerics (Rust path): the same formulas as scikit-learn (log-probabilities from
    ``mu^2 p - 2 x mu p + x^2 p``, log-sum-exp as ``max + log1p(...)``, covariances as
    ``E[x^2] - mu^2 + reg_covar``) accumulated in float64 in a fixed order (row chunks of
    2048 added in chunk order), so results do not depend on the number of threads; they
    equal scikit-learn's to about 1e-12 relative in float64. Float32 input is computed in
    float64 internally (scikit-learn computes in float32), then stored as float32.
    Responsibilities below ``exp(-708)`` are exactly 0. Labels: first maximum on ties
    (``np.argmax``). Threads: all cores, capped by ``RML_NUM_THREADS``.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.covariance_type in _NATIVE:
            tags.array_api_support = False
        return tags

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit_predict(self, X, y=None):
        """Estimate model parameters with EM and return the labels of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : Ignored

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Component labels (argmax of the responsibilities, first maximum on ties).
        """
        if self.covariance_type not in _NATIVE:
            return super().fit_predict(X, y)

        X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        if X.shape[0] < self.n_components:
            raise ValueError(
                "Expected n_samples >= n_components "
                f"but got n_components = {self.n_components}, "
                f"n_samples = {X.shape[0]}"
            )
        xp, _ = get_namespace(X)
        self._check_parameters(X, xp=xp)

        do_init = not (self.warm_start and hasattr(self, "converged_"))
        n_init = self.n_init if do_init else 1
        max_lower_bound = -np.inf
        best_lower_bounds = []
        best_labels = None
        self.converged_ = False
        random_state = check_random_state(self.random_state)
        Xn = as_native_float(X, X.dtype)
        dtype = X.dtype.type

        for init in range(n_init):
            self._print_verbose_msg_init_beg(init)
            if do_init:
                # scikit-learn's own initialisation (same RandomState calls, same arithmetic).
                self._initialize_parameters(X, random_state, xp=xp)
            lower_bound = -np.inf if do_init else self.lower_bound_
            start_lower_bound = lower_bound

            if self.max_iter == 0:
                best_params = self._get_parameters()
                best_n_iter = 0
                best_labels = None
                continue

            out = _rml.cluster.gmm_em(
                Xn,
                np.ascontiguousarray(self.weights_, dtype=np.float64),
                np.ascontiguousarray(self.means_, dtype=np.float64),
                self._pc_2d(self.precisions_cholesky_),
                self.covariance_type,
                float(self.tol),
                float(self.reg_covar),
                int(self.max_iter),
                float(lower_bound),
            )
            (w, m, cov, pc, n_iter, converged, lb, lbs, secs, labels) = out
            self.weights_ = w.astype(dtype, copy=False)
            self.means_ = m.astype(dtype, copy=False)
            self.covariances_ = self._from_2d(cov).astype(dtype, copy=False)
            self.precisions_cholesky_ = self._from_2d(pc).astype(dtype, copy=False)
            lower_bound = dtype(lb)
            current_lower_bounds = [dtype(v) for v in lbs]
            self._replay_verbose(start_lower_bound, lbs, secs, converged)
            if lower_bound > max_lower_bound or max_lower_bound == -np.inf:
                max_lower_bound = lower_bound
                best_params = self._get_parameters()
                best_n_iter = n_iter
                best_lower_bounds = current_lower_bounds
                best_labels = labels
                self.converged_ = converged

        if not self.converged_ and self.max_iter > 0:
            warnings.warn(
                (
                    "Best performing initialization did not converge. "
                    "Try different init parameters, or increase max_iter, "
                    "tol, or check for degenerate data."
                ),
                ConvergenceWarning,
            )

        self._set_parameters(best_params, xp=xp)
        self.n_iter_ = best_n_iter
        self.lower_bound_ = max_lower_bound
        self.lower_bounds_ = best_lower_bounds
        if best_labels is None:
            best_labels = self._native_estimate(Xn, want_resp=False)[1]
        return best_labels.astype(np.intp, copy=False)

    def _replay_verbose(self, start_lower_bound, lbs, secs, converged):
        """scikit-learn's verbose lines for one EM run, printed after it returns."""
        if not self.verbose:
            return
        prev = start_lower_bound
        elapsed = 0.0
        for it, (lb, sec) in enumerate(zip(lbs, secs), start=1):
            change = lb - prev
            prev = lb
            elapsed += sec
            if it % self.verbose_interval == 0:
                if self.verbose == 1:
                    print("  Iteration %d" % it)
                elif self.verbose >= 2:
                    print(
                        "  Iteration %d\t time lapse %.5fs\t ll change %.5f"
                        % (it, elapsed, change)
                    )
                    elapsed = 0.0
        self._print_verbose_msg_init_end(lbs[-1] if lbs else -np.inf, converged)

    # ------------------------------------------------------------------ helpers
    def _pc_2d(self, pc):
        pc = np.asarray(pc, dtype=np.float64)
        if self.covariance_type == "spherical":
            pc = pc.reshape(-1, 1)
        return np.ascontiguousarray(pc)

    def _from_2d(self, a):
        return a.ravel() if self.covariance_type == "spherical" else a

    def _native_estimate(self, X, want_resp):
        return _rml.cluster.gmm_estimate(
            X,
            np.ascontiguousarray(self.weights_, dtype=np.float64),
            np.ascontiguousarray(self.means_, dtype=np.float64),
            self._pc_2d(self.precisions_cholesky_),
            self.covariance_type,
            bool(want_resp),
        )

    def _out_dtype(self, X):
        return np.result_type(X.dtype, np.asarray(self.means_).dtype)

    # ------------------------------------------------------------------ inference
    def score_samples(self, X):
        """Log-likelihood of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_prob : ndarray of shape (n_samples,)
        """
        if self.covariance_type not in _NATIVE:
            return super().score_samples(X)
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        Xn = as_native_float(X)
        lpn = self._native_estimate(Xn, want_resp=False)[0]
        return lpn.astype(self._out_dtype(Xn), copy=False)

    def predict(self, X):
        """Most probable component of each sample (first maximum on ties).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        if self.covariance_type not in _NATIVE:
            return super().predict(X)
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        labels = self._native_estimate(as_native_float(X), want_resp=False)[1]
        return labels.astype(np.intp, copy=False)

    def predict_proba(self, X):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components)
        """
        if self.covariance_type not in _NATIVE:
            return super().predict_proba(X)
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        Xn = as_native_float(X)
        resp = self._native_estimate(Xn, want_resp=True)[2]
        return resp.astype(self._out_dtype(Xn), copy=False)
