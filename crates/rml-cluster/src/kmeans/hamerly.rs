//! Lloyd's E-step with Hamerly's bounds, certified against the kernel's own rounding.
//!
//! A dense Lloyd pass scores every row against every centre (`2 n k d` flops) although, once
//! the centres settle, almost no label changes. Hamerly (2010) keeps two numbers per row: an
//! upper bound `u ≥ ||x − c_label||` and a lower bound `l ≤ min_{j ≠ label} ||x − c_j||`.
//! When the centres move by `δ_j`, `u += δ_label` and `l −= max_{j ≠ label} δ_j` keep them
//! valid (triangle inequality), and `l > u` proves that the label is still the nearest centre.
//!
//! Here the proof must say more: that the **kernel** (`fused.rs`, whose scores
//! `s_j = fma(−2, x·c_j, ||c_j||²)` carry rounding errors) would return that same label. Every
//! computed score is within `E = (d + 4) ε (||x|| + max_j ||c_j||)²` of the exact
//! `||x − c_j||² − ||x||²` (an FMA chain of `d` terms and a rounded norm each stay within
//! `(d/2 + 1) ε (||x|| + ||c||)²`; `E` doubles that, `ε` the machine epsilon of the input
//! dtype). So `l² − u² > 2E` proves `s_label < s_j` strictly for every other `j`, and the
//! kernel's first-minimum rule returns `label`: a skipped row gets the label a dense pass
//! would give it, bit for bit, and the centre sums (accumulated over every row in the same
//! order as the dense pass) are the same bits. Near-ties are never skipped.
//!
//! The bounds themselves are built from the kernel's best and second-best scores with `2E`
//! of slack, and updated with shifts inflated by their own rounding bound, so they stay
//! bounds on the exact distances whatever the rounding.
//!
//! Cost per pass: two `f64` bounds and the label of every row; only rows whose bounds fail
//! are gathered and scored, with the dense kernel; the rows of a block of [`BLOCK_ROWS`] are
//! read for its centre sums unless none of its labels changed (then its kept sums, the same
//! bits, are used). Extra memory: `16 n` bytes, plus `8 k d` bytes per block when that is at
//! most a quarter of the block's X. Used for `d > 8` where the fused AVX2 kernel runs;
//! elsewhere Lloyd stays dense.

use super::{add_inertia, cast_slice, for_blocks_ordered, fused, CenterSums, BLOCK_ROWS, FUSED_CHUNK_ROWS};
use ndarray::ArrayView2;
use rml_core::{Cancel, Float, RmlResult};

/// The fused kernel with best and second-best scores, for either dtype.
enum Kernel {
    K64(fused::Packed<f64>),
    K32(fused::Packed<f32>),
}

impl Kernel {
    /// `None` unless the big fused kernel runs here (x86-64 with AVX2+FMA, `d > 8`).
    fn new<F: Float>(centers: &[F], norms: &[F], k: usize, d: usize) -> Option<Self> {
        #[cfg(target_arch = "x86_64")]
        {
            if d <= fused::SMALL_KERNEL_D || k >= (1 << 24) || !fused::available() {
                return None;
            }
            if let (Some(c), Some(nm)) = (cast_slice::<F, f64>(centers), cast_slice::<F, f64>(norms)) {
                return Some(Kernel::K64(fused::k64::pack(c, nm, k, d)));
            }
            if let (Some(c), Some(nm)) = (cast_slice::<F, f32>(centers), cast_slice::<F, f32>(norms)) {
                return Some(Kernel::K32(fused::k32::pack(c, nm, k, d)));
            }
            None
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (centers, norms, k, d);
            None
        }
    }

