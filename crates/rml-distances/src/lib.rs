//! Distance metrics and chunked pairwise reductions for rml: arg-k-min and within-radius,
//! parallel over query chunks, memory bounded by a working-memory budget.

pub mod brute;
pub mod exact;
mod gemm_knn;
pub mod metric;
pub mod precomputed;
pub mod result;
pub mod topk;

pub use brute::{brute_kneighbors, brute_radius_neighbors};
pub use metric::Metric;
pub use precomputed::{precomputed_kneighbors, precomputed_radius_neighbors};
pub use result::{KnnResult, RadiusResult};

#[cfg(test)]
mod tests;
