"""The KNN study, rml and scikit-learn side by side (the README's main job).

Protocol (the published study rml exists to answer): median imputation, z-score scaling,
one-hot categoricals; stratified 80/20 split with random_state=42; k=5, Euclidean, uniform
weights; accuracy, precision, recall, F1, ROC-AUC and prediction time; 5-fold stratified CV
with paired t-tests on the metric differences and on prediction time. Both pipelines run in
this process on the same data. Then the pre-filter trade-off and a clustering section.

Writes benchmarks/results/study.{md,json} and PNG plots next to them.

    python benchmarks/study.py            # full run (a few minutes)
    python benchmarks/study.py --quick    # smoke run
"""

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import datasets as skdata
from sklearn.compose import ColumnTransformer
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

import sklearn
import rml
from rml.neighbors import KNeighborsClassifier as RmlKNN
from sklearn.neighbors import KNeighborsClassifier as SkKNN
from sklearn.impute import SimpleImputer as SkImputer
from sklearn.preprocessing import StandardScaler as SkScaler

try:  # rml's own preprocessing when it is built (issue 6); scikit-learn's otherwise
    from rml.impute import SimpleImputer as RmlImputer
    from rml.preprocessing import StandardScaler as RmlScaler

    RML_PREPROCESSING = True
except ImportError:  # pragma: no cover - depends on the build
    RmlImputer, RmlScaler = SkImputer, SkScaler
    RML_PREPROCESSING = False

try:
    from tqdm.auto import tqdm
except ImportError:  # pragma: no cover
    def tqdm(it=None, **_):
        return it

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
RESULTS = ROOT / "benchmarks" / "results"

SEED = {
    "social_network_ads": ("social_network_ads.csv", "Purchased", ["User ID"], ["Gender"], []),
    "bank_churn": ("bank_churn.csv", "churn", ["customer_id"], ["country", "gender"], []),
    "pima_diabetes": ("pima_diabetes.csv", "Outcome", [], [],
                      ["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"]),
}
BUNDLED = {"breast_cancer": skdata.load_breast_cancer, "digits": skdata.load_digits,
           "wine": skdata.load_wine}


def load(name):
    """(DataFrame X, y, numeric columns, categorical columns)."""
    if name in SEED:
        fname, target, drop, cat, zero_missing = SEED[name]
        df = pd.read_csv(DATA / fname).drop(columns=drop)
        for col in zero_missing:  # zeros are missing values in disguise (dataset README)
            df[col] = df[col].replace(0, np.nan)
        y = df.pop(target).to_numpy()
        return df, y, [c for c in df.columns if c not in cat], cat
    bunch = BUNDLED[name](as_frame=True)
    return bunch.data, bunch.target.to_numpy(), list(bunch.data.columns), []


def pipeline(lib, numeric, categorical):
    imputer, scaler, knn = (RmlImputer, RmlScaler, RmlKNN) if lib == "rml" else (SkImputer, SkScaler, SkKNN)
    pre = ColumnTransformer([
        ("num", make_pipeline(imputer(strategy="median"), scaler()), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), categorical),
    ])
    return make_pipeline(pre, knn(n_neighbors=5, metric="euclidean", weights="uniform"))


def scores(y_true, y_pred, proba, classes):
    binary = len(classes) == 2
    avg = "binary" if binary else "macro"
    kw = dict(average=avg, zero_division=0)
    if binary:
        kw["pos_label"] = classes[1]
        auc = roc_auc_score(y_true, proba[:, 1])
    else:
        auc = roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    return {
        "accuracy": accuracy_score(y_true, y_pred),
        "precision": precision_score(y_true, y_pred, **kw),
        "recall": recall_score(y_true, y_pred, **kw),
        "f1": f1_score(y_true, y_pred, **kw),
        "roc_auc": auc,
    }


