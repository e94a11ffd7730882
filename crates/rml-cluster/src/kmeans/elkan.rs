//! Elkan's K-means loop with triangle-inequality bounds: scikit-learn's
//! `_kmeans_single_elkan`, `init_bounds_dense` and `elkan_iter_chunked_dense`, step for step.
//!
//! Memory: one upper bound per sample and `k` lower bounds per sample (`n k` values of the
//! input dtype, as scikit-learn), plus one `u32` per sample and a short log of centre shifts
//! (see "Lazy lower bounds"). Elkan computes exact distances (no GEMM), so it wins when the
//! bounds prune most distance computations (few, well separated clusters).
//!
//! ## Lazy lower bounds
//! After every M-step scikit-learn updates all `n k` lower bounds
//! (`l = l - shift[j]; if l < 0: l = 0`), a full pass over `n k` values per iteration that
//! dominates the run time when the bounds prune well. A sample's lower bounds are only read
//! when its first test fails (`upper > distance_next_center[label]`), so here the shifts are
//! kept in a log (`k` values per iteration) and every sample remembers how many log entries
//! its lower bounds have absorbed (`stamp`). Just before a sample's lower bounds are read, the
//! missing entries are applied one iteration at a time with exactly the eager arithmetic, so
//! the values read are bitwise those of the eager update and every label, centre, inertia and
//! iteration count is unchanged. A sample whose first test succeeds touches neither its lower
//! bounds nor its stamp. The log is bounded: once it holds [`LOG_CAP`] entries, the next pass
//! brings every sample up to date (an eager pass) and the log restarts empty.
//!
//! One pass over the samples per iteration: the bounds tests, the rare distance work, the
//! per-centre sums (fixed block order) and whether any label changed (which replaces
//! scikit-learn's `labels == labels_old` comparison and copy). The final E-step (when the
//! run did not converge strictly) also sums the inertia.

use super::{
    finish_centers, for_blocks_ordered, prefetch_row, sq_dist_unrolled, CenterSums, KMeansRun, BLOCK_ROWS,
};
use crate::kmeans::lloyd::{converged, py_float};
use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlResult};

/// Entries of the shift log after which a pass updates every sample's lower bounds (eagerly)
/// and the log restarts: bounds the log to `LOG_CAP · k` values and the replay of one sample
/// to `LOG_CAP · k` subtractions, at the cost of one eager pass per `LOG_CAP` iterations.
const LOG_CAP: usize = 64;
/// Rows whose labels are found before their per-centre sums are added (still in L1).
/// (A power of two.)
const SUB_ROWS: usize = 128;
/// About how many cache lines [`elkan_block`] keeps in flight when it prefetches the lower
/// bounds and features of the rows it will read.
const PREFETCH_LINES: usize = 24;

#[inline(always)]
fn dist<F: Float>(a: &[F], b: &[F]) -> F {
    sq_dist_unrolled(a, b).sqrt()
}

/// `euclidean_distances(centers) / 2` as scikit-learn computes it (`||a||² - 2 a·b + ||b||²`,
/// clipped at 0, zero diagonal, square root; float32 upcast to float64 first), and the
/// distance of every centre to its nearest other centre (`np.partition(..., kth=1)[1]`).
pub fn center_half_distances<F: Float>(centers: ArrayView2<F>) -> (Array2<F>, Vec<F>) {
    let k = centers.nrows();
    let c: Array2<f64> = centers.mapv(|v| v.as_f64());
    let norms: Vec<f64> = c.rows().into_iter().map(|r| r.iter().map(|v| v * v).sum()).collect();
    let mut half = Array2::<F>::zeros((k, k));
    for i in 0..k {
        for j in 0..k {
            if i == j {
                continue;
            }
            let dot: f64 = c.row(i).iter().zip(c.row(j)).map(|(a, b)| a * b).sum();
            let d2 = (-2.0 * dot + norms[i]) + norms[j];
            let dd = F::from_f64(d2.max(0.0).sqrt());
            half[[i, j]] = dd / F::from_f64(2.0);
        }
    }
    let mut next = vec![F::zero(); k];
    if k >= 2 {
        for j in 0..k {
            let mut col: Vec<F> = (0..k).map(|i| half[[i, j]]).collect();
            col.select_nth_unstable_by(1, |a, b| a.as_f64().total_cmp(&b.as_f64()));
            next[j] = col[1];
        }
    } else if k == 1 {
        next[0] = half[[0, 0]];
    }
    (half, next)
}

struct Bounds<F> {
    labels: Vec<i32>,
    upper: Vec<F>,
    lower: Vec<F>,
    /// Per sample: how many entries of the shift log its lower bounds have absorbed.
    stamp: Vec<u32>,
}

fn init_bounds<F: Float>(
    xs: &[F],
    d: usize,
    centers: &[F],
    k: usize,
    half: &Array2<F>,
    b: &mut Bounds<F>,
) {
    let hs = half.as_slice().expect("standard layout");
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    let ct = if k * d <= ALL_DISTS_MAX { Some(transpose_blocks(centers, k, d)) } else { None };
    let ct = ct.as_deref();
    b.labels
        .par_chunks_mut(BLOCK_ROWS)
        .zip(b.upper.par_chunks_mut(BLOCK_ROWS))
        .zip(b.lower.par_chunks_mut(BLOCK_ROWS * k))
        .enumerate()
        .for_each(|(bi, ((lab, up), low))| {
            let start = bi * BLOCK_ROWS;
            let xb = &xs[start * d..(start + lab.len()) * d];
            #[cfg(target_arch = "x86_64")]
            {
                if avx2 {
                    // SAFETY: AVX2 was detected at run time.
                    unsafe { init_block_avx2(xb, d, centers, ct, k, hs, lab, up, low) };
                    return;
                }
            }
            init_block(xb, d, centers, ct, k, hs, lab, up, low);
        });
}

