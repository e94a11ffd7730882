//! KD-tree bindings: `kdtree_build`, `kdtree_query`, `kdtree_query_radius` (see `_rml.pyi`).
//!
//! The fitted tree is four numpy arrays owned by Python (data, idx_array, node_data,
//! node_bounds); every query call borrows them, lets `KdTreeView::new` validate them (they may
//! come from a pickle) and runs the kernel with the GIL released. float32 and float64 are
//! dispatched on the dtype of `data`; the other float arrays must share it.

use crate::errors::to_py_err;
use crate::run;
use numpy::{
    Element, IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rml_core::Float;
use rml_distances::Metric;
use rml_neighbors::{KdTree, KdTreeView};

/// The metric of a KD-tree call. Minkowski with 0 < p < 1 is not a metric, but scikit-learn's
/// KDTree accepts it and the tree's box bounds stay exact for it, so it is served too.
fn tree_metric(metric: &str, p: f64) -> PyResult<Metric> {
    if metric == "minkowski" && p > 0.0 && p < 1.0 {
        return Ok(Metric::Minkowski(p));
    }
    Metric::parse(metric, p).map_err(to_py_err)
}

fn dtype_error(what: &str, obj: &Bound<'_, PyAny>) -> PyErr {
    let got = obj
        .getattr("dtype")
        .map(|d| d.to_string())
        .unwrap_or_else(|_| obj.get_type().to_string());
    PyTypeError::new_err(format!("{what} must be a float32 or float64 numpy array of the same dtype as data, got {got}"))
}

fn readonly<'py, T: Element, D: ndarray::Dimension>(
    arr: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<numpy::PyReadonlyArray<'py, T, D>> {
    let arr = arr.cast::<numpy::PyArray<T, D>>().map_err(|_| dtype_error(what, arr))?;
    arr.try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{what} cannot be borrowed: {e}")))
}

fn is_f64(data: &Bound<'_, PyAny>) -> PyResult<bool> {
    if data.cast::<PyArray2<f64>>().is_ok() {
        Ok(true)
    } else if data.cast::<PyArray2<f32>>().is_ok() {
        Ok(false)
    } else {
        Err(PyTypeError::new_err(format!(
            "data must be a 2-d float32 or float64 numpy array, got {}",
            data.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| data.get_type().to_string())
        )))
    }
}

fn build_impl<F: Float + Element>(py: Python<'_>, data: &Bound<'_, PyAny>, leaf_size: usize) -> PyResult<Py<PyAny>> {
    let data: PyReadonlyArray2<F> = readonly(data, "data")?;
    let view = data.as_array();
    let tree = run::run(py, None, |cancel| KdTree::build_cancellable(view, leaf_size, cancel))?;
    let out = (tree.idx_array.into_pyarray(py), tree.node_data.into_pyarray(py), tree.node_bounds.into_pyarray(py));
    Ok(out.into_pyobject(py)?.into_any().unbind())
}

/// Build a KD-tree over `data` (n x d): returns (idx_array, node_data, node_bounds).
#[pyfunction]
fn kdtree_build(py: Python<'_>, data: &Bound<'_, PyAny>, leaf_size: usize) -> PyResult<Py<PyAny>> {
    if is_f64(data)? {
        build_impl::<f64>(py, data, leaf_size)
    } else {
        build_impl::<f32>(py, data, leaf_size)
    }
}

/// The borrowed arrays of a fitted tree plus the queries.
struct TreeArgs<'py, F: Element> {
    data: PyReadonlyArray2<'py, F>,
    idx_array: PyReadonlyArray1<'py, i64>,
    node_data: PyReadonlyArray2<'py, i64>,
    node_bounds: PyReadonlyArray3<'py, F>,
    x: PyReadonlyArray2<'py, F>,
}

impl<'py, F: Float + Element> TreeArgs<'py, F> {
    fn borrow(
        data: &Bound<'py, PyAny>,
        idx_array: &Bound<'py, PyAny>,
        node_data: &Bound<'py, PyAny>,
        node_bounds: &Bound<'py, PyAny>,
        x: &Bound<'py, PyAny>,
    ) -> PyResult<Self> {
        Ok(TreeArgs {
            data: readonly(data, "data")?,
            idx_array: readonly(idx_array, "idx_array (int64)")?,
            node_data: readonly(node_data, "node_data (int64)")?,
            node_bounds: readonly(node_bounds, "node_bounds")?,
            x: readonly(x, "X")?,
        })
    }
}

