//! Cooperative cancellation: long kernels poll a [`Cancel`] between chunks so Ctrl-C in
//! Python stops them within about a chunk's time.

use crate::{RmlError, RmlResult};
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag set by the caller (the Python binding, on KeyboardInterrupt) and polled by kernels.
#[derive(Debug, Default)]
pub struct Cancel {
    flag: AtomicBool,
}

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Ask the running kernel to stop at its next check.
    pub fn request(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was requested.
    pub fn is_requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// `Err(Cancelled)` if a stop was requested; kernels call this between chunks.
    #[inline]
    pub fn check(&self) -> RmlResult<()> {
        if self.is_requested() {
            Err(RmlError::Cancelled)
        } else {
            Ok(())
        }
    }
}