/// scikit-learn's `init_bounds_dense` for a block of rows.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn init_block<F: Float>(
    xs: &[F],
    d: usize,
    centers: &[F],
    ct: Option<&[F]>,
    k: usize,
    hs: &[F],
    labels: &mut [i32],
    upper: &mut [F],
    lower: &mut [F],
) {
    let mut all = vec![F::zero(); k.div_ceil(LANES) * LANES];
    for (i, ((lab, up), low)) in labels.iter_mut().zip(upper.iter_mut()).zip(lower.chunks_mut(k)).enumerate() {
        let x = &xs[i * d..(i + 1) * d];
        // With few centres all k distances are computed at once, centres in SIMD lanes (each
        // lane in `sq_dist_unrolled`'s order, so the same values); the pruned loop then only
        // reads them.
        if let Some(ct) = ct {
            all_dists(x, ct, d, &mut all);
        }
        let dist_to = |j: usize| -> F {
            if ct.is_some() {
                all[j]
            } else {
                dist(x, &centers[j * d..(j + 1) * d])
            }
        };
        let mut best = 0usize;
        let mut min_dist = dist_to(0);
        low[0] = min_dist;
        for j in 1..k {
            if min_dist > hs[best * k + j] {
                let dd = dist_to(j);
                low[j] = dd;
                if dd < min_dist {
                    min_dist = dd;
                    best = j;
                }
            }
        }
        *lab = best as i32;
        *up = min_dist;
    }
}

/// [`init_block`] compiled for AVX2 (no FMA: the same arithmetic).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx2")]
unsafe fn init_block_avx2<F: Float>(
    xs: &[F],
    d: usize,
    centers: &[F],
    ct: Option<&[F]>,
    k: usize,
    hs: &[F],
    labels: &mut [i32],
    upper: &mut [F],
    lower: &mut [F],
) {
    init_block(xs, d, centers, ct, k, hs, labels, upper, lower)
}


/// Centres per lane block of [`all_dists`].
const LANES: usize = 8;
/// Up to this `k · d` the initial bounds use [`all_dists`].
const ALL_DISTS_MAX: usize = 4096;

/// Centres as blocks of [`LANES`] centres, each `d × LANES` (feature-major), zero padded.
fn transpose_blocks<F: Float>(centers: &[F], k: usize, d: usize) -> Vec<F> {
    let nb = k.div_ceil(LANES);
    let mut t = vec![F::zero(); nb * d * LANES];
    for j in 0..k {
        for f in 0..d {
            t[(j / LANES) * d * LANES + f * LANES + j % LANES] = centers[j * d + f];
        }
    }
    t
}

/// `sqrt(sq_dist_unrolled(x, c_j))` for every centre (and the padding lanes), each lane
/// summed in exactly `sq_dist_unrolled`'s order (groups of four, then the remainder).
#[inline(always)]
fn all_dists<F: Float>(x: &[F], ct: &[F], d: usize, out: &mut [F]) {
    let full = d / 4 * 4;
    for (blk, o) in ct.chunks_exact(d * LANES).zip(out.chunks_exact_mut(LANES)) {
        let mut acc = [F::zero(); LANES];
        let mut f = 0;
        while f < full {
            let mut t = [F::zero(); LANES];
            for q in 0..4 {
                let c = &blk[(f + q) * LANES..(f + q + 1) * LANES];
                let xv = x[f + q];
                for l in 0..LANES {
                    let a = xv - c[l];
                    t[l] = if q == 0 { a * a } else { t[l] + a * a };
                }
            }
            for l in 0..LANES {
                acc[l] = acc[l] + t[l];
            }
            f += 4;
        }
        while f < d {
            let c = &blk[f * LANES..(f + 1) * LANES];
            for l in 0..LANES {
                let a = x[f] - c[l];
                acc[l] = acc[l] + a * a;
            }
            f += 1;
        }
        for l in 0..LANES {
            o[l] = acc[l].sqrt();
        }
    }
}

/// The centre shifts of the M-steps since the last time every sample's lower bounds were
/// brought up to date: entry `e` is `shifts[e k..(e + 1) k]`.
struct ShiftLog<F> {
    k: usize,
    shifts: Vec<F>,
}

impl<F: Float> ShiftLog<F> {
    fn len(&self) -> usize {
        self.shifts.len() / self.k.max(1)
    }
}

/// Apply one shift-log entry to one sample's lower bounds with scikit-learn's eager update
/// (`l = l - s; if l < 0: l = 0`); applying the missing entries oldest first gives bitwise
/// the eagerly updated bounds.
#[inline(always)]
fn replay<F: Float>(low: &mut [F], shift: &[F]) {
    for (lj, &sj) in low.iter_mut().zip(shift) {
        let mut l = *lj - sj;
        if l < F::zero() {
            l = F::zero();
        }
        *lj = l;
    }
}

/// What one block of rows of an Elkan pass reads.
struct Block<'a, F> {
    xs: &'a [F],
    sw: &'a [F],
    d: usize,
    centers: &'a [F],
    k: usize,
    hs: &'a [F],
    next: &'a [F],
    /// The shift log (all its entries); its last entry is the shift of the previous M-step,
    /// not yet added to the upper bounds.
    log: &'a [F],
    /// Bring every row's lower bounds up to date and reset its stamp (the log restarts after
    /// this pass).
    flush: bool,
    /// Index of the block's first row.
    start: usize,
}

/// What one block of an Elkan pass produces.
struct BlockOut {
    sums: Option<CenterSums>,
    /// Whether any label changed in this pass.
    changed: bool,
    /// `Σ w ||x - c_label||²` of the block's rows (in row order, `f64`), if requested.
    inertia: f64,
}

/// Per-row state of one block: labels, upper bounds, lower bounds (`k` per row), stamps.
type Rows<'a, F> = (&'a mut [i32], &'a mut [F], &'a mut [F], &'a mut [u32]);

