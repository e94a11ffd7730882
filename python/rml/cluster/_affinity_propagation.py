"""Affinity propagation with the message-passing loop in Rust.

The preprocessing (similarities, preference, the seeded noise that removes degeneracies) is
scikit-learn's, step for step, so the similarity matrix is bit-identical; the loop and the final
exemplar refinement run in ``rml._rml.cluster.affinity_propagation``.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn._config import config_context
from sklearn.base import BaseEstimator, ClusterMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import euclidean_distances, pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from rml._rml import cluster as _native

# Rows of S handled at once by the noise step (bounds its temporaries to a few MB).
_NOISE_BYTES = 16 * 1024 * 1024


def _off_diagonal_all_equal(S):
    """``np.all(S[mask].flat == S[mask].flat[0])`` with the diagonal masked, in row chunks."""
    n = S.shape[0]
    first = S.flat[1]
    rows = max(1, _NOISE_BYTES // max(1, n * S.itemsize))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        eq = S[r0:r1] == first
        idx = np.arange(r0, r1)
        eq[idx - r0, idx] = True
        if not eq.all():
            return False
    return True


def _equal_similarities_and_preferences(S, preference):
    if not np.all(preference == preference.flat[0]):
        return False
    return _off_diagonal_all_equal(S)


def _add_noise(S, random_state):
    """scikit-learn's ``S += (eps * S + tiny * 100) * random_state.standard_normal((n, n))``.

    Done in blocks of rows: the normal draws come out of the RandomState in the same order
    (row-major), and each element gets the same arithmetic, so S is bit-identical while the
    temporaries stay a few MB instead of two n x n arrays.
    """
    n = S.shape[0]
    eps = np.finfo(S.dtype).eps
    tiny = np.finfo(S.dtype).tiny
    rows = max(1, _NOISE_BYTES // max(1, n * 8))
    for r0 in range(0, n, rows):
        r1 = min(n, r0 + rows)
        block = S[r0:r1]
        block += (eps * block + tiny * 100) * random_state.standard_normal(size=(r1 - r0, n))


def _affinity_propagation(S, *, preference, convergence_iter, max_iter, damping, verbose,
                          random_state):
    """scikit-learn's ``_affinity_propagation`` with the loop in Rust. Modifies S in place."""
    n_samples = S.shape[0]
    if n_samples == 1 or _equal_similarities_and_preferences(S, preference):
        warnings.warn(
            "All samples have mutually equal similarities. "
            "Returning arbitrary cluster center(s)."
        )
        if preference.flat[0] > S.flat[n_samples - 1]:
            return np.arange(n_samples), np.arange(n_samples), 0
        return np.array([0]), np.array([0] * n_samples), 0

    # Place preference on the diagonal of S, then remove degeneracies.
    S.flat[:: (n_samples + 1)] = preference
    _add_noise(S, random_state)

    if S.dtype in (np.float32, np.float64) and S.flags.c_contiguous:
        S_native = S
    else:
        S_native = np.ascontiguousarray(S, dtype=np.float32 if S.dtype == np.float32 else np.float64)
    centers, labels, n_iter, converged = _native.affinity_propagation(
        S_native, float(damping), int(max_iter), int(convergence_iter), None
    )
    del S_native
    if verbose:
        print("Converged after %d iterations." % (n_iter - 1) if converged else "Did not converge")

    if centers.size > 0:
        if not converged:
            warnings.warn(
                (
                    "Affinity propagation did not converge, this model "
                    "may return degenerate cluster centers and labels."
                ),
                ConvergenceWarning,
            )
        return centers, labels, n_iter
    warnings.warn(
        (
            "Affinity propagation did not converge and this model "
            "will not have any cluster centers."
        ),
        ConvergenceWarning,
    )
    return [], labels, n_iter


