"""scikit-learn's estimator checks for rml's GaussianMixture and AgglomerativeClustering.

No expected failures: scikit-learn lists none for these estimators that apply here (its
GaussianMixture entries concern array-API inputs, which are not tested without
array-api-strict). A ``distance_threshold`` instance is not listed: the checks set
``n_clusters``, which scikit-learn's own estimator rejects the same way; the threshold path
is covered by tests/test_agglomerative_parity.py.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from rml.cluster import AgglomerativeClustering
from rml.mixture import GaussianMixture

ESTIMATORS = [
    GaussianMixture(covariance_type="diag"),
    GaussianMixture(covariance_type="spherical", n_init=2, max_iter=5),
    GaussianMixture(),  # 'full': scikit-learn's code, through the subclass
    AgglomerativeClustering(),
    AgglomerativeClustering(linkage="single"),
    AgglomerativeClustering(linkage="average", metric="manhattan"),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