/// The Elkan E-step for one block of rows: scikit-learn's `update_chunk`, preceded by the
/// bound update of the previous M-step (eager for the upper bound, lazy for the lower bounds
/// as the module documentation describes).
///
/// Rows go in sub-blocks of [`SUB_ROWS`]: first the upper-bound update and the first test of
/// every row (which rows are "near"), then the near rows only (their lower bounds brought up
/// to date and prefetched a few rows ahead), then the per-centre sums in row order. Rows are
/// independent in the E-step, so this order changes no value.
///
/// Before the exact per-centre loop, one branch-free pass over the `k` lower bounds tells
/// whether *any* centre passes the loop's first test (`j != label && ub > low[j] &&
/// ub > half[label, j]`; `b.hs` has an infinite diagonal for `j != label`) with the row's
/// initial state; if none does, the loop would change
/// nothing and is skipped. Otherwise the loop runs exactly as scikit-learn's, so labels and
/// bounds are bit-identical.
#[inline(always)]
fn elkan_block<F: Float>(b: &Block<'_, F>, rows: Rows<'_, F>, update: bool, with_inertia: bool) -> RmlResult<BlockOut> {
    let (labels, upper, lower, stamp) = rows;
    let (d, k, xs, centers, hs) = (b.d, b.k, b.xs, b.centers, b.hs);
    let m = b.log.len() / k;
    let pending = if m > 0 { Some(&b.log[(m - 1) * k..]) } else { None };
    let mut sums = if update { Some(CenterSums::zeros(k, d)?) } else { None };
    let mut changed = false;
    let mut inertia = 0.0f64;
    let nrows = labels.len();
    // Rows prefetched ahead: about PREFETCH_LINES cache lines in flight.
    let row_lines = (k + d) * std::mem::size_of::<F>() / 64 + 2;
    let ahead = (PREFETCH_LINES / row_lines).max(1);
    // Rows (of the current sub-block) whose first test fails: only they read their bounds.
    let mut near = [0u32; SUB_ROWS];
    let mut s0 = 0;
    while s0 < nrows {
        let s1 = (s0 + SUB_ROWS).min(nrows);
        // Phase 1: the upper-bound update and the first test, in row order.
        let lab = &labels[s0..s1];
        let up = &mut upper[s0..s1];
        let mut cnt = 0;
        match pending {
            Some(sh) => {
                for (r, (&l, u)) in lab.iter().zip(up.iter_mut()).enumerate() {
                    let l = l as usize;
                    let ub = *u + sh[l];
                    *u = ub;
                    // `cnt <= r < SUB_ROWS`: the mask only spares a bounds check.
                    near[cnt & (SUB_ROWS - 1)] = (s0 + r) as u32;
                    let far = b.next[l] >= ub;
                    cnt += usize::from(!far);
                }
            }
            None => {
                for (r, (&l, &ub)) in lab.iter().zip(up.iter()).enumerate() {
                    near[cnt & (SUB_ROWS - 1)] = (s0 + r) as u32;
                    let far = b.next[l as usize] >= ub;
                    cnt += usize::from(!far);
                }
            }
        }
        if b.flush {
            // The eager catch-up: every row, in order (a streaming pass).
            for r in s0..s1 {
                let low = &mut lower[r * k..(r + 1) * k];
                for e in stamp[r] as usize..m {
                    replay(low, &b.log[e * k..(e + 1) * k]);
                }
                stamp[r] = 0;
            }
        }
        // Phase 2: the rows whose bounds are read, their lower bounds prefetched a few rows
        // ahead (they are scattered, so the hardware prefetcher does not see them coming).
        let prefetch = |lower: &[F], r: usize| {
            prefetch_row(&lower[r * k..(r + 1) * k]);
            prefetch_row(&xs[(b.start + r) * d..(b.start + r + 1) * d]);
        };
        for &r in &near[..cnt.min(ahead)] {
            prefetch(lower, r as usize);
        }
        for q in 0..cnt {
            if q + ahead < cnt {
                prefetch(lower, near[q + ahead] as usize);
            }
            let r = near[q] as usize;
            let i = b.start + r;
            let x = &xs[i * d..(i + 1) * d];
            let low = &mut lower[r * k..(r + 1) * k];
            let old = labels[r] as usize;
            let mut label = old;
            let mut ub = upper[r];
            let hrow = &hs[label * k..(label + 1) * k];
            let st = if b.flush { m } else { stamp[r] as usize };
            if !b.flush {
                stamp[r] = m as u32;
            }
            let mut any = false;
            if st + 1 == m {
                // The common case (a row read every iteration): the last entry's update and
                // the test in one pass over the bounds.
                let sh = &b.log[st * k..m * k];
                for ((lj, &sj), &hj) in low.iter_mut().zip(sh).zip(hrow) {
                    let mut l = *lj - sj;
                    if l < F::zero() {
                        l = F::zero();
                    }
                    *lj = l;
                    any |= (ub > l) & (ub > hj);
                }
            } else {
                for e in st..m {
                    replay(low, &b.log[e * k..(e + 1) * k]);
                }
                for (&l, &hj) in low.iter().zip(hrow) {
                    any |= (ub > l) & (ub > hj);
                }
            }
            if any {
                let mut tight = false;
                for j in 0..k {
                    // (`j != label` is in `hs`'s infinite diagonal.)
                    if ub > low[j] && ub > hs[label * k + j] {
                        if !tight {
                            ub = dist(x, &centers[label * d..(label + 1) * d]);
                            low[label] = ub;
                            tight = true;
                        }
                        if ub > low[j] || ub > hs[label * k + j] {
                            let dd = dist(x, &centers[j * d..(j + 1) * d]);
                            low[j] = dd;
                            if dd < ub {
                                label = j;
                                ub = dd;
                            }
                        }
                    }
                }
                upper[r] = ub;
                if label != old {
                    labels[r] = label as i32;
                    changed = true;
                }
            }
        }
        // Phase 3: sums (and inertia) in row order.
        let (i0, i1) = (b.start + s0, b.start + s1);
        if let Some(s) = sums.as_mut() {
            s.accumulate(&xs[i0 * d..i1 * d], &labels[s0..s1], &b.sw[i0..i1]);
        }
        if with_inertia {
            let rows = xs[i0 * d..i1 * d].chunks_exact(d.max(1));
            for ((x, &l), &w) in rows.zip(&labels[s0..s1]).zip(&b.sw[i0..i1]) {
                let label = l as usize;
                let c = &centers[label * d..(label + 1) * d];
                inertia += (sq_dist_unrolled(x, c) * w).as_f64();
            }
        }
        s0 = s1;
    }
    Ok(BlockOut { sums, changed, inertia })
}

/// [`elkan_block`] compiled for AVX2 (wider vectors for the bound loops; no FMA, so the
/// arithmetic is the same).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn elkan_block_avx2<F: Float>(
    b: &Block<'_, F>,
    rows: Rows<'_, F>,
    update: bool,
    with_inertia: bool,
) -> RmlResult<BlockOut> {
    elkan_block(b, rows, update, with_inertia)
}

/// What one Elkan pass returns: the weighted sums (if `update`), whether any label changed,
/// and the inertia of the new labels w.r.t. `centers` (if `with_inertia`; the same per-block,
/// fixed-order sums as [`super::inertia`], so the same value).
struct PassOut {
    sums: Option<CenterSums>,
    changed: bool,
    inertia: f64,
}

