//! `rml._rml.preprocessing`: StandardScaler and SimpleImputer kernels (rml-preprocessing).
//! Each function dispatches on the dtype (float32 / float64) of X and runs one kernel through
//! [`run::run`].

use crate::errors::to_py_err;
use crate::run;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray2};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use rml_core::Float;
use rml_preprocessing::{impute, scaler, Missing};

fn dtype_error(x: &Bound<'_, PyAny>) -> PyErr {
    let dt = x.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("expected a float32 or float64 numpy array, got dtype {dt}"))
}

fn direction(inverse: bool) -> scaler::Direction {
    if inverse {
        scaler::Direction::Inverse
    } else {
        scaler::Direction::Forward
    }
}

fn moments_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    w: Option<&Bound<'py, PyAny>>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    let x: PyReadonlyArray2<F> = x.readonly();
    let w: Option<PyReadonlyArray1<F>> = w.map(|w| w.extract()).transpose()?;
    let xv = x.as_array();
    let wv = w.as_ref().map(|w| w.as_array());
    let m = run::run(py, n_jobs, |c| scaler::moments(xv, wv, c))?;
    Ok((
        PyArray1::from_vec(py, m.sum),
        PyArray1::from_vec(py, m.count),
        PyArray1::from_vec(py, m.m2),
    ))
}

/// Per-feature (sum, count, m2) of one batch, NaN skipped, f64 (see rml_preprocessing::scaler).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, n_jobs))]
#[allow(clippy::type_complexity)]
fn scaler_moments<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: Option<&Bound<'py, PyAny>>,
    n_jobs: Option<i64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        moments_t(py, a, sample_weight, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        moments_t(py, a, sample_weight, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

fn transform_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    mean: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
    inverse: bool,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<F>>> {
    let x: PyReadonlyArray2<F> = x.readonly();
    let mean: Option<PyReadonlyArray1<F>> = mean.map(|m| m.extract()).transpose()?;
    let scale: Option<PyReadonlyArray1<F>> = scale.map(|m| m.extract()).transpose()?;
    let xv = x.as_array();
    let (mv, sv) = (mean.as_ref().map(|m| m.as_slice()).transpose()?, scale.as_ref().map(|s| s.as_slice()).transpose()?);
    // numpy allocates the output (its allocator asks for huge pages: far fewer page faults
    // than a fresh Rust Vec of the same size).
    let out = PyArray2::<F>::zeros(py, xv.dim(), false);
    {
        let mut o = out.readwrite();
        let ov = o.as_array_mut();
        run::run(py, n_jobs, |c| scaler::standardize_into(xv, ov, mv, sv, direction(inverse), c))?;
    }
    Ok(out)
}

/// New array (x - mean) / scale (or x * scale + mean when inverse), in X's dtype.
#[pyfunction]
#[pyo3(signature = (x, mean, scale, inverse, n_jobs))]
fn scaler_transform<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    mean: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
    inverse: bool,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        Ok(transform_t(py, a, mean, scale, inverse, n_jobs)?.into_any())
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        Ok(transform_t(py, a, mean, scale, inverse, n_jobs)?.into_any())
    } else {
        Err(dtype_error(x))
    }
}

fn transform_inplace_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    mean: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
    inverse: bool,
    n_jobs: Option<i64>,
) -> PyResult<()> {
    let mut x: PyReadwriteArray2<F> = x.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
    let mean: Option<PyReadonlyArray1<F>> = mean.map(|m| m.extract()).transpose()?;
    let scale: Option<PyReadonlyArray1<F>> = scale.map(|m| m.extract()).transpose()?;
    let xv = x.as_array_mut();
    let (mv, sv) = (mean.as_ref().map(|m| m.as_slice()).transpose()?, scale.as_ref().map(|s| s.as_slice()).transpose()?);
    run::run(py, n_jobs, |c| scaler::standardize_inplace(xv, mv, sv, direction(inverse), c))
}

