//! `rml._rml.neighbors`: brute-force and KD-tree neighbour queries.

use pyo3::prelude::*;

mod brute;
mod kdtree;
mod prefilter;

pub fn register(parent: &Bound<'_, PyModule>) -> PyResult<()> {
    let m = PyModule::new(parent.py(), "neighbors")?;
    brute::register(&m)?;
    kdtree::register(&m)?;
    prefilter::register(&m)?;
    parent.add_submodule(&m)
}
