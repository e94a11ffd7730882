//! `rml._rml.cluster.birch_*`: the CF-tree of Birch and its nearest-subcluster labelling.
//!
//! The tree crosses the boundary as flat arrays (the Python estimator keeps them, so pickle
//! and clone work); the split distances call back into Python (scikit-learn's
//! `euclidean_distances`) so splits are decided by exactly the same numbers.

use crate::errors::to_py_err;
use crate::run;
use ndarray::{ArrayView1, ArrayView2};
use numpy::{Element, IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, ToPyArray};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use rml_cluster::birch::{self, BirchParams, CfState, CfTree, SplitDistances};
use rml_core::{Float, RmlError, RmlResult};

struct PySplit {
    f: Py<PyAny>,
}

impl<T: Float + Element> SplitDistances<T> for PySplit {
    fn distances(&mut self, c: ArrayView2<'_, T>, s: ArrayView1<'_, T>) -> RmlResult<Vec<T>> {
        Python::attach(|py| -> PyResult<Vec<T>> {
            let c = c.to_pyarray(py);
            let s = s.to_pyarray(py);
            let r = self.f.call1(py, (c, s))?;
            let arr = r.extract::<PyReadonlyArray2<'_, T>>(py)?;
            Ok(arr.as_array().iter().copied().collect())
        })
        .map_err(|e| RmlError::Internal(format!("split distance callback failed: {e}")))
    }
}

fn state_from_py<T: Float + Element>(st: &Bound<'_, PyTuple>) -> PyResult<CfState<T>> {
    let get = |i: usize| st.get_item(i);
    let node_is_leaf: PyReadonlyArray1<'_, bool> = get(2)?.extract()?;
    let node_ptr: PyReadonlyArray1<'_, i64> = get(3)?.extract()?;
    let node_subs: PyReadonlyArray1<'_, i64> = get(4)?.extract()?;
    let leaf_order: PyReadonlyArray1<'_, i64> = get(5)?.extract()?;
    let n_samples: PyReadonlyArray1<'_, i64> = get(6)?.extract()?;
    let linear_sum: PyReadonlyArray2<'_, T> = get(7)?.extract()?;
    let squared_sum: PyReadonlyArray1<'_, T> = get(8)?.extract()?;
    let centroid: PyReadonlyArray2<'_, T> = get(9)?.extract()?;
    let sq_norm: PyReadonlyArray1<'_, T> = get(10)?.extract()?;
    let child: PyReadonlyArray1<'_, i64> = get(11)?.extract()?;
    Ok(CfState {
        n_features: get(0)?.extract()?,
        root: get(1)?.extract()?,
        node_is_leaf: node_is_leaf.as_array().to_vec(),
        node_ptr: node_ptr.as_array().to_vec(),
        node_subs: node_subs.as_array().to_vec(),
        leaf_order: leaf_order.as_array().to_vec(),
        n_samples: n_samples.as_array().to_vec(),
        linear_sum: linear_sum.as_array().to_owned(),
        squared_sum: squared_sum.as_array().to_vec(),
        centroid: centroid.as_array().to_owned(),
        sq_norm: sq_norm.as_array().to_vec(),
        child: child.as_array().to_vec(),
    })
}

fn state_to_py<'py, T: Float + Element>(py: Python<'py>, st: CfState<T>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(
        py,
        [
            st.n_features.into_pyobject(py)?.into_any(),
            st.root.into_pyobject(py)?.into_any(),
            PyArray1::from_vec(py, st.node_is_leaf).into_any(),
            PyArray1::from_vec(py, st.node_ptr).into_any(),
            PyArray1::from_vec(py, st.node_subs).into_any(),
            PyArray1::from_vec(py, st.leaf_order).into_any(),
            PyArray1::from_vec(py, st.n_samples).into_any(),
            st.linear_sum.into_pyarray(py).into_any(),
            PyArray1::from_vec(py, st.squared_sum).into_any(),
            st.centroid.into_pyarray(py).into_any(),
            PyArray1::from_vec(py, st.sq_norm).into_any(),
            PyArray1::from_vec(py, st.child).into_any(),
        ],
    )
}

type FitOut<'py, T> = (Bound<'py, PyTuple>, Bound<'py, PyArray2<T>>);

fn fit_typed<'py, T: Float + Element>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, T>,
    params: BirchParams,
    split_fn: Py<PyAny>,
    state: Option<&Bound<'py, PyTuple>>,
) -> PyResult<FitOut<'py, T>> {
    let xv = x.as_array();
    let mut tree = match state {
        Some(st) => CfTree::from_state(&state_from_py::<T>(st)?).map_err(to_py_err)?,
        None => CfTree::<T>::new(xv.ncols()).map_err(to_py_err)?,
    };
    let mut split = PySplit { f: split_fn };
    let (st, centers) = run::run(py, None, |cancel| {
        birch::insert_rows(&mut tree, xv, &params, &mut split, cancel)?;
        Ok((tree.to_state(), tree.subcluster_centers()))
    })?;
    Ok((state_to_py(py, st)?, centers.into_pyarray(py)))
}

/// Insert the rows of X into a CF-tree (a new one when `state` is None, else the tree given by
/// the state tuple). Returns (new state tuple, subcluster_centers).
#[pyfunction]
#[pyo3(signature = (x, threshold_sq, branching_factor, split_fn, state=None))]
fn birch_fit<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    threshold_sq: f64,
    branching_factor: usize,
    split_fn: Py<PyAny>,
    state: Option<&Bound<'py, PyTuple>>,
) -> PyResult<(Bound<'py, PyTuple>, Bound<'py, PyAny>)> {
    let params = BirchParams::new(threshold_sq, branching_factor).map_err(to_py_err)?;
    if let Ok(x64) = x.extract::<PyReadonlyArray2<'py, f64>>() {
        let (s, c) = fit_typed(py, x64, params, split_fn, state)?;
        Ok((s, c.into_any()))
    } else {
        let x32 = x.extract::<PyReadonlyArray2<'py, f32>>()?;
        let (s, c) = fit_typed(py, x32, params, split_fn, state)?;
        Ok((s, c.into_any()))
    }
}

/// Index of the nearest row of `centers` for each row of `x` (float64), ties to the smaller
/// index.
#[pyfunction]
#[pyo3(signature = (x, centers, n_jobs=None))]
fn birch_nearest<'py>(
    py: Python<'py>,
    x: PyReadonlyArray2<'py, f64>,
    centers: PyReadonlyArray2<'py, f64>,
    n_jobs: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let (xv, cv) = (x.as_array(), centers.as_array());
    let out = run::run(py, n_jobs, |cancel| birch::nearest::nearest(xv, cv, cancel))?;
    Ok(PyArray1::from_vec(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(birch_fit, m)?)?;
    m.add_function(wrap_pyfunction!(birch_nearest, m)?)
}
