//! `rml._rml.cluster.minibatch_*`: MiniBatchKMeans (kernels in `rml_cluster::minibatch`).
//! Every float array of one call has X's dtype (float32 or float64).

use crate::errors::to_py_err;
use crate::run::run;
use numpy::{Element, IntoPyArray, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rml_cluster::minibatch::{self, LegacyMt, LogEvent, MiniBatchParams};
use rml_core::Float;

fn dtype_error(what: &str) -> PyErr {
    PyTypeError::new_err(format!(
        "{what} must be a C-contiguous float32 or float64 array with the dtype of X"
    ))
}

fn arr2<'py, T: Element>(a: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray2<'py, T>> {
    a.extract::<PyReadonlyArray2<'py, T>>().map_err(|_| dtype_error(what))
}

fn arr1<'py, T: Element>(a: &Bound<'py, PyAny>, what: &str) -> PyResult<PyReadonlyArray1<'py, T>> {
    a.extract::<PyReadonlyArray1<'py, T>>().map_err(|_| dtype_error(what))
}

fn is_f32(x: &Bound<'_, PyAny>) -> bool {
    x.extract::<PyReadonlyArray2<'_, f32>>().is_ok()
}

fn log_to_py<'py>(py: Python<'py>, log: &[LogEvent]) -> PyResult<Vec<Bound<'py, PyTuple>>> {
    log.iter()
        .map(|e| match *e {
            LogEvent::InitInertia { index, inertia } => ("init", index, inertia).into_pyobject(py),
            LogEvent::FirstStep { step, batch_inertia } => ("first", step, batch_inertia).into_pyobject(py),
            LogEvent::Step { step, batch_inertia, ewa_inertia } => {
                ("step", step, batch_inertia, ewa_inertia).into_pyobject(py)
            }
            LogEvent::Reassign { n } => ("reassign", n, 0.0).into_pyobject(py),
            LogEvent::ConvergedCenters { step } => ("converged_centers", step, 0.0).into_pyobject(py),
            LogEvent::ConvergedNoImprovement { step } => ("converged_no_improvement", step, 0.0).into_pyobject(py),
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn fit_impl<'py, T: Float + Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    cdf: PyReadonlyArray1<'py, f64>,
    inits: &Bound<'py, PyAny>,
    valid_idx: PyReadonlyArray1<'py, i64>,
    rng: LegacyMt,
    params: MiniBatchParams,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let x = arr2::<T>(x, "X")?;
    let sw = arr1::<T>(sample_weight, "sample_weight")?;
    let inits = inits.extract::<PyReadonlyArray3<'py, T>>().map_err(|_| dtype_error("inits"))?;
    let (xv, swv, cdfv, iv, vv) = (x.as_array(), sw.as_array(), cdf.as_array(), inits.as_array(), valid_idx.as_array());
    let out = run(py, n_jobs, |cancel| minibatch::fit(xv, swv, cdfv, iv, vv, &params, rng, cancel))?;
    let d = PyDict::new(py);
    d.set_item("centers", out.centers.into_pyarray(py))?;
    d.set_item("counts", out.counts.into_pyarray(py))?;
    d.set_item("ewa_inertia", out.ewa_inertia)?;
    d.set_item("ewa_inertia_min", out.ewa_inertia_min)?;
    d.set_item("no_improvement", out.no_improvement)?;
    d.set_item("n_since_last_reassign", out.n_since_last_reassign)?;
    d.set_item("n_steps", out.n_steps)?;
    d.set_item("best_init", out.best_init)?;
    d.set_item("labels", out.labels.map(|l| l.into_pyarray(py)))?;
    d.set_item("inertia", out.inertia)?;
    d.set_item("log", log_to_py(py, &out.log)?)?;
    d.set_item("mt_key", out.rng.key().to_vec().into_pyarray(py))?;
    d.set_item("mt_pos", out.rng.pos())?;
    Ok(d)
}

/// The whole MiniBatchKMeans fit after Python-side validation and initialisation.
#[pyfunction]
#[pyo3(signature = (x, sample_weight, cdf, inits, valid_idx, mt_key, mt_pos, batch_size, n_steps,
                    tol, max_no_improvement, reassignment_ratio, compute_labels, verbose, n_jobs=None))]
