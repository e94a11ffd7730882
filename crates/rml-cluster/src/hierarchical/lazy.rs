//! Complete and average linkage: scipy's `nn_chain` over a full square distance matrix whose
//! column updates are deferred.
//!
//! After a merge of clusters `x < y` (new cluster kept at `y`), scipy writes the new distance
//! `d(p, y) = f(d(p, x), d(p, y))` for every active `p` — in a square matrix that is row `y`
//! (contiguous) and column `y` (one cache and TLB miss per row, which dominated the run time).
//! Here only row `y` is written at merge time; the merge is appended to a log, and every
//! other row replays the log entries it has not seen (`row_p[y] = f(row_p[x], row_p[y])`,
//! the same function with the same argument order) just before it is read. Since `row_p[x]`
//! and `row_p[y]` are bit-for-bit `row_x[p]` and `row_y[p]`, the matrix stays bitwise
//! symmetric and every value read equals what scipy's eager update computes. All accesses
//! of a replay stay inside one row (n doubles: L2-resident), and the total replay work is at
//! most one update per (row, merge) pair, O(n^2) like the scans.
//!
//! A replay also sets the merged-away column to `+inf` (the diagonal starts at `+inf`, and the
//! update keeps it there), so the nearest-neighbour scan of an up-to-date row is a plain SIMD
//! minimum; it falls back to the exact scan (live mask, `total_cmp`) whenever the minimum is
//! zero, negative, infinite or the row holds a NaN, where `-0.0`/`+0.0` and NaN order matter.
//!
//! Whenever half of the positions are dead the matrix is compacted in place (every row
//! replayed first, in parallel, the log cleared), so rows stay short. Positions keep the
//! order of scipy's cluster slots, so "smallest slot" ties are "smallest position" ties.

use super::{Input, Linkage, Merge, RowMetric};
use rayon::prelude::*;
use rml_core::{Cancel, RmlError, RmlResult};
use std::mem::MaybeUninit;

/// Active clusters scanned per parallel task; below twice this a scan runs on one thread.
#[cfg(not(test))]
const PAR_ROWS: usize = 4096;
#[cfg(test)]
const PAR_ROWS: usize = 256;

/// The matrix is compacted once at most `COMPACT_NUM / COMPACT_DEN` of its positions are live.
const COMPACT_NUM: usize = 1;
const COMPACT_DEN: usize = 2;

/// Smallest `(value, id)` lexicographically; `NaN` sorts last (`total_cmp`).
#[inline]
fn better(a: (f64, usize), b: (f64, usize)) -> (f64, usize) {
    match a.0.total_cmp(&b.0) {
        std::cmp::Ordering::Less => a,
        std::cmp::Ordering::Greater => b,
        std::cmp::Ordering::Equal => {
            if a.1 <= b.1 {
                a
            } else {
                b
            }
        }
    }
}

