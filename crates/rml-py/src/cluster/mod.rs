//! `rml._rml.cluster`: clustering algorithms and clustering metrics.
//! One file per algorithm family; each file's `register` adds its functions.

use pyo3::prelude::*;

mod affinity;
mod birch;
mod bisecting;
mod dbscan;
mod gmm;
mod hierarchical;
mod kmeans;
mod metrics;
mod minibatch;
mod optics;

pub fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(parent.py(), "cluster")?;
    affinity::register(&m)?;
    birch::register(&m)?;
    bisecting::register(&m)?;
    dbscan::register(&m)?;
    gmm::register(&m)?;
    hierarchical::register(&m)?;
    kmeans::register(&m)?;
    metrics::register(&m)?;
    minibatch::register(&m)?;
    optics::register(&m)?;
    parent.add_submodule(&m)
}
