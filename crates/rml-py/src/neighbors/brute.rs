//! Brute-force and precomputed neighbour queries (`rml._rml.neighbors.brute_*`,
//! `precomputed_*`): numpy in (float32 or float64, dispatched on dtype), GIL released via
//! [`run::run`], numpy out (indices int64).

use crate::run;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rml_core::Float;
use rml_distances::{KnnResult, Metric, RadiusResult};

type KnnOut<'py> = (Option<Bound<'py, PyAny>>, Bound<'py, PyAny>);
type RadiusOut<'py> = (Option<Bound<'py, PyAny>>, Bound<'py, PyAny>, Bound<'py, PyAny>);

fn parse_metric(metric: &str, p: f64) -> PyResult<Metric> {
    Metric::parse(metric, p).map_err(crate::errors::to_py_err)
}

fn dtype_name(a: &Bound<'_, PyAny>) -> String {
    a.getattr("dtype").and_then(|d| d.str()).map(|s| s.to_string()).unwrap_or_else(|_| "?".into())
}

fn not_float_error(what: &str, a: &Bound<'_, PyAny>) -> PyErr {
    PyValueError::new_err(format!(
        "{what} must be a 2-D float32 or float64 numpy array, got {}",
        dtype_name(a)
    ))
}

/// Borrow `b` as a 2-D array of the same float type as `a` was found to be.
fn same_dtype<'py, F: Float + numpy::Element>(
    what: &str,
    b: &Bound<'py, PyAny>,
) -> PyResult<PyReadonlyArray2<'py, F>> {
    match b.cast::<PyArray2<F>>() {
        Ok(arr) => Ok(arr.readonly()),
        Err(_) => Err(PyValueError::new_err(format!(
            "{what} must have dtype {} like X, got {}",
            F::DTYPE,
            dtype_name(b)
        ))),
    }
}

fn knn_to_py<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    r: KnnResult<F>,
    return_distance: bool,
) -> KnnOut<'py> {
    let ind = r.indices.into_pyarray(py).into_any();
    let dist = if return_distance { Some(r.distances.into_pyarray(py).into_any()) } else { None };
    (dist, ind)
}

fn radius_to_py<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    r: RadiusResult<F>,
    return_distance: bool,
) -> RadiusOut<'py> {
    let offsets: Vec<i64> = r.offsets.iter().map(|&o| o as i64).collect();
    let dist = if return_distance { Some(r.distances.into_pyarray(py).into_any()) } else { None };
    (dist, r.indices.into_pyarray(py).into_any(), offsets.into_pyarray(py).into_any())
}

fn brute_knn_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, F>,
    fit_x: PyReadonlyArray2<'py, F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<KnnOut<'py>> {
    let (xv, yv) = (x.as_array(), fit_x.as_array());
    let r = run::run(py, n_jobs, |cancel| {
        rml_distances::brute_kneighbors(xv, yv, k, metric, return_distance, cancel)
    })?;
    Ok(knn_to_py(py, r, return_distance))
}

/// k nearest training rows of each row of `X` (see `_rml.pyi`).
#[pyfunction]
#[pyo3(signature = (X, fit_X, k, metric, p, return_distance, n_jobs))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn brute_kneighbors<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    fit_X: &Bound<'py, PyAny>,
    k: usize,
    metric: &str,
    p: f64,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<KnnOut<'py>> {
    let metric = parse_metric(metric, p)?;
    if let Ok(x) = X.cast::<PyArray2<f64>>() {
        let y = same_dtype::<f64>("fit_X", fit_X)?;
        brute_knn_typed(py, x.readonly(), y, k, metric, return_distance, n_jobs)
    } else if let Ok(x) = X.cast::<PyArray2<f32>>() {
        let y = same_dtype::<f32>("fit_X", fit_X)?;
        brute_knn_typed(py, x.readonly(), y, k, metric, return_distance, n_jobs)
    } else {
        Err(not_float_error("X", X))
    }
}

#[allow(clippy::too_many_arguments)]
fn brute_radius_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, F>,
    fit_x: PyReadonlyArray2<'py, F>,
    radius: f64,
    metric: Metric,
    return_distance: bool,
    sort_results: bool,
    n_jobs: Option<i64>,
) -> PyResult<RadiusOut<'py>> {
    let (xv, yv) = (x.as_array(), fit_x.as_array());
    let r = run::run(py, n_jobs, |cancel| {
        rml_distances::brute_radius_neighbors(
            xv,
            yv,
            F::from_f64(radius),
            metric,
            return_distance,
            sort_results,
            cancel,
        )
    })?;
    Ok(radius_to_py(py, r, return_distance))
}

