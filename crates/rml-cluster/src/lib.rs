//! Clustering algorithms of rml, one module per algorithm, and clustering metrics.
pub mod minibatch;