    /// Labels, best and second-best scores (widened to `f64`) of the rows of `xs`.
    fn run<F: Float>(&self, xs: &[F], labels: &mut [i32], best: &mut [f64], second: &mut [f64]) {
        let m = labels.len();
        #[cfg(target_arch = "x86_64")]
        match self {
            Kernel::K64(p) => {
                let x = cast_slice::<F, f64>(xs).expect("kernel built for f64");
                // SAFETY: K64 is only built when AVX2 and FMA were detected and d > 8;
                // `x` has `m * d` values, `best`/`second` `m` each.
                unsafe { fused::k64::assign_with_scores(x, p, labels, &mut best[..m], &mut second[..m]) };
            }
            Kernel::K32(p) => {
                let x = cast_slice::<F, f32>(xs).expect("kernel built for f32");
                let mut b = [0.0f32; FUSED_CHUNK_ROWS];
                let mut s = [0.0f32; FUSED_CHUNK_ROWS];
                // SAFETY: as above; at most FUSED_CHUNK_ROWS rows per call.
                unsafe { fused::k32::assign_with_scores(x, p, labels, &mut b[..m], &mut s[..m]) };
                for i in 0..m {
                    best[i] = b[i] as f64;
                    second[i] = s[i] as f64;
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (xs, labels, best, second, m);
            unreachable!("Kernel is only built on x86-64");
        }
    }
}

/// Relative slack for one `f64` operation on a bound (a few ulps, generously).
const ULPS: f64 = 1e-14;

/// Whether bounds `l ≥ 0` (other centres) and `u` (own centre) on a row's exact distances
/// prove that the kernel, whose scores are within `E` of the exact squared distances (minus
/// `||x||²`), picks the row's own centre: `l² − u² > 2E` (`two_e = 2E`).
#[inline]
fn certified(l: f64, u: f64, two_e: f64) -> bool {
    l > u && (l - u) * (l + u) * (1.0 - ULPS) > two_e
}

/// The bound `E` on the error of a computed score for rows with `||x|| ≤ x_norm` and centres
/// with `||c|| ≤ c_max`, in the input dtype with machine epsilon `eps`.
#[inline]
fn score_error(d: usize, eps: f64, x_norm: f64, c_max: f64) -> f64 {
    (d as f64 + 4.0) * eps * (x_norm + c_max) * (x_norm + c_max)
}

/// Hamerly's per-row bounds on exact Euclidean distances, across the passes of one fit.
pub(crate) struct HamerlyBounds {
    /// `upper[i] ≥ ||x_i − c_{label_i}||`.
    upper: Vec<f64>,
    /// `lower[i] ≤ min_{j ≠ label_i} ||x_i − c_j||`.
    lower: Vec<f64>,
    /// An upper bound on every `||x_i||` (known after the first pass, which scores every row).
    x_norm_max: f64,
    /// Whether a pass has set every row's bounds.
    primed: bool,
    d: usize,
    /// Rows scored by the kernel in the last pass (the rest were certified).
    pub(crate) scored_last: usize,
    /// Per block of [`BLOCK_ROWS`] rows, the centre sums of its current labels (empty when
    /// they would take more than a quarter of X's bytes): a block none of whose labels
    /// changed has the same sums, bit for bit (its rows, weights and labels are the same and
    /// it is summed from zero in row order), so it is not read again.
    block_sums: Vec<Option<CenterSums>>,
    /// Blocks whose sums the last pass reused.
    pub(crate) reused_last: usize,
}

/// One parallel block: its first row, its labels, upper and lower bounds, and its kept sums
/// (`None` when sums are not kept).
type BlockItem<'a> = (usize, &'a mut [i32], &'a mut [f64], &'a mut [f64], Option<&'a mut Option<CenterSums>>);

/// What a pass computes besides the labels.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Output {
    /// The centre sums of the new labels (an iteration's E-step, `lloyd_pass(update_centers)`).
    Sums,
    /// The inertia of the new labels (the final E-step, `lloyd_pass(with_inertia)`).
    Inertia,
}

/// What one pass produces.
pub(crate) struct PassOut {
    /// With [`Output::Sums`].
    pub sums: Option<CenterSums>,
    /// With [`Output::Inertia`].
    pub inertia: f64,
    /// Whether any label changed.
    pub changed: bool,
}

/// What one block of a pass produces.
struct BlockOut {
    sums: Option<CenterSums>,
    /// Whether `sums` are the block's kept ones.
    reused: bool,
    inertia: f64,
    changed: bool,
    scored: usize,
    x_norm_max: f64,
}

impl HamerlyBounds {
    /// Bounds for `n` rows of `d` features, or `None` when the pruned pass does not apply
    /// here (no fused kernel for this CPU, dtype or `d`): the caller runs dense passes.
    pub(crate) fn new<F: Float>(n: usize, d: usize, k: usize) -> RmlResult<Option<Self>> {
        // A one-centre probe: whether the kernel exists for this CPU, dtype and `d`.
        if k == 0 || Kernel::new::<F>(&vec![F::zero(); d], &[F::zero()], 1, d).is_none() {
            return Ok(None);
        }
        let upper = rml_core::size::try_zeroed_vec::<f64>(n, 1, "Hamerly upper bounds")?;
        let lower = rml_core::size::try_zeroed_vec::<f64>(n, 1, "Hamerly lower bounds")?;
        // k·d doubles per block against BLOCK_ROWS·d values of X: at most a quarter.
        let cache = k.saturating_mul(8) <= BLOCK_ROWS * std::mem::size_of::<F>() / 4;
        let block_sums = if cache { (0..n.div_ceil(BLOCK_ROWS)).map(|_| None).collect() } else { Vec::new() };
        Ok(Some(Self { upper, lower, x_norm_max: 0.0, primed: false, d, scored_last: 0, block_sums, reused_last: 0 }))
    }

