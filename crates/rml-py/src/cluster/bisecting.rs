//! `rml._rml.cluster.bisecting_split`: one bisection of BisectingKMeans (kernel in
//! `rml_cluster::bisecting`). X, sample_weight and the initial centres share X's dtype
//! (float32 or float64); `order` (int64) is the estimator's own permutation, partitioned in
//! place over `[start, end)`; `scratch` (optional, X's dtype, writable, at least
//! `(end - start) * (d + 1)` values) receives the centred copy of the rows instead of a new
//! allocation, so that a fit reuses one buffer for all its bisections.

use crate::errors::to_py_err;
use crate::run::run;
use numpy::{
    Element, IntoPyArray, PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rml_cluster::bisecting::{self, SplitParams, Strategy};
use rml_cluster::kmeans::Algorithm;
use rml_core::Float;

fn dtype_error(what: &str) -> PyErr {
    PyTypeError::new_err(format!("{what} must be a float32 or float64 array with the dtype of X"))
}

type SplitOut<'py> = (Bound<'py, PyAny>, (f64, f64), usize, usize, Vec<String>);

#[allow(clippy::too_many_arguments)]
fn split_t<'py, F: Float + Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    x_mean: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    order: &Bound<'py, PyArray1<i64>>,
    start: usize,
    end: usize,
    centers_inits: &Bound<'py, PyAny>,
    params: SplitParams,
    scratch: Option<&Bound<'py, PyAny>>,
    n_jobs: Option<i64>,
) -> PyResult<SplitOut<'py>> {
    let x = x.extract::<PyReadonlyArray2<'py, F>>().map_err(|_| dtype_error("X"))?;
    let mu = x_mean.extract::<PyReadonlyArray1<'py, F>>().map_err(|_| dtype_error("x_mean"))?;
    let sw = sample_weight.extract::<PyReadonlyArray1<'py, F>>().map_err(|_| dtype_error("sample_weight"))?;
    let ci = centers_inits.extract::<PyReadonlyArray3<'py, F>>().map_err(|_| dtype_error("centers_inits"))?;
    let mut ord = order.try_readwrite().map_err(|e| PyValueError::new_err(e.to_string()))?;
    let ord = ord.as_slice_mut().map_err(|_| PyValueError::new_err("order must be C-contiguous"))?;
    if start > end || end > ord.len() {
        return Err(PyValueError::new_err(format!("range [{start}, {end}) is outside order (length {})", ord.len())));
    }
    let sub = &mut ord[start..end];
    if sub.iter().any(|&i| i < 0) {
        return Err(PyValueError::new_err("order has a negative entry"));
    }
    let mut scratch_rw = match scratch {
        Some(s) => Some(
            s.cast::<PyArray1<F>>()
                .map_err(|_| dtype_error("scratch"))?
                .try_readwrite()
                .map_err(|e| PyValueError::new_err(e.to_string()))?,
        ),
        None => None,
    };
    let scratch_slice = match scratch_rw.as_mut() {
        Some(s) => Some(s.as_slice_mut().map_err(|_| PyValueError::new_err("scratch must be C-contiguous"))?),
        None => None,
    };
    // The entries are non-negative i64 and usize is 64 bits wide: the same bits.
    const _: () = assert!(std::mem::size_of::<usize>() == std::mem::size_of::<i64>());
    // SAFETY: same size and alignment, every entry checked non-negative above, and `sub` is
    // not used while `idx` is alive.
    let idx: &mut [usize] = unsafe { std::slice::from_raw_parts_mut(sub.as_mut_ptr() as *mut usize, sub.len()) };
    let (xv, muv, swv, civ) = (x.as_array(), mu.as_array(), sw.as_array(), ci.as_array());
    let s = run(py, n_jobs, |cancel| {
        bisecting::split_with_scratch(xv, muv, swv, idx, civ, &params, scratch_slice, cancel)
    })?;
    Ok((s.centers.into_pyarray(py).into_any(), (s.scores[0], s.scores[1]), s.n_left, s.n_iter, s.log))
}

/// Bisect the rows `order[start:end]` of `X - x_mean` (centred on the fly): the best of `n_init` 2-means runs from
/// `centers_inits` (`(n_init, 2, d)`), then `order[start:end]` partitioned stably (label 0
/// first). Returns `(centers (2, d), (score_0, score_1), n_left, n_iter, verbose_log)`.
/// `scratch`: optional 1-d buffer of X's dtype for the copy of the rows (see the module doc).
#[pyfunction]
#[pyo3(signature = (X, x_mean, sample_weight, order, start, end, centers_inits, max_iter, tol, algorithm, bisecting_strategy, verbose, scratch=None, n_jobs=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn bisecting_split<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    x_mean: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    order: &Bound<'py, PyArray1<i64>>,
    start: usize,
    end: usize,
    centers_inits: &Bound<'py, PyAny>,
    max_iter: usize,
    tol: f64,
    algorithm: &str,
    bisecting_strategy: &str,
    verbose: bool,
    scratch: Option<&Bound<'py, PyAny>>,
    n_jobs: Option<i64>,
) -> PyResult<SplitOut<'py>> {
    let params = SplitParams {
        max_iter,
        tol,
        algorithm: Algorithm::parse(algorithm).map_err(to_py_err)?,
        strategy: Strategy::parse(bisecting_strategy).map_err(to_py_err)?,
        verbose,
    };
    if X.extract::<PyReadonlyArray2<'py, f32>>().is_ok() {
        split_t::<f32>(py, X, x_mean, sample_weight, order, start, end, centers_inits, params, scratch, n_jobs)
    } else {
        split_t::<f64>(py, X, x_mean, sample_weight, order, start, end, centers_inits, params, scratch, n_jobs)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bisecting_split, m)?)?;
    Ok(())
}
