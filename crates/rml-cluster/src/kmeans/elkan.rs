//! Elkan's K-means loop with triangle-inequality bounds: scikit-learn's
//! `_kmeans_single_elkan`, `init_bounds_dense` and `elkan_iter_chunked_dense`, step for step.
//!
//! Memory: one upper bound per sample and `k` lower bounds per sample (`n k` values of the
//! input dtype, as scikit-learn). Elkan computes exact distances (no GEMM), so it wins when
//! the bounds prune most distance computations (few, well separated clusters).

use super::{
    finish_centers, for_blocks_ordered, sq_dist_unrolled, CenterSums,
    KMeansRun, BLOCK_ROWS,
};
use crate::kmeans::lloyd::{converged, py_float};
use ndarray::{Array2, ArrayView1, ArrayView2};
use rayon::prelude::*;
use rml_core::{ensure, ensure_param, Cancel, Float, RmlResult};

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
pub fn kmeans_single_elkan<F: Float>(
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
    let mut b = Bounds { labels: vec![-1; n], upper: vec![F::zero(); n], lower };
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
                super::inertia(x.view(), sample_weight, centers.view(), &b.labels, None, cancel)?;
            log.push(format!("Iteration {i}, inertia {}", py_float(inertia, F::DTYPE)));
        }
        centers = centers_new;
        if let Some(is_strict) = converged(i, &b.labels, &labels_old, &shift, tol, verbose, &mut log) {
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
    let inertia = super::inertia(x.view(), sample_weight, centers.view(), &b.labels, None, cancel)?;
    Ok(KMeansRun { centers, labels: b.labels, inertia, n_iter: it + 1, log })
}

#[cfg(test)]
mod elkan_tests {
    use super::*;

    /// The all-distances initial bounds (centres in lanes) are the same bits as the scalar
    /// pruned loop, for d around the unroll width and k around the lane width.
    #[test]
    fn all_dists_init_equals_scalar_init() {
        let mut s = 7u64;
        let mut rnd = || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 10.0 - 5.0
        };
        for &(d, k) in &[(1usize, 3usize), (2, 8), (5, 9), (8, 16), (13, 17)] {
            let n = 37;
            let xs: Vec<f64> = (0..n * d).map(|_| rnd()).collect();
            let cs: Vec<f64> = (0..k * d).map(|_| rnd()).collect();
            let c = Array2::from_shape_vec((k, d), cs.clone()).unwrap();
            let (half, _) = center_half_distances(c.view());
            let hs = half.as_slice().unwrap();
            let ct = transpose_blocks(&cs, k, d);
            let run = |ct: Option<&[f64]>| {
                let (mut l, mut u, mut lo) = (vec![0i32; n], vec![0.0; n], vec![0.0; n * k]);
                init_block(&xs, d, &cs, ct, k, hs, &mut l, &mut u, &mut lo);
                (l, u.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), lo.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
            };
            assert_eq!(run(Some(&ct)), run(None), "d={d} k={k}");
            // And every computed distance is sqrt(sq_dist_unrolled).
            let mut all = vec![0.0; k.div_ceil(LANES) * LANES];
            all_dists(&xs[..d], &ct, d, &mut all);
            for j in 0..k {
                assert_eq!(all[j].to_bits(), dist(&xs[..d], &cs[j * d..(j + 1) * d]).to_bits());
            }
        }
    }
}
