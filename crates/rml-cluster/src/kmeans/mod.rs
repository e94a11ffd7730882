//! K-means: the shared E/M-step kernels, Lloyd's and Elkan's loops, k-means++ distances.
//!
//! The arithmetic follows scikit-learn 1.9 (`_k_means_lloyd.pyx`, `_k_means_elkan.pyx`,
//! `_k_means_common.pyx`) wherever the order of operations decides a label or an iteration
//! count, so that a run from the same initial centres gives the same `labels_` and `n_iter_`:
//!
//! * **assignment** (Lloyd, `predict`): the nearest centre minimises `||c||² - 2 x·c` (the
//!   "GEMM trick"; `||x||²` is constant per row). Rows are processed in chunks of
//!   [`CHUNK_ROWS`]: the chunk's `(rows × k)` block is initialised with `||c||²` and updated
//!   with one GEMM `-2 X Cᵀ + 1·D` (ndarray's `matrixmultiply` backend), then each row takes
//!   the first minimum (strict `<`, so ties go to the smaller centre index, as scikit-learn).
//!   On x86-64 CPUs with AVX2+FMA (detected at run time) fused micro-kernels (`fused.rs`)
//!   compute the scores as one FMA chain per (row, centre) — rows in SIMD lanes, centres
//!   broadcast, 16 (f32) / 8 (f64) rows × 4 centres in registers for `d > 8` — and keep each
//!   row's first minimum in registers, so no `(rows × k)` block exists. Without AVX2/FMA: the
//!   GEMM above (`d > SMALL_D`) or a direct loop (`d <= SMALL_D`).
//! * **centre update**: weighted sums `Σ w x` and `Σ w` per centre, accumulated in the same
//!   pass over X right after each chunk's labels (the chunk is still in cache), in `f64`
//!   (also for float32 input, where each product `x·w` is rounded to `f32` first, then added
//!   in `f64`; scikit-learn accumulates in the input dtype; 8/4 features per AVX2 step for
//!   `d > 8`, the same operations), empty clusters
//!   relocated as scikit-learn's `_relocate_empty_clusters_dense`, averaged by multiplying with
//!   `1 / Σ w` as `_average_centers` does, centre shifts with `_euclidean_dense_dense`'s
//!   4-way unrolled summation order.
//! * **inertia**: `Σ w ||x - c_label||²` with the unrolled direct distance, accumulated in
//!   `f64`.
//!
//! ## Threads and determinism
//! Rows are split into blocks of [`BLOCK_ROWS`] (a constant, not a function of the thread
//! count); blocks run in parallel on the current rayon pool, each with its own partial sums,
//! and the partial sums are merged in block order. So every result is bit-identical for any
//! number of threads.
//!
//! ## Reuse
//! [`assign_labels`] (E-step + inertia) and [`lloyd_iter`] + [`finish_centers`] (M-step) are
//! the building blocks MiniBatchKMeans and BisectingKMeans use.

pub mod elkan;
mod fused;
mod hamerly;
pub mod init;
pub mod lloyd;
pub mod params;

use ndarray::{linalg::general_mat_mul, Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut2};
use rayon::prelude::*;
use rml_core::{ensure, Cancel, Float, RmlError, RmlResult};

pub use elkan::kmeans_single_elkan;
pub use lloyd::kmeans_single_lloyd;
pub use params::{Algorithm, KMeansParams};

/// Rows per GEMM chunk (scikit-learn uses 256 as well).
pub const CHUNK_ROWS: usize = 256;
/// Rows per call of the fused assignment kernels (a multiple of their row steps).
const FUSED_CHUNK_ROWS: usize = 48;
/// Rows per parallel block: the unit of the fixed-order reduction.
pub const BLOCK_ROWS: usize = CHUNK_ROWS * 16;
/// Rows ahead that the centre-sum loops prefetch.
const SUMS_PREFETCH_ROWS: usize = 8;
/// Blocks processed per parallel wave (bounds the memory of the partial sums to
/// `WAVE_BLOCKS · k · d` doubles).
const WAVE_BLOCKS: usize = 32;
/// Up to this many features the assignment uses a direct loop instead of a GEMM.
pub const SMALL_D: usize = 8;

/// The result of one K-means run.
#[derive(Debug, Clone)]
pub struct KMeansRun<F> {
    /// Final centres, `(k, d)`.
    pub centers: Array2<F>,
    /// Label of every sample (int32, as scikit-learn's `labels_`).
    pub labels: Vec<i32>,
    /// `Σ w ||x - c_label||²`.
    pub inertia: f64,
    /// Iterations run (scikit-learn's `n_iter_`).
    pub n_iter: usize,
    /// Lines scikit-learn prints when `verbose` is set (empty unless requested).
    pub log: Vec<String>,
}

