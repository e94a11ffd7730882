"""scikit-learn's private helpers used by rml's BisectingKMeans (wrapped here, as DESIGN.md
asks: private sklearn imports live in ``rml.utils`` only)."""

from sklearn.utils.validation import _assert_all_finite


def assert_all_finite_X(X, estimator):
    """scikit-learn's ``check_array`` finiteness check of ``X`` (``ensure_all_finite=True``),
    with its messages and its ``assume_finite`` configuration."""
    _assert_all_finite(
        X, allow_nan=False, estimator_name=type(estimator).__name__, input_name="X"
    )
