"""scikit-learn's estimator checks for rml's AffinityPropagation and Birch.

Instances use the same test parameters as scikit-learn's own instance generator
(AffinityPropagation(max_iter=5), Birch(n_clusters=2)); scikit-learn lists no expected
failures for either, and neither does rml.
"""

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from rml.cluster import AffinityPropagation, Birch


@parametrize_with_checks(
    [AffinityPropagation(max_iter=5), Birch(n_clusters=2)]
)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
