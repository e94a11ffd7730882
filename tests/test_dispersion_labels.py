"""Calinski-Harabasz and Davies-Bouldin: the O(n) label encoding inside the native call and
the finiteness check fused into its first pass, against scikit-learn."""

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_blobs

from rml import metrics as rm

RTOL = 1e-10
SCORES = ["calinski_harabasz_score", "davies_bouldin_score"]


def _data(n=20000, d=6, k=6, seed=0):
    X, y = make_blobs(n_samples=n, n_features=d, centers=k, cluster_std=2.0, random_state=seed)
    return X, y


def _relabel(y, kind):
    """The same partition with other label values (LabelEncoder gives the same codes up to
    the order of the sorted distinct values)."""
    values = {
        "negative": np.array([-5, -1, 0, 3, 17, 1000]),
        "noncontiguous_int32": np.array([7, 70, 700, 7000, 70000, 700000], dtype=np.int32),
        "uint8": np.array([250, 3, 9, 0, 128, 255], dtype=np.uint8),
        "uint64_huge": np.array([2**64 - 1, 5, 2**63, 2**63 + 7, 1, 0], dtype=np.uint64),
        "int64_sparse": np.array([-(2**62), 2**62, 0, 1, -1, 12345678901], dtype=np.int64),
        "strings": np.array(["b", "a", "zz", "noise", "c", "A"]),
        "floats": np.array([0.5, -1.0, 2.25, 3.0, 1e9, -7.5]),
        "objects": np.array(["x", 3, "y", 4, "z", 5], dtype=object),
    }[kind]
    return values[y]


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize(
    "kind",
    ["negative", "noncontiguous_int32", "uint8", "uint64_huge", "int64_sparse", "strings", "floats"],
)
def test_label_kinds_match_sklearn(score, kind):
    X, y = _data()
    lab = _relabel(y, kind)
    ours = getattr(rm, score)(X, lab)
    ref = getattr(skm, score)(X, lab)
    assert ours == pytest.approx(ref, rel=RTOL)
    # the value depends only on the partition
    assert ours == pytest.approx(getattr(rm, score)(X, y), rel=RTOL)


@pytest.mark.parametrize("score", SCORES)
def test_noise_label_and_bool_labels(score):
    X, y = _data(n=3000)
    y = np.where(np.arange(3000) % 13 == 0, -1, y)
    assert getattr(rm, score)(X, y) == pytest.approx(getattr(skm, score)(X, y), rel=RTOL)
    yb = y > 2
    assert getattr(rm, score)(X, yb) == pytest.approx(getattr(skm, score)(X, yb), rel=RTOL)


@pytest.mark.parametrize("score", SCORES)
def test_many_clusters_and_float32(score):
    # k·d > 8192: the grouped schedule with materialised codes
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30000, 10))
    y = rng.integers(-2000, 2000, 30000) * 3
    assert getattr(rm, score)(X, y) == pytest.approx(getattr(skm, score)(X, y), rel=RTOL)
    X32, y32 = _data(n=5000)
    X32 = X32.astype(np.float32)
    assert getattr(rm, score)(X32, y32) == pytest.approx(getattr(skm, score)(X32, y32), rel=1e-5)


@pytest.mark.parametrize("score", SCORES)
def test_non_finite_x_gives_sklearns_error(score):
    X, y = _data(n=400)
    cases = []
    Xi = X.copy()
    Xi[7, 1] = np.inf
    cases.append(Xi)
    Xm = X.copy()
    Xm[3, 0], Xm[9, 0] = np.inf, -np.inf  # may cancel to NaN in a sum
    cases.append(Xm)
    Xn = X.copy()
    Xn[-1, -1] = np.nan
    cases.append(Xn)
    for bad in cases:
        with pytest.raises(ValueError) as ours:
            getattr(rm, score)(bad, y)
        with pytest.raises(ValueError) as ref:
            getattr(skm, score)(bad, y)
        assert str(ours.value) == str(ref.value)
    # a non-finite X and a single label: scikit-learn reports X first
    with pytest.raises(ValueError) as ours:
        getattr(rm, score)(Xn, np.zeros(400, dtype=int))
    with pytest.raises(ValueError) as ref:
        getattr(skm, score)(Xn, np.zeros(400, dtype=int))
    assert str(ours.value) == str(ref.value)


@pytest.mark.parametrize("score", SCORES)
def test_overflowing_but_finite_x_behaves_as_sklearn(score):
    X, y = _data(n=200, d=2, k=3)
    X = X * 1e306  # the sums overflow to inf although every value is finite

    def outcome(module):
        try:
            with np.errstate(all="ignore"):
                return "value", getattr(module, score)(X, y)
        except ValueError as e:
            return "error", str(e)

    ours, ref = outcome(rm), outcome(skm)
    assert ours[0] == ref[0]
    if ours[0] == "error":
        assert ours[1] == ref[1]
    else:
        np.testing.assert_allclose(ours[1], ref[1], rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("score", SCORES)
def test_thread_count_invariant_and_inputs_untouched(score, monkeypatch):
    X, y = _data(n=70000, d=4)  # several label and streaming blocks
    y = (y * 7 - 3).astype(np.int32)
    X0, y0 = X.copy(), y.copy()
    out = []
    for t in ("1", "2"):
        monkeypatch.setenv("RML_NUM_THREADS", t)
        out.append(getattr(rm, score)(X, y))
    assert out[0] == out[1]
    np.testing.assert_array_equal(X, X0)
    np.testing.assert_array_equal(y, y0)