def median_time(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def predict_both(model, X_test, repeats):
    """Median time of predict + predict_proba (what the study timed), and their outputs."""
    return median_time(lambda: (model.predict(X_test), model.predict_proba(X_test)), repeats)


def holdout(name, repeats):
    X, y, numeric, categorical = load(name)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
    row = {"dataset": name, "n_train": len(y_tr), "n_test": len(y_te), "n_features": X.shape[1]}
    preds = {}
    for lib in ("sklearn", "rml"):
        model = pipeline(lib, numeric, categorical).fit(X_tr, y_tr)
        t, (pred, proba) = predict_both(model, X_te, repeats)
        preds[lib] = (pred, proba)
        row[f"{lib}_predict_s"] = t
        for metric, value in scores(y_te, pred, proba, model.classes_).items():
            row[f"{lib}_{metric}"] = value
    row["identical_predictions"] = int(np.sum(preds["rml"][0] == preds["sklearn"][0]))
    proba_diff = np.max(np.abs(preds["rml"][1] - preds["sklearn"][1]), axis=1)
    row["max_abs_proba_diff"] = float(proba_diff.max())
    row["rows_with_proba_diff"] = int(np.sum(proba_diff > 1e-12))
    row["all_diffs_are_ties"] = _diffs_are_distance_ties(model, X_tr, X_te, proba_diff > 1e-12)
    row["speedup"] = row["sklearn_predict_s"] / row["rml_predict_s"]
    return row


def _diffs_are_distance_ties(model, X_tr, X_te, differing, k=5):
    """True if every query whose probabilities differ has its k-th and (k+1)-th exact
    distances equal: more than one correct neighbour set, so either answer is right
    (rml takes the earlier training row; scikit-learn's sort leaves it unspecified)."""
    if not differing.any():
        return True
    from scipy.spatial.distance import cdist

    pre = model[:-1]
    D = cdist(pre.transform(X_te)[differing], pre.transform(X_tr))
    S = np.sort(D, axis=1)[:, k - 1:k + 1]
    return bool(np.all(np.isclose(S[:, 0], S[:, 1], rtol=1e-12, atol=1e-12)))


def cross_validation(name, repeats):
    X, y, numeric, categorical = load(name)
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    folds = {lib: {m: [] for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "time")}
             for lib in ("sklearn", "rml")}
    for tr, te in cv.split(X, y):
        for lib in ("sklearn", "rml"):
            model = pipeline(lib, numeric, categorical).fit(X.iloc[tr], y[tr])
            t, (pred, proba) = predict_both(model, X.iloc[te], repeats)
            folds[lib]["time"].append(t)
            for metric, value in scores(y[te], pred, proba, model.classes_).items():
                folds[lib][metric].append(value)
    row = {"dataset": name}
    for metric in ("accuracy", "recall", "f1", "roc_auc", "time"):
        a, b = np.array(folds["rml"][metric]), np.array(folds["sklearn"][metric])
        row[f"{metric}_mean_diff"] = float(np.mean(a - b))
        if np.allclose(a, b, rtol=0, atol=1e-15):
            row[f"{metric}_p"] = None  # identical in every fold: no test to run
        else:
            row[f"{metric}_p"] = float(stats.ttest_rel(a, b).pvalue)
    row["rml_time_mean_s"] = float(np.mean(folds["rml"]["time"]))
    row["sklearn_time_mean_s"] = float(np.mean(folds["sklearn"]["time"]))
    return row


# -- pre-filter trade-off --------------------------------------------------------------------

def prefilter_cases(quick):
    """(name, X_train, y_train, X_test, y_test) on the seed CSVs and generated data."""
    cases = []
    for name in SEED:
        X, y, numeric, categorical = load(name)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, stratify=y, random_state=42)
        pre = pipeline("sklearn", numeric, categorical)[:-1].fit(X_tr)
        cases.append((name, pre.transform(X_tr), y_tr, pre.transform(X_te), y_te))
    rng = np.random.RandomState(0)
    n = 20_000 if quick else 100_000
    m = 2_000 if quick else 10_000
    for aligned in (True, False):
        d = 8
        X = rng.randn(n + m, d)
        if aligned:  # target driven by two features that also dominate the distances
            X[:, :2] *= 4.0
            y = (X[:, 0] + X[:, 1] + rng.randn(n + m) > 0).astype(int)
        else:  # target driven by a low-variance feature: neighbours are not aligned with it
            X[:, 7] *= 0.25
            y = (X[:, 7] + 0.1 * rng.randn(n + m) > 0).astype(int)
        cases.append((f"generated_{'aligned' if aligned else 'unaligned'}_d{d}", X[:n], y[:n], X[n:], y[n:]))
    return cases


