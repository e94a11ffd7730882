"""rml.cluster.MiniBatchKMeans against sklearn.cluster.MiniBatchKMeans.

rml follows numpy's RandomState stream exactly as scikit-learn draws from it (init subsample,
k-means++, mini-batch indices, reassignment choices), so with the same random_state the fitted
centres are scikit-learn's to floating-point rounding. Quality tests (inertia, ARI) come on
top, over many seeds.
"""

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import sklearn.cluster as skc
from sklearn.datasets import load_digits, load_iris, make_blobs
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from rml.cluster import MiniBatchKMeans

DATA = Path(__file__).resolve().parent.parent / "data"


def _csv_numeric(name, drop):
    import pandas as pd

    df = pd.read_csv(DATA / name).drop(columns=drop)
    X = df.select_dtypes("number").to_numpy(dtype=np.float64)
    return StandardScaler().fit_transform(X)


def _datasets():
    X_blobs, _ = make_blobs(3000, n_features=6, centers=12, random_state=1)
    return {
        "blobs": X_blobs,
        "iris": load_iris().data,
        "digits": load_digits().data,
        "country": _csv_numeric("country_data.csv", ["country"]),
        "bank_churn": _csv_numeric("bank_churn.csv", ["customer_id", "churn"]),
    }


DATASETS = _datasets()


