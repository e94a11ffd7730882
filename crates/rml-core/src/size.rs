//! Checked size arithmetic: every allocation whose size comes from user input goes through
//! here, so an impossible request fails with a clear error before anything is allocated.

use crate::{RmlError, RmlResult};

/// `a * b` elements, or [`RmlError::TooLarge`] naming what was being sized.
pub fn checked_elems(a: usize, b: usize, what: &str) -> RmlResult<usize> {
    a.checked_mul(b).ok_or_else(|| {
        RmlError::TooLarge(format!("input too large: {what} needs {a} x {b} elements"))
    })
}

/// Bytes needed for `n` elements of `T`, or [`RmlError::TooLarge`].
pub fn checked_bytes<T>(n: usize, what: &str) -> RmlResult<usize> {
    n.checked_mul(std::mem::size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| RmlError::TooLarge(format!("input too large: {what} needs {n} elements")))
}

/// Allocate a zero-filled `Vec<T>` of `a * b` elements with checked size and a fallible
/// reservation, so an impossible size is a `TooLarge` error instead of an abort.
pub fn try_zeroed_vec<T: Clone + Default>(a: usize, b: usize, what: &str) -> RmlResult<Vec<T>> {
    let n = checked_elems(a, b, what)?;
    checked_bytes::<T>(n, what)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| {
        RmlError::TooLarge(format!(
            "input too large: cannot allocate {what} ({a} x {b} elements of {} bytes)",
            std::mem::size_of::<T>()
        ))
    })?;
    v.resize(n, T::default());
    Ok(v)
}

/// Default working-memory budget for chunked pairwise work, in bytes (scikit-learn's
/// `working_memory` default is 1024 MiB).
pub const DEFAULT_WORKING_MEMORY_BYTES: usize = 1024 * 1024 * 1024;

/// How many rows of `row_bytes` each fit in `budget_bytes`, at least 1 and at most `n_rows`.
pub fn rows_per_chunk(budget_bytes: usize, row_bytes: usize, n_rows: usize) -> usize {
    let fit = budget_bytes / row_bytes.max(1);
    fit.clamp(1, n_rows.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_is_an_error_not_a_panic() {
        assert!(matches!(checked_elems(usize::MAX, 2, "x"), Err(RmlError::TooLarge(_))));
        assert!(matches!(try_zeroed_vec::<f64>(usize::MAX / 4, 3, "x"), Err(RmlError::TooLarge(_))));
        assert_eq!(try_zeroed_vec::<f64>(3, 4, "x").unwrap().len(), 12);
    }

    #[test]
    fn chunk_rows_are_clamped() {
        assert_eq!(rows_per_chunk(100, 10, 5), 5);
        assert_eq!(rows_per_chunk(100, 10, 50), 10);
        assert_eq!(rows_per_chunk(1, 10, 50), 1);
    }
}
