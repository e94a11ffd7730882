"""Datasets shared by the parity tests: sklearn's bundled ones, the seed CSVs (preprocessed
with scikit-learn's own imputer, scaler and encoder, as the study does) and generated data."""

from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

# name -> (csv file, target column, columns to drop, categorical columns, zero-means-missing)
SEED_CSVS = {
    "social_network_ads": ("social_network_ads.csv", "Purchased", ["User ID"], ["Gender"], []),
    "bank_churn": ("bank_churn.csv", "churn", ["customer_id"], ["country", "gender"], []),
    "pima_diabetes": (
        "pima_diabetes.csv", "Outcome", [], [],
        ["Glucose", "BloodPressure", "SkinThickness", "Insulin", "BMI"],
    ),
}


@lru_cache(maxsize=None)
def seed_csv(name):
    """(X, y) for a seed CSV: median-imputed, z-scored numeric columns + one-hot categoricals."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    fname, target, drop, categorical, zero_missing = SEED_CSVS[name]
    df = pd.read_csv(DATA_DIR / fname).drop(columns=drop)
    for col in zero_missing:
        df[col] = df[col].replace(0, np.nan)
    y = df.pop(target).to_numpy()
    numeric = [c for c in df.columns if c not in categorical]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("cat", OneHotEncoder(sparse_output=False), categorical),
        ]
    )
    X = pre.fit_transform(df)
    return np.ascontiguousarray(X, dtype=np.float64), y


@lru_cache(maxsize=None)
def bundled(name):
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    loader = {
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
        "digits": datasets.load_digits,
    }[name]
    X, y = loader(return_X_y=True)
    if name in ("wine", "breast_cancer"):
        X = StandardScaler().fit_transform(X)
    return np.ascontiguousarray(X, dtype=np.float64), y


@lru_cache(maxsize=None)
def generated(name):
    rng = np.random.RandomState(0)
    if name == "gaussian_d5":
        X = rng.randn(600, 5)
        y = (X[:, 0] + 0.5 * rng.randn(600) > 0).astype(int) + (X[:, 1] > 1)
    elif name == "blobs_d20":
        from sklearn.datasets import make_blobs

        X, y = make_blobs(n_samples=500, n_features=20, centers=4, random_state=0)
    else:
        raise KeyError(name)
    return np.ascontiguousarray(X, dtype=np.float64), y


ALL = (
    [("bundled", n) for n in ("iris", "wine", "breast_cancer", "digits")]
    + [("seed", n) for n in SEED_CSVS]
    + [("generated", n) for n in ("gaussian_d5", "blobs_d20")]
)


def load(kind, name):
    return {"bundled": bundled, "seed": seed_csv, "generated": generated}[kind](name)


def split(X, y, seed=42):
    from sklearn.model_selection import train_test_split

    strat = y if len(np.unique(y)) < 20 else None
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=strat)