    /// One E-step over all rows with the centre sums of the new labels (`output = Sums`) or
    /// their inertia (`Inertia`), as `lloyd_pass` computes them (same blocks, same order,
    /// same bits).
    ///
    /// `xs` is `X` row-major (`n × d`); `shift` holds `||c_j − c_j^prev||` as
    /// [`super::center_shift`] computed it from the previous pass's centres to `centers`
    /// (`None` on the first pass). `labels` holds the previous labels (any values on the
    /// first pass) and receives the new ones.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pass<F: Float>(
        &mut self,
        xs: &[F],
        sample_weight: &[F],
        centers: ArrayView2<F>,
        labels: &mut [i32],
        shift: Option<&[F]>,
        output: Output,
        cancel: &Cancel,
    ) -> RmlResult<PassOut> {
        let d = self.d;
        let n = labels.len();
        let k = centers.nrows();
        let centers = centers.as_standard_layout();
        let cs = centers.as_slice().expect("standard layout");
        let norms = super::row_sq_norms(centers.view());
        let kernel = Kernel::new(cs, &norms, k, d)
            .ok_or_else(|| rml_core::RmlError::Internal("Hamerly pass without a fused kernel".into()))?;
        let eps = F::epsilon().as_f64();
        let c_max = centers
            .rows()
            .into_iter()
            .map(|c| c.iter().map(|v| v.as_f64() * v.as_f64()).sum::<f64>().sqrt())
            .fold(0.0f64, f64::max)
            * (1.0 + 1e-12);
        let score_err = |x_norm: f64| score_error(d, eps, x_norm, c_max);
        // Certification needs l² − u² > 2E for the largest E of any row.
        let two_e_max = 2.0 * score_err(self.x_norm_max) * (1.0 + 1e-6);
        let primed = self.primed && shift.is_some();
        // Shifts inflated by their rounding (an unrolled sum of d squares, then sqrt), and
        // for each label the largest shift of the other centres (Hamerly's `l` update).
        let (shift_up, other_max) = match shift.filter(|_| primed) {
            Some(sh) => {
                let up: Vec<f64> =
                    sh.iter().map(|s| s.as_f64() * (1.0 + (d as f64 + 4.0) * eps) * (1.0 + ULPS)).collect();
                let (mut m1, mut a1, mut m2) = (0.0f64, usize::MAX, 0.0f64);
                for (j, &s) in up.iter().enumerate() {
                    if s > m1 {
                        m2 = m1;
                        m1 = s;
                        a1 = j;
                    } else if s > m2 {
                        m2 = s;
                    }
                }
                let other: Vec<f64> = (0..up.len()).map(|j| if j == a1 { m2 } else { m1 }).collect();
                (up, other)
            }
            None => (Vec::new(), Vec::new()),
        };
        let keep_sums = output == Output::Sums && !self.block_sums.is_empty();
        let mut kept = self.block_sums.iter_mut();
        let items: Vec<BlockItem<'_>> = labels
            .chunks_mut(BLOCK_ROWS)
            .zip(self.upper.chunks_mut(BLOCK_ROWS))
            .zip(self.lower.chunks_mut(BLOCK_ROWS))
            .enumerate()
            .map(|(b, ((l, u), lo))| (b * BLOCK_ROWS, l, u, lo, if keep_sums { kept.next() } else { None }))
            .collect();
        let sums_zero = || -> RmlResult<Option<CenterSums>> {
            Ok(if output == Output::Sums { Some(CenterSums::zeros(k, d)?) } else { None })
        };
        let mut total = sums_zero()?;
        let mut inertia = 0.0f64;
        let mut reused = 0usize;
        let mut changed = false;
        let mut scored = 0usize;
        let mut x_norm_max = self.x_norm_max;
        for_blocks_ordered(
            items,
            cancel,
            |(start, lab, up, lo, kept): BlockItem<'_>| -> RmlResult<BlockOut> {
                let rows = lab.len();
                let block_x = &xs[start * d..(start + rows) * d];
                let block_w = &sample_weight[start..start + rows];
                let mut out =
                    BlockOut { sums: sums_zero()?, inertia: 0.0, changed: false, scored: 0, x_norm_max: 0.0, reused: false };
                // The sums or inertia of block rows `r` (row order), once their labels are final.
                let finish = |out: &mut BlockOut, r: std::ops::Range<usize>, lab: &[i32]| {
                    let (xr, lr, wr) = (&block_x[r.start * d..r.end * d], &lab[r.clone()], &block_w[r]);
                    match out.sums.as_mut() {
                        Some(s) => s.accumulate(xr, lr, wr),
                        None => add_inertia(&mut out.inertia, xr, lr, wr, cs, d),
                    }
                };
                // Update and test every row's bounds; the rows that fail are scored.
                // Branch-free: every index is written, the count advances on failing rows only
                // (most rows pass once the centres settle, at an unpredictable ~1-in-20 rate).
                let mut todo = vec![0u32; rows];
                let mut count = 0usize;
                for i in 0..rows {
                    let ok = primed && {
                        let a = lab[i] as usize;
                        let u = (up[i] + shift_up[a]) * (1.0 + ULPS);
                        let l = (lo[i] - other_max[a] - ULPS * (lo[i] + other_max[a])).max(0.0);
                        up[i] = u;
                        lo[i] = l;
                        certified(l, u, two_e_max)
                    };
                    todo[count] = i as u32;
                    count += usize::from(!ok);
                }
                todo.truncate(count);
                out.scored = count;
                let mut new_lab = [0i32; FUSED_CHUNK_ROWS];
                let mut best = [0.0f64; FUSED_CHUNK_ROWS];
                let mut second = [0.0f64; FUSED_CHUNK_ROWS];
                // New label and bounds of block row `i` from its scores (`row` = its values).
                let settle = |i: usize, row: &[F], label: i32, best: f64, second: f64, out: &mut BlockOut,
                              lab: &mut [i32], up: &mut [f64], lo: &mut [f64]| {
                    let xn2: f64 = row.iter().map(|v| v.as_f64() * v.as_f64()).sum();
                    // The f64 sum of d squares is within (d + 2)·2⁻⁵³ of ||x||².
                    let x_norm = (xn2 * (1.0 + (d as f64 + 2.0) * f64::EPSILON)).sqrt() * (1.0 + ULPS);
                    out.x_norm_max = out.x_norm_max.max(x_norm);
                    let two_e = 2.0 * score_err(x_norm);
                    // ||x − c_label||² ≤ ||x||² + s_label + E and the other centres' squared
                    // distances are ≥ ||x||² + s_second − E (2E each: also covers ||x||²'s
                    // rounding and these additions).
                    up[i] = (xn2 + best + two_e).max(0.0).sqrt() * (1.0 + ULPS);
                    lo[i] = (xn2 + second - two_e).max(0.0).sqrt() * (1.0 - ULPS);
                    if lab[i] != label {
                        lab[i] = label;
                        out.changed = true;
                    }
                };
                if todo.len() == rows {
                    // Every row is scored (the first passes): contiguous chunks, each summed
                    // right after its labels while its rows are in L1.
                    let mut off = 0;
                    while off < rows {
                        let m = FUSED_CHUNK_ROWS.min(rows - off);
                        let chunk = &block_x[off * d..(off + m) * d];
                        kernel.run(chunk, &mut new_lab[..m], &mut best, &mut second);
                        for q in 0..m {
                            let row = &chunk[q * d..(q + 1) * d];
                            settle(off + q, row, new_lab[q], best[q], second[q], &mut out, lab, up, lo);
                        }
                        finish(&mut out, off..off + m, lab);
                        off += m;
                    }
                } else {
                    // Gather the failing rows in batches for the kernel, then sum the whole
                    // block in row order (the same additions as chunk by chunk).
                    let mut gathered: Vec<F> = vec![F::zero(); FUSED_CHUNK_ROWS * d];
                    for batch in todo.chunks(FUSED_CHUNK_ROWS) {
                        let m = batch.len();
                        for (q, &i) in batch.iter().enumerate() {
                            let i = i as usize;
                            gathered[q * d..(q + 1) * d].copy_from_slice(&block_x[i * d..(i + 1) * d]);
                        }
                        kernel.run(&gathered[..m * d], &mut new_lab[..m], &mut best, &mut second);
                        for (q, &i) in batch.iter().enumerate() {
                            let i = i as usize;
                            let row = &gathered[q * d..(q + 1) * d];
                            settle(i, row, new_lab[q], best[q], second[q], &mut out, lab, up, lo);
                        }
                    }
                    match kept.as_deref() {
                        Some(Some(s)) if !out.changed => {
                            out.sums = Some(s.clone());
                            out.reused = true;
                        }
                        _ => finish(&mut out, 0..rows, lab),
                    }
                }
                if let (Some(slot), false) = (kept, out.reused) {
                    *slot = out.sums.clone();
                }
                Ok(out)
            },
            |out| {
                if let (Some(t), Some(s)) = (total.as_mut(), out.sums.as_ref()) {
                    t.add(s);
                }
                inertia += out.inertia;
                reused += usize::from(out.reused);
                changed |= out.changed;
                scored += out.scored;
                x_norm_max = x_norm_max.max(out.x_norm_max);
            },
        )?;
        if !self.primed {
            // The first pass scored every row, so every row's norm is now bounded.
            self.x_norm_max = x_norm_max;
            self.primed = n > 0;
        }
        self.scored_last = scored;
        self.reused_last = reused;
        Ok(PassOut { sums: total, inertia, changed })
    }
}