@pytest.fixture(autouse=True)
def _sklearn_single_thread():
    """scikit-learn's OpenMP threads spin badly on a loaded machine; one thread keeps the
    reference runs fast (rml's own threads are not affected)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _assert_same_fit(a, b, dtype):
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    assert a.cluster_centers_.dtype == b.cluster_centers_.dtype == dtype
    assert a.n_steps_ == b.n_steps_
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(a._counts, b._counts, rtol=rtol)
    if getattr(b, "labels_", None) is not None and a.compute_labels:
        assert a.labels_.dtype == np.int32
        np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=max(rtol, 1e-6))


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_matches_sklearn_kmeanspp(name, dtype):
    X = DATASETS[name].astype(dtype)
    k = 3 if name in ("iris", "country") else 10
    for seed in range(3):
        params = dict(n_clusters=k, random_state=seed, batch_size=256)
        a = MiniBatchKMeans(**params).fit(X)
        b = skc.MiniBatchKMeans(**params).fit(X)
        _assert_same_fit(a, b, dtype)


@pytest.mark.parametrize(
    "params",
    [
        dict(init="random"),
        dict(init="random", n_init=2, reassignment_ratio=0.3),
        dict(tol=1e-3, max_no_improvement=None),
        dict(max_no_improvement=None, max_iter=3),
        dict(compute_labels=False),
        dict(batch_size=20, init_size=50, reassignment_ratio=0.5),
        dict(batch_size=5000),
        dict(n_init=4, reassignment_ratio=0.0),
    ],
)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_matches_sklearn_options(params, dtype):
    X = DATASETS["blobs"].astype(dtype)
    params = dict(n_clusters=12, random_state=7, **params)
    a = MiniBatchKMeans(**params).fit(X)
    b = skc.MiniBatchKMeans(**params).fit(X)
    _assert_same_fit(a, b, dtype)
    if not params.get("compute_labels", True):
        assert not hasattr(a, "labels_")
        np.testing.assert_allclose(a._ewa_inertia, b._ewa_inertia, rtol=1e-6)


def test_explicit_and_callable_init_match_sklearn():
    X = DATASETS["digits"]
    init = X[:10] + 0.5
    a = MiniBatchKMeans(10, init=init, random_state=3, batch_size=100).fit(X)
    b = skc.MiniBatchKMeans(10, init=init, random_state=3, batch_size=100).fit(X)
    _assert_same_fit(a, b, np.float64)

    def my_init(X, k, random_state):
        return X[random_state.permutation(X.shape[0])[:k]]

    a = MiniBatchKMeans(10, init=my_init, random_state=3).fit(X)
    b = skc.MiniBatchKMeans(10, init=my_init, random_state=3).fit(X)
    _assert_same_fit(a, b, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_weight_fit_matches_sklearn(dtype):
    X = DATASETS["bank_churn"].astype(dtype)
    w = np.random.RandomState(0).randint(0, 4, X.shape[0]).astype(dtype)
    for seed in range(2):
        params = dict(n_clusters=8, random_state=seed, batch_size=512)
        a = MiniBatchKMeans(**params).fit(X, sample_weight=w)
        b = skc.MiniBatchKMeans(**params).fit(X, sample_weight=w)
        _assert_same_fit(a, b, dtype)
        np.testing.assert_allclose(a.score(X, sample_weight=w), b.score(X, sample_weight=w), rtol=1e-5)


def test_random_state_instance_is_advanced_like_sklearn():
    X = DATASETS["blobs"]
    ra, rb = np.random.RandomState(11), np.random.RandomState(11)
    a = MiniBatchKMeans(12, random_state=ra, batch_size=100).fit(X)
    b = skc.MiniBatchKMeans(12, random_state=rb, batch_size=100).fit(X)
    _assert_same_fit(a, b, np.float64)
    assert ra.randint(0, 2**31) == rb.randint(0, 2**31)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
def test_partial_fit_stream_matches_sklearn(dtype, weighted):
    X = DATASETS["digits"].astype(dtype)
    rng = np.random.RandomState(0)
    w = rng.uniform(0.5, 2.0, X.shape[0]).astype(dtype) if weighted else None
    # reassignment_ratio high enough that reassignments (and their random draws) happen
    params = dict(n_clusters=10, random_state=5, reassignment_ratio=0.2)
    a, b = MiniBatchKMeans(**params), skc.MiniBatchKMeans(**params)
    for start in range(0, X.shape[0], 150):
        sl = slice(start, start + 150)
        sw = None if w is None else w[sl]
        a.partial_fit(X[sl], sample_weight=sw)
        b.partial_fit(X[sl], sample_weight=sw)
        rtol = 1e-4 if dtype == np.float32 else 1e-10
        np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(a._counts, b._counts, rtol=rtol)
        np.testing.assert_array_equal(a.labels_, b.labels_)
        np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-5)
        assert a.n_steps_ == b.n_steps_
        assert a._n_since_last_reassign == b._n_since_last_reassign
    assert a.cluster_centers_.dtype == dtype
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_predict_transform_score_match_sklearn():
    X = DATASETS["digits"]
    a = MiniBatchKMeans(10, random_state=0).fit(X)
    b = skc.MiniBatchKMeans(10, random_state=0).fit(X)
    Xt = X[::3] + 0.25
    np.testing.assert_array_equal(a.predict(Xt), b.predict(Xt))
    np.testing.assert_allclose(a.transform(Xt), b.transform(Xt), rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(a.score(Xt), b.score(Xt), rtol=1e-10)
    np.testing.assert_allclose(a.fit_transform(X), b.fit_transform(X), rtol=1e-7, atol=1e-7)
    np.testing.assert_array_equal(a.fit_predict(X), b.fit_predict(X))
    assert a.transform(Xt.astype(np.float32)).dtype == np.float64
    a32 = MiniBatchKMeans(10, random_state=0).fit(X.astype(np.float32))
    assert a32.transform(Xt).dtype == np.float32


def test_ari_is_one_on_separated_blobs_over_seeds():
    X, y = make_blobs(2000, n_features=4, centers=5, cluster_std=0.3, center_box=(-50, 50), random_state=3)
    for seed in range(20):
        a = MiniBatchKMeans(5, random_state=seed, batch_size=100).fit(X)
        b = skc.MiniBatchKMeans(5, random_state=seed, batch_size=100).fit(X)
        assert adjusted_rand_score(y, a.labels_) == adjusted_rand_score(y, b.labels_)
        assert a.inertia_ <= b.inertia_ * (1 + 1e-9)
    aris = [adjusted_rand_score(y, MiniBatchKMeans(5, random_state=s, n_init=3).fit(X).labels_) for s in range(20)]
    assert min(aris) == 1.0


def test_mean_inertia_matches_sklearn_over_seeds():
    X = DATASETS["bank_churn"]
    ia = [MiniBatchKMeans(8, random_state=s).fit(X).inertia_ for s in range(10)]
    ib = [skc.MiniBatchKMeans(8, random_state=s).fit(X).inertia_ for s in range(10)]
    assert np.mean(ia) <= np.mean(ib) * 1.01


def test_integer_weights_equal_repeated_rows():
    X = DATASETS["iris"]
    w = np.random.RandomState(1).randint(1, 4, X.shape[0])
    Xr = np.repeat(X, w, axis=0)
    centers = X[[0, 60, 120]]
    # one partial_fit step (no reassignment): weighted batch == repeated batch
    a = MiniBatchKMeans(3, init=centers, reassignment_ratio=0.0).partial_fit(X, sample_weight=w)
    b = MiniBatchKMeans(3, init=centers, reassignment_ratio=0.0).partial_fit(Xr)
    np.testing.assert_allclose(a.cluster_centers_, b.cluster_centers_, rtol=1e-12)
    np.testing.assert_allclose(a._counts, b._counts)
    np.testing.assert_allclose(a.inertia_, b.inertia_, rtol=1e-12)
    np.testing.assert_allclose(a.score(X, sample_weight=w), a.score(Xr), rtol=1e-12)
    # fit with compute_labels: the final inertia weights rows like repetitions
    f = MiniBatchKMeans(3, init=centers, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_allclose(f.inertia_, -f.score(Xr), rtol=1e-12)


def test_threads_do_not_change_results(monkeypatch):
    from rml import _rml

    X = DATASETS["bank_churn"]
    fits = []
    for threads in ("1", "2"):
        monkeypatch.setenv("RML_NUM_THREADS", threads)
        assert _rml.pool_thread_count() == min(int(threads), os.cpu_count())
        m = MiniBatchKMeans(8, random_state=0, batch_size=2048).fit(X)
        fits.append((m.cluster_centers_, m.labels_, m.inertia_, m.transform(X[:100]), m.score(X)))
    for u, v in zip(*fits):
        np.testing.assert_array_equal(u, v)


def test_input_not_mutated_and_pickle_round_trip():
    X = np.asfortranarray(DATASETS["country"])
    w = np.ones(X.shape[0])
    X0, w0 = X.copy(), w.copy()
    m = MiniBatchKMeans(3, random_state=0).fit(X, sample_weight=w)
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(w, w0)
    m2 = pickle.loads(pickle.dumps(m))
    np.testing.assert_array_equal(m.predict(X), m2.predict(X))
    m.partial_fit(X)
    m2.partial_fit(X)
    np.testing.assert_array_equal(m.cluster_centers_, m2.cluster_centers_)


def _messages_equal(fn_a, fn_b, exc=ValueError):
    with pytest.raises(exc) as ea:
        fn_a()
    with pytest.raises(exc) as eb:
        fn_b()
    assert str(ea.value).replace("skc.", "") == str(eb.value)
    return str(ea.value)


@pytest.mark.parametrize(
    "X, params",
    [
        (np.array([[0.0, np.nan], [1.0, 1.0]]), {}),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), {}),
        (np.zeros((0, 3)), {}),
        (np.zeros((5, 0)), {}),
        (np.zeros(5), {}),
        (np.zeros((2, 2, 2)), {}),
        (np.zeros((3, 2)), dict(n_clusters=4)),
        (np.zeros((10, 2)), dict(n_clusters=2, init=np.zeros((3, 2)))),
        (np.zeros((10, 2)), dict(n_clusters=2, init=np.zeros((2, 3)))),
        (np.zeros((10, 2)), dict(batch_size=0)),
        (np.zeros((10, 2)), dict(reassignment_ratio=-1.0)),
        (np.zeros((10, 2)), dict(init="bad")),
    ],
)
def test_bad_input_messages_match_sklearn(X, params):
    msg_a = None
    try:
        skc.MiniBatchKMeans(**params).fit(X)
    except ValueError as e:
        msg_a = str(e).replace("MiniBatchKMeans", "X")
    with pytest.raises(ValueError) as ours:
        MiniBatchKMeans(**params).fit(X)
    assert str(ours.value).replace("MiniBatchKMeans", "X") == msg_a


def test_bad_sample_weight_matches_sklearn():
    X = DATASETS["iris"]
    for w in (np.ones(3), -np.ones(X.shape[0]), np.zeros(X.shape[0]), np.r_[-1.0, np.ones(149)]):
        try:
            b = skc.MiniBatchKMeans(3, random_state=0).fit(X, sample_weight=w)
        except ValueError as e:
            with pytest.raises(ValueError) as ours:
                MiniBatchKMeans(3, random_state=0).fit(X, sample_weight=w)
            assert str(ours.value) == str(e)
        else:
            a = MiniBatchKMeans(3, random_state=0).fit(X, sample_weight=w)
            _assert_same_fit(a, b, np.float64)


def test_predict_errors():
    X = DATASETS["iris"]
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        MiniBatchKMeans(3).predict(X)
    m = MiniBatchKMeans(3, random_state=0).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but MiniBatchKMeans is expecting 4"):
        m.predict(X[:, :2])
    with pytest.raises(ValueError, match="Input X contains NaN"):
        m.transform(np.full((2, 4), np.nan))
    import scipy.sparse as sp

    with pytest.raises(TypeError, match="dense data is required"):
        MiniBatchKMeans(3).fit(sp.csr_matrix(X))


def test_layouts_give_identical_results(tmp_path):
    X = DATASETS["country"]
    ref = MiniBatchKMeans(3, random_state=0, batch_size=50).fit(X)
    mm = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=X.dtype, shape=X.shape)
    mm[:] = X
    mm.flush()
    ro = np.lib.format.open_memmap(tmp_path / "x.npy", mode="r")
    strided = np.repeat(X, 2, axis=0)[::2]
    variants = [X.astype(">f8"), np.asfortranarray(X), strided, ro, X.tolist()]
    ro_copy = X.copy()
    ro_copy.setflags(write=False)
    variants.append(ro_copy)
    for V in variants:
        m = MiniBatchKMeans(3, random_state=0, batch_size=50).fit(V)
        np.testing.assert_array_equal(m.cluster_centers_, ref.cluster_centers_)
        np.testing.assert_array_equal(m.labels_, ref.labels_)
        np.testing.assert_array_equal(m.predict(V), ref.labels_)


def test_dataframe_feature_names():
    import pandas as pd

    X = DATASETS["iris"]
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    m = MiniBatchKMeans(3, random_state=0).fit(df)
    assert list(m.feature_names_in_) == ["a", "b", "c", "d"]
    assert list(m.get_feature_names_out()) == [f"minibatchkmeans{i}" for i in range(3)]
    np.testing.assert_array_equal(m.predict(df), m.labels_)


def test_verbose_prints_sklearn_messages(capsys):
    X = DATASETS["blobs"]
    params = dict(n_clusters=12, random_state=0, verbose=1, batch_size=100, n_init=2, init="random")
    MiniBatchKMeans(**params).fit(X)
    ours = capsys.readouterr().out.splitlines()
    skc.MiniBatchKMeans(**params).fit(X)
    theirs = capsys.readouterr().out.splitlines()
    # same lines; ours prints the init inertias after all the "Init i/n" lines
    assert sorted(ours) == sorted(theirs)
    step_lines = [line for line in ours if line.startswith(("Minibatch step", "Converged", "[MiniBatch"))]
    assert step_lines == [line for line in theirs if line.startswith(("Minibatch step", "Converged", "[MiniBatch"))]
