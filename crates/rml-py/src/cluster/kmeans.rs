//! K-means kernels (`rml._rml.cluster.kmeans_*`): numpy in (float32 or float64, dispatched on
//! X's dtype; every other float array of the call must have the same dtype), GIL released via
//! [`run::run`], numpy out (labels int32 as scikit-learn's `labels_`).

use crate::run;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rml_cluster::kmeans::{self, Algorithm, KMeansParams};
use rml_core::Float;

fn dtype_name(a: &Bound<'_, PyAny>) -> String {
    a.getattr("dtype").and_then(|d| d.str()).map(|s| s.to_string()).unwrap_or_else(|_| "?".into())
}

fn arr2<'py, F: Float + numpy::Element>(what: &str, b: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray2<'py, F>> {
    b.cast::<PyArray2<F>>().map(|a| a.readonly()).map_err(|_| {
        PyValueError::new_err(format!("{what} must be a 2-D {} array, got {}", F::DTYPE, dtype_name(b)))
    })
}

fn arr1<'py, F: Float + numpy::Element>(what: &str, b: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray1<'py, F>> {
    b.cast::<PyArray1<F>>().map(|a| a.readonly()).map_err(|_| {
        PyValueError::new_err(format!("{what} must be a 1-D {} array, got {}", F::DTYPE, dtype_name(b)))
    })
}

fn is_f32(x: &Bound<'_, PyAny>) -> bool {
    x.cast::<PyArray2<f32>>().is_ok()
}

macro_rules! dispatch {
    ($x:expr, $f:ident ( $($arg:expr),* )) => {
        if is_f32($x) { $f::<f32>($($arg),*) } else { $f::<f64>($($arg),*) }
    };
}

type RunOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, f64, usize, Vec<String>);

#[allow(clippy::too_many_arguments)]
fn single_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers_init: &Bound<'py, PyAny>,
    max_iter: usize,
    tol: f64,
    algorithm: &str,
    verbose: bool,
    n_jobs: Option<i64>,
) -> PyResult<RunOut<'py>> {
    let x = arr2::<F>("X", x)?;
    let sw = arr1::<F>("sample_weight", sample_weight)?;
    let c = arr2::<F>("centers_init", centers_init)?;
    let algorithm = Algorithm::parse(algorithm).map_err(crate::errors::to_py_err)?;
    let params = KMeansParams { n_clusters: c.as_array().nrows(), max_iter, tol, algorithm, verbose }
        .check()
        .map_err(crate::errors::to_py_err)?;
    let (xv, swv, cv) = (x.as_array(), sw.as_array(), c.as_array());
    let r = run::run(py, n_jobs, |cancel| params.fit_from(xv, swv, cv, cancel))?;
    Ok((
        r.centers.into_pyarray(py).into_any(),
        r.labels.into_pyarray(py).into_any(),
        r.inertia,
        r.n_iter,
        r.log,
    ))
}

/// One K-means run (Lloyd or Elkan) from explicit initial centres.
/// Returns `(centers, labels int32, inertia, n_iter, verbose_log)`.
#[pyfunction]
#[pyo3(signature = (X, sample_weight, centers_init, max_iter, tol, algorithm, verbose, n_jobs=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn kmeans_single<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers_init: &Bound<'py, PyAny>,
    max_iter: usize,
    tol: f64,
    algorithm: &str,
    verbose: bool,
    n_jobs: Option<i64>,
) -> PyResult<RunOut<'py>> {
    dispatch!(X, single_typed(py, X, sample_weight, centers_init, max_iter, tol, algorithm, verbose, n_jobs))
}

fn labels_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, f64)> {
    let x = arr2::<F>("X", x)?;
    let sw = arr1::<F>("sample_weight", sample_weight)?;
    let c = arr2::<F>("centers", centers)?;
    let (xv, swv, cv) = (x.as_array(), sw.as_array(), c.as_array());
    let (labels, inertia) = run::run(py, n_jobs, |cancel| kmeans::assign_labels(xv, swv, cv, cancel))?;
    Ok((labels.into_pyarray(py).into_any(), inertia))
}