def prefilter_tradeoff(quick, repeats):
    rows = []
    fractions = (0.05, 0.1, 0.2, 0.4)
    for name, X_tr, y_tr, X_te, y_te in tqdm(prefilter_cases(quick), desc="pre-filter", leave=False):
        exact = RmlKNN(n_neighbors=5, algorithm="brute").fit(X_tr, y_tr)
        t_brute, true_ind = median_time(lambda: exact.kneighbors(X_te, return_distance=False), repeats)
        kd = RmlKNN(n_neighbors=5, algorithm="kd_tree").fit(X_tr, y_tr)
        t_kd, _ = median_time(lambda: kd.kneighbors(X_te, return_distance=False), repeats)
        exact_pred = exact.predict(X_te)
        for frac in fractions:
            approx = RmlKNN(n_neighbors=5, algorithm="prefilter", candidate_fraction=frac).fit(X_tr, y_tr)
            t_pf, ind = median_time(lambda: approx.kneighbors(X_te, return_distance=False), repeats)
            pred = approx.predict(X_te)
            recall = np.mean([len(np.intersect1d(a, b)) / 5.0 for a, b in zip(ind, true_ind)])
            rows.append({
                "dataset": name, "n_train": len(y_tr), "candidate_fraction": frac,
                "recall_at_5": float(recall),
                "accuracy": accuracy_score(y_te, pred), "exact_accuracy": accuracy_score(y_te, exact_pred),
                "f1": f1_score(y_te, pred, average="macro"),
                "exact_f1": f1_score(y_te, exact_pred, average="macro"),
                "agreement_with_exact": float(np.mean(pred == exact_pred)),
                "prefilter_s": t_pf, "brute_s": t_brute, "kd_tree_s": t_kd,
                "speedup_vs_brute": t_brute / t_pf, "speedup_vs_kd_tree": t_kd / t_pf,
            })
    return rows


# -- clustering ------------------------------------------------------------------------------

def clustering_section(repeats):
    """Labels identical and speed-up, for the clustering estimators rml has."""
    try:
        import rml.cluster as rc
    except ImportError:
        return []
    import sklearn.cluster as sc
    from sklearn.metrics import adjusted_rand_score

    rows = []
    mall = pd.read_csv(DATA / "mall_customers.csv")
    X_mall = SkScaler().fit_transform(mall[["Age", "Annual Income (k$)", "Spending Score (1-100)"]])
    country = pd.read_csv(DATA / "country_data.csv").drop(columns=["country"])
    X_country = SkScaler().fit_transform(country)
    init = lambda X, k: X[np.random.RandomState(0).choice(len(X), k, replace=False)]  # noqa: E731
    candidates = [
        ("DBSCAN", dict(eps=0.5, min_samples=5)),
        ("KMeans", "init"),
        ("OPTICS", dict(min_samples=5)),
        ("AgglomerativeClustering", dict(n_clusters=5, linkage="ward")),
        ("Birch", dict(threshold=0.5, n_clusters=5)),
        ("AffinityPropagation", dict(random_state=0)),
    ]
    for data_name, X in (("mall_customers", X_mall), ("country_data", X_country)):
        for est_name, params in candidates:
            if not hasattr(rc, est_name):
                continue
            if params == "init":
                params = dict(n_clusters=5, init=init(X, 5), n_init=1)
            ours, ref = getattr(rc, est_name)(**params), getattr(sc, est_name)(**params)
            t_rml, lab = median_time(lambda: ours.fit(X).labels_, repeats)
            t_sk, lab_ref = median_time(lambda: ref.fit(X).labels_, repeats)
            rows.append({
                "dataset": data_name, "estimator": est_name,
                "labels_identical": bool(np.array_equal(lab, lab_ref)),
                "ari": float(adjusted_rand_score(lab_ref, lab)),
                "rml_s": t_rml, "sklearn_s": t_sk, "speedup": t_sk / t_rml,
            })
    return rows


# -- output ----------------------------------------------------------------------------------