#[cfg(test)]
mod tests {
    use super::super::lloyd::lloyd_run;
    use super::*;
    use ndarray::{Array1, Array2};
    use rml_core::threads;

    /// Deterministic pseudo-random numbers in [0, 1) (no RNG dependency).
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        fn normal(&mut self) -> f64 {
            let (u, v) = (self.next().max(1e-300), self.next());
            (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
        }
    }

    /// `n` rows around `blobs` random centres in `[-10, 10]^d` with noise `std` (`blobs = 0`:
    /// uniform data), plus `dups` exact copies of earlier rows.
    fn blobs(n: usize, d: usize, blobs: usize, std: f64, dups: usize, seed: u64) -> Array2<f64> {
        let mut g = Lcg(seed);
        let centres: Vec<f64> = (0..blobs.max(1) * d).map(|_| g.next() * 20.0 - 10.0).collect();
        let mut x = Array2::from_shape_fn((n, d), |_| 0.0);
        for i in 0..n {
            let b = (g.next() * blobs.max(1) as f64) as usize;
            for f in 0..d {
                x[[i, f]] = if blobs == 0 { g.next() * 4.0 } else { centres[b * d + f] + std * g.normal() };
            }
        }
        for q in 0..dups.min(n / 2) {
            let src = (g.next() * (n / 2) as f64) as usize;
            let row = x.row(src).to_owned();
            x.row_mut(n - 1 - q).assign(&row);
        }
        x
    }

