"""scikit-learn's estimator checks over rml's DBSCAN and OPTICS."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from rml.cluster import DBSCAN, OPTICS


@parametrize_with_checks(
    [DBSCAN(), OPTICS(), OPTICS(cluster_method="dbscan", eps=1.0)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
