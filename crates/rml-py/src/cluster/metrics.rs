//! `rml._rml.cluster` clustering metrics: silhouette coefficients and the per-cluster
//! statistics behind Calinski-Harabasz and Davies-Bouldin (rml_cluster::metrics).

use crate::run;
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use rml_cluster::metrics;
use rml_core::Float;
use rml_distances::Metric;

fn dtype_error(x: &Bound<'_, PyAny>) -> PyErr {
    let dt = x.getattr("dtype").map(|d| d.to_string()).unwrap_or_else(|_| "?".into());
    PyTypeError::new_err(format!("expected a float32 or float64 numpy array, got dtype {dt}"))
}

fn encoded(labels: &PyReadonlyArray1<'_, i64>) -> PyResult<Vec<usize>> {
    labels
        .as_array()
        .iter()
        .map(|&l| usize::try_from(l).map_err(|_| PyValueError::new_err("labels must be encoded as 0..n_clusters-1")))
        .collect()
}

fn sil_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    labels: &[usize],
    n_clusters: usize,
    metric: Metric,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let x: PyReadonlyArray2<F> = x.readonly();
    let xv = x.as_array();
    let out = run::run(py, n_jobs, |c| metrics::silhouette_samples(xv, labels, n_clusters, metric, c))?;
    Ok(PyArray1::from_vec(py, out))
}

/// Silhouette coefficient of each sample (float64[n]); metric "euclidean", "manhattan",
/// "chebyshev" or "minkowski" with p.
#[pyfunction]
#[pyo3(signature = (x, labels, n_clusters, metric, p, n_jobs))]
fn silhouette_samples<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i64>,
    n_clusters: usize,
    metric: &str,
    p: f64,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let metric = Metric::parse(metric, p).map_err(crate::errors::to_py_err)?;
    let labels = encoded(&labels)?;
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        sil_t(py, a, &labels, n_clusters, metric, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        sil_t(py, a, &labels, n_clusters, metric, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

fn sil_pre_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    d: &Bound<'py, PyArray2<F>>,
    labels: &[usize],
    n_clusters: usize,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let d: PyReadonlyArray2<F> = d.readonly();
    let dv = d.as_array();
    let out = run::run(py, n_jobs, |c| metrics::silhouette_samples_precomputed(dv, labels, n_clusters, c))?;
    Ok(PyArray1::from_vec(py, out))
}

/// Silhouette coefficient of each sample from a precomputed distance matrix (float64[n]).
#[pyfunction]
#[pyo3(signature = (dist, labels, n_clusters, n_jobs))]
fn silhouette_samples_precomputed<'py>(
    py: Python<'py>,
    dist: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i64>,
    n_clusters: usize,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let labels = encoded(&labels)?;
    if let Ok(a) = dist.cast::<PyArray2<f64>>() {
        sil_pre_t(py, a, &labels, n_clusters, n_jobs)
    } else if let Ok(a) = dist.cast::<PyArray2<f32>>() {
        sil_pre_t(py, a, &labels, n_clusters, n_jobs)
    } else {
        Err(dtype_error(dist))
    }
}

type DispOut<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
);

fn disp_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    labels: &[usize],
    n_clusters: usize,
    n_jobs: Option<i64>,
) -> PyResult<DispOut<'py>> {
    let x: PyReadonlyArray2<F> = x.readonly();
    let xv = x.as_array();
    let r = run::run(py, n_jobs, |c| metrics::cluster_dispersion(xv, labels, n_clusters, c))?;
    let counts: Vec<i64> = r.counts.iter().map(|&c| c as i64).collect();
    Ok((
        PyArray1::from_vec(py, counts),
        r.sums.to_pyarray(py),
        PyArray1::from_vec(py, r.sum_sq),
        PyArray1::from_vec(py, r.sum_dist),
    ))
}

/// Per-cluster (counts int64[k], sums float64[k, d], Σ‖x−c‖² float64[k], Σ‖x−c‖ float64[k]).
#[pyfunction]
#[pyo3(signature = (x, labels, n_clusters, n_jobs))]
fn cluster_dispersion<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i64>,
    n_clusters: usize,
    n_jobs: Option<i64>,
) -> PyResult<DispOut<'py>> {
    let labels = encoded(&labels)?;
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        disp_t(py, a, &labels, n_clusters, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        disp_t(py, a, &labels, n_clusters, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

fn disp_labels_t<'py, F: Float + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<F>>,
    labels: &[i64],
    n_jobs: Option<i64>,
) -> PyResult<Option<(usize, DispOut<'py>)>> {
    let x: PyReadonlyArray2<F> = x.readonly();
    let xv = x.as_array();
    let r = run::run(py, n_jobs, |c| metrics::dispersion::cluster_dispersion_labels(xv, labels, c))?;
    Ok(r.map(|(k, r)| {
        let counts: Vec<i64> = r.counts.iter().map(|&c| c as i64).collect();
        (
            k,
            (
                PyArray1::from_vec(py, counts),
                r.sums.to_pyarray(py),
                PyArray1::from_vec(py, r.sum_sq),
                PyArray1::from_vec(py, r.sum_dist),
            ),
        )
    }))
}

/// Like `cluster_dispersion`, from raw int64 labels encoded as scikit-learn's LabelEncoder
/// (sorted distinct values) in O(n) inside the call: `(n_labels, (counts, sums, Σ‖x−c‖²,
/// Σ‖x−c‖))`, or None when the label values are too sparse for the O(n) encoding.
#[pyfunction]
#[pyo3(signature = (x, labels, n_jobs))]
fn cluster_dispersion_labels<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    labels: PyReadonlyArray1<'py, i64>,
    n_jobs: Option<i64>,
) -> PyResult<Option<(usize, DispOut<'py>)>> {
    let lab = labels.as_array();
    let owned;
    let labels: &[i64] = match lab.as_slice() {
        Some(s) => s,
        None => {
            owned = lab.to_vec();
            &owned
        }
    };
    if let Ok(a) = x.cast::<PyArray2<f64>>() {
        disp_labels_t(py, a, labels, n_jobs)
    } else if let Ok(a) = x.cast::<PyArray2<f32>>() {
        disp_labels_t(py, a, labels, n_jobs)
    } else {
        Err(dtype_error(x))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(silhouette_samples, m)?)?;
    m.add_function(wrap_pyfunction!(silhouette_samples_precomputed, m)?)?;
    m.add_function(wrap_pyfunction!(cluster_dispersion, m)?)?;
    m.add_function(wrap_pyfunction!(cluster_dispersion_labels, m)?)?;
    Ok(())
}