/// Full symmetric distance matrix (`n x n`, both triangles; for precomputed input the upper
/// triangle is mirrored, as scikit-learn reads only that). Scans then read one contiguous
/// row; scikit-learn holds as much (the `pdist` result and `nn_chain`'s working copy).
///
/// Rows are filled in parallel straight into uninitialised memory (no serial zeroing pass, so
/// the page faults of first touch are spread over the threads);
/// vector metrics are computed `FILL_W` columns at a time from a feature-major
/// copy of X, each pair summed in feature order, so values are bit-identical to
/// [`super::mst::euclidean`] and friends (and to scipy's `pdist`).
pub(crate) fn square(input: Input<'_>, cancel: &Cancel) -> RmlResult<Vec<f64>> {
    let n = input.n();
    let total = rml_core::size::checked_elems(n, n, "distance matrix")?;
    rml_core::size::checked_bytes::<f64>(total, "distance matrix")?;
    let mut out: Vec<f64> = Vec::new();
    out.try_reserve_exact(total).map_err(|_| {
        RmlError::TooLarge(format!(
            "input too large: cannot allocate the distance matrix ({n} x {n} float64)"
        ))
    })?;
    let (xt, norms, d) = match input {
        Input::Rows { x, d, metric, .. } => {
            let mut xt = rml_core::size::try_zeroed_vec::<f64>(d, n, "transposed X")?;
            for i in 0..n {
                for k in 0..d {
                    xt[k * n + i] = x[i * d + k];
                }
            }
            let norms: Vec<f64> = if metric == RowMetric::Cosine {
                x.chunks_exact(d)
                    .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
                    .collect()
            } else {
                Vec::new()
            };
            (xt, norms, d)
        }
        Input::Precomputed { .. } => (Vec::new(), Vec::new(), 0),
    };
    let spare = &mut out.spare_capacity_mut()[..total];
    let res: Vec<RmlResult<()>> = spare
        .par_chunks_mut(n.max(1))
        .enumerate()
        .with_min_len(16)
        .map(|(i, row)| {
            if i % 64 == 0 {
                cancel.check()?;
            }
            match input {
                Input::Precomputed { dist, n } => {
                    for (j, o) in row.iter_mut().enumerate() {
                        o.write(match i.cmp(&j) {
                            std::cmp::Ordering::Less => dist[i * n + j],
                            std::cmp::Ordering::Greater => dist[j * n + i],
                            std::cmp::Ordering::Equal => 0.0,
                        });
                    }
                }
                Input::Rows { x, metric, .. } => {
                    fill_row(&x[i * d..(i + 1) * d], &xt, n, metric, &norms, i, row)
                }
            }
            Ok(())
        })
        .collect();
    for r in res {
        r?;
    }
    // SAFETY: `total <= capacity`, and every one of the `total` elements was written above
    // (each of the n rows of length n wrote every position; an error returned before this).
    unsafe { out.set_len(total) };
    Ok(out)
}

/// Columns computed together in registers by [`fill_row`].
const FILL_W: usize = 16;

/// Whether the AVX2 versions may run (detected at run time, so the binary stays portable).
/// Rust never contracts `a * b + c` into an FMA on its own, so the AVX2 and baseline builds
/// of a function give bit-identical results.
#[inline]
fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Row `i` of a vector metric, `FILL_W` columns at a time with the accumulators in registers,
/// each pair accumulated over features in order (so bit-identical to the scalar functions).
fn fill_row(
    a: &[f64],
    xt: &[f64],
    n: usize,
    metric: RowMetric,
    norms: &[f64],
    i: usize,
    row: &mut [MaybeUninit<f64>],
) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe { fill_row_avx2(a, xt, n, metric, norms, i, row) };
    }
    fill_row_any(a, xt, n, metric, norms, i, row)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fill_row_avx2(
    a: &[f64],
    xt: &[f64],
    n: usize,
    metric: RowMetric,
    norms: &[f64],
    i: usize,
    row: &mut [MaybeUninit<f64>],
) {
    fill_row_any(a, xt, n, metric, norms, i, row)
}

#[inline(always)]
fn fill_row_any(
    a: &[f64],
    xt: &[f64],
    n: usize,
    metric: RowMetric,
    norms: &[f64],
    i: usize,
    row: &mut [MaybeUninit<f64>],
) {
    match metric {
        RowMetric::Euclidean => fill_kernel(
            a,
            xt,
            n,
            row,
            #[inline(always)]
            |s, ak, b| {
                let t = ak - b;
                s + t * t
            },
            #[inline(always)]
            |_, s| s.sqrt(),
        ),
        RowMetric::Manhattan => fill_kernel(
            a,
            xt,
            n,
            row,
            #[inline(always)]
            |s, ak, b| s + (ak - b).abs(),
            #[inline(always)]
            |_, s| s,
        ),
        RowMetric::Cosine => {
            let na = norms[i];
            fill_kernel(
                a,
                xt,
                n,
                row,
                #[inline(always)]
                |s, ak, b| s + ak * b,
                #[inline(always)]
                |j, s| (1.0 - s / (na * norms[j])).clamp(0.0, 2.0),
            )
        }
    }
}