/// The constant inputs of the Elkan passes of one run.
struct Inputs<'a, F> {
    xs: &'a [F],
    sw: &'a [F],
    d: usize,
    k: usize,
}

/// One Elkan pass (E-step with bounds) and, if `update`, the weighted sums. Brings the lower
/// bounds that are read up to date with `log` (every row's if `flush`).
#[allow(clippy::too_many_arguments)]
fn elkan_pass<F: Float>(
    inp: &Inputs<'_, F>,
    centers: &[F],
    half: &Array2<F>,
    next: &[F],
    b: &mut Bounds<F>,
    log: &ShiftLog<F>,
    flush: bool,
    update: bool,
    with_inertia: bool,
    cancel: &Cancel,
) -> RmlResult<PassOut> {
    let (xs, sw, d, k) = (inp.xs, inp.sw, inp.d, inp.k);
    // The half distances with `+inf` on the diagonal: `ub > hs[label, j]` is then false for
    // `j == label`, which is exactly what scikit-learn's `j != label` excludes (the diagonal
    // is read nowhere else), so the tests need no index comparison.
    let mut hs = half.as_slice().expect("standard layout").to_vec();
    for j in 0..k {
        hs[j * k + j] = F::infinity();
    }
    let hs = &hs[..];
    #[cfg(target_arch = "x86_64")]
    let avx2 = std::is_x86_feature_detected!("avx2");
    let mut out = PassOut { sums: if update { Some(CenterSums::zeros(k, d)?) } else { None }, changed: false, inertia: 0.0 };
    let items: Vec<(usize, Rows<'_, F>)> = b
        .labels
        .chunks_mut(BLOCK_ROWS)
        .zip(b.upper.chunks_mut(BLOCK_ROWS))
        .zip(b.lower.chunks_mut(BLOCK_ROWS * k))
        .zip(b.stamp.chunks_mut(BLOCK_ROWS))
        .enumerate()
        .map(|(bi, (((l, u), lo), st))| (bi * BLOCK_ROWS, (l, u, lo, st)))
        .collect();
    let log = &log.shifts[..];
    for_blocks_ordered(
        items,
        cancel,
        |(start, rows)| -> RmlResult<BlockOut> {
            let blk = Block { xs, sw, d, centers, k, hs, next, log, flush, start };
            #[cfg(target_arch = "x86_64")]
            {
                if avx2 {
                    // SAFETY: AVX2 was detected at run time.
                    return unsafe { elkan_block_avx2(&blk, rows, update, with_inertia) };
                }
            }
            elkan_block(&blk, rows, update, with_inertia)
        },
        |o| {
            if let (Some(t), Some(s)) = (out.sums.as_mut(), o.sums.as_ref()) {
                t.add(s);
            }
            out.changed |= o.changed;
            out.inertia += o.inertia;
        },
    )?;
    Ok(out)
}

/// One run of Elkan's algorithm from `centers_init`; same stopping rules, final E-step and
/// inertia as [`super::kmeans_single_lloyd`]. Needs `k >= 2` (scikit-learn switches to Lloyd
/// for one cluster, with a warning; the Python layer does that).
pub fn kmeans_single_elkan<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_init: ArrayView2<F>,
    max_iter: usize,
    tol: f64,
    verbose: bool,
    cancel: &Cancel,
) -> RmlResult<KMeansRun<F>> {
    elkan_run(x, sample_weight, centers_init, max_iter, tol, verbose, LOG_CAP, cancel)
}

/// [`kmeans_single_elkan`] with a given shift-log capacity (tests use small ones to exercise
/// the eager catch-up passes).
#[allow(clippy::too_many_arguments)]
fn elkan_run<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_init: ArrayView2<F>,
    max_iter: usize,
    tol: f64,
    verbose: bool,
    log_cap: usize,
    cancel: &Cancel,
) -> RmlResult<KMeansRun<F>> {
    ensure_param!(max_iter >= 1, "max_iter must be >= 1, got {max_iter}");
    ensure_param!(tol >= 0.0 && tol.is_finite(), "tol must be a finite number >= 0");
    ensure!((1..=u32::MAX as usize).contains(&log_cap), "shift log capacity out of range");
    let (n, d) = x.dim();
    let k = centers_init.nrows();
    ensure!(centers_init.ncols() == d, "centers and X have different numbers of features");
    ensure!(sample_weight.len() == n, "sample_weight has the wrong length");
    ensure!(k >= 1, "at least one centre is required");
    let lower = rml_core::size::try_zeroed_vec::<F>(n, k, "Elkan lower bounds")?;
    let stamp = rml_core::size::try_zeroed_vec::<u32>(n, 1, "Elkan bound stamps")?;
    let x = x.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let sw = sample_weight.to_vec();
    let inp = Inputs { xs, sw: &sw, d, k };
    let mut centers = centers_init.as_standard_layout().to_owned();
    let (mut half, mut next) = center_half_distances(centers.view());
    let mut b = Bounds { labels: vec![-1; n], upper: vec![F::zero(); n], lower, stamp };
    init_bounds(xs, d, centers.as_slice().expect("owned"), k, &half, &mut b);
    let mut strict = false;
    let mut log_lines = Vec::new();
    let mut it = 0;
    // Shifts of the M-steps not yet applied to every sample's lower bounds; the last one is
    // also added to the upper bounds at the start of the next pass.
    let mut log = ShiftLog { k, shifts: Vec::new() };
    for i in 0..max_iter {
        it = i;
        cancel.check()?;
        let flush = log.len() >= log_cap;
        let pass = elkan_pass(&inp, centers.as_slice().expect("owned"), &half, &next, &mut b, &log, flush, true, false, cancel)?;
        let sums = pass.sums.expect("update pass returns sums");
        if flush {
            log.shifts.clear();
        }
        let (centers_new, _w, shift) =
            finish_centers(x.view(), sample_weight, centers.view(), &b.labels, sums)?;
        log.shifts.extend_from_slice(&shift);
        let (h, nx) = center_half_distances(centers_new.view());
        half = h;
        next = nx;
        if verbose {
            let inertia =
                super::inertia(x.view(), sample_weight, centers.view(), &b.labels, None, cancel)?;
            log_lines.push(format!("Iteration {i}, inertia {}", py_float(inertia, F::DTYPE)));
        }
        centers = centers_new;
        // scikit-learn compares `labels` with `labels_old` (all -1 before the first
        // iteration, so they differ at i = 0 unless there are no samples); the pass already
        // knows whether a label changed, which spares an n-element comparison and copy.
        let changed = if i == 0 { n > 0 } else { pass.changed };
        if let Some(is_strict) = converged(i, !changed, &shift, tol, verbose, &mut log_lines) {
            strict = is_strict;
            break;
        }
    }
    let inertia = if strict {
        super::inertia(x.view(), sample_weight, centers.view(), &b.labels, None, cancel)?
    } else {
        let flush = log.len() >= log_cap;
        elkan_pass(&inp, centers.as_slice().expect("owned"), &half, &next, &mut b, &log, flush, false, true, cancel)?
            .inertia
    };
    Ok(KMeansRun { centers, labels: b.labels, inertia, n_iter: it + 1, log: log_lines })
}