def md_table(rows, columns, fmt=None):
    fmt = fmt or {}
    head = "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n"
    lines = []
    for r in rows:
        cells = []
        for c in columns:
            v = r.get(c)
            if v is None:
                cells.append("—")
            elif c in fmt:
                cells.append(fmt[c].format(v))
            elif isinstance(v, float):
                cells.append(f"{v:.4g}")
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def plots(holdout_rows, prefilter_rows):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    paths = []
    fig, ax = plt.subplots(figsize=(7, 3.6))
    names = [r["dataset"] for r in holdout_rows]
    ax.bar(names, [r["speedup"] for r in holdout_rows], color="#c0504d")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_ylabel("predict speed-up vs scikit-learn (x)")
    ax.set_title("rml KNN (k=5): identical predictions; whole-pipeline predict speed-up")
    for i, r in enumerate(holdout_rows):
        ax.text(i, r["speedup"], f"{r['speedup']:.1f}x", ha="center", va="bottom", fontsize=8)
    plt.xticks(rotation=20, ha="right", fontsize=8)
    fig.tight_layout()
    p = RESULTS / "study_speedup.png"
    fig.savefig(p, dpi=120)
    paths.append(p)
    plt.close(fig)
    if prefilter_rows:
        fig, ax = plt.subplots(figsize=(7, 3.6))
        for name in dict.fromkeys(r["dataset"] for r in prefilter_rows):
            rs = [r for r in prefilter_rows if r["dataset"] == name]
            ax.plot([r["speedup_vs_brute"] for r in rs], [r["recall_at_5"] for r in rs], "o-", label=name)
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel("speed-up vs exact brute force (x, log)")
        ax.set_ylabel("recall@5 of true neighbours")
        ax.set_title("pre-filter KNN: candidate_fraction 0.05 → 0.4")
        ax.legend(fontsize=7)
        fig.tight_layout()
        p = RESULTS / "study_prefilter.png"
        fig.savefig(p, dpi=120)
        paths.append(p)
        plt.close(fig)
    return paths


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, smaller generated data")
    args = ap.parse_args(argv)
    repeats = 3 if args.quick else 7
    RESULTS.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    names = list(SEED) + list(BUNDLED)

    holdout_rows = [holdout(n, repeats) for n in tqdm(names, desc="hold-out")]
    cv_rows = [cross_validation(n, max(1, repeats // 2)) for n in tqdm(names, desc="5-fold CV")]
    prefilter_rows = prefilter_tradeoff(args.quick, max(1, repeats // 2))
    cluster_rows = clustering_section(max(1, repeats // 2))
    elapsed = time.perf_counter() - t_start

    env = {
        "python": platform.python_version(), "numpy": np.__version__, "sklearn": sklearn.__version__,
        "rml": rml.__version__, "machine": platform.machine(), "cpus": __import__("os").cpu_count(),
        "rml_preprocessing": RML_PREPROCESSING, "elapsed_s": elapsed, "quick": args.quick,
    }
    md = ["# The KNN study: rml vs scikit-learn\n",
          f"Environment: {env}\n",
          "Preprocessing in the rml pipeline: " + ("rml's SimpleImputer and StandardScaler" if RML_PREPROCESSING
                                                   else "scikit-learn's (rml's not built)") + ".\n",
          "## Hold-out (stratified 80/20, random_state=42, k=5)\n",
          "`rows_with_proba_diff`: queries whose probabilities differ at all; `all_diffs_are_ties`: "
          "every such query has its 5th and 6th nearest training rows at exactly the same distance, "
          "so both neighbour sets are correct (rml takes the earlier training row).\n\n",
          md_table(holdout_rows, ["dataset", "n_test", "identical_predictions", "rows_with_proba_diff",
                                  "all_diffs_are_ties", "max_abs_proba_diff",
                                  "sklearn_accuracy", "rml_accuracy", "sklearn_recall", "rml_recall",
                                  "sklearn_f1", "rml_f1", "sklearn_roc_auc", "rml_roc_auc",
                                  "sklearn_predict_s", "rml_predict_s", "speedup"],
                   {"speedup": "{:.2f}x", "sklearn_predict_s": "{:.5f}", "rml_predict_s": "{:.5f}"}),
          "\n## 5-fold stratified CV, paired t-tests (rml − sklearn)\n",
          "p = — means rml and scikit-learn gave the same value in every fold (nothing to test).\n\n",
          md_table(cv_rows, ["dataset", "accuracy_mean_diff", "accuracy_p", "recall_mean_diff", "recall_p",
                             "f1_mean_diff", "f1_p", "roc_auc_mean_diff", "roc_auc_p",
                             "sklearn_time_mean_s", "rml_time_mean_s", "time_mean_diff", "time_p"]),
          "\n## Pre-filter approximate KNN: the trade-off\n",
          md_table(prefilter_rows, ["dataset", "n_train", "candidate_fraction", "recall_at_5", "accuracy",
                                    "exact_accuracy", "agreement_with_exact", "speedup_vs_brute",
                                    "speedup_vs_kd_tree"],
                   {"speedup_vs_brute": "{:.2f}x", "speedup_vs_kd_tree": "{:.2f}x"})]
    if cluster_rows:
        md += ["\n## Clustering (standardised mall_customers and country_data)\n",
               md_table(cluster_rows, ["dataset", "estimator", "labels_identical", "ari", "sklearn_s", "rml_s",
                                       "speedup"], {"speedup": "{:.2f}x"})]
    pngs = plots(holdout_rows, prefilter_rows)
    text = "".join(md)
    (RESULTS / "study.md").write_text(text)
    (RESULTS / "study.json").write_text(json.dumps(
        {"env": env, "holdout": holdout_rows, "cv": cv_rows, "prefilter": prefilter_rows,
         "clustering": cluster_rows}, indent=2, default=float))
    print(text)
    print(f"wrote {RESULTS / 'study.md'}, {RESULTS / 'study.json'}" + "".join(f", {p}" for p in pngs))
    print(f"total {elapsed:.1f} s")
    total_identical = sum(r["identical_predictions"] for r in holdout_rows)
    total = sum(r["n_test"] for r in holdout_rows)
    print(f"identical predictions: {total_identical} / {total}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
