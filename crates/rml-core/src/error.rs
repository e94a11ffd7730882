//! The one error type of every rml crate.

use thiserror::Error;

/// Everything that can go wrong in an rml kernel. A panic is never the answer to bad input:
/// each precondition a caller can violate has a variant here.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RmlError {
    /// The data is unusable as given (shapes that do not match, non-finite values where they
    /// are not allowed, too few samples). Maps to Python `ValueError`.
    #[error("{0}")]
    InvalidInput(String),
    /// A hyperparameter is out of its range. Maps to Python `ValueError`.
    #[error("{0}")]
    InvalidParameter(String),
    /// The computation would need more memory or a larger index than the platform has.
    /// Raised before allocating. Maps to Python `MemoryError`.
    #[error("{0}")]
    TooLarge(String),
    /// The caller asked to stop (Ctrl-C from Python). Maps to `KeyboardInterrupt`.
    #[error("interrupted")]
    Cancelled,
    /// A broken internal invariant: a bug in rml. Maps to Python `RuntimeError`.
    #[error("internal error (please report): {0}")]
    Internal(String),
}

/// Result alias used throughout rml.
pub type RmlResult<T> = Result<T, RmlError>;

/// Return early with [`RmlError::InvalidInput`] unless the condition holds.
///
/// ```
/// use rml_core::{ensure, RmlResult};
/// fn positive(k: usize) -> RmlResult<()> {
///     ensure!(k > 0, "k must be positive, got {}", k);
///     Ok(())
/// }
/// assert!(positive(0).is_err());
/// ```
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !($cond) {
            return Err($crate::RmlError::InvalidInput(format!($($fmt)+)));
        }
    };
}

/// Return early with [`RmlError::InvalidParameter`] unless the condition holds.
#[macro_export]
macro_rules! ensure_param {
    ($cond:expr, $($fmt:tt)+) => {
        if !($cond) {
            return Err($crate::RmlError::InvalidParameter(format!($($fmt)+)));
        }
    };
}

/// Return early with [`RmlError::InvalidInput`].
#[macro_export]
macro_rules! bail {
    ($($fmt:tt)+) => {
        return Err($crate::RmlError::InvalidInput(format!($($fmt)+)))
    };
}