/// The previous, eager implementation (every lower bound updated after every M-step), kept
/// as the oracle the lazy one must reproduce bit for bit.
#[cfg(test)]
#[allow(clippy::type_complexity)]
mod eager {
    use super::*;

    /// What one block of rows of an Elkan pass reads.
    struct Block<'a, F> {
        xs: &'a [F],
        sw: &'a [F],
        d: usize,
        centers: &'a [F],
        k: usize,
        hs: &'a [F],
        next: &'a [F],
        shift: Option<&'a [F]>,
        /// Index of the block's first row.
        start: usize,
    }

    /// The Elkan E-step for one block of rows (scikit-learn's `update_chunk`, preceded by the
    /// bound update of the previous M-step when `shift` is set).
    ///
    /// Before the exact per-centre loop, one branch-free pass over the `k` lower bounds (fused
    /// with their update) tells whether *any* centre passes the loop's first test
    /// (`j != label && ub > low[j] && ub > half[label, j]`) with the row's initial state; if none
    /// does, the loop would change nothing and is skipped. Otherwise the loop runs exactly as
    /// scikit-learn's, so labels and bounds are bit-identical.
    #[inline(always)]
    fn elkan_block<F: Float>(
        b: &Block<'_, F>,
        labels: &mut [i32],
        upper: &mut [F],
        lower: &mut [F],
        mut sums: Option<&mut CenterSums>,
    ) {
        let (d, k, xs, centers, hs) = (b.d, b.k, b.xs, b.centers, b.hs);
        for r in 0..labels.len() {
            let i = b.start + r;
            let x = &xs[i * d..(i + 1) * d];
            let low = &mut lower[r * k..(r + 1) * k];
            let mut label = labels[r] as usize;
            let mut ub = upper[r];
            if let Some(sh) = b.shift {
                ub = ub + sh[label];
            }
            let far = b.next[label] >= ub;
            let hrow = &hs[label * k..(label + 1) * k];
            if let Some(sh) = b.shift {
                for (lj, &sj) in low.iter_mut().zip(sh) {
                    let mut l = *lj - sj;
                    if l < F::zero() {
                        l = F::zero();
                    }
                    *lj = l;
                }
            }
            let mut any = false;
            if !far {
                for (j, (&l, &hj)) in low.iter().zip(hrow).enumerate() {
                    any |= (j != label) & (ub > l) & (ub > hj);
                }
            }
            if !far && any {
                let mut tight = false;
                for j in 0..k {
                    if j != label && ub > low[j] && ub > hs[label * k + j] {
                        if !tight {
                            ub = dist(x, &centers[label * d..(label + 1) * d]);
                            low[label] = ub;
                            tight = true;
                        }
                        if ub > low[j] || ub > hs[label * k + j] {
                            let dd = dist(x, &centers[j * d..(j + 1) * d]);
                            low[j] = dd;
                            if dd < ub {
                                label = j;
                                ub = dd;
                            }
                        }
                    }
                }
                labels[r] = label as i32;
            }
            upper[r] = ub;
            if let Some(s) = sums.as_deref_mut() {
                s.push(label, x, b.sw[i]);
            }
        }
    }

    /// [`elkan_block`] compiled for AVX2 (wider vectors for the bound loops; no FMA, so the
    /// arithmetic is the same).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn elkan_block_avx2<F: Float>(
        b: &Block<'_, F>,
        labels: &mut [i32],
        upper: &mut [F],
        lower: &mut [F],
        sums: Option<&mut CenterSums>,
    ) {
        elkan_block(b, labels, upper, lower, sums)
    }

    /// One Elkan pass (E-step with bounds) and, if `update`, the weighted sums.
    #[allow(clippy::too_many_arguments)]
    fn elkan_pass<F: Float>(
        xs: &[F],
        sw: &[F],
        d: usize,
        centers: &[F],
        k: usize,
        half: &Array2<F>,
        next: &[F],
        b: &mut Bounds<F>,
        update: bool,
        shift: Option<&[F]>,
        cancel: &Cancel,
    ) -> RmlResult<Option<CenterSums>> {
        let hs = half.as_slice().expect("standard layout");
        #[cfg(target_arch = "x86_64")]
        let avx2 = std::is_x86_feature_detected!("avx2");
        let mut total = if update { Some(CenterSums::zeros(k, d)?) } else { None };
        let items: Vec<(usize, (&mut [i32], (&mut [F], &mut [F])))> = b
            .labels
            .chunks_mut(BLOCK_ROWS)
            .zip(b.upper.chunks_mut(BLOCK_ROWS).zip(b.lower.chunks_mut(BLOCK_ROWS * k)))
            .enumerate()
            .map(|(bi, t)| (bi * BLOCK_ROWS, t))
            .collect();
        for_blocks_ordered(
            items,
            cancel,
            |(start, (labels, (upper, lower)))| -> RmlResult<Option<CenterSums>> {
                let mut sums = if update { Some(CenterSums::zeros(k, d)?) } else { None };
                let blk = Block { xs, sw, d, centers, k, hs, next, shift, start };
                #[cfg(target_arch = "x86_64")]
                {
                    if avx2 {
                        // SAFETY: AVX2 was detected at run time.
                        unsafe { elkan_block_avx2(&blk, labels, upper, lower, sums.as_mut()) };
                        return Ok(sums);
                    }
                }
                elkan_block(&blk, labels, upper, lower, sums.as_mut());
                Ok(sums)
            },
            |s| {
                if let (Some(t), Some(s)) = (total.as_mut(), s.as_ref()) {
                    t.add(s);
                }
            },
        )?;
        Ok(total)
    }

    /// One run of Elkan's algorithm from `centers_init`; same stopping rules, final E-step and
    /// inertia as [`super::kmeans_single_lloyd`]. Needs `k >= 2` (scikit-learn switches to Lloyd
    /// for one cluster, with a warning; the Python layer does that).
    pub(super) fn kmeans_single_elkan_eager<F: Float>(
        x: ArrayView2<F>,
        sample_weight: ArrayView1<F>,
        centers_init: ArrayView2<F>,
        max_iter: usize,
        tol: f64,
        verbose: bool,
        cancel: &Cancel,
    ) -> RmlResult<KMeansRun<F>> {
        ensure_param!(max_iter >= 1, "max_iter must be >= 1, got {max_iter}");
        ensure_param!(tol >= 0.0 && tol.is_finite(), "tol must be a finite number >= 0");
        let (n, d) = x.dim();
        let k = centers_init.nrows();
        ensure!(centers_init.ncols() == d, "centers and X have different numbers of features");
        ensure!(sample_weight.len() == n, "sample_weight has the wrong length");
        ensure!(k >= 1, "at least one centre is required");
        let lower = rml_core::size::try_zeroed_vec::<F>(n, k, "Elkan lower bounds")?;
        let x = x.as_standard_layout();
        let xs = x.as_slice().expect("standard layout");
        let sw = sample_weight.to_vec();
        let mut centers = centers_init.as_standard_layout().to_owned();
        let (mut half, mut next) = center_half_distances(centers.view());
        let mut b = Bounds { labels: vec![-1; n], upper: vec![F::zero(); n], lower, stamp: Vec::new() };
        init_bounds(xs, d, centers.as_slice().expect("owned"), k, &half, &mut b);
        let mut labels_old = vec![-1i32; n];
        let mut strict = false;
        let mut log = Vec::new();
        let mut it = 0;
        // Centre shifts of the last M-step, applied to the bounds at the start of the next pass.
        let mut pending: Option<Vec<F>> = None;
        for i in 0..max_iter {
            it = i;
            cancel.check()?;
            let sums = elkan_pass(
                xs,
                &sw,
                d,
                centers.as_slice().expect("owned"),
                k,
                &half,
                &next,
                &mut b,
                true,
                pending.as_deref(),
                cancel,
            )?
            .expect("update pass returns sums");
            let (centers_new, _w, shift) =
                finish_centers(x.view(), sample_weight, centers.view(), &b.labels, sums)?;
            pending = Some(shift.clone());
            let (h, nx) = center_half_distances(centers_new.view());
            half = h;
            next = nx;
            if verbose {
                let inertia =
                    crate::kmeans::inertia(x.view(), sample_weight, centers.view(), &b.labels, None, cancel)?;
                log.push(format!("Iteration {i}, inertia {}", py_float(inertia, F::DTYPE)));
            }
            centers = centers_new;
            if let Some(is_strict) = converged(i, b.labels == labels_old, &shift, tol, verbose, &mut log) {
                strict = is_strict;
                break;
            }
            labels_old.copy_from_slice(&b.labels);
        }
        if !strict {
            elkan_pass(
                xs,
                &sw,
                d,
                centers.as_slice().expect("owned"),
                k,
                &half,
                &next,
                &mut b,
                false,
                pending.as_deref(),
                cancel,
            )?;
        }
        let inertia = crate::kmeans::inertia(x.view(), sample_weight, centers.view(), &b.labels, None, cancel)?;
        Ok(KMeansRun { centers, labels: b.labels, inertia, n_iter: it + 1, log })
    }

}

