"""rml.mixture.GaussianMixture vs sklearn.mixture.GaussianMixture."""

import os
import pickle
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_blobs
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGM

from rml import _rml
from rml.mixture import GaussianMixture

DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data")
RTOL = 1e-8


def _csv(name, drop=()):
    import pandas as pd

    df = pd.read_csv(os.path.join(DATA, name)).drop(columns=list(drop)).select_dtypes("number")
    X = df.to_numpy(dtype=np.float64)
    return (X - X.mean(axis=0)) / X.std(axis=0)


DATASETS = {
    "blobs": lambda: make_blobs(n_samples=300, n_features=3, centers=4, random_state=0)[0],
    "iris": lambda: load_iris().data.astype(np.float64),
    "country": lambda: _csv("country_data.csv"),
    "mall": lambda: _csv("mall_customers.csv", drop=["CustomerID"]),
    "pima": lambda: _csv("pima_diabetes.csv", drop=["Outcome"])[:400],
}

ATTRS = ["weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"]


def _fixed_init(X, k, cov, seed=0):
    rng = np.random.RandomState(seed)
    d = X.shape[1]
    means = X[rng.choice(X.shape[0], k, replace=False)]
    weights = np.full(k, 1.0 / k)
    prec = 1.0 / X.var(axis=0)
    precisions = np.tile(prec, (k, 1)) if cov == "diag" else np.full(k, prec.mean())
    return dict(weights_init=weights, means_init=means, precisions_init=precisions)


def _fit_both(X, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = SkGM(**kw).fit(X)
        b = GaussianMixture(**kw).fit(X)
    return a, b


def _assert_same_fit(a, b, rtol=RTOL):
    assert b.n_iter_ == a.n_iter_
    assert b.converged_ == a.converged_
    for name in ATTRS:
        x, y = getattr(a, name), getattr(b, name)
        assert y.shape == x.shape and y.dtype == x.dtype, name
        # relative to each array's scale (entries near 0 have no meaningful relative error)
        np.testing.assert_allclose(y, x, rtol=rtol, atol=rtol * max(np.abs(x).max(), 1.0),
                                   err_msg=name)
    np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=rtol)
    np.testing.assert_allclose(b.lower_bounds_, a.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("cov", ["diag", "spherical"])
@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("k", [1, 3, 5])
def test_fixed_init_identical_iterations_and_arrays(name, cov, k):
    X = DATASETS[name]()
    kw = dict(n_components=k, covariance_type=cov, tol=1e-6, max_iter=200,
              **_fixed_init(X, k, cov))
    a, b = _fit_both(X, **kw)
    _assert_same_fit(a, b)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))
    np.testing.assert_allclose(b.score_samples(X), a.score_samples(X), rtol=RTOL)
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(b.score(X), a.score(X), rtol=RTOL)
    np.testing.assert_allclose(b.bic(X), a.bic(X), rtol=RTOL)
    np.testing.assert_allclose(b.aic(X), a.aic(X), rtol=RTOL)


@pytest.mark.parametrize("cov", ["diag", "spherical"])
@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_seeded_inits_reach_the_same_lower_bound(cov, init_params):
    X = DATASETS["blobs"]()
    for seed in range(8):
        kw = dict(n_components=4, covariance_type=cov, init_params=init_params,
                  random_state=seed, tol=1e-5, max_iter=300)
        a, b = _fit_both(X, **kw)
        np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-8)
        # same RandomState calls: the whole fit matches
        assert b.n_iter_ == a.n_iter_
        np.testing.assert_allclose(b.means_, a.means_, rtol=1e-6, atol=1e-9)


def test_n_init_picks_the_same_best_run_and_fit_predict_labels():
    X = DATASETS["pima"]()
    kw = dict(n_components=4, covariance_type="diag", n_init=4, init_params="random",
              random_state=3, max_iter=50)
    a, b = _fit_both(X, **kw)
    _assert_same_fit(a, b, rtol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        la = SkGM(**kw).fit_predict(X)
        lb = GaussianMixture(**kw).fit_predict(X)
    np.testing.assert_array_equal(lb, la)
    np.testing.assert_array_equal(lb, b.predict(X))


@pytest.mark.parametrize("cov", ["diag", "spherical"])
def test_warm_start_continues_like_sklearn(cov):
    X = DATASETS["country"]()
    kw = dict(n_components=3, covariance_type=cov, warm_start=True, max_iter=3,
              random_state=0, tol=1e-12)
    a, b = SkGM(**kw), GaussianMixture(**kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(3):
            a.fit(X)
            b.fit(X)
            _assert_same_fit(a, b, rtol=1e-7)


def test_max_iter_zero_keeps_the_initialisation():
    X = DATASETS["iris"]()
    kw = dict(n_components=3, covariance_type="diag", max_iter=0, random_state=0)
    a, b = SkGM(**kw).fit(X), GaussianMixture(**kw).fit(X)
    assert b.n_iter_ == 0 and not b.converged_ and b.lower_bound_ == -np.inf
    for name in ATTRS:
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name))
    np.testing.assert_array_equal(b.predict(X), a.predict(X))