/// Training rows within `radius` of each row of `X`, CSR-shaped (see `_rml.pyi`).
#[pyfunction]
#[pyo3(signature = (X, fit_X, radius, metric, p, return_distance, sort_results, n_jobs))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn brute_radius_neighbors<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    fit_X: &Bound<'py, PyAny>,
    radius: f64,
    metric: &str,
    p: f64,
    return_distance: bool,
    sort_results: bool,
    n_jobs: Option<i64>,
) -> PyResult<RadiusOut<'py>> {
    let metric = parse_metric(metric, p)?;
    if let Ok(x) = X.cast::<PyArray2<f64>>() {
        let y = same_dtype::<f64>("fit_X", fit_X)?;
        brute_radius_typed(py, x.readonly(), y, radius, metric, return_distance, sort_results, n_jobs)
    } else if let Ok(x) = X.cast::<PyArray2<f32>>() {
        let y = same_dtype::<f32>("fit_X", fit_X)?;
        brute_radius_typed(py, x.readonly(), y, radius, metric, return_distance, sort_results, n_jobs)
    } else {
        Err(not_float_error("X", X))
    }
}

fn pre_knn_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    d: PyReadonlyArray2<'py, F>,
    k: usize,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<KnnOut<'py>> {
    let dv = d.as_array();
    let r = run::run(py, n_jobs, |cancel| {
        rml_distances::precomputed_kneighbors(dv, k, return_distance, cancel)
    })?;
    Ok(knn_to_py(py, r, return_distance))
}

/// k smallest entries of each row of a precomputed distance matrix (see `_rml.pyi`).
#[pyfunction]
#[pyo3(signature = (D, k, return_distance, n_jobs))]
#[allow(non_snake_case)]
fn precomputed_kneighbors<'py>(
    py: Python<'py>,
    D: &Bound<'py, PyAny>,
    k: usize,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<KnnOut<'py>> {
    if let Ok(d) = D.cast::<PyArray2<f64>>() {
        pre_knn_typed(py, d.readonly(), k, return_distance, n_jobs)
    } else if let Ok(d) = D.cast::<PyArray2<f32>>() {
        pre_knn_typed(py, d.readonly(), k, return_distance, n_jobs)
    } else {
        Err(not_float_error("D", D))
    }
}

fn pre_radius_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    d: PyReadonlyArray2<'py, F>,
    radius: f64,
    return_distance: bool,
    sort_results: bool,
    n_jobs: Option<i64>,
) -> PyResult<RadiusOut<'py>> {
    let dv = d.as_array();
    let r = run::run(py, n_jobs, |cancel| {
        rml_distances::precomputed_radius_neighbors(
            dv,
            F::from_f64(radius),
            return_distance,
            sort_results,
            cancel,
        )
    })?;
    Ok(radius_to_py(py, r, return_distance))
}

/// Entries `<= radius` of each row of a precomputed distance matrix, CSR-shaped.
#[pyfunction]
#[pyo3(signature = (D, radius, return_distance, sort_results, n_jobs))]
#[allow(non_snake_case)]
fn precomputed_radius_neighbors<'py>(
    py: Python<'py>,
    D: &Bound<'py, PyAny>,
    radius: f64,
    return_distance: bool,
    sort_results: bool,
    n_jobs: Option<i64>,
) -> PyResult<RadiusOut<'py>> {
    if let Ok(d) = D.cast::<PyArray2<f64>>() {
        pre_radius_typed(py, d.readonly(), radius, return_distance, sort_results, n_jobs)
    } else if let Ok(d) = D.cast::<PyArray2<f32>>() {
        pre_radius_typed(py, d.readonly(), radius, return_distance, sort_results, n_jobs)
    } else {
        Err(not_float_error("D", D))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(brute_kneighbors, m)?)?;
    m.add_function(wrap_pyfunction!(brute_radius_neighbors, m)?)?;
    m.add_function(wrap_pyfunction!(precomputed_kneighbors, m)?)?;
    m.add_function(wrap_pyfunction!(precomputed_radius_neighbors, m)?)?;
    Ok(())
}