#[allow(clippy::too_many_arguments)]
fn query_impl<F: Float + Element>(
    py: Python<'_>,
    a: TreeArgs<'_, F>,
    k: usize,
    metric: Metric,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<Py<PyAny>> {
    let (data, idx, nodes, bounds, x) =
        (a.data.as_array(), a.idx_array.as_array(), a.node_data.as_array(), a.node_bounds.as_array(), a.x.as_array());
    let res = run::run(py, n_jobs, |cancel| {
        KdTreeView::new(data, idx, nodes, bounds)?.query(x, k, metric, return_distance, cancel)
    })?;
    let ind = res.indices.into_pyarray(py);
    let out = if return_distance {
        (Some(res.distances.into_pyarray(py)), ind).into_pyobject(py)?.into_any()
    } else {
        (None::<Bound<'_, PyArray2<F>>>, ind).into_pyobject(py)?.into_any()
    };
    Ok(out.unbind())
}

/// k nearest neighbours of each row of X: (distances or None, indices), sorted by
/// (distance, training index).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (data, idx_array, node_data, node_bounds, X, k, metric, p, return_distance, n_jobs))]
fn kdtree_query(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    idx_array: &Bound<'_, PyAny>,
    node_data: &Bound<'_, PyAny>,
    node_bounds: &Bound<'_, PyAny>,
    #[allow(non_snake_case)] X: &Bound<'_, PyAny>,
    k: usize,
    metric: &str,
    p: f64,
    return_distance: bool,
    n_jobs: Option<i64>,
) -> PyResult<Py<PyAny>> {
    let metric = tree_metric(metric, p)?;
    if is_f64(data)? {
        let a = TreeArgs::<f64>::borrow(data, idx_array, node_data, node_bounds, X)?;
        query_impl(py, a, k, metric, return_distance, n_jobs)
    } else {
        let a = TreeArgs::<f32>::borrow(data, idx_array, node_data, node_bounds, X)?;
        query_impl(py, a, k, metric, return_distance, n_jobs)
    }
}

#[allow(clippy::too_many_arguments)]
fn radius_impl<F: Float + Element>(
    py: Python<'_>,
    a: TreeArgs<'_, F>,
    r: &Bound<'_, PyAny>,
    metric: Metric,
    return_distance: bool,
    count_only: bool,
    sort_results: bool,
    n_jobs: Option<i64>,
) -> PyResult<Py<PyAny>> {
    let r: PyReadonlyArray1<f64> =
        r.cast::<PyArray1<f64>>().map_err(|_| PyTypeError::new_err("r must be a 1-d float64 numpy array"))?.try_readonly().map_err(
            |e| PyValueError::new_err(format!("r cannot be borrowed: {e}")),
        )?;
    let (data, idx, nodes, bounds, x, rv) = (
        a.data.as_array(),
        a.idx_array.as_array(),
        a.node_data.as_array(),
        a.node_bounds.as_array(),
        a.x.as_array(),
        r.as_array(),
    );
    if count_only {
        let counts = run::run(py, n_jobs, |cancel| KdTreeView::new(data, idx, nodes, bounds)?.count_radius(x, rv, metric, cancel))?;
        let out = (None::<Bound<'_, PyArray1<F>>>, Vec::<i64>::new().into_pyarray(py), counts.into_pyarray(py));
        return Ok(out.into_pyobject(py)?.into_any().unbind());
    }
    let res = run::run(py, n_jobs, |cancel| {
        KdTreeView::new(data, idx, nodes, bounds)?.query_radius(x, rv, metric, return_distance, sort_results, cancel)
    })?;
    let offsets: Vec<i64> = res.offsets.iter().map(|&o| o as i64).collect();
    let ind = res.indices.into_pyarray(py);
    let off = offsets.into_pyarray(py);
    let out = if return_distance {
        (Some(res.distances.into_pyarray(py)), ind, off).into_pyobject(py)?.into_any()
    } else {
        (None::<Bound<'_, PyArray1<F>>>, ind, off).into_pyobject(py)?.into_any()
    };
    Ok(out.unbind())
}

/// Neighbours within r (per query, float64[m]) of each row of X, CSR-shaped:
/// (distances or None, indices, offsets); with count_only (None, int64[0], counts).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
#[pyo3(signature = (data, idx_array, node_data, node_bounds, X, r, metric, p, return_distance, count_only, sort_results, n_jobs))]
fn kdtree_query_radius(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    idx_array: &Bound<'_, PyAny>,
    node_data: &Bound<'_, PyAny>,
    node_bounds: &Bound<'_, PyAny>,
    #[allow(non_snake_case)] X: &Bound<'_, PyAny>,
    r: &Bound<'_, PyAny>,
    metric: &str,
    p: f64,
    return_distance: bool,
    count_only: bool,
    sort_results: bool,
    n_jobs: Option<i64>,
) -> PyResult<Py<PyAny>> {
    let metric = tree_metric(metric, p)?;
    if is_f64(data)? {
        let a = TreeArgs::<f64>::borrow(data, idx_array, node_data, node_bounds, X)?;
        radius_impl(py, a, r, metric, return_distance, count_only, sort_results, n_jobs)
    } else {
        let a = TreeArgs::<f32>::borrow(data, idx_array, node_data, node_bounds, X)?;
        radius_impl(py, a, r, metric, return_distance, count_only, sort_results, n_jobs)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kdtree_build, m)?)?;
    m.add_function(wrap_pyfunction!(kdtree_query, m)?)?;
    m.add_function(wrap_pyfunction!(kdtree_query_radius, m)?)?;
    Ok(())
}