#[allow(clippy::too_many_arguments)]
fn minibatch_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    cdf: PyReadonlyArray1<'py, f64>,
    inits: &Bound<'py, PyAny>,
    valid_idx: PyReadonlyArray1<'py, i64>,
    mt_key: PyReadonlyArray1<'py, u32>,
    mt_pos: usize,
    batch_size: usize,
    n_steps: usize,
    tol: f64,
    max_no_improvement: Option<usize>,
    reassignment_ratio: f64,
    compute_labels: bool,
    verbose: bool,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let key = mt_key.as_array().to_vec();
    let rng = LegacyMt::from_state(&key, mt_pos).map_err(to_py_err)?;
    let params = MiniBatchParams {
        batch_size,
        n_steps,
        tol,
        max_no_improvement,
        reassignment_ratio,
        compute_labels,
        verbose,
    };
    if is_f32(x) {
        fit_impl::<f32>(py, x, sample_weight, cdf, inits, valid_idx, rng, params, n_jobs)
    } else {
        fit_impl::<f64>(py, x, sample_weight, cdf, inits, valid_idx, rng, params, n_jobs)
    }
}

#[allow(clippy::too_many_arguments)]
fn partial_impl<'py, T: Float + Element>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    counts: &Bound<'py, PyAny>,
    random_reassign: bool,
    reassignment_ratio: f64,
    compute_labels: bool,
    verbose: bool,
    rng: LegacyMt,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let x = arr2::<T>(x, "X")?;
    let sw = arr1::<T>(sample_weight, "sample_weight")?;
    let c = arr2::<T>(centers, "centers")?;
    let cn = arr1::<T>(counts, "counts")?;
    let (xv, swv, cv, cnv) = (x.as_array(), sw.as_array(), c.as_array(), cn.as_array());
    let out = run(py, n_jobs, |cancel| {
        minibatch::partial_fit(xv, swv, cv, cnv, random_reassign, reassignment_ratio, compute_labels, verbose, rng, cancel)
    })?;
    let d = PyDict::new(py);
    d.set_item("centers", out.centers.into_pyarray(py))?;
    d.set_item("counts", out.counts.into_pyarray(py))?;
    d.set_item("labels", out.labels.map(|l| l.into_pyarray(py)))?;
    d.set_item("inertia", out.inertia)?;
    d.set_item("log", log_to_py(py, &out.log)?)?;
    d.set_item("mt_key", out.rng.key().to_vec().into_pyarray(py))?;
    d.set_item("mt_pos", out.rng.pos())?;
    Ok(d)
}

/// One partial_fit step (the caller decided `random_reassign`).
#[pyfunction]
#[pyo3(signature = (x, sample_weight, centers, counts, random_reassign, reassignment_ratio,
                    compute_labels, verbose, mt_key, mt_pos, n_jobs=None))]
#[allow(clippy::too_many_arguments)]
fn minibatch_partial_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    sample_weight: &Bound<'py, PyAny>,
    centers: &Bound<'py, PyAny>,
    counts: &Bound<'py, PyAny>,
    random_reassign: bool,
    reassignment_ratio: f64,
    compute_labels: bool,
    verbose: bool,
    mt_key: PyReadonlyArray1<'py, u32>,
    mt_pos: usize,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let key = mt_key.as_array().to_vec();
    let rng = LegacyMt::from_state(&key, mt_pos).map_err(to_py_err)?;
    if is_f32(x) {
        partial_impl::<f32>(py, x, sample_weight, centers, counts, random_reassign, reassignment_ratio, compute_labels, verbose, rng, n_jobs)
    } else {
        partial_impl::<f64>(py, x, sample_weight, centers, counts, random_reassign, reassignment_ratio, compute_labels, verbose, rng, n_jobs)
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(minibatch_fit, m)?)?;
    m.add_function(wrap_pyfunction!(minibatch_partial_fit, m)?)?;
    Ok(())
}