class AffinityPropagation(ClusterMixin, BaseEstimator):
    """Affinity propagation clustering with a Rust message-passing loop.

    A drop-in replacement for :class:`sklearn.cluster.AffinityPropagation`: same parameters,
    validation, attributes, warnings and results (``labels_``, ``cluster_centers_indices_``,
    ``n_iter_`` and ``affinity_matrix_`` are identical to scikit-learn's for the same
    ``random_state``).

    Parameters
    ----------
    damping : float, default=0.5
        Damping factor in ``[0.5, 1.0)``: the extent to which the current value of a message
        is kept relative to the incoming value (weighted ``1 - damping``).

    max_iter : int, default=200
        Maximum number of iterations.

    convergence_iter : int, default=15
        Number of iterations with no change in the set of exemplars that stops the loop.

    copy : bool, default=True
        Make a copy of the input similarity matrix (``affinity='precomputed'``). If False the
        caller's array, when it already has a suitable dtype and layout, is modified in place
        (preference on its diagonal, small noise added), exactly as in scikit-learn.

    preference : array-like of shape (n_samples,) or float, default=None
        Preference of each point for being an exemplar; default the median of the
        similarities.

    affinity : {'euclidean', 'precomputed'}, default='euclidean'
        ``'euclidean'`` uses the negative squared euclidean distances (scikit-learn's
        ``euclidean_distances``, so bit-identical); ``'precomputed'`` takes ``X`` as the
        similarity matrix.

    verbose : bool, default=False
        Print whether and when the loop converged.

    random_state : int, RandomState instance or None, default=None
        Seeds the tiny noise added to the similarities (the same draws as scikit-learn).

    Attributes
    ----------
    cluster_centers_indices_ : ndarray of shape (n_clusters,)
        Indices of the exemplars (an empty list when none emerged, as scikit-learn).
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
        The exemplars (only when ``affinity != 'precomputed'``).
    labels_ : ndarray of shape (n_samples,)
        Label of each point.
    affinity_matrix_ : ndarray of shape (n_samples, n_samples)
        The similarity matrix used, with the preference on its diagonal and the noise added.
    n_iter_ : int
        Number of iterations run.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during fit, when they are all strings.

    Notes
    -----
    Complexity: O(n_samples^2) time per iteration and memory: the similarity matrix plus the
    responsibility and availability matrices, always float64 (as scikit-learn). scikit-learn
    also keeps an n x n float64 temporary and two n x n noise temporaries; rml does not.

    dtype: float32 input gives a float32 ``affinity_matrix_`` (as scikit-learn) while the
    messages are float64 (as scikit-learn), which is what makes the results identical.

    Ties: ``argmax`` takes the first index, as numpy; results do not depend on the number of
    threads (the column sums are added row by row in a fixed order).

    ``predict`` uses scikit-learn's ``pairwise_distances_argmin`` against the exemplars.
    """

    _parameter_constraints: dict = {
        "damping": [Interval(Real, 0.5, 1.0, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "convergence_iter": [Interval(Integral, 1, None, closed="left")],
        "copy": ["boolean"],
        "preference": [
            "array-like",
            Interval(Real, None, None, closed="neither"),
            None,
        ],
        "affinity": [StrOptions({"euclidean", "precomputed"})],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        damping=0.5,
        max_iter=200,
        convergence_iter=15,
        copy=True,
        preference=None,
        affinity="euclidean",
        verbose=False,
        random_state=None,
    ):
        self.damping = damping
        self.max_iter = max_iter
        self.convergence_iter = convergence_iter
        self.copy = copy
        self.verbose = verbose
        self.preference = preference
        self.affinity = affinity
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.affinity == "precomputed"
        tags.input_tags.sparse = self.affinity != "precomputed"
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the clustering from features, or from an affinity matrix.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                array-like of shape (n_samples, n_samples)
            Training instances, or similarities if ``affinity='precomputed'``.

        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        self
            Fitted estimator.
        """
        if self.affinity == "precomputed":
            X = validate_data(self, X, copy=self.copy, force_writeable=True)
            self.affinity_matrix_ = X
        else:
            X = validate_data(self, X, accept_sparse="csr")
            S = euclidean_distances(X, squared=True)
            np.negative(S, out=S)
            self.affinity_matrix_ = S

        if self.affinity_matrix_.shape[0] != self.affinity_matrix_.shape[1]:
            raise ValueError(
                "The matrix of similarities must be a square array. "
                f"Got {self.affinity_matrix_.shape} instead."
            )

        if self.preference is None:
            preference = np.median(self.affinity_matrix_)
        else:
            preference = self.preference
        preference = np.asarray(preference)

        random_state = check_random_state(self.random_state)

        (
            self.cluster_centers_indices_,
            self.labels_,
            self.n_iter_,
        ) = _affinity_propagation(
            self.affinity_matrix_,
            max_iter=self.max_iter,
            convergence_iter=self.convergence_iter,
            preference=preference,
            damping=self.damping,
            verbose=self.verbose,
            random_state=random_state,
        )

        if self.affinity != "precomputed":
            self.cluster_centers_ = X[self.cluster_centers_indices_].copy()

        return self

    def predict(self, X):
        """Predict the closest exemplar each sample in X belongs to.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            New data.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels (all -1, with a ConvergenceWarning, when the fit found no exemplar).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, accept_sparse="csr")
        if not hasattr(self, "cluster_centers_"):
            raise ValueError(
                "Predict method is not supported when affinity='precomputed'."
            )

        if self.cluster_centers_.shape[0] > 0:
            with config_context(assume_finite=True):
                return pairwise_distances_argmin(X, self.cluster_centers_)
        warnings.warn(
            (
                "This model does not have any cluster centers "
                "because affinity propagation did not converge. "
                "Labeling every sample as '-1'."
            ),
            ConvergenceWarning,
        )
        return np.array([-1] * X.shape[0])

    def fit_predict(self, X, y=None):
        """Fit the clustering and return the cluster labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                array-like of shape (n_samples, n_samples)
            Training instances, or similarities if ``affinity='precomputed'``.

        y : Ignored
            Not used, present for API consistency.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Cluster labels.
        """
        return super().fit_predict(X, y)