/// Weighted per-centre sums of one E-step: `sums[j*d..]` is `Σ w x` of the rows labelled `j`,
/// `weights[j]` is `Σ w`. Always `f64`.
#[derive(Debug, Clone)]
pub struct CenterSums {
    pub sums: Vec<f64>,
    pub weights: Vec<f64>,
    pub n_features: usize,
}

impl CenterSums {
    pub fn zeros(k: usize, d: usize) -> RmlResult<Self> {
        Ok(Self {
            sums: rml_core::size::try_zeroed_vec(k, d, "centre sums")?,
            weights: vec![0.0; k],
            n_features: d,
        })
    }

    fn add(&mut self, other: &CenterSums) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += *b;
        }
        for (a, b) in self.weights.iter_mut().zip(&other.weights) {
            *a += *b;
        }
    }

    /// `push` for consecutive rows (`xs` row-major, one label and weight per row), with the
    /// loop over features specialised for small `d` (the same additions in the same order).
    fn accumulate<F: Float>(&mut self, xs: &[F], labels: &[i32], w: &[F]) {
        match self.n_features {
            1 => self.accumulate_d::<F, 1>(xs, labels, w),
            2 => self.accumulate_d::<F, 2>(xs, labels, w),
            3 => self.accumulate_d::<F, 3>(xs, labels, w),
            4 => self.accumulate_d::<F, 4>(xs, labels, w),
            5 => self.accumulate_d::<F, 5>(xs, labels, w),
            6 => self.accumulate_d::<F, 6>(xs, labels, w),
            7 => self.accumulate_d::<F, 7>(xs, labels, w),
            8 => self.accumulate_d::<F, 8>(xs, labels, w),
            _ => {
                #[cfg(target_arch = "x86_64")]
                {
                    if std::is_x86_feature_detected!("avx2") {
                        if let (Some(x), Some(wf)) = (cast_slice::<F, f32>(xs), cast_slice::<F, f32>(w)) {
                            // SAFETY: AVX2 was detected at run time.
                            unsafe { self.accumulate_avx2_f32(x, labels, wf) };
                            return;
                        }
                        if let (Some(x), Some(wf)) = (cast_slice::<F, f64>(xs), cast_slice::<F, f64>(w)) {
                            // SAFETY: as above.
                            unsafe { self.accumulate_avx2_f64(x, labels, wf) };
                            return;
                        }
                        // SAFETY: as above.
                        unsafe { self.accumulate_avx2(xs, labels, w) };
                        return;
                    }
                }
                self.accumulate_any(xs, labels, w);
            }
        }
    }

    /// [`Self::accumulate_any`] for `f32` rows, 8 features per step: the products `x * w` in
    /// `f32`, converted to `f64` and added to the sums (the same operations as `push`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn accumulate_avx2_f32(&mut self, xs: &[f32], labels: &[i32], w: &[f32]) {
        use std::arch::x86_64::*;
        let d = self.n_features;
        let k = self.weights.len();
        assert!(xs.len() >= labels.len() * d && w.len() >= labels.len() && self.sums.len() >= k * d);
        let d8 = d / 8 * 8;
        let sums = self.sums.as_mut_ptr();
        for (i, (&l, &wi)) in labels.iter().zip(w).enumerate() {
            let l = l as usize;
            assert!(l < k, "label out of range");
            let wv = _mm256_set1_ps(wi);
            let x = xs.as_ptr().add(i * d);
            // The row SUMS_PREFETCH_ROWS ahead: without it each row waits on memory when the
            // kernel did not just read it (rows skipped by Hamerly's bounds).
            let ahead = i + SUMS_PREFETCH_ROWS;
            if let Some(row) = xs.get(ahead * d..(ahead + 1) * d) {
                prefetch_row(row);
            }
            let s = sums.add(l * d);
            let mut f = 0;
            while f < d8 {
                let p = _mm256_mul_ps(_mm256_loadu_ps(x.add(f)), wv);
                let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(p));
                let hi = _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(p));
                _mm256_storeu_pd(s.add(f), _mm256_add_pd(_mm256_loadu_pd(s.add(f)), lo));
                _mm256_storeu_pd(s.add(f + 4), _mm256_add_pd(_mm256_loadu_pd(s.add(f + 4)), hi));
                f += 8;
            }
            if d8 < d {
                push_tail(&mut *std::ptr::slice_from_raw_parts_mut(s.add(d8), d - d8), &xs[i * d + d8..(i + 1) * d], wi);
            }
            self.weights[l] += wi as f64;
        }
    }

    /// [`Self::accumulate_avx2_f32`] for `f64` rows, 4 features per step (product, then sum).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn accumulate_avx2_f64(&mut self, xs: &[f64], labels: &[i32], w: &[f64]) {
        use std::arch::x86_64::*;
        let d = self.n_features;
        let k = self.weights.len();
        assert!(xs.len() >= labels.len() * d && w.len() >= labels.len() && self.sums.len() >= k * d);
        let d4 = d / 4 * 4;
        let sums = self.sums.as_mut_ptr();
        for (i, (&l, &wi)) in labels.iter().zip(w).enumerate() {
            let l = l as usize;
            assert!(l < k, "label out of range");
            let wv = _mm256_set1_pd(wi);
            let x = xs.as_ptr().add(i * d);
            // The row SUMS_PREFETCH_ROWS ahead: without it each row waits on memory when the
            // kernel did not just read it (rows skipped by Hamerly's bounds).
            let ahead = i + SUMS_PREFETCH_ROWS;
            if let Some(row) = xs.get(ahead * d..(ahead + 1) * d) {
                prefetch_row(row);
            }
            let s = sums.add(l * d);
            let mut f = 0;
            while f < d4 {
                let p = _mm256_mul_pd(_mm256_loadu_pd(x.add(f)), wv);
                _mm256_storeu_pd(s.add(f), _mm256_add_pd(_mm256_loadu_pd(s.add(f)), p));
                f += 4;
            }
            if d4 < d {
                push_tail(&mut *std::ptr::slice_from_raw_parts_mut(s.add(d4), d - d4), &xs[i * d + d4..(i + 1) * d], wi);
            }
            self.weights[l] += wi;
        }
    }

    #[inline(always)]
    fn accumulate_any<F: Float>(&mut self, xs: &[F], labels: &[i32], w: &[F]) {
        let d = self.n_features;
        for ((row, &l), &wi) in xs.chunks_exact(d).zip(labels).zip(w) {
            self.push(l as usize, row, wi);
        }
    }

    /// [`Self::accumulate_any`] with 4-wide vectors (no FMA: the same arithmetic).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn accumulate_avx2<F: Float>(&mut self, xs: &[F], labels: &[i32], w: &[F]) {
        self.accumulate_any(xs, labels, w)
    }

    #[inline(always)]
    fn accumulate_d<F: Float, const D: usize>(&mut self, xs: &[F], labels: &[i32], w: &[F]) {
        let k = self.weights.len();
        for ((row, &l), &wi) in xs.chunks_exact(D).zip(labels).zip(w) {
            let l = l as usize;
            assert!(l < k);
            let s: &mut [f64; D] = (&mut self.sums[l * D..l * D + D]).try_into().expect("D features");
            let row: &[F; D] = row.try_into().expect("D features");
            for f in 0..D {
                s[f] += (row[f] * wi).as_f64();
            }
            self.weights[l] += wi.as_f64();
        }
    }

    #[inline(always)]
    fn push<F: Float>(&mut self, label: usize, row: &[F], w: F) {
        let d = self.n_features;
        let s = &mut self.sums[label * d..(label + 1) * d];
        let wf = w.as_f64();
        for (acc, &v) in s.iter_mut().zip(row) {
            *acc += (v * w).as_f64();
        }
        self.weights[label] += wf;
    }
}