#[inline(always)]
fn fill_kernel(
    a: &[f64],
    xt: &[f64],
    n: usize,
    row: &mut [MaybeUninit<f64>],
    step: impl Fn(f64, f64, f64) -> f64,
    finish: impl Fn(usize, f64) -> f64,
) {
    let full = n / FILL_W * FILL_W;
    let mut j0 = 0;
    while j0 < full {
        let mut acc = [0.0f64; FILL_W];
        for (k, &ak) in a.iter().enumerate() {
            let col: &[f64; FILL_W] = xt[k * n + j0..k * n + j0 + FILL_W]
                .try_into()
                .expect("block of FILL_W");
            for q in 0..FILL_W {
                acc[q] = step(acc[q], ak, col[q]);
            }
        }
        for q in 0..FILL_W {
            row[j0 + q].write(finish(j0 + q, acc[q]));
        }
        j0 += FILL_W;
    }
    for j in full..n {
        let mut s = 0.0;
        for (k, &ak) in a.iter().enumerate() {
            s = step(s, ak, xt[k * n + j]);
        }
        row[j].write(finish(j, s));
    }
}

/// Lance–Williams update of complete or average linkage, scipy's argument order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Update {
    Complete,
    Average,
}

/// One merge: position `a` merged into position `b`, with the weights of the average update
/// (`wa = |a|`, `wb = |b|`, `wt = |a| + |b|`, converted exactly as scipy's C ints are).
#[derive(Debug, Clone, Copy)]
struct Entry {
    a: usize,
    b: usize,
    wa: f64,
    wb: f64,
    wt: f64,
}

/// Apply `log` to one row, in order; the merged-away column becomes `+inf`.
///
/// A long replay first reads the row sequentially (one load per cache line), so the
/// scattered updates hit cache instead of waiting on memory one by one.
#[inline]
fn replay(row: &mut [f64], log: &[Entry], upd: Update) {
    if log.len() * 16 > row.len() {
        let mut s = 0.0;
        for c in row.chunks(8) {
            s += c[0];
        }
        std::hint::black_box(s);
    }
    match upd {
        Update::Complete => {
            for e in log {
                let (dx, dy) = (row[e.a], row[e.b]);
                row[e.b] = if dx > dy { dx } else { dy };
                row[e.a] = f64::INFINITY;
            }
        }
        Update::Average => {
            for e in log {
                row[e.b] = (e.wa * row[e.a] + e.wb * row[e.b]) / e.wt;
                row[e.a] = f64::INFINITY;
            }
        }
    }
}

/// A square distance matrix with deferred column updates (see the module docs).
pub(crate) struct LazyMatrix {
    dm: Vec<f64>,
    /// Dimension (number of positions, live or dead).
    m: usize,
    /// By position: how many log entries the row has applied.
    seen: Vec<usize>,
    log: Vec<Entry>,
    upd: Update,
}

impl LazyMatrix {
    /// Take ownership of a full symmetric `n x n` matrix.
    pub(crate) fn new(dm: Vec<f64>, n: usize, linkage: Linkage) -> RmlResult<Self> {
        let upd = match linkage {
            Linkage::Complete => Update::Complete,
            Linkage::Average => Update::Average,
            other => {
                return Err(RmlError::Internal(format!(
                    "the lazy matrix does not handle {other:?} linkage"
                )))
            }
        };
        if dm.len() != n * n {
            return Err(RmlError::Internal("lazy matrix: wrong size".into()));
        }
        let mut dm = dm;
        for i in 0..n {
            dm[i * n + i] = f64::INFINITY;
        }
        Ok(LazyMatrix {
            dm,
            m: n,
            seen: vec![0; n],
            log: Vec::new(),
            upd,
        })
    }

    /// Bring row `p` up to date.
    #[inline]
    pub(crate) fn refresh(&mut self, p: usize) {
        let m = self.m;
        let s = self.seen[p];
        if s < self.log.len() {
            replay(&mut self.dm[p * m..(p + 1) * m], &self.log[s..], self.upd);
            self.seen[p] = self.log.len();
        }
    }

    /// Row `p`, brought up to date.
    #[inline]
    pub(crate) fn row(&mut self, p: usize) -> &[f64] {
        self.refresh(p);
        &self.dm[p * self.m..(p + 1) * self.m]
    }

