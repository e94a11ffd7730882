//! Gaussian mixture kernels (`rml._rml.cluster.gmm_*`): X float32 or float64 (dispatched on
//! its dtype), model parameters always float64, GIL released via [`run::run`].

use crate::errors::to_py_err;
use crate::run;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rml_cluster::gmm::{self, CovarianceType, EmConfig, GmmParams};
use rml_core::Float;

fn x_view<'py, F: Float + numpy::Element>(x: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray2<'py, F>> {
    x.cast::<PyArray2<F>>()
        .map(|a| a.readonly())
        .map_err(|_| PyValueError::new_err("X must be a 2-D float32 or float64 array"))
}

fn params(
    weights: &PyReadonlyArray1<'_, f64>,
    means: &PyReadonlyArray2<'_, f64>,
    precisions_chol: &PyReadonlyArray2<'_, f64>,
) -> GmmParams {
    gmm::params_from_views(weights.as_array(), means.as_array(), precisions_chol.as_array())
}

type EmOut<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    usize,
    bool,
    f64,
    Vec<f64>,
    Vec<f64>,
    Bound<'py, PyAny>,
);

#[allow(clippy::too_many_arguments)]
fn em_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    init: GmmParams,
    cfg: EmConfig,
    n_jobs: Option<i64>,
) -> PyResult<EmOut<'py>> {
    let x = x_view::<F>(x)?;
    let xv = x.as_array();
    let r = run::run(py, n_jobs, |cancel| gmm::em(xv, &init, cfg, cancel))?;
    let cov = r.params.covariances.ok_or_else(|| to_py_err(rml_core::RmlError::Internal("no covariances".into())))?;
    Ok((
        r.params.weights.into_pyarray(py).into_any(),
        r.params.means.into_pyarray(py).into_any(),
        cov.into_pyarray(py).into_any(),
        r.params.precisions_chol.into_pyarray(py).into_any(),
        r.n_iter,
        r.converged,
        r.lower_bound,
        r.lower_bounds,
        r.iter_seconds,
        r.labels.into_pyarray(py).into_any(),
    ))
}

/// EM for a diagonal or spherical Gaussian mixture from explicit initial parameters.
/// `precisions_chol` is `(k, d)` for diag and `(k, 1)` for spherical.
/// Returns `(weights, means, covariances, precisions_chol, n_iter, converged, lower_bound,
/// lower_bounds, iter_seconds, labels int64)`; covariances and precisions_chol have the
/// input's layout (`(k, 1)` for spherical).
#[pyfunction]
#[pyo3(signature = (X, weights, means, precisions_chol, covariance_type, tol, reg_covar, max_iter, init_lower_bound, n_jobs=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn gmm_em<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_chol: PyReadonlyArray2<'py, f64>,
    covariance_type: &str,
    tol: f64,
    reg_covar: f64,
    max_iter: usize,
    init_lower_bound: f64,
    n_jobs: Option<i64>,
) -> PyResult<EmOut<'py>> {
    let cfg = EmConfig {
        covariance_type: CovarianceType::parse(covariance_type).map_err(to_py_err)?,
        tol,
        reg_covar,
        max_iter,
        init_lower_bound,
    };
    let init = params(&weights, &means, &precisions_chol);
    if X.cast::<PyArray2<f32>>().is_ok() {
        em_typed::<f32>(py, X, init, cfg, n_jobs)
    } else {
        em_typed::<f64>(py, X, init, cfg, n_jobs)
    }
}

type EstOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Option<Bound<'py, PyAny>>);

fn estimate_typed<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    p: GmmParams,
    cov: CovarianceType,
    want_resp: bool,
    n_jobs: Option<i64>,
) -> PyResult<EstOut<'py>> {
    let x = x_view::<F>(x)?;
    let xv = x.as_array();
    let r = run::run(py, n_jobs, |cancel| gmm::estimate(xv, &p, cov, want_resp, cancel))?;
    Ok((
        r.log_prob_norm.into_pyarray(py).into_any(),
        r.labels.into_pyarray(py).into_any(),
        r.resp.map(|a| a.into_pyarray(py).into_any()),
    ))
}

/// E-step under fixed parameters: `(log p(x_i) f64[n], argmax labels int64[n], resp f64[n, k]
/// or None)`.
#[pyfunction]
#[pyo3(signature = (X, weights, means, precisions_chol, covariance_type, want_resp, n_jobs=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn gmm_estimate<'py>(
    py: Python<'py>,
    X: &Bound<'py, PyAny>,
    weights: PyReadonlyArray1<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    precisions_chol: PyReadonlyArray2<'py, f64>,
    covariance_type: &str,
    want_resp: bool,
    n_jobs: Option<i64>,
) -> PyResult<EstOut<'py>> {
    let cov = CovarianceType::parse(covariance_type).map_err(to_py_err)?;
    let p = params(&weights, &means, &precisions_chol);
    if X.cast::<PyArray2<f32>>().is_ok() {
        estimate_typed::<f32>(py, X, p, cov, want_resp, n_jobs)
    } else {
        estimate_typed::<f64>(py, X, p, cov, want_resp, n_jobs)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(gmm_em, m)?)?;
    m.add_function(wrap_pyfunction!(gmm_estimate, m)?)?;
    Ok(())
}
