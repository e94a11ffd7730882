//! Clustering algorithms of rml, one module per algorithm, and clustering metrics.
pub mod kmeans;
pub mod minibatch;