/// In-place version of scaler_transform (X must be C-contiguous and writeable).
#[pyfunction]
#[pyo3(signature = (x, mean, scale, inverse, n_jobs))]
fn scaler_transform_inplace<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    mean: Option<&Bound<'py, PyAny>>,
    scale: Option<&Bound<'py, PyAny>>,
    inverse: bool,
    n_jobs: Option<i64>,
) -> PyResult<()> {
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        transform_inplace_t(py, a, mean, scale, inverse, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        transform_inplace_t(py, a, mean, scale, inverse, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

fn stats_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    strategy: &str,
    missing_values: f64,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let strategy = impute::Strategy::parse(strategy).map_err(to_py_err)?;
    let x: PyReadonlyArray2<F> = x.readonly();
    let xv = x.as_array();
    let missing = Missing::<F>::from_f64(missing_values);
    let s = run::run(py, n_jobs, |c| impute::statistics(xv, strategy, missing, c))?;
    Ok(PyArray1::from_vec(py, s))
}

/// Per-feature mean or median of the non-missing entries (NaN for an empty feature), f64.
#[pyfunction]
#[pyo3(signature = (x, strategy, missing_values, n_jobs))]
fn imputer_statistics<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    strategy: &str,
    missing_values: f64,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        stats_t(py, a, strategy, missing_values, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        stats_t(py, a, strategy, missing_values, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

fn fill_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    fill: &Bound<'py, PyAny>,
    keep: Option<PyReadonlyArray1<'py, i64>>,
    missing_values: f64,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray2<F>>> {
    let x: PyReadonlyArray2<F> = x.readonly();
    let fill: PyReadonlyArray1<F> = fill.extract()?;
    let keep: Option<Vec<usize>> = match keep {
        None => None,
        Some(k) => Some(
            k.as_array()
                .iter()
                .map(|&i| usize::try_from(i).map_err(|_| PyTypeError::new_err("negative column index")))
                .collect::<PyResult<Vec<usize>>>()?,
        ),
    };
    let xv = x.as_array();
    let fv = fill.as_slice()?;
    let missing = Missing::<F>::from_f64(missing_values);
    let k = keep.as_ref().map_or(xv.ncols(), |c| c.len());
    let out = PyArray2::<F>::zeros(py, (xv.nrows(), k), false);
    {
        let mut o = out.readwrite();
        let ov = o.as_array_mut();
        run::run(py, n_jobs, |c| impute::fill_into(xv, ov, fv, keep.as_deref(), missing, c))?;
    }
    Ok(out)
}

/// New array: columns `keep` (all if None) of X with missing entries replaced by `fill`.
#[pyfunction]
#[pyo3(signature = (x, fill, keep, missing_values, n_jobs))]
fn imputer_transform<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    fill: &Bound<'py, PyAny>,
    keep: Option<PyReadonlyArray1<'py, i64>>,
    missing_values: f64,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        Ok(fill_t(py, a, fill, keep, missing_values, n_jobs)?.into_any())
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        Ok(fill_t(py, a, fill, keep, missing_values, n_jobs)?.into_any())
    } else {
        Err(dtype_error(x))
    }
}

fn fill_inplace_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    fill: &Bound<'py, PyAny>,
    missing_values: f64,
    n_jobs: Option<i64>,
) -> PyResult<()> {
    let mut x: PyReadwriteArray2<F> = x.try_readwrite().map_err(|e| PyTypeError::new_err(e.to_string()))?;
    let fill: PyReadonlyArray1<F> = fill.extract()?;
    let xv = x.as_array_mut();
    let fv = fill.as_slice()?;
    let missing = Missing::<F>::from_f64(missing_values);
    run::run(py, n_jobs, |c| impute::fill_inplace(xv, fv, missing, c))
}

/// In-place version of imputer_transform with every column kept.
#[pyfunction]
#[pyo3(signature = (x, fill, missing_values, n_jobs))]
fn imputer_transform_inplace<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    fill: &Bound<'py, PyAny>,
    missing_values: f64,
    n_jobs: Option<i64>,
) -> PyResult<()> {
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        fill_inplace_t(py, a, fill, missing_values, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        fill_inplace_t(py, a, fill, missing_values, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

pub fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(parent.py(), "preprocessing")?;
    m.add_function(wrap_pyfunction!(scaler_moments, &m)?)?;
    m.add_function(wrap_pyfunction!(scaler_transform, &m)?)?;
    m.add_function(wrap_pyfunction!(scaler_transform_inplace, &m)?)?;
    m.add_function(wrap_pyfunction!(imputer_statistics, &m)?)?;
    m.add_function(wrap_pyfunction!(imputer_transform, &m)?)?;
    m.add_function(wrap_pyfunction!(imputer_transform_inplace, &m)?)?;
    parent.add_submodule(&m)
}
