//! Agglomerative clustering (`rml._rml.cluster.agglomerative_fit`): X float64, GIL released.

use crate::errors::to_py_err;
use crate::run;
use numpy::{IntoPyArray, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rml_cluster::hierarchical::{self, ChildOrder, Input, Linkage, RowMetric};
use rml_core::RmlError;

type FitOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>, usize);

/// Build the full tree and cut it. `metric` is "precomputed" (X is n x n, upper triangle
/// read) or a native row metric; `child_order` is "sorted" (scipy) or "mst" (scikit-learn's
/// single-linkage MST path). Exactly one of `n_clusters` / `distance_threshold` is given.
/// Returns `(children int64[n-1, 2], distances f64[n-1], labels int64[n], n_clusters_)`.
#[pyfunction]
#[pyo3(signature = (X, linkage, metric, child_order, n_clusters, distance_threshold, n_jobs=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
fn agglomerative_fit<'py>(
    py: Python<'py>,
    X: PyReadonlyArray2<'py, f64>,
    linkage: &str,
    metric: &str,
    child_order: &str,
    n_clusters: Option<usize>,
    distance_threshold: Option<f64>,
    n_jobs: Option<i64>,
) -> PyResult<FitOut<'py>> {
    let linkage = Linkage::parse(linkage).map_err(to_py_err)?;
    let order = match child_order {
        "sorted" => ChildOrder::Sorted,
        "mst" => ChildOrder::MstOrder,
        o => return Err(PyValueError::new_err(format!("unknown child_order {o:?}"))),
    };
    if n_clusters.is_some() == distance_threshold.is_some() {
        return Err(PyValueError::new_err(
            "Exactly one of n_clusters and distance_threshold has to be set, and the other \
             needs to be None.",
        ));
    }
    let xa = X.as_array();
    let x = xa.as_slice().ok_or_else(|| PyValueError::new_err("X must be C-contiguous"))?;
    let (n, d) = xa.dim();
    let input = if metric == "precomputed" {
        if n != d {
            return Err(PyValueError::new_err(format!(
                "Distance matrix should be square, got matrix of shape ({n}, {d})"
            )));
        }
        Input::Precomputed { dist: x, n }
    } else {
        Input::Rows { x, n, d, metric: RowMetric::parse(metric).map_err(to_py_err)? }
    };
    let (tree, labels, k) = run::run(py, n_jobs, |cancel| {
        let tree = hierarchical::linkage_tree(input, linkage, order, cancel)?;
        let k = match (n_clusters, distance_threshold) {
            (Some(k), _) => k,
            (None, Some(t)) => tree.distances.iter().filter(|&&v| v >= t).count() + 1,
            _ => return Err(RmlError::Internal("no n_clusters".into())),
        };
        let labels = hierarchical::cut(k, &tree.children, n)?;
        Ok((tree, labels, k))
    })?;
    let m = tree.children.len();
    let flat: Vec<i64> = tree.children.iter().flat_map(|c| c.iter().copied()).collect();
    let children = ndarray::Array2::from_shape_vec((m, 2), flat)
        .map_err(|e| to_py_err(RmlError::Internal(e.to_string())))?;
    Ok((
        children.into_pyarray(py).into_any(),
        tree.distances.into_pyarray(py).into_any(),
        labels.into_pyarray(py).into_any(),
        k,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(agglomerative_fit, m)?)?;
    Ok(())
}