    /// Merge position `px` (which dies) into position `py > px`, of sizes `nx` and `ny`:
    /// row `py` becomes `f(row_x, row_y)` now, every other row later.
    ///
    /// Entries of dead positions, and the diagonal, hold meaningless values afterwards;
    /// callers never read them.
    pub(crate) fn merge(&mut self, px: usize, py: usize, nx: usize, ny: usize) {
        debug_assert!(px < py);
        self.refresh(px);
        self.refresh(py);
        let m = self.m;
        let (head, tail) = self.dm.split_at_mut(py * m);
        let rx: &[f64] = &head[px * m..(px + 1) * m];
        let ry = &mut tail[..m];
        let e = Entry {
            a: px,
            b: py,
            wa: nx as f64,
            wb: ny as f64,
            wt: (nx + ny) as f64,
        };
        match self.upd {
            Update::Complete => {
                for (y, &x) in ry.iter_mut().zip(rx) {
                    *y = if x > *y { x } else { *y };
                }
            }
            Update::Average => {
                for (y, &x) in ry.iter_mut().zip(rx) {
                    *y = (e.wa * x + e.wb * *y) / e.wt;
                }
            }
        }
        self.log.push(e);
        self.seen[py] = self.log.len();
    }

    /// Keep only the positions `live` (increasing): replay every live row (in parallel),
    /// then move the live submatrix to the front, in place.
    pub(crate) fn compact(&mut self, live: &[usize], cancel: &Cancel) -> RmlResult<()> {
        let m = self.m;
        let (log, seen, upd) = (&self.log, &self.seen, self.upd);
        let mut is_live = vec![false; m];
        for &p in live {
            is_live[p] = true;
        }
        self.dm
            .par_chunks_mut(m)
            .enumerate()
            .with_min_len(32)
            .for_each(|(p, row)| {
                if is_live[p] && !cancel.is_requested() {
                    replay(row, &log[seen[p]..], upd);
                }
            });
        cancel.check()?;
        let a = live.len();
        // In place is safe: destination index i * a + j never exceeds source pi * m + pj.
        for (i, &pi) in live.iter().enumerate() {
            for (j, &pj) in live.iter().enumerate() {
                self.dm[i * a + j] = self.dm[pi * m + pj];
            }
        }
        self.dm.truncate(a * a);
        self.dm.shrink_to_fit();
        self.m = a;
        self.log.clear();
        self.seen.clear();
        self.seen.resize(a, 0);
        Ok(())
    }

    /// Current value at `(p, q)` after replaying row `p` (tests).
    #[cfg(test)]
    pub(crate) fn get(&mut self, p: usize, q: usize) -> f64 {
        self.row(p)[q]
    }
}

