//! `rml._rml.cluster.dbscan`: DBSCAN labels (kernel in `rml_cluster::dbscan`).

use crate::run::run;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use rml_cluster::dbscan::{fit, DbscanParams, Search};

/// DBSCAN over float64 rows `X` (or a square distance matrix when `metric == "precomputed"`).
/// Returns `(labels int64[n], core_sample_indices int64[m])`.
#[pyfunction]
#[pyo3(signature = (X, eps, min_samples, metric, p, algorithm, leaf_size, sample_weight, n_jobs))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn dbscan<'py>(
    py: Python<'py>,
    X: PyReadonlyArray2<'py, f64>,
    eps: f64,
    min_samples: usize,
    metric: &str,
    p: f64,
    algorithm: &str,
    leaf_size: usize,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>)> {
    let x = X.as_array();
    let w = match &sample_weight {
        Some(w) => Some(w.as_slice()?),
        None => None,
    };
    let res = run(py, n_jobs, |cancel| {
        let params = DbscanParams::new(eps, min_samples)?;
        let mut tree = None;
        let search = Search::new(x, metric, p, algorithm, leaf_size, &mut tree)?;
        fit(&search, &params, w, cancel)
    })?;
    Ok((res.labels.into_pyarray(py), res.core_sample_indices.into_pyarray(py)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(dbscan, m)?)?;
    Ok(())
}
