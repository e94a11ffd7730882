//! `rml._rml`: the native module. Each submodule mirrors one kernel crate; every function
//! validates nothing that Python already validated, borrows numpy arrays, releases the GIL
//! through [`run::run`] and returns new numpy arrays.

use pyo3::prelude::*;

mod cluster;
mod errors;
mod neighbors;
mod preprocessing;
mod run;

/// Threads a native call would use for this `n_jobs` (after the `RML_NUM_THREADS` cap).
#[pyfunction]
#[pyo3(signature = (n_jobs=None))]
fn effective_n_threads(n_jobs: Option<i64>) -> PyResult<usize> {
    rml_core::threads::resolve_n_jobs(n_jobs).map_err(errors::to_py_err)
}

/// Number of threads of the pool the kernels actually run in (used by tests of `n_jobs`).
#[pyfunction]
#[pyo3(signature = (n_jobs=None))]
fn pool_thread_count(py: Python<'_>, n_jobs: Option<i64>) -> PyResult<usize> {
    run::run(py, n_jobs, |_| Ok(rayon_threads()))
}

fn rayon_threads() -> usize {
    // The kernel closure runs on a pool worker, so this is the pool's size.
    rml_core::threads::current_num_threads()
}

#[pymodule]
fn _rml(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(effective_n_threads, m)?)?;
    m.add_function(wrap_pyfunction!(pool_thread_count, m)?)?;
    neighbors::register(m)?;
    cluster::register(m)?;
    preprocessing::register(m)?;
    Ok(())
}