/// Complete or average linkage by a nearest-neighbour chain over the full matrix `dm`
/// (consumed), with scipy's tie rules and Lance–Williams updates.
pub(crate) fn generic(
    dm: Vec<f64>,
    n: usize,
    linkage: Linkage,
    cancel: &Cancel,
) -> RmlResult<Vec<Merge>> {
    let mut mat = LazyMatrix::new(dm, n, linkage)?;
    let mut size: Vec<usize> = vec![1; n]; // by position; 0 = merged away
    let mut ids: Vec<usize> = (0..n).collect(); // position -> slot (increasing)
    let mut pos: Vec<usize> = (0..n).collect(); // slot -> position
    let mut n_active = n;
    let mut chain: Vec<usize> = Vec::with_capacity(n); // slots
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    for _ in 0..n.saturating_sub(1) {
        cancel.check()?;
        let m = mat.m;
        if n_active * COMPACT_DEN <= m * COMPACT_NUM && m > 64 {
            let live: Vec<usize> = (0..m).filter(|&p| size[p] > 0).collect();
            mat.compact(&live, cancel)?;
            ids = live.iter().map(|&p| ids[p]).collect();
            size = live.iter().map(|&p| size[p]).collect();
            for (p, &sl) in ids.iter().enumerate() {
                pos[sl] = p;
            }
        }
        let m = mat.m;
        if chain.is_empty() {
            let first = (0..m)
                .find(|&p| size[p] > 0)
                .map(|p| ids[p])
                .ok_or_else(|| RmlError::Internal("chain: no active cluster".into()))?;
            chain.push(first);
        }
        let (x, y, cur) = loop {
            let x = *chain.last().expect("chain is not empty");
            let px = pos[x];
            let prev = if chain.len() > 1 {
                Some(chain[chain.len() - 2])
            } else {
                None
            };
            let row: &[f64] = mat.row(px);
            let (size_r, ids_r) = (&size, &ids);
            let best = scan_min_range(m, |lo, hi| {
                // Fast path: dead columns and the diagonal hold +inf, so a plain minimum over
                // the range, first position on ties, is the answer whenever it is a positive
                // finite value and the range has no NaN. Otherwise (zero or negative distances
                // tell -0.0 from +0.0 under total_cmp; infinities; NaN) the exact scan below.
                if let Some((v, p)) = fast_min(&row[lo..hi]) {
                    return (v, ids_r[lo + p]);
                }
                let mut best = (f64::INFINITY, usize::MAX);
                for (p, &v) in row[lo..hi].iter().enumerate() {
                    if v <= best.0 || v.is_nan() {
                        let p = lo + p;
                        if size_r[p] > 0 && p != px {
                            best = better(best, (v, ids_r[p]));
                        }
                    }
                }
                best
            });
            let (y, cur) = match prev {
                Some(pv) => {
                    let dprev = row[pos[pv]];
                    if best.0 < dprev {
                        (best.1, best.0)
                    } else {
                        (pv, dprev)
                    }
                }
                None => (best.1, best.0),
            };
            if y == usize::MAX {
                return Err(RmlError::Internal("chain found no neighbour".into()));
            }
            if prev == Some(y) {
                break (x, y, cur);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        let (x, y) = if x < y { (x, y) } else { (y, x) };
        merges.push(Merge {
            a: x,
            b: y,
            dist: cur,
        });
        let (px, py) = (pos[x], pos[y]);
        let (nx, ny) = (size[px], size[py]);
        size[px] = 0;
        size[py] = nx + ny;
        n_active -= 1;
        mat.merge(px, py, nx, ny);
    }
    Ok(merges)
}

/// Smallest value of `v` and its first position, if that value is positive and finite and
/// `v` holds no NaN; `None` otherwise (the caller then runs the exact scan).
#[inline]
fn fast_min(v: &[f64]) -> Option<(f64, usize)> {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: AVX2 was detected on this CPU.
        return unsafe { fast_min_avx2(v) };
    }
    fast_min_impl(v)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fast_min_avx2(v: &[f64]) -> Option<(f64, usize)> {
    fast_min_impl(v)
}

#[inline(always)]
fn fast_min_impl(v: &[f64]) -> Option<(f64, usize)> {
    const L: usize = 8;
    const BLOCK: usize = 256;
    let mut m = f64::INFINITY;
    let mut m_block = 0; // first block whose minimum is m
    let mut any_nan = false;
    for (b, blk) in v.chunks(BLOCK).enumerate() {
        let mut acc = [f64::INFINITY; L];
        let mut nan = [false; L];
        let mut chunks = blk.chunks_exact(L);
        for c in &mut chunks {
            for q in 0..L {
                let x = c[q];
                acc[q] = if x < acc[q] { x } else { acc[q] };
                nan[q] |= x.is_nan();
            }
        }
        let mut bm = f64::INFINITY;
        for q in 0..L {
            bm = if acc[q] < bm { acc[q] } else { bm };
            any_nan |= nan[q];
        }
        for &x in chunks.remainder() {
            bm = if x < bm { x } else { bm };
            any_nan |= x.is_nan();
        }
        if bm < m {
            m = bm;
            m_block = b;
        }
    }
    if any_nan || !(m > 0.0 && m < f64::INFINITY) {
        return None;
    }
    let lo = m_block * BLOCK;
    let p = v[lo..].iter().position(|&x| x == m)?;
    Some((m, lo + p))
}

/// Minimum over `0..len` of per-range minima `f(lo, hi)`, parallel over fixed blocks.
fn scan_min_range(len: usize, f: impl Fn(usize, usize) -> (f64, usize) + Sync) -> (f64, usize) {
    if len < 2 * PAR_ROWS {
        f(0, len)
    } else {
        (0..len.div_ceil(PAR_ROWS))
            .into_par_iter()
            .map(|b| f(b * PAR_ROWS, ((b + 1) * PAR_ROWS).min(len)))
            .reduce(|| (f64::INFINITY, usize::MAX), better)
    }
}