#[cfg(test)]
mod elkan_tests {
    use super::*;
    use ndarray::Array1;
    use rml_core::threads;

    /// Blobs: `n` rows around `c` random centres in `[-10, 10]^d` with uniform noise of half
    /// width `spread`; every `dup`-th row repeats the previous one (duplicates).
    fn blobs(n: usize, d: usize, c: usize, spread: f64, dup: usize, seed: u64) -> Array2<f64> {
        let mut s = seed.wrapping_mul(0x9E3779B97F4A7C15).wrapping_add(1);
        let mut rnd = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let cen: Vec<f64> = (0..c * d).map(|_| rnd() * 20.0 - 10.0).collect();
        let mut x = Array2::<f64>::zeros((n, d));
        for i in 0..n {
            if dup > 0 && i > 0 && i % dup == 0 {
                let prev = x.row(i - 1).to_owned();
                x.row_mut(i).assign(&prev);
                continue;
            }
            let j = (rnd() * c as f64) as usize % c;
            for f in 0..d {
                x[[i, f]] = cen[j * d + f] + (rnd() - 0.5) * 2.0 * spread;
            }
        }
        x
    }

    fn bits<F: Float>(a: &Array2<F>) -> Vec<u64> {
        a.iter().map(|v| v.as_f64().to_bits()).collect()
    }

    /// The lazy run (default log capacity and small ones that force catch-up passes) equals
    /// the eager oracle bit for bit, for 1 and 2 threads.
    fn check_case<F: Float>(x: &Array2<F>, w: &Array1<F>, init: &Array2<F>, max_iter: usize, tol: f64, what: &str) -> usize {
        let run = |t: usize, cap: Option<usize>| {
            threads::pool(t).unwrap().install(|| match cap {
                None => eager::kmeans_single_elkan_eager(x.view(), w.view(), init.view(), max_iter, tol, true, &Cancel::new()).unwrap(),
                Some(cap) => elkan_run(x.view(), w.view(), init.view(), max_iter, tol, true, cap, &Cancel::new()).unwrap(),
            })
        };
        let want = run(1, None);
        for t in [1usize, 2] {
            for cap in [LOG_CAP, 1, 2, 3] {
                let got = run(t, Some(cap));
                let ctx = format!("{what} {} threads={t} cap={cap}", F::DTYPE);
                assert_eq!(got.labels, want.labels, "{ctx}: labels");
                assert_eq!(bits(&got.centers), bits(&want.centers), "{ctx}: centres");
                assert_eq!(got.inertia.to_bits(), want.inertia.to_bits(), "{ctx}: inertia");
                assert_eq!(got.n_iter, want.n_iter, "{ctx}: n_iter");
                assert_eq!(got.log, want.log, "{ctx}: verbose log");
            }
        }
        want.n_iter
    }

    fn check_both(x: &Array2<f64>, w: &Array1<f64>, init: &Array2<f64>, max_iter: usize, tol: f64, what: &str) -> usize {
        let it = check_case(x, w, init, max_iter, tol, what);
        check_case(&x.mapv(|v| v as f32), &w.mapv(|v| v as f32), &init.mapv(|v| v as f32), max_iter, tol, what);
        it
    }