@pytest.mark.parametrize("cov", ["diag", "spherical"])
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_em_never_decreases_the_lower_bound(name, cov):
    X = DATASETS[name]()
    for seed in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            g = GaussianMixture(n_components=4, covariance_type=cov, init_params="random",
                                random_state=seed, tol=0.0, max_iter=40).fit(X)
        lbs = np.asarray(g.lower_bounds_)
        assert len(lbs) == 40
        assert np.all(np.diff(lbs) >= -1e-9 * np.abs(lbs[1:])), lbs


def test_float32_stays_float32_and_matches_within_float32_tolerance():
    X = DATASETS["blobs"]().astype(np.float32)
    kw = dict(n_components=4, covariance_type="diag", random_state=0, tol=1e-4)
    a, b = _fit_both(X, **kw)
    for name in ATTRS:
        assert getattr(b, name).dtype == np.float32
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(b.lower_bound_, a.lower_bound_, rtol=1e-5)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))
    assert b.score_samples(X).dtype == a.score_samples(X).dtype


@pytest.mark.parametrize("cov", ["full", "tied"])
def test_full_and_tied_run_sklearn_code(cov):
    X = DATASETS["iris"]()
    a, b = _fit_both(X, n_components=3, covariance_type=cov, random_state=0)
    for name in ATTRS + ["lower_bound_", "n_iter_"]:
        np.testing.assert_array_equal(getattr(b, name), getattr(a, name))
    np.testing.assert_array_equal(b.predict_proba(X), a.predict_proba(X))


def test_default_params_match_sklearn():
    assert GaussianMixture().get_params() == SkGM().get_params()
    assert GaussianMixture().covariance_type == "full"


def test_convergence_warning_as_sklearn():
    X = DATASETS["blobs"]()
    with pytest.warns(ConvergenceWarning, match="Best performing initialization did not"):
        GaussianMixture(n_components=4, covariance_type="diag", max_iter=1).fit(X)


def test_ill_defined_covariance_message():
    X = np.zeros((10, 2))
    X[5:] = 1.0
    kw = dict(n_components=2, covariance_type="diag", reg_covar=0.0,
              means_init=[[0.0, 0.0], [0.5, 0.5]], random_state=0)
    with pytest.raises(ValueError) as ea:
        SkGM(**kw).fit(X)
    with pytest.raises(ValueError) as eb:
        GaussianMixture(**kw).fit(X)
    assert str(eb.value) == str(ea.value)


def test_bad_input_messages_match_sklearn():
    X = DATASETS["iris"]()
    for bad, kw in [
        (X[:2], dict(n_components=3)),
        (np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), {}),
        (X[:1], {}),
    ]:
        with pytest.raises(ValueError) as ea:
            SkGM(covariance_type="diag", **kw).fit(bad)
        with pytest.raises(ValueError) as eb:
            GaussianMixture(covariance_type="diag", **kw).fit(bad)
        assert str(eb.value) == str(ea.value)
    g = GaussianMixture(covariance_type="diag", n_components=2).fit(X)
    with pytest.raises(ValueError, match="X has 3 features"):
        g.predict(X[:, :3])


def test_sample_pickle_and_input_not_mutated():
    X = DATASETS["mall"]()
    X0 = X.copy()
    kw = dict(n_components=3, covariance_type="diag", random_state=4)
    a, b = _fit_both(X, **kw)
    np.testing.assert_array_equal(X, X0)
    sa, sb = a.sample(50), b.sample(50)
    np.testing.assert_allclose(sb[0], sa[0], rtol=1e-7)
    np.testing.assert_array_equal(sb[1], sa[1])
    c = pickle.loads(pickle.dumps(b))
    np.testing.assert_array_equal(c.predict_proba(X), b.predict_proba(X))


def test_results_do_not_depend_on_threads():
    X = make_blobs(n_samples=9000, n_features=4, centers=5, random_state=1)[0]
    k = 5
    init = _fixed_init(X, k, "diag")
    args = (X, init["weights_init"], np.ascontiguousarray(init["means_init"]),
            np.sqrt(init["precisions_init"]), "diag", 0.0, 1e-6, 5, -np.inf)
    r1 = _rml.cluster.gmm_em(*args, 1)
    r2 = _rml.cluster.gmm_em(*args, 2)
    for i, (x, y) in enumerate(zip(r1, r2)):
        if i != 8:  # r[8] holds per-iteration wall times
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("verbose", [1, 2])
def test_verbose_lines_match_sklearn(verbose, capsys):
    X = DATASETS["iris"]()
    kw = dict(n_components=3, covariance_type="diag", random_state=0, verbose=verbose,
              verbose_interval=2, n_init=2, tol=1e-6)
    SkGM(**kw).fit(X)
    sk_lines = capsys.readouterr().out.splitlines()
    GaussianMixture(**kw).fit(X)
    rml_lines = capsys.readouterr().out.splitlines()
    assert len(rml_lines) == len(sk_lines)
    # same messages, up to the times and the last digits of the lower-bound change
    strip = lambda s: s.split("\t")[0].split(". time")[0]  # noqa: E731
    assert [strip(s) for s in rml_lines] == [strip(s) for s in sk_lines]
