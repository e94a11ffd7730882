//! Clustering algorithms of rml, one module per algorithm, and clustering metrics.

pub mod affinity;
pub mod birch;
pub mod bisecting;
pub mod dbscan;
pub mod gmm;
pub mod hierarchical;
pub mod kmeans;
pub mod metrics;
pub mod minibatch;
pub mod optics;