    fn first_rows(x: &Array2<f64>, k: usize, step: usize) -> Array2<f64> {
        Array2::from_shape_fn((k, x.ncols()), |(j, f)| x[[(j * step) % x.nrows(), f]])
    }

    #[test]
    fn lazy_bounds_equal_eager_on_blobs() {
        let mut long_runs = 0;
        // (n, d, true clusters, k, spread): separated and overlapping, d = 1 and around the
        // unroll width, k = 1, 2 and around the lane width; n over two blocks for some.
        for &(n, d, c, k, spread) in &[
            (3000usize, 2usize, 8usize, 8usize, 0.3f64),
            (3000, 2, 8, 8, 6.0),
            (9000, 8, 16, 16, 0.5),
            (9000, 3, 5, 9, 8.0),
            (2000, 1, 4, 5, 3.0),
            (2000, 1, 3, 2, 0.5),
            (1500, 13, 6, 17, 5.0),
            (1500, 5, 3, 1, 2.0),
        ] {
            let x = blobs(n, d, c, spread, 0, (n + d * 31 + k) as u64);
            let w = Array1::<f64>::ones(n);
            let init = first_rows(&x, k, 7);
            let what = format!("n={n} d={d} k={k} spread={spread}");
            let it = check_both(&x, &w, &init, 80, 0.0, &what);
            long_runs += (it >= 10) as usize;
            // A tolerance stop (not strict) runs the final E-step.
            check_both(&x, &w, &init, 80, 1e-3, &format!("{what} tol"));
            // max_iter reached before convergence.
            check_both(&x, &w, &init, 3, 0.0, &format!("{what} max_iter=3"));
        }
        // Make sure the oracle comparison covered long runs (lazy replays of many entries).
        assert!(long_runs >= 3, "only {long_runs} cases ran 10+ iterations");
    }

    #[test]
    fn lazy_bounds_equal_eager_with_relocation_and_zero_weights() {
        // k > distinct points: 40 rows, 5 distinct values (duplicates), 8 centres, so
        // clusters empty out and are relocated.
        let base = blobs(5, 2, 5, 3.0, 0, 3);
        let x = Array2::from_shape_fn((40, 2), |(i, f)| base[[(i * 3) % 5, f]]);
        let w = Array1::<f64>::ones(40);
        let init = Array2::from_shape_fn((8, 2), |(j, f)| base[[j % 5, f]] + 0.01 * j as f64);
        check_both(&x, &w, &init, 50, 0.0, "k > distinct points");
        // Duplicated rows and initial centres far from all data (empty clusters in the
        // first iterations).
        let x = blobs(4000, 3, 6, 1.0, 3, 17);
        let mut init = first_rows(&x, 10, 11);
        for f in 0..3 {
            init[[8, f]] = 1e3;
            init[[9, f]] = -1e3;
        }
        check_both(&x, &Array1::ones(4000), &init, 60, 0.0, "far centres + duplicates");
        // Sample weights with zeros (and a cluster whose rows all weigh zero).
        let x = blobs(5000, 2, 7, 2.0, 0, 23);
        let w = Array1::from_shape_fn(5000, |i| match i % 5 {
            0 => 0.0,
            1 => 2.5,
            _ => 1.0,
        });
        let mut init = first_rows(&x, 9, 13);
        for f in 0..2 {
            init[[0, f]] = x[[0, f]];
        }
        check_both(&x, &w, &init, 60, 0.0, "zero weights");
    }

    /// Many small random problems (where a single sample changing label decides strict
    /// convergence, and clusters often empty out).
    #[test]
    fn lazy_bounds_equal_eager_on_many_small_problems() {
        for seed in 0..150u64 {
            let n = 8 + (seed as usize * 7) % 50;
            let d = 1 + (seed as usize) % 3;
            let k = 2 + (seed as usize / 3) % 5;
            let x = blobs(n, d, 1 + (seed as usize) % 4, 1.0 + (seed % 5) as f64, (seed % 4) as usize * 3, seed);
            let w = Array1::from_shape_fn(n, |i| if (i + seed as usize).is_multiple_of(9) { 0.0 } else { 1.0 });
            let init = first_rows(&x, k, 1 + (seed as usize) % 5);
            check_both(&x, &w, &init, 40, 0.0, &format!("seed={seed} n={n} d={d} k={k}"));
        }
    }