/// Ask the CPU to fetch `row` (a sample's features, or Elkan's lower bounds) into the cache.
/// Shared by the K-means passes and BisectingKMeans' row gather.
#[inline(always)]
pub(crate) fn prefetch_row<F>(row: &[F]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(row);
        let p = row.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: a prefetch is a hint; the address is inside `row`.
            unsafe { _mm_prefetch(p.add(off), _MM_HINT_T0) };
            off += 64;
        }
        if bytes > 0 {
            // The last byte (a row that straddles one more cache line).
            // SAFETY: as above.
            unsafe { _mm_prefetch(p.add(bytes - 1), _MM_HINT_T0) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}

/// The last `d mod lanes` features of one row in [`CenterSums::accumulate_avx2_f32`] /
/// `_f64`: `s[f] += (x[f] * w) as f64`, as `push` (kept out of line so that the vector loop
/// stays simple).
#[inline(never)]
fn push_tail<F: Float>(s: &mut [f64], x: &[F], w: F) {
    for (acc, &v) in s.iter_mut().zip(x) {
        *acc += (v * w).as_f64();
    }
}

/// Squared euclidean distance with scikit-learn's `_euclidean_dense_dense` summation order
/// (4-way unrolled groups added to one accumulator, then the remainder).
#[inline(always)]
pub fn sq_dist_unrolled<F: Float>(a: &[F], b: &[F]) -> F {
    let n = a.len().min(b.len());
    let full = n / 4 * 4;
    let mut result = F::zero();
    let mut i = 0;
    while i < full {
        let d0 = a[i] - b[i];
        let d1 = a[i + 1] - b[i + 1];
        let d2 = a[i + 2] - b[i + 2];
        let d3 = a[i + 3] - b[i + 3];
        result = result + (d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3);
        i += 4;
    }
    while i < n {
        let d0 = a[i] - b[i];
        result = result + d0 * d0;
        i += 1;
    }
    result
}

/// numpy's pairwise summation (`np.sum` of a contiguous 1-d array), used where scikit-learn
/// compares a numpy sum against a threshold (`center_shift_tot <= tol`).
pub fn numpy_pairwise_sum<F: Float>(a: &[F]) -> F {
    numpy_pairwise_sum_by(&|i| a[i], 0, a.len())
}

/// [`numpy_pairwise_sum`] of `get(lo..lo + n)`: the same blocks and order, for values read
/// through an accessor (e.g. weights gathered through a permutation) instead of a slice.
pub fn numpy_pairwise_sum_by<F: Float>(get: &impl Fn(usize) -> F, lo: usize, n: usize) -> F {
    if n < 8 {
        let mut res = F::zero();
        for i in lo..lo + n {
            res = res + get(i);
        }
        res
    } else if n <= 128 {
        let mut r = [F::zero(); 8];
        for (j, v) in r.iter_mut().enumerate() {
            *v = get(lo + j);
        }
        let mut i = 8;
        while i < n - (n % 8) {
            for (j, v) in r.iter_mut().enumerate() {
                *v = *v + get(lo + i + j);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res = res + get(lo + i);
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_sum_by(get, lo, n2) + numpy_pairwise_sum_by(get, lo + n2, n - n2)
    }
}

/// Squared row norms (sequential sum per row).
pub fn row_sq_norms<F: Float>(a: ArrayView2<F>) -> Vec<F> {
    a.rows()
        .into_iter()
        .map(|r| r.iter().fold(F::zero(), |s, &v| s + v * v))
        .collect()
}

fn check_shapes<F: Float>(
    x: &ArrayView2<F>,
    sample_weight: &ArrayView1<F>,
    centers: &ArrayView2<F>,
) -> RmlResult<()> {
    ensure!(
        sample_weight.len() == x.nrows(),
        "sample_weight has {} entries, expected {}",
        sample_weight.len(),
        x.nrows()
    );
    ensure!(
        centers.ncols() == x.ncols(),
        "centers have {} features, X has {}",
        centers.ncols(),
        x.ncols()
    );
    ensure!(centers.nrows() >= 1, "at least one centre is required");
    ensure!(centers.nrows() <= i32::MAX as usize, "too many centres for int32 labels");
    Ok(())
}

/// Precomputed per-call data about the centres used by the assignment kernel.
struct CenterPack<F> {
    norms: Vec<F>,
    /// `(d, k)` transposed centres for the small-`d` direct loop.
    transposed: Vec<F>,
    k: usize,
    d: usize,
    #[cfg(target_arch = "x86_64")]
    fused64: Option<fused::Packed<f64>>,
    #[cfg(target_arch = "x86_64")]
    fused32: Option<fused::Packed<f32>>,
}

/// View a `&[F]` as `&[T]` when `F` is `T` (f32/f64 dispatch without a trait change).
fn cast_slice<F: 'static, T: 'static>(s: &[F]) -> Option<&[T]> {
    if std::any::TypeId::of::<F>() == std::any::TypeId::of::<T>() {
        // SAFETY: F and T are the same type.
        Some(unsafe { std::slice::from_raw_parts(s.as_ptr() as *const T, s.len()) })
    } else {
        None
    }
}

impl<F: Float> CenterPack<F> {
    fn has_fused(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            self.fused64.is_some() || self.fused32.is_some()
        }
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Labels of `rows` rows starting at `xs` with the fused AVX2 kernel; false if it is not
    /// available for this dtype/CPU/shape (the caller then uses the GEMM path).
    #[inline]
    fn fused_assign(&self, xs: &[F], labels: &mut [i32]) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            if let (Some(p), Some(x)) = (self.fused64.as_ref(), cast_slice::<F, f64>(xs)) {
                // SAFETY: fused64 is only built when AVX2 and FMA were detected.
                unsafe { fused::k64::assign(x, p, labels) };
                return true;
            }
            if let (Some(p), Some(x)) = (self.fused32.as_ref(), cast_slice::<F, f32>(xs)) {
                // SAFETY: as above.
                unsafe { fused::k32::assign(x, p, labels) };
                return true;
            }
        }
        let _ = (xs, labels);
        false
    }
}

impl<F: Float> CenterPack<F> {
    fn new(centers: &ArrayView2<F>) -> Self {
        let (k, d) = centers.dim();
        let norms = row_sq_norms(centers.view());
        let transposed = if d <= SMALL_D {
            let mut t = vec![F::zero(); k * d];
            for j in 0..k {
                for f in 0..d {
                    t[f * k + j] = centers[[j, f]];
                }
            }
            t
        } else {
            Vec::new()
        };
        #[cfg(target_arch = "x86_64")]
        {
            let use_fused = d >= 1 && k < (1 << 24) && fused::available();
            let cs = centers.as_slice();
            let fused64 = match (use_fused, cs.and_then(cast_slice::<F, f64>), cast_slice::<F, f64>(&norms)) {
                (true, Some(c), Some(nm)) => Some(fused::k64::pack(c, nm, k, d)),
                _ => None,
            };
            let fused32 = match (use_fused, cs.and_then(cast_slice::<F, f32>), cast_slice::<F, f32>(&norms)) {
                (true, Some(c), Some(nm)) => Some(fused::k32::pack(c, nm, k, d)),
                _ => None,
            };
            Self { norms, transposed, k, d, fused64, fused32 }
        }
        #[cfg(not(target_arch = "x86_64"))]
        Self { norms, transposed, k, d }
    }
}

/// Fill `dist` (`rows × k`, row-major) with `||c||² - 2 x·c` for the rows of `xc`.
fn chunk_scores<F: Float>(
    xc: ArrayView2<F>,
    centers: &ArrayView2<F>,
    pack: &CenterPack<F>,
    dist: &mut [F],
) {
    let rows = xc.nrows();
    let k = pack.k;
    let d = pack.d;
    let dist = &mut dist[..rows * k];
    let minus_two = F::from_f64(-2.0);
    if d <= SMALL_D {
        let xs = xc.as_slice().expect("chunk of a C-contiguous array");
        for (r, out) in dist.chunks_exact_mut(k).enumerate() {
            let x = &xs[r * d..(r + 1) * d];
            for v in out.iter_mut() {
                *v = F::zero();
            }
            for (f, &xv) in x.iter().enumerate() {
                let ct = &pack.transposed[f * k..(f + 1) * k];
                for (acc, &c) in out.iter_mut().zip(ct) {
                    *acc = *acc + xv * c;
                }
            }
            for (acc, &cn) in out.iter_mut().zip(&pack.norms) {
                *acc = minus_two * *acc + cn;
            }
        }
    } else {
        for row in dist.chunks_exact_mut(k) {
            row.copy_from_slice(&pack.norms);
        }
        let mut dview = ArrayViewMut2::from_shape((rows, k), dist).expect("scratch shape");
        general_mat_mul(minus_two, &xc, &centers.t(), F::one(), &mut dview);
    }
}

#[inline(always)]
fn argmin_first<F: Float>(row: &[F]) -> usize {
    let mut best = 0usize;
    let mut min = row[0];
    for (j, &v) in row.iter().enumerate().skip(1) {
        if v < min {
            min = v;
            best = j;
        }
    }
    best
}

/// What one block of the Lloyd pass produces.
struct BlockOut {
    sums: Option<CenterSums>,
    inertia: f64,
}

/// Run `f` over the items in waves of [`WAVE_BLOCKS`] in parallel and hand the results to
/// `merge` in item order: the fixed-order reduction every K-means pass uses.
pub(crate) fn for_blocks_ordered<T, R, Fn1, M>(
    items: Vec<T>,
    cancel: &Cancel,
    f: Fn1,
    mut merge: M,
) -> RmlResult<()>
where
    T: Send,
    R: Send,
    Fn1: Fn(T) -> RmlResult<R> + Sync + Send,
    M: FnMut(R),
{
    let mut items = items;
    while !items.is_empty() {
        cancel.check()?;
        let rest = items.split_off(items.len().min(WAVE_BLOCKS));
        let wave = std::mem::replace(&mut items, rest);
        let outs: Vec<RmlResult<R>> = wave.into_par_iter().map(&f).collect();
        for o in outs {
            merge(o?);
        }
    }
    Ok(())
}

/// One pass of Lloyd's E-step over all rows: labels (always), per-centre weighted sums (if
/// `update_centers`), and the inertia w.r.t. `centers` of the new labels (if `with_inertia`).
///
/// This is scikit-learn's `lloyd_iter_chunked_dense` without the relocation/averaging tail
/// (see [`finish_centers`]). `labels` must have `n` entries.
pub fn lloyd_pass<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers: ArrayView2<F>,
    labels: &mut [i32],
    update_centers: bool,
    with_inertia: bool,
    cancel: &Cancel,
) -> RmlResult<(Option<CenterSums>, f64)> {
    check_shapes(&x, &sample_weight, &centers)?;
    ensure!(labels.len() == x.nrows(), "labels have the wrong length");
    let x = x.as_standard_layout();
    let centers = centers.as_standard_layout();
    let sw = sample_weight.as_standard_layout();
    let sw = sw.as_slice().expect("standard layout");
    let (n, d) = x.dim();
    let k = centers.nrows();
    let mut total = if update_centers { Some(CenterSums::zeros(k, d)?) } else { None };
    let mut inertia = 0.0f64;
    if n == 0 {
        return Ok((total, inertia));
    }
    let pack = CenterPack::new(&centers.view());
    let chunk = CHUNK_ROWS.min(n);
    rml_core::size::checked_elems(chunk, k, "distance chunk")?;
    let items: Vec<(usize, &mut [i32])> =
        labels.chunks_mut(BLOCK_ROWS).enumerate().map(|(b, l)| (b * BLOCK_ROWS, l)).collect();
    let xv = x.view();
    let cv = centers.view();
    let xs = xv.as_slice().expect("standard layout");
    let cs = cv.as_slice().expect("standard layout");
    for_blocks_ordered(
        items,
        cancel,
        |(start, lab): (usize, &mut [i32])| -> RmlResult<BlockOut> {
            let rows = lab.len();
            let mut dist = Vec::new();
            let mut sums = if update_centers { Some(CenterSums::zeros(k, d)?) } else { None };
            let mut inert = 0.0f64;
            let mut off = 0;
            while off < rows {
                // The fused kernels take smaller chunks so that the rows are still in L1 when
                // their sums are accumulated.
                let m = if pack.has_fused() { FUSED_CHUNK_ROWS } else { chunk }.min(rows - off);
                let r0 = start + off;
                let fused = pack.fused_assign(&xs[r0 * d..(r0 + m) * d], &mut lab[off..off + m]);
                if !fused {
                    if dist.is_empty() {
                        dist = vec![F::zero(); chunk * k];
                    }
                    let xc = xv.slice(ndarray::s![r0..r0 + m, ..]);
                    chunk_scores(xc, &cv, &pack, &mut dist);
                }
                if !fused {
                    for i in 0..m {
                        lab[off + i] = argmin_first(&dist[i * k..(i + 1) * k]) as i32;
                    }
                }
                let xr = &xs[r0 * d..(r0 + m) * d];
                let lr = &lab[off..off + m];
                let wr = &sw[r0..r0 + m];
                if let Some(s) = sums.as_mut() {
                    s.accumulate(xr, lr, wr);
                }
                if with_inertia {
                    add_inertia(&mut inert, xr, lr, wr, cs, d);
                }
                off += m;
            }
            Ok(BlockOut { sums, inertia: inert })
        },
        |out| {
            if let (Some(t), Some(s)) = (total.as_mut(), out.sums.as_ref()) {
                t.add(s);
            }
            inertia += out.inertia;
        },
    )?;
    Ok((total, inertia))
}

