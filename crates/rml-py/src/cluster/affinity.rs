//! `rml._rml.cluster.affinity_propagation`: the message-passing loop of AffinityPropagation.

use crate::run;
use numpy::{PyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use rml_cluster::affinity::{self, AffinityParams, AffinityResult};

type Out<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>, usize, bool);

fn output(py: Python<'_>, res: AffinityResult) -> Out<'_> {
    (
        PyArray1::from_vec(py, res.cluster_centers_indices),
        PyArray1::from_vec(py, res.labels),
        res.n_iter,
        res.converged,
    )
}

/// Run affinity propagation on a prepared similarity matrix (preference on the diagonal and
/// scikit-learn's noise already added). Returns (cluster_centers_indices, labels, n_iter,
/// converged).
#[pyfunction]
#[pyo3(signature = (s, damping, max_iter, convergence_iter, n_jobs=None))]
fn affinity_propagation<'py>(
    py: Python<'py>,
    s: &Bound<'py, PyAny>,
    damping: f64,
    max_iter: usize,
    convergence_iter: usize,
    n_jobs: Option<i64>,
) -> PyResult<Out<'py>> {
    let params = AffinityParams::new(damping, max_iter, convergence_iter).map_err(crate::errors::to_py_err)?;
    if let Ok(s) = s.extract::<PyReadonlyArray2<'py, f64>>() {
        let v = s.as_array();
        let res = run::run(py, n_jobs, |cancel| affinity::fit(v, &params, cancel))?;
        Ok(output(py, res))
    } else {
        let s = s.extract::<PyReadonlyArray2<'py, f32>>()?;
        let v = s.as_array();
        let res = run::run(py, n_jobs, |cancel| affinity::fit(v, &params, cancel))?;
        Ok(output(py, res))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(affinity_propagation, m)?)
}
