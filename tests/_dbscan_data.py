"""Datasets shared by the DBSCAN/OPTICS parity tests (small, deterministic)."""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris, load_wine, make_blobs, make_circles, make_moons
from sklearn.preprocessing import StandardScaler

DATA = Path(__file__).resolve().parent.parent / "data"
_DROP = {"User ID", "customer_id", "CustomerID", "country", "Outcome", "Purchased", "churn"}


def seed_csv(name, max_rows=1500):
    """A seed CSV's numeric columns, median-imputed and standardised."""
    import csv

    with open(DATA / name, newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1 : 1 + max_rows]
    cols = []
    for j, h in enumerate(header):
        if h in _DROP:
            continue
        try:
            col = np.array([float(r[j]) if r[j] != "" else np.nan for r in body])
        except ValueError:
            continue  # categorical
        col[np.isnan(col)] = np.nanmedian(col)
        cols.append(col)
    return StandardScaler().fit_transform(np.column_stack(cols))


def datasets():
    """name -> standardised X."""
    out = {}
    out["blobs"] = StandardScaler().fit_transform(make_blobs(600, centers=4, random_state=0)[0])
    out["moons"] = StandardScaler().fit_transform(make_moons(500, noise=0.08, random_state=1)[0])
    out["circles"] = StandardScaler().fit_transform(
        make_circles(500, noise=0.05, factor=0.5, random_state=2)[0]
    )
    Xv, _ = make_blobs(600, centers=3, cluster_std=[0.3, 1.0, 2.5], random_state=3)
    out["varying_density"] = StandardScaler().fit_transform(Xv)
    rng = np.random.RandomState(4)
    Xd = np.round(rng.normal(size=(500, 2)) * 2) / 2  # a small grid: many exact duplicates
    out["duplicates"] = Xd
    out["iris"] = StandardScaler().fit_transform(load_iris().data)
    out["wine"] = StandardScaler().fit_transform(load_wine().data)
    for name in ["mall_customers.csv", "country_data.csv", "pima_diabetes.csv", "social_network_ads.csv"]:
        out[name[:-4]] = seed_csv(name)
    out["bank_churn"] = seed_csv("bank_churn.csv", max_rows=1200)
    return out


DATASETS = datasets()
