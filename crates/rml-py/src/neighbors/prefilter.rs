//! Bindings of the pre-filter approximate index (`algorithm='prefilter'`).

use crate::run::run;
use numpy::{IntoPyArray, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rml_core::Float;
use rml_distances::Metric;
use rml_neighbors::prefilter::{PrefilterIndex, PrefilterView};

fn build_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, F>,
    w: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let (x, w) = (x.as_array(), w.as_array());
    let index = run(py, Some(1), |_| PrefilterIndex::build(x, w))?;
    (
        index.sorted_x.into_pyarray(py),
        index.keys.into_pyarray(py),
        index.order.into_pyarray(py),
    )
        .into_pyobject(py)
}

/// Sort training rows by the projection key `w . x`: returns (sorted_x, keys, order).
#[pyfunction]
fn prefilter_build<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    w: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyTuple>> {
    if let Ok(x) = x.extract::<PyReadonlyArray2<f64>>() {
        build_t(py, x, w)
    } else if let Ok(x) = x.extract::<PyReadonlyArray2<f32>>() {
        build_t(py, x, w)
    } else {
        Err(PyTypeError::new_err("prefilter_build expects a float32 or float64 2-d array"))
    }
}

#[allow(clippy::too_many_arguments)]
fn query_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    sorted_x: PyReadonlyArray2<'py, F>,
    keys: PyReadonlyArray1<'py, f64>,
    order: PyReadonlyArray1<'py, i64>,
    w: PyReadonlyArray1<'py, f64>,
    x: &Bound<'py, PyAny>,
    k: usize,
    metric: Metric,
    max_candidates: usize,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let x: PyReadonlyArray2<F> = x
        .extract()
        .map_err(|_| PyTypeError::new_err("query array must have the fitted dtype"))?;
    let (sx, keys, order, w, x) =
        (sorted_x.as_array(), keys.as_array(), order.as_array(), w.as_array(), x.as_array());
    let (res, stats) = run(py, n_jobs, |cancel| {
        PrefilterView::new(sx, keys, order)?.query(x, w, k, metric, max_candidates, return_distance, cancel)
    })?;
    let dist: Option<Bound<'py, PyArray2<F>>> =
        return_distance.then(|| res.distances.into_pyarray(py));
    let ind: Bound<'py, PyArray2<i64>> = res.indices.into_pyarray(py);
    (dist, ind, stats.certified, stats.candidates).into_pyobject(py)
}

/// k nearest neighbours among at most `max_candidates` rows scanned around each query's key.
/// Returns (distances or None, indices, n_certified_exact, n_candidates_scanned).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn prefilter_query<'py>(
    py: Python<'py>,
    sorted_x: &Bound<'py, PyAny>,
    keys: PyReadonlyArray1<'py, f64>,
    order: PyReadonlyArray1<'py, i64>,
    w: PyReadonlyArray1<'py, f64>,
    x: &Bound<'py, PyAny>,
    k: usize,
    metric: &str,
    p: f64,
    max_candidates: usize,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let metric = Metric::parse(metric, p).map_err(crate::errors::to_py_err)?;
    if let Ok(sx) = sorted_x.extract::<PyReadonlyArray2<f64>>() {
        query_t(py, sx, keys, order, w, x, k, metric, max_candidates, return_distance, n_jobs)
    } else if let Ok(sx) = sorted_x.extract::<PyReadonlyArray2<f32>>() {
        query_t(py, sx, keys, order, w, x, k, metric, max_candidates, return_distance, n_jobs)
    } else {
        Err(PyTypeError::new_err("prefilter_query expects float32 or float64 arrays"))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prefilter_build, m)?)?;
    m.add_function(wrap_pyfunction!(prefilter_query, m)?)?;
    Ok(())
}