/// `inert += w ||x - c_label||²` for consecutive rows (`xs` row-major), in row order: the
/// order every pass that reports an inertia uses, so that they agree to the bit.
#[inline]
fn add_inertia<F: Float>(inert: &mut f64, xs: &[F], labels: &[i32], w: &[F], cs: &[F], d: usize) {
    for ((x, &label), &wi) in xs.chunks_exact(d).zip(labels).zip(w) {
        let label = label as usize;
        *inert += (sq_dist_unrolled(x, &cs[label * d..(label + 1) * d]) * wi).as_f64();
    }
}

/// Nearest centre of every row and the inertia `Σ w ||x - c_label||²` (scikit-learn's
/// `_labels_inertia`). Ties go to the smaller centre index. Parallel over fixed blocks of
/// rows, results independent of the thread count.
pub fn assign_labels<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers: ArrayView2<F>,
    cancel: &Cancel,
) -> RmlResult<(Vec<i32>, f64)> {
    let mut labels = rml_core::size::try_zeroed_vec::<i32>(x.nrows(), 1, "labels")?;
    let (_, inertia) = lloyd_pass(x, sample_weight, centers, &mut labels, false, true, cancel)?;
    Ok((labels, inertia))
}

/// `Σ w ||x - c_label||²` for given labels (scikit-learn's `_inertia_dense`); with
/// `single_label = Some(j)` only the rows labelled `j` count.
pub fn inertia<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers: ArrayView2<F>,
    labels: &[i32],
    single_label: Option<i32>,
    cancel: &Cancel,
) -> RmlResult<f64> {
    check_shapes(&x, &sample_weight, &centers)?;
    ensure!(labels.len() == x.nrows(), "labels have the wrong length");
    let k = centers.nrows() as i32;
    ensure!(labels.iter().all(|&l| l >= 0 && l < k), "labels out of range");
    let x = x.as_standard_layout();
    let centers = centers.as_standard_layout();
    let xs = x.as_slice().expect("standard layout");
    let cs = centers.as_slice().expect("standard layout");
    let d = x.ncols();
    let sw = sample_weight.to_vec();
    let items: Vec<usize> = (0..x.nrows().div_ceil(BLOCK_ROWS)).collect();
    let n = x.nrows();
    let mut total = 0.0f64;
    for_blocks_ordered(
        items,
        cancel,
        |b| {
            let mut s = 0.0f64;
            for i in b * BLOCK_ROWS..((b + 1) * BLOCK_ROWS).min(n) {
                let j = labels[i];
                if single_label.is_none_or(|l| l == j) {
                    let j = j as usize;
                    let dd = sq_dist_unrolled(&xs[i * d..(i + 1) * d], &cs[j * d..(j + 1) * d]);
                    s += (dd * sw[i]).as_f64();
                }
            }
            Ok(s)
        },
        |s| total += s,
    )?;
    Ok(total)
}