    /// Timing harness, not a test: `RML_ELKAN="prefix d k iters reps f64|f32 threads"` with
    /// `prefix_X.f64` / `prefix_C.f64` raw little-endian float64 files (X and init), e.g.
    /// `RML_ELKAN="/tmp/sep2 2 8 30 3 f64 1" cargo test --release -p rml-cluster --lib
    /// elkan_timing -- --ignored --nocapture`; `RML_ELKAN_ONLY=lazy|eager|lloyd|lazy1|eager1|
    /// lloyd1` times one variant (for `perf stat`).
    #[test]
    #[ignore]
    fn elkan_timing() {
        let spec = std::env::var("RML_ELKAN").expect("RML_ELKAN");
        let v: Vec<&str> = spec.split_whitespace().collect();
        let (d, k, iters, reps): (usize, usize, usize, usize) =
            (v[1].parse().unwrap(), v[2].parse().unwrap(), v[3].parse().unwrap(), v[4].parse().unwrap());
        let t: usize = v[6].parse().unwrap();
        let read = |p: String| -> Vec<f64> {
            std::fs::read(p).unwrap().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect()
        };
        let xv = read(format!("{}_X.f64", v[0]));
        let n = xv.len() / d;
        let x = Array2::from_shape_vec((n, d), xv).unwrap();
        let c = Array2::from_shape_vec((k, d), read(format!("{}_C.f64", v[0]))).unwrap();
        fn go<F: Float>(x: Array2<F>, c: Array2<F>, iters: usize, reps: usize, t: usize) {
            let w = Array1::<F>::ones(x.nrows());
            let cancel = Cancel::new();
            threads::pool(t).unwrap().install(|| {
                let time = |f: &dyn Fn() -> KMeansRun<F>| {
                    let mut best = f64::INFINITY;
                    let mut r = None;
                    for _ in 0..reps {
                        let t0 = std::time::Instant::now();
                        r = Some(f());
                        best = best.min(t0.elapsed().as_secs_f64());
                    }
                    (best * 1e3, r.unwrap())
                };
                if let Ok(only) = std::env::var("RML_ELKAN_ONLY") {
                    let (ms, r) = time(&|| match only.as_str() {
                        "lazy" => elkan_run(x.view(), w.view(), c.view(), iters, 0.0, false, LOG_CAP, &cancel).unwrap(),
                        "eager" => eager::kmeans_single_elkan_eager(x.view(), w.view(), c.view(), iters, 0.0, false, &cancel).unwrap(),
                        "lazy1" => elkan_run(x.view(), w.view(), c.view(), 1, 0.0, false, LOG_CAP, &cancel).unwrap(),
                        "eager1" => eager::kmeans_single_elkan_eager(x.view(), w.view(), c.view(), 1, 0.0, false, &cancel).unwrap(),
                        "lloyd1" => crate::kmeans::kmeans_single_lloyd(x.view(), w.view(), c.view(), 1, 0.0, false, &cancel).unwrap(),
                        _ => crate::kmeans::kmeans_single_lloyd(x.view(), w.view(), c.view(), iters, 0.0, false, &cancel).unwrap(),
                    });
                    eprintln!("{only} threads={t}: {ms:.2} ms best, {} iterations", r.n_iter);
                    return;
                }
                let (t1, r1) = time(&|| elkan_run(x.view(), w.view(), c.view(), 1, 0.0, false, LOG_CAP, &cancel).unwrap());
                let (tl, rl) = time(&|| elkan_run(x.view(), w.view(), c.view(), iters, 0.0, false, LOG_CAP, &cancel).unwrap());
                let (te, re) = time(&|| eager::kmeans_single_elkan_eager(x.view(), w.view(), c.view(), iters, 0.0, false, &cancel).unwrap());
                let (tly1, _) = time(&|| crate::kmeans::kmeans_single_lloyd(x.view(), w.view(), c.view(), 1, 0.0, false, &cancel).unwrap());
                let (tly, ry) = time(&|| crate::kmeans::kmeans_single_lloyd(x.view(), w.view(), c.view(), iters, 0.0, false, &cancel).unwrap());
                assert_eq!(rl.labels, re.labels);
                eprintln!(
                    "{} n={} threads={t}: elkan lazy 1 it {t1:.2} ms, {} it {tl:.2} ms ({:.3} ms/it marginal, {:.3} total/it); eager {te:.2} ms ({:.3} marg); lloyd 1 it {tly1:.2} ms, {} it {tly:.2} ms ({:.3} marg, {:.3} total/it) {}",
                    F::DTYPE, x.nrows(), rl.n_iter, (tl - t1) / (rl.n_iter - 1).max(1) as f64, tl / rl.n_iter as f64,
                    (te - t1) / (re.n_iter - 1).max(1) as f64, ry.n_iter, (tly - tly1) / (ry.n_iter - 1).max(1) as f64, tly / ry.n_iter as f64, r1.n_iter
                );
            });
        }
        if v[5] == "f32" {
            go(x.mapv(|a| a as f32), c.mapv(|a| a as f32), iters, reps, t);
        } else {
            go(x, c, iters, reps, t);
        }
    }

    /// The lazy lower bounds of the samples that were brought up to date are exactly the
    /// eagerly updated ones, iteration by iteration (not only the final labels).
    #[test]
    fn replay_equals_step_by_step_update() {
        let mut s = 5u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f32 / (1u64 << 53) as f32
        };
        let k = 7;
        let mut eager: Vec<f32> = (0..k).map(|_| rnd() * 3.0).collect();
        let mut lazy = eager.clone();
        let log: Vec<f32> = (0..5 * k).map(|_| rnd()).collect();
        for sh in log.chunks_exact(k) {
            for (l, &v) in eager.iter_mut().zip(sh) {
                *l -= v;
                if *l < 0.0 {
                    *l = 0.0;
                }
            }
        }
        for sh in log.chunks_exact(k) {
            replay(&mut lazy, sh);
        }
        assert_eq!(lazy.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), eager.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
        assert!(eager.contains(&0.0) && eager.iter().any(|&v| v > 0.0));
    }

    /// The all-distances initial bounds (centres in lanes) are the same bits as the scalar
    /// pruned loop, for d around the unroll width and k around the lane width.
    #[test]
    fn all_dists_init_equals_scalar_init() {
        let mut s = 7u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 10.0 - 5.0
        };
        // (d, k, clustered): points spread uniformly, or close to the centres (few
        // improvements), with duplicate centres among them (ties).
        for &(d, k, near) in &[
            (1usize, 3usize, false),
            (2, 8, false),
            (5, 9, false),
            (8, 16, false),
            (13, 17, false),
            (1, 1, false),
            (1, 2, true),
            (2, 8, true),
            (2, 33, true),
            (3, 64, false),
            (3, 64, true),
            (4, 100, true),
        ] {
            let n = 300;
            let mut cs: Vec<f64> = (0..k * d).map(|_| rnd()).collect();
            if k >= 4 {
                let dup = cs[..d].to_vec();
                cs[2 * d..3 * d].copy_from_slice(&dup);
            }
            let xs: Vec<f64> = (0..n)
                .flat_map(|i| {
                    let j = i * 7 % k;
                    (0..d).map(|f| if near { cs[j * d + f] + 0.01 * rnd() } else { rnd() }).collect::<Vec<_>>()
                })
                .collect();
            let c = Array2::from_shape_vec((k, d), cs.clone()).unwrap();
            let (half, _) = center_half_distances(c.view());
            let hs = half.as_slice().unwrap();
            let ct = transpose_blocks(&cs, k, d);
            let run = |ct: Option<&[f64]>| {
                let (mut l, mut u, mut lo) = (vec![0i32; n], vec![0.0; n], vec![0.0; n * k]);
                init_block(&xs, d, &cs, ct, k, hs, &mut l, &mut u, &mut lo);
                (l, u.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), lo.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(run(Some(&ct)), run(None), "d={d} k={k} near={near}");
            // And every computed distance is sqrt(sq_dist_unrolled).
            let mut all = vec![0.0; k.div_ceil(LANES) * LANES];
            all_dists(&xs[..d], &ct, d, &mut all);
            for j in 0..k {
                assert_eq!(all[j].to_bits(), dist(&xs[..d], &cs[j * d..(j + 1) * d]).to_bits());
            }
        }
    }
}
