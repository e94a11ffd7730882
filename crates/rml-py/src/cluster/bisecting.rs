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

type SplitOut<'py> = (Bound<'py, PyAny>, (f64, f64), usize, usize, Vec<String>, (f64, f64));

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
    Ok((
        s.centers.into_pyarray(py).into_any(),
        (s.scores[0], s.scores[1]),
        s.n_left,
        s.n_iter,
        s.log,
        (s.inertias[0], s.inertias[1]),
    ))
}

/// Bisect the rows `order[start:end]` of `X - x_mean` (centred on the fly): the best of `n_init` 2-means runs from
/// `centers_inits` (`(n_init, 2, d)`), then `order[start:end]` partitioned stably (label 0
/// first). Returns `(centers (2, d), (score_0, score_1), n_left, n_iter, verbose_log,
/// (inertia_0, inertia_1))`.
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

fn choice_t<F: Float + Element>(
    py: Python<'_>,
    sample_weight: &Bound<'_, PyAny>,
    order: &[i64],
    uniforms: &[f64],
    found: &[usize],
    size: usize,
) -> PyResult<Vec<usize>> {
    let sw = sample_weight.extract::<PyReadonlyArray1<'_, F>>().map_err(|_| dtype_error("sample_weight"))?;
    let sw = sw.as_slice().map_err(|_| PyValueError::new_err("sample_weight must be C-contiguous"))?;
    if order.iter().any(|&i| i < 0) {
        return Err(PyValueError::new_err("order has a negative entry"));
    }
    // SAFETY: non-negative i64 entries have the bits of the same usize (64-bit targets, as
    // asserted in split_t).
    let idx: &[usize] = unsafe { std::slice::from_raw_parts(order.as_ptr() as *const usize, order.len()) };
    py.detach(|| bisecting::choice_positions(sw, idx, uniforms, found, size)).map_err(to_py_err)
}

/// One round of numpy's `RandomState.choice(m, size, replace=False, p=w / w.sum())` sampling
/// loop over the weights `w = sample_weight[order[start:end]]`: for each uniform of
/// `uniforms` (drawn by the caller with numpy, `random_sample(size - len(found))`), its
/// position `cdf.searchsorted(x, side="right")`, the positions `found` of the earlier rounds
/// having probability 0. numpy's checks of `p` (first round) raise its ValueErrors.
#[pyfunction]
#[pyo3(signature = (sample_weight, order, start, end, uniforms, found, size))]
fn bisecting_choice(
    py: Python<'_>,
    sample_weight: &Bound<'_, PyAny>,
    order: PyReadonlyArray1<'_, i64>,
    start: usize,
    end: usize,
    uniforms: PyReadonlyArray1<'_, f64>,
    found: Vec<usize>,
    size: usize,
) -> PyResult<Vec<usize>> {
    let ord = order.as_slice().map_err(|_| PyValueError::new_err("order must be C-contiguous"))?;
    if start > end || end > ord.len() {
        return Err(PyValueError::new_err(format!("range [{start}, {end}) is outside order (length {})", ord.len())));
    }
    let u = uniforms.as_slice().map_err(|_| PyValueError::new_err("uniforms must be C-contiguous"))?;
    if sample_weight.extract::<PyReadonlyArray1<'_, f32>>().is_ok() {
        choice_t::<f32>(py, sample_weight, &ord[start..end], u, &found, size)
    } else {
        choice_t::<f64>(py, sample_weight, &ord[start..end], u, &found, size)
    }
}

fn mean_t<'py, F: Float + Element>(py: Python<'py>, x: &Bound<'py, PyAny>, n_jobs: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
    let x = x.extract::<PyReadonlyArray2<'py, F>>().map_err(|_| dtype_error("X"))?;
    let xv = x.as_array();
    let mean = run(py, n_jobs, |cancel| bisecting::column_mean(xv, cancel))?;
    Ok(mean.into_pyarray(py).into_any())
}

/// numpy's `X.mean(axis=0)`, bit for bit, for a C-contiguous float32/float64 `X` with at least
/// 2 columns (numpy's axis-0 reduction: rows added one after another), in parallel.
#[pyfunction]
#[pyo3(signature = (X, n_jobs=None))]
#[allow(non_snake_case)]
fn bisecting_mean<'py>(py: Python<'py>, X: &Bound<'py, PyAny>, n_jobs: Option<i64>) -> PyResult<Bound<'py, PyAny>> {
    if X.extract::<PyReadonlyArray2<'py, f32>>().is_ok() {
        mean_t::<f32>(py, X, n_jobs)
    } else {
        mean_t::<f64>(py, X, n_jobs)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(bisecting_mean, m)?)?;
    m.add_function(wrap_pyfunction!(bisecting_split, m)?)?;
    m.add_function(wrap_pyfunction!(bisecting_choice, m)?)?;
    Ok(())
}
