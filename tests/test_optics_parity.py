"""rml.cluster.OPTICS gives scikit-learn's ordering_, predecessor_, labels_ and hierarchy,
and reachability_/core_distances_ to 1e-12 relative (in practice bit-identical)."""

import numpy as np
import pytest
from sklearn import cluster as skc
from sklearn.metrics import pairwise_distances

import rml.cluster as rc
from rml.cluster import OPTICS
from tests._dbscan_data import DATASETS

N = 120  # scikit-learn's OPTICS loop is slow: keep the parity data small


def _sub(name):
    X = DATASETS[name]
    return X[np.random.RandomState(0).permutation(len(X))[:N]] if len(X) > N else X


def _assert_same(sk, ours):
    np.testing.assert_array_equal(ours.ordering_, sk.ordering_)
    np.testing.assert_array_equal(ours.predecessor_, sk.predecessor_)
    np.testing.assert_allclose(ours.reachability_, sk.reachability_, rtol=1e-12, atol=0)
    np.testing.assert_allclose(ours.core_distances_, sk.core_distances_, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ours.labels_, sk.labels_)
    if hasattr(sk, "cluster_hierarchy_"):
        np.testing.assert_array_equal(ours.cluster_hierarchy_, sk.cluster_hierarchy_)
    for a in ["ordering_", "predecessor_", "reachability_", "core_distances_", "labels_"]:
        assert getattr(ours, a).dtype == getattr(sk, a).dtype, a


@pytest.mark.parametrize(
    "name", ["blobs", "moons", "circles", "varying_density", "duplicates", "iris", "wine",
             "mall_customers", "country_data", "pima_diabetes", "social_network_ads", "bank_churn"]
)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"min_samples": 10, "max_eps": 0.6},
        {"min_samples": 0.05, "cluster_method": "dbscan", "eps": 0.4, "max_eps": 1.0},
        {"min_samples": 3, "xi": 0.1, "min_cluster_size": 0.1, "predecessor_correction": False},
    ],
    ids=["default", "finite_max_eps", "fraction_dbscan", "xi_options"],
)
def test_graph_and_labels_equal_sklearn(name, kw):
    X = _sub(name)
    _assert_same(skc.OPTICS(**kw).fit(X), OPTICS(**kw).fit(X))


@pytest.mark.parametrize(
    "kw",
    [
        {"p": 1},
        {"p": 3},
        {"p": 1.5, "max_eps": 1.0},
        {"metric": "manhattan"},
        {"metric": "chebyshev", "max_eps": 0.8},
        {"metric": "minkowski", "metric_params": {"p": 4}},
    ],
)
@pytest.mark.parametrize("name", ["moons", "wine"])
def test_every_exact_metric(kw, name):
    X = _sub(name)
    _assert_same(skc.OPTICS(**kw).fit(X), OPTICS(**kw).fit(X))


@pytest.mark.parametrize(
    "kw",
    [{"metric": "euclidean"}, {"metric": "sqeuclidean"}, {"metric": "cosine"},
     {"algorithm": "brute", "max_eps": 1.5}],
)
@pytest.mark.parametrize("name", ["blobs", "wine"])
def test_dot_product_paths_agree_to_rounding(kw, name):
    # For these scikit-learn computes some distances by a dot-product expansion (BLAS,
    # FMA-dependent last bits) while rml computes them exactly; a last-bit difference turns
    # exact reachability ties into non-ties, so the ordering may legitimately differ (a
    # documented deviation). What must hold: core distances equal to rounding, a valid
    # ordering, and clusterings that agree closely.
    from sklearn.metrics import adjusted_rand_score

    # Small: scikit-learn's brute path starts an OpenMP reduction per step (slow when the
    # machine is busy).
    X = _sub(name)[:60] + (3.0 if kw.get("metric") == "cosine" else 0.0)
    sk, ours = skc.OPTICS(**kw).fit(X), OPTICS(**kw).fit(X)
    np.testing.assert_allclose(ours.core_distances_, sk.core_distances_, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(np.sort(ours.ordering_), np.arange(len(X)))
    assert ours.ordering_[0] == sk.ordering_[0] == 0
    assert adjusted_rand_score(sk.labels_, ours.labels_) > 0.8


@pytest.mark.parametrize("name", ["blobs", "duplicates", "wine"])
@pytest.mark.parametrize("max_eps", [np.inf, 0.7])
def test_precomputed(name, max_eps):
    X = _sub(name)
    D = pairwise_distances(X, metric="manhattan")
    kw = dict(metric="precomputed", max_eps=max_eps)
    _assert_same(skc.OPTICS(**kw).fit(D), OPTICS(**kw).fit(D))


@pytest.mark.parametrize("algorithm", ["kd_tree", "ball_tree"])  # brute: see dot-product test
def test_every_algorithm(algorithm):
    X = _sub("varying_density")
    kw = dict(algorithm=algorithm, leaf_size=5, max_eps=1.5)
    _assert_same(skc.OPTICS(**kw).fit(X), OPTICS(**kw).fit(X))


def test_float32_input_is_computed_in_float64():
    X = _sub("blobs").astype(np.float32)
    sk, ours = skc.OPTICS().fit(X), OPTICS().fit(X)
    _assert_same(sk, ours)
    assert ours.reachability_.dtype == np.float64


def test_n_jobs_does_not_change_results():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(6000, 2))  # large enough for the parallel scan
    a = OPTICS(n_jobs=1).fit(X)
    b = OPTICS(n_jobs=2).fit(X)
    for attr in ["ordering_", "predecessor_", "reachability_", "core_distances_", "labels_"]:
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))


def test_extraction_functions_are_sklearns():
    X = _sub("blobs")
    g = OPTICS().fit(X)
    args = dict(reachability=g.reachability_, core_distances=g.core_distances_,
                ordering=g.ordering_, eps=0.5)
    np.testing.assert_array_equal(rc.cluster_optics_dbscan(**args), skc.cluster_optics_dbscan(**args))
    a = rc.cluster_optics_xi(reachability=g.reachability_, predecessor=g.predecessor_,
                             ordering=g.ordering_, min_samples=5, xi=0.05)
    b = skc.cluster_optics_xi(reachability=g.reachability_, predecessor=g.predecessor_,
                              ordering=g.ordering_, min_samples=5, xi=0.05)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_all_inf_reachability_warns_as_sklearn():
    X = _sub("blobs")
    with pytest.warns(UserWarning, match="All reachability values are inf"):
        OPTICS(max_eps=1e-9, min_samples=3).fit(X)


def test_memory_caches_the_graph(tmp_path):
    X = _sub("moons")
    a = OPTICS(memory=str(tmp_path)).fit(X)
    b = OPTICS(memory=str(tmp_path)).fit(X)
    np.testing.assert_array_equal(a.ordering_, b.ordering_)
    assert any(tmp_path.iterdir())
