//! `rml._rml.cluster.optics_graph`: the OPTICS ordering (kernel in `rml_cluster::optics`).

use crate::run::run;
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use rml_cluster::dbscan::Search;
use rml_cluster::optics::{compute_optics_graph, resolve_min_samples};

type Graph<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
);

/// scikit-learn's `compute_optics_graph` over float64 rows `X` (or a square distance matrix
/// when `metric == "precomputed"`). `min_samples` is an int >= 2 or a fraction in (0, 1].
/// Returns `(ordering, core_distances, reachability, predecessor)`.
#[pyfunction]
#[pyo3(signature = (X, min_samples, max_eps, metric, p, algorithm, leaf_size, n_jobs))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn optics_graph<'py>(
    py: Python<'py>,
    X: PyReadonlyArray2<'py, f64>,
    min_samples: f64,
    max_eps: f64,
    metric: &str,
    p: f64,
    algorithm: &str,
    leaf_size: usize,
    n_jobs: Option<i64>,
) -> PyResult<Graph<'py>> {
    let x = X.as_array();
    let g = run(py, n_jobs, |cancel| {
        let k = resolve_min_samples(min_samples, x.nrows())?;
        let mut tree = None;
        let search = Search::new(x, metric, p, algorithm, leaf_size, &mut tree)?;
        compute_optics_graph(&search, k, max_eps, cancel)
    })?;
    Ok((
        g.ordering.into_pyarray(py),
        g.core_distances.into_pyarray(py),
        g.reachability.into_pyarray(py),
        g.predecessor.into_pyarray(py),
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(optics_graph, m)?)?;
    Ok(())
}