/// The M-step tail of scikit-learn: relocate empty clusters, average, centre shifts.
///
/// Returns `(centers_new, weight_in_clusters, center_shift)`. `sums` comes from
/// [`lloyd_pass`] (or Elkan's pass) over the same `labels`.
///
/// Relocation (`_relocate_empty_clusters_dense`): clusters with zero total weight take, one
/// each, the samples farthest from their assigned old centre (largest distance first; among
/// equal distances the smaller index first — numpy's `argpartition` leaves that order
/// unspecified, so with several empty clusters and tied distances the pairing may differ from
/// scikit-learn's). Nothing is relocated when every sample sits on its centre.
pub fn finish_centers<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_old: ArrayView2<F>,
    labels: &[i32],
    mut sums: CenterSums,
) -> RmlResult<(Array2<F>, Vec<F>, Vec<F>)> {
    check_shapes(&x, &sample_weight, &centers_old)?;
    let (k, d) = centers_old.dim();
    ensure!(sums.weights.len() == k && sums.sums.len() == k * d, "sums have the wrong shape");
    ensure!(labels.len() == x.nrows(), "labels have the wrong length");
    relocate_empty_clusters(x, sample_weight, centers_old, labels, &mut sums)?;
    // _average_centers: argmax over the weights (first maximum), then in centre order either
    // scale by 1/w or copy the current state of the heaviest centre's row.
    let weights_f: Vec<F> = sums.weights.iter().map(|&w| F::from_f64(w)).collect();
    let mut argmax = 0usize;
    for (j, &w) in weights_f.iter().enumerate() {
        if w > weights_f[argmax] {
            argmax = j;
        }
    }
    let mut centers = Array2::<F>::zeros((k, d));
    // Row state in f64 so that the copy-from-argmax rule sees the same state as scikit-learn.
    let mut rows: Vec<f64> = sums.sums.clone();
    let mut done = vec![false; k];
    for j in 0..k {
        if weights_f[j] > F::zero() {
            if F::DTYPE == "float64" {
                let alpha = 1.0 / sums.weights[j];
                for f in 0..d {
                    rows[j * d + f] *= alpha;
                }
            } else {
                for f in 0..d {
                    rows[j * d + f] /= sums.weights[j];
                }
            }
            done[j] = true;
        } else {
            for f in 0..d {
                rows[j * d + f] = rows[argmax * d + f];
            }
        }
    }
    for j in 0..k {
        for f in 0..d {
            centers[[j, f]] = F::from_f64(rows[j * d + f]);
        }
    }
    let shift = center_shift(centers_old, centers.view());
    Ok((centers, weights_f, shift))
}

