//! Distance metrics and chunked pairwise reductions for rml: arg-k-min and within-radius,
//! parallel over query chunks, memory bounded by a working-memory budget.

pub mod metric;
pub mod result;

pub use metric::Metric;
pub use result::{KnnResult, RadiusResult};