/// Nearest centre (int32 labels) and inertia (scikit-learn's `_labels_inertia`).
#[pyfunction]
#[pyo3(signature = (X, sample_weight, centers, n_jobs=None))]
#[allow(non_snake_case)]
fn kmeans_labels_inertia<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, f64)> {
    dispatch!(X, labels_typed(py, X, sample_weight, centers, n_jobs))
}

fn inertia_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i32>,
    single_label: Option<i32>,
    n_jobs: Option<i64>,
) -> PyResult<f64> {
    let x = arr2::<F>("X", x)?;
    let sw = arr1::<F>("sample_weight", sample_weight)?;
    let c = arr2::<F>("centers", centers)?;
    let (xv, swv, cv) = (x.as_array(), sw.as_array(), c.as_array());
    let lab = labels.as_array().to_vec();
    run::run(py, n_jobs, |cancel| kmeans::inertia(xv, swv, cv, &lab, single_label, cancel))
}

/// `Σ w ||x - c_label||²` for given labels (scikit-learn's `_inertia_dense`).
#[pyfunction]
#[pyo3(signature = (X, sample_weight, centers, labels, single_label=None, n_jobs=None))]
#[allow(non_snake_case)]
fn kmeans_inertia<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i32>,
    single_label: Option<i32>,
    n_jobs: Option<i64>,
) -> PyResult<f64> {
    dispatch!(X, inertia_typed(py, X, sample_weight, centers, labels, single_label, n_jobs))
}

fn transform_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let x = arr2::<F>("X", x)?;
    let c = arr2::<F>("centers", centers)?;
    let (xv, cv) = (x.as_array(), c.as_array());
    let out = run::run(py, n_jobs, |cancel| kmeans::transform(xv, cv, cancel))?;
    Ok(out.into_pyarray(py).into_any())
}

/// Euclidean distances to every centre, `(n, k)` (KMeans.transform).
#[pyfunction]
#[pyo3(signature = (X, centers, n_jobs=None))]
#[allow(non_snake_case)]
fn kmeans_transform<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    dispatch!(X, transform_typed(py, X, centers, n_jobs))
}

#[allow(clippy::too_many_arguments)]
fn candidates_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    x_sq_norms: &Bound<'py, PyAny>,
    candidate_ids: PyReadonlyArray1<'py, i64>,
    closest: Option<&Bound<'py, PyAny>>,
    sample_weight: &Bound<'py, PyAny>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    let x = arr2::<F>("X", x)?;
    let norms = arr1::<F>("x_squared_norms", x_sq_norms)?;
    let sw = arr1::<F>("sample_weight", sample_weight)?;
    let closest = match closest {
        Some(c) if !c.is_none() => Some(arr1::<F>("closest_dist_sq", c)?),
        _ => None,
    };
    let ids: Vec<usize> = candidate_ids
        .as_array()
        .iter()
        .map(|&i| usize::try_from(i).map_err(|_| PyValueError::new_err("negative candidate index")))
        .collect::<PyResult<_>>()?;
    let (xv, nv, swv) = (x.as_array(), norms.as_array(), sw.as_array());
    let cv = closest.as_ref().map(|c| c.as_array());
    let (d, pot) = run::run(py, n_jobs, |cancel| {
        kmeans::init::candidate_distances(xv, nv, &ids, cv, swv, cancel)
    })?;
    Ok((d.into_pyarray(py).into_any(), pot.into_pyarray(py).into_any()))
}

/// One greedy k-means++ step's distance work: `(min(closest, D²(candidates, X)), potentials)`.
#[pyfunction]
#[pyo3(signature = (X, x_squared_norms, candidate_ids, closest_dist_sq, sample_weight, n_jobs=None))]
#[allow(non_snake_case)]
fn kmeanspp_candidates<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    x_squared_norms: &Bound<'py, PyAny>,
    candidate_ids: PyReadonlyArray1<'py, i64>,
    closest_dist_sq: Option<&Bound<'py, PyAny>>,
    sample_weight: &Bound<'py, PyAny>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
    dispatch!(X, candidates_typed(py, X, x_squared_norms, candidate_ids, closest_dist_sq, sample_weight, n_jobs))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kmeans_single, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_labels_inertia, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_inertia, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_transform, m)?)?;
    m.add_function(wrap_pyfunction!(kmeanspp_candidates, m)?)?;
    Ok(())
}
