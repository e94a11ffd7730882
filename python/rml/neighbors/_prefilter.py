"""Fitting and querying the pre-filter approximate index (``algorithm='prefilter'``).

See :mod:`rml.neighbors` estimators' docstrings for the user-facing description and
``crates/rml-neighbors/src/prefilter.rs`` for the search and its exactness certificate.
"""

import math

import numpy as np

from rml import _rml
from rml.utils import n_jobs_arg


def target_correlation_projection(X, targets, n_features):
    """Unit-norm projection onto the ``n_features`` features most correlated with the target.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    targets : ndarray of shape (n_samples, n_targets)
        Regression targets, or one-hot class indicators (one-vs-rest for multi-class).
    n_features : int
        How many features the key uses (at most X's).

    Returns
    -------
    w : ndarray of shape (n_features_in,), float64, unit L2 norm
        ``w[j]`` is the signed correlation of feature ``j`` with the target column it
        correlates with most, for the chosen features, and 0 elsewhere.
    chosen : ndarray of int
        Chosen feature indices, by decreasing absolute correlation (ties: lower index).
    """
    X = np.asarray(X, dtype=np.float64)
    T = np.asarray(targets, dtype=np.float64)
    Xc = X - X.mean(axis=0)
    Tc = T - T.mean(axis=0)
    x_norm = np.sqrt((Xc * Xc).sum(axis=0))
    t_norm = np.sqrt((Tc * Tc).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (Xc.T @ Tc) / np.outer(x_norm, t_norm)
    corr = np.nan_to_num(corr, nan=0.0, posinf=0.0, neginf=0.0)
    best = np.argmax(np.abs(corr), axis=1)
    signed = corr[np.arange(corr.shape[0]), best]
    score = np.abs(signed)
    m = min(int(n_features), X.shape[1])
    chosen = np.argsort(-score, kind="stable")[:m]
    w = np.zeros(X.shape[1])
    w[chosen] = signed[chosen]
    norm = np.linalg.norm(w)
    if norm == 0.0:  # no feature correlates (e.g. one class): plain sum of the chosen ones
        w[chosen] = 1.0
        norm = np.linalg.norm(w)
    return w / norm, chosen


def build(X, w):
    """Sort the training rows on the key; returns (sorted_x, keys, order)."""
    return _rml.neighbors.prefilter_build(X, np.ascontiguousarray(w, dtype=np.float64))


def max_candidates(candidate_fraction, n_samples_fit, k):
    """Rows scanned per query at most: ``ceil(candidate_fraction * n)``, at least k."""
    return max(int(k), int(math.ceil(candidate_fraction * n_samples_fit)))


def query(index, w, X, k, metric, p, candidate_fraction, return_distance, n_jobs):
    """One native query. Returns (dist or None, ind, n_certified_exact, n_candidates)."""
    sorted_x, keys, order = index
    return _rml.neighbors.prefilter_query(
        sorted_x, keys, order, np.ascontiguousarray(w, dtype=np.float64), X, int(k), metric,
        float(p), max_candidates(candidate_fraction, sorted_x.shape[0], k), bool(return_distance),
        n_jobs_arg(n_jobs),
    )