/// `||c_new[j] - c_old[j]||` per centre, unrolled order.
pub fn center_shift<F: Float>(centers_old: ArrayView2<F>, centers_new: ArrayView2<F>) -> Vec<F> {
    centers_old
        .rows()
        .into_iter()
        .zip(centers_new.rows())
        .map(|(o, n)| {
            let o = o.to_vec();
            let n = n.to_vec();
            sq_dist_unrolled(&n, &o).sqrt()
        })
        .collect()
}

fn relocate_empty_clusters<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_old: ArrayView2<F>,
    labels: &[i32],
    sums: &mut CenterSums,
) -> RmlResult<()> {
    let empty: Vec<usize> = (0..sums.weights.len()).filter(|&j| sums.weights[j] == 0.0).collect();
    if empty.is_empty() {
        return Ok(());
    }
    let n = x.nrows();
    let d = x.ncols();
    let mut dist: Vec<(F, usize)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let j = labels[i] as usize;
            let mut s = F::zero();
            for f in 0..d {
                let t = x[[i, f]] - centers_old[[j, f]];
                s = s + t * t;
            }
            (s, i)
        })
        .collect();
    let max = dist.iter().map(|p| p.0).fold(F::neg_infinity(), |a, b| a.max(b));
    if max == F::zero() {
        return Ok(());
    }
    let n_empty = empty.len().min(n);
    // Largest distance first, ties by index.
    let cmp = |a: &(F, usize), b: &(F, usize)| b.0.as_f64().total_cmp(&a.0.as_f64()).then(a.1.cmp(&b.1));
    if n_empty < n {
        dist.select_nth_unstable_by(n_empty - 1, cmp);
    }
    let top = &mut dist[..n_empty];
    top.sort_by(cmp);
    for (idx, &new_id) in empty.iter().take(n_empty).enumerate() {
        let far = top[idx].1;
        let w = sample_weight[far];
        let old_id = labels[far] as usize;
        for f in 0..d {
            let v = (x[[far, f]] * w).as_f64();
            sums.sums[old_id * d + f] -= v;
            sums.sums[new_id * d + f] = v;
        }
        sums.weights[new_id] = w.as_f64();
        sums.weights[old_id] -= w.as_f64();
    }
    Ok(())
}

