//! Shared foundations of rml: the error type, the [`Float`] trait the kernels are generic
//! over, checked size arithmetic, cooperative cancellation and the `n_jobs` thread pools.
//!
//! Nothing here knows Python; `rml-py` maps these types onto the Python boundary.

pub mod cancel;
pub mod error;
pub mod float;
pub mod size;
pub mod threads;

pub use cancel::Cancel;
pub use error::{RmlError, RmlResult};
pub use float::Float;