    fn init_rows(x: &Array2<f64>, k: usize, seed: u64) -> Array2<f64> {
        let mut g = Lcg(seed);
        let n = x.nrows();
        let mut c = Array2::zeros((k, x.ncols()));
        for j in 0..k {
            c.row_mut(j).assign(&x.row((g.next() * n as f64) as usize));
        }
        c
    }

    /// Pruned and dense runs from the same start: every output bit for bit; returns the rows
    /// scored and the blocks whose sums were reused, per E-step of the pruned run.
    fn same_run<F: Float>(x: &Array2<F>, w: &Array1<F>, c: &Array2<F>, max_iter: usize, tol: f64) -> Vec<(usize, usize)> {
        let cancel = Cancel::new();
        let (p, scored) = lloyd_run(x.view(), w.view(), c.view(), max_iter, tol, false, true, &cancel).unwrap();
        let (q, dense) = lloyd_run(x.view(), w.view(), c.view(), max_iter, tol, false, false, &cancel).unwrap();
        assert!(dense.iter().all(|&s| s == (x.nrows(), 0)));
        assert_eq!(p.labels, q.labels);
        assert_eq!(p.n_iter, q.n_iter);
        assert_eq!(p.inertia.to_bits(), q.inertia.to_bits());
        let bits = |a: &Array2<F>| a.iter().map(|v| v.as_f64().to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&p.centers), bits(&q.centers));
        scored
    }

    type Counts = Vec<(usize, usize)>;

    fn both_dtypes(x: &Array2<f64>, w: &Array1<f64>, c: &Array2<f64>, max_iter: usize) -> (Counts, Counts) {
        let s64 = same_run(x, w, c, max_iter, 0.0);
        let s32 = same_run(&x.mapv(|v| v as f32), &w.mapv(|v| v as f32), &c.mapv(|v| v as f32), max_iter, 0.0);
        (s64, s32)
    }

    #[test]
    fn pruned_lloyd_is_the_dense_lloyd_bit_for_bit_and_skips_rows() {
        if !fused::available() {
            return;
        }
        // Separated blobs: after a few iterations almost every row is certified, and the
        // blocks of 4096 rows whose labels all stay reuse their sums.
        let x = blobs(13000, 32, 16, 2.0, 0, 1);
        let w = Array1::ones(x.nrows());
        let (s64, s32) = both_dtypes(&x, &w, &init_rows(&x, 16, 2), 40);
        for s in [&s64, &s32] {
            assert_eq!(s[0], (x.nrows(), 0), "the first pass scores every row");
            assert!(s.len() >= 3, "{s:?}");
            assert!(s.last().unwrap().0 < x.nrows() / 5, "bounds should skip most rows: {s:?}");
            assert!(s.iter().any(|&(_, reused)| reused > 0), "no block reused its sums: {s:?}");
        }
    }

    #[test]
    fn pruned_lloyd_bitwise_over_shapes_weights_ties_and_relocation() {
        if !fused::available() {
            return;
        }
        for (case, &(n, d, nblobs, std, k, dups)) in [
            (3000usize, 9usize, 0usize, 0.0f64, 7usize, 0usize), // uniform: many near-ties
            (2500, 16, 4, 1.0, 9, 300),                          // duplicated rows
            (2000, 33, 6, 3.0, 1, 0),                            // k = 1
            (2000, 33, 6, 3.0, 2, 0),
            (1500, 64, 5, 0.5, 13, 10),
            (1500, 70, 5, 0.5, 13, 10), // transposed rows on the heap
            (9000, 12, 8, 1.5, 20, 0),  // several blocks
        ]
        .iter()
        .enumerate()
        {
            let x = blobs(n, d, nblobs, std, dups, 10 + case as u64);
            let mut g = Lcg(case as u64);
            // Integer weights, some zero.
            let w = Array1::from_shape_fn(n, |_| (g.next() * 4.0).floor());
            let mut c = init_rows(&x, k, 20 + case as u64);
            if k >= 3 {
                // An exact duplicate centre (ties to the smaller index) and one far away
                // (empty cluster, relocated).
                let r = c.row(0).to_owned();
                c.row_mut(1).assign(&r);
                c.row_mut(2).fill(1e3);
            }
            both_dtypes(&x, &w, &c, 60);
            both_dtypes(&x, &Array1::ones(n), &c, 60);
        }
    }

    #[test]
    fn pruned_lloyd_with_tolerance_and_max_iter_one() {
        if !fused::available() {
            return;
        }
        let x = blobs(4000, 20, 10, 2.5, 0, 5);
        let w = Array1::ones(x.nrows());
        let c = init_rows(&x, 10, 6);
        for (it, tol) in [(1usize, 0.0f64), (2, 0.0), (100, 1e-3), (100, 1e-8)] {
            same_run(&x, &w, &c, it, tol);
        }
    }

    #[test]
    fn pruned_lloyd_does_not_depend_on_thread_count() {
        if !fused::available() {
            return;
        }
        let x = blobs(20_000, 24, 12, 2.0, 0, 7);
        let w = Array1::ones(x.nrows());
        let c = init_rows(&x, 12, 8);
        let run = |t: usize| {
            threads::pool(t).unwrap().install(|| {
                lloyd_run(x.view(), w.view(), c.view(), 50, 0.0, false, true, &Cancel::new()).unwrap()
            })
        };
        let ((a, sa), (b, sb)) = (run(1), run(2));
        assert_eq!(a.labels, b.labels);
        assert_eq!(sa, sb);
        assert_eq!(a.centers, b.centers);
        assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
    }

    /// After every pass the bounds bound the exact distances (computed in f64 from f32 data,
    /// where they are exact to far below f32's rounding).
    #[test]
    fn bounds_stay_valid_across_passes() {
        if !fused::available() {
            return;
        }
        let x64 = blobs(3000, 17, 6, 2.0, 50, 9);
        let x = x64.mapv(|v| v as f32);
        let xs = x.as_slice().unwrap();
        let n = x.nrows();
        let w = vec![1.0f32; n];
        let mut c = init_rows(&x64, 8, 3).mapv(|v| v as f32);
        let mut labels = vec![-1i32; n];
        let mut b = HamerlyBounds::new::<f32>(n, 17, 8).unwrap().unwrap();
        let mut shift: Option<Vec<f32>> = None;
        let cancel = Cancel::new();
        let mut skipped = 0;
        for _ in 0..15 {
            let out = b.pass(xs, &w, c.view(), &mut labels, shift.as_deref(), Output::Sums, &cancel).unwrap();
            let sums = out.sums.unwrap();
            skipped += n - b.scored_last;
            for i in 0..n {
                let dist = |j: usize| {
                    x.row(i).iter().zip(c.row(j)).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>().sqrt()
                };
                let a = labels[i] as usize;
                assert!(b.upper[i] >= dist(a), "row {i}");
                let other = (0..8).filter(|&j| j != a).map(dist).fold(f64::INFINITY, f64::min);
                assert!(b.lower[i] <= other, "row {i}");
            }
            let (cn, _w, sh) = super::super::finish_centers(x.view(), Array1::from(w.clone()).view(), c.view(), &labels, sums).unwrap();
            c = cn;
            shift = Some(sh);
        }
        assert!(skipped > 0);
    }

    /// The margin is what makes skipping safe: rows whose exact nearest centre differs from
    /// the float32 kernel's label (near-ties decided by rounding) exist here, and exact
    /// bounds never certify them; without the `2E` margin they would be certified.
    #[test]
    fn certification_never_accepts_a_rounding_decided_label() {
        if !fused::available() {
            return;
        }
        let (d, n) = (24usize, 4000usize);
        let mut g = Lcg(42);
        let c64: Vec<f64> = (0..2 * d).map(|_| g.next() * 8.0 - 4.0).collect();
        let c: Vec<f32> = c64.iter().map(|&v| v as f32).collect();
        // Rows on the segment between the centres, at distances from the midpoint spread
        // over 10⁻⁸..10⁻² of its length: from rounding-decided ties to clear decisions.
        let mut x = vec![0.0f32; n * d];
        for i in 0..n {
            let side = if g.next() < 0.5 { -1.0 } else { 1.0 };
            let t = 0.5 + side * 10f64.powf(-2.0 - 6.0 * g.next());
            for f in 0..d {
                x[i * d + f] = (c[f] as f64 * t + c[d + f] as f64 * (1.0 - t)) as f32;
            }
        }
        let norms = super::super::row_sq_norms(ndarray::ArrayView2::from_shape((2, d), &c).unwrap());
        let p = fused::k32::pack(&c, &norms, 2, d);
        let c_max = (0..2)
            .map(|j| c[j * d..(j + 1) * d].iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt())
            .fold(0.0, f64::max);
        let (mut disagree, mut accepted, mut accepted_without_margin_wrongly) = (0, 0, 0);
        for i in 0..n {
            let row = &x[i * d..(i + 1) * d];
            let mut lab = [0i32; 1];
            let (mut b, mut s2) = ([0.0f32; 1], [0.0f32; 1]);
            // SAFETY: AVX2+FMA detected; one row of d > 8 values.
            unsafe { fused::k32::assign_with_scores(row, &p, &mut lab, &mut b, &mut s2) };
            let dist = |j: usize| {
                row.iter().zip(&c[j * d..(j + 1) * d]).map(|(a, b)| (*a as f64 - *b as f64).powi(2)).sum::<f64>().sqrt()
            };
            let (d0, d1) = (dist(0), dist(1));
            let exact = if d1 < d0 { 1 } else { 0 };
            if exact != lab[0] as usize {
                disagree += 1;
            }
            let (u, l) = if exact == 0 { (d0, d1) } else { (d1, d0) };
            let x_norm = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            let two_e = 2.0 * score_error(d, f32::EPSILON as f64, x_norm, c_max);
            if certified(l, u, two_e) {
                accepted += 1;
                assert_eq!(lab[0] as usize, exact, "row {i}: certified a label the kernel does not give");
            }
            if certified(l, u, 0.0) && lab[0] as usize != exact {
                accepted_without_margin_wrongly += 1;
            }
        }
        assert!(disagree > 0 && accepted_without_margin_wrongly > 0, "no rounding-decided rows: {disagree}");
        assert!(accepted > n / 4, "the margin rejects clear decisions too: {accepted} of {n}");
    }
}