/// One full Lloyd iteration as scikit-learn's `lloyd_iter_chunked_dense(update_centers=True)`:
/// new labels, new centres, weights per centre and centre shifts.
pub fn lloyd_iter<F: Float>(
    x: ArrayView2<F>,
    sample_weight: ArrayView1<F>,
    centers_old: ArrayView2<F>,
    labels: &mut [i32],
    cancel: &Cancel,
) -> RmlResult<(Array2<F>, Vec<F>, Vec<F>)> {
    let (sums, _) = lloyd_pass(x, sample_weight, centers_old, labels, true, false, cancel)?;
    let sums = sums.ok_or_else(|| RmlError::Internal("lloyd pass returned no sums".into()))?;
    finish_centers(x, sample_weight, centers_old, labels, sums)
}

/// Euclidean distances of every row to every centre, `(n, k)` (KMeans.transform), computed
/// as scikit-learn's `euclidean_distances`: `sqrt(max(||x||² - 2 x·c + ||c||², 0))` in `f64`
/// (float32 input is upcast chunk by chunk as scikit-learn does, result cast back).
pub fn transform<F: Float>(
    x: ArrayView2<F>,
    centers: ArrayView2<F>,
    cancel: &Cancel,
) -> RmlResult<Array2<F>> {
    ensure!(centers.ncols() == x.ncols(), "centers and X have different numbers of features");
    let (n, d) = x.dim();
    let k = centers.nrows();
    let total = rml_core::size::checked_elems(n, k, "transform output")?;
    rml_core::size::checked_bytes::<F>(total, "transform output")?;
    let c64: Array2<f64> = centers.mapv(|v| v.as_f64());
    let cn: Vec<f64> = row_sq_norms(c64.view());
    let mut out = Array2::<F>::zeros((n, k));
    let x = x.as_standard_layout();
    let rows_per = CHUNK_ROWS;
    let items: Vec<(usize, ndarray::ArrayViewMut2<F>)> = out
        .axis_chunks_iter_mut(ndarray::Axis(0), rows_per)
        .enumerate()
        .map(|(b, v)| (b * rows_per, v))
        .collect();
    let xv = x.view();
    for_blocks_ordered(
        items,
        cancel,
        |(start, mut o)| {
            let m = o.nrows();
            let xc: Array2<f64> = xv.slice(ndarray::s![start..start + m, ..]).mapv(|v| v.as_f64());
            let xn = row_sq_norms(xc.view());
            let mut dmat = Array2::<f64>::zeros((m, k));
            general_mat_mul(-2.0, &xc, &c64.t(), 0.0, &mut dmat);
            for i in 0..m {
                for j in 0..k {
                    let v = (dmat[[i, j]] + xn[i]) + cn[j];
                    o[[i, j]] = F::from_f64(v.max(0.0).sqrt());
                }
            }
            let _ = d;
            Ok(())
        },
        |_| {},
    )?;
    Ok(out)
}

/// Gather `x[idx]` into a new `(len, d)` array.
pub fn take_rows<F: Float>(x: ArrayView2<F>, idx: &[usize]) -> RmlResult<Array2<F>> {
    let n = x.nrows();
    ensure!(idx.iter().all(|&i| i < n), "row index out of range");
    let mut out = Array2::<F>::zeros((idx.len(), x.ncols()));
    for (o, &i) in out.rows_mut().into_iter().zip(idx) {
        let mut o = o;
        o.assign(&x.row(i));
    }
    Ok(out)
}

/// Convert a `Vec<F>` into an `Array1<F>` (helper for bindings).
pub fn to_array1<F: Float>(v: Vec<F>) -> Array1<F> {
    Array1::from(v)
}

#[cfg(test)]
mod tests;
