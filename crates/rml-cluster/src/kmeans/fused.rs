//! Fused assignment micro-kernels (x86-64 AVX2 + FMA, chosen at run time).
//!
//! Every kernel computes, for a row `x` and a centre `c`, the score
//! `s = fma(-2, acc, ||c||²)` with `acc = fma(x[d-1], c[d-1], … fma(x[0], c[0], 0))` — one FMA
//! chain per (row, centre) in feature order — so a row's label does not depend on which
//! kernel ran, on its position in a block or on the thread count. The label is the first
//! minimum (strict `<`, smallest centre index among equal minimal scores), as scikit-learn's
//! `argmin` over its GEMM scores; a NaN score never wins, except that a NaN score of centre 0
//! keeps label 0 (as a strict-`<` scan starting at centre 0).
//!
//! Both kernels put rows in SIMD lanes and broadcast the centres, so each lane keeps its own
//! running first minimum (centres in increasing order; a strict-`<` compare selects the new
//! centre index): no score matrix, no horizontal reduction, no per-row argmin pass.
//!
//! * [`k64::assign`] / [`k32::assign`] with `d > SMALL_D` ("big" kernel): register-blocked like a
//!   GEMM micro-kernel, `RB = 2 × lanes` rows (two vectors) × `CB = 4` centres (8 accumulators),
//!   over a feature-major packed copy of the centres (`d × CB` per block, in L1) and a
//!   feature-major copy of the `RB` rows transposed on the fly with SIMD tile transposes. The
//!   next step's rows are prefetched while the current ones are scored (the loads of the
//!   transpose would otherwise stall on memory). At `d = 32` the FMA loop runs at the FMA
//!   throughput limit; per 8 scores the tail adds one FMA, a compare, a `min` and a blend.
//!   Single thread, n=200k, d=32, k=64: 149 cycles per row in float32 against the 128 of the
//!   FMA bound (the previous 6 rows × 16 centres kernel with a stored score block: 180), 301
//!   in float64 (358). That kernel stays in the tests as a bit-exact oracle.
//! * `d ≤ SMALL_D` ("small" kernel): `2 × lanes` rows per step, one centre at a time. This case
//!   is memory/overhead bound, not FLOP bound.
//!
//! Rows left over at the end of a call go through the same code on a zero-padded copy.

use std::mem::MaybeUninit;

/// Centres packed for the kernels.
pub(crate) struct Packed<T> {
    /// Big kernel: `nb` blocks of `CB` centres, each `d × CB` (feature-major), zero padded.
    pub data: Vec<T>,
    /// Big kernel: norms padded to `nb × CB` with `+inf`; small kernel: the `k` norms.
    pub norms: Vec<T>,
    /// Big kernel: the centre indices `0, 1, …, nb × CB - 1` as floats.
    pub index: Vec<T>,
    /// Small kernel: the centres, row-major `k × d`.
    pub rows: Vec<T>,
    pub nb: usize,
    pub d: usize,
    pub k: usize,
    pub small: bool,
}

/// Largest `d` handled by the small kernel.
pub(crate) const SMALL_KERNEL_D: usize = 8;

/// Big kernel: largest `d` whose transposed rows live on the stack (else one heap buffer per
/// call).
const STACK_D: usize = 64;

macro_rules! impl_kernel {
    ($modname:ident, $t:ty, $lanes:expr, $vec:ty, $set1:ident, $loadu:ident, $storeu:ident,
     $fmadd:ident, $mul:ident, $setzero:ident, $min:ident, $max:ident, $cmp:ident, $blendv:ident, $cvt:ident,
     $istore:ident, $itype:ty, $tile:ident) => {
        pub(crate) mod $modname {
            use super::{MaybeUninit, Packed, SMALL_KERNEL_D, STACK_D};
            #[cfg(target_arch = "x86_64")]
            use super::$tile;
            #[cfg(target_arch = "x86_64")]
            use std::arch::x86_64::*;

            /// Centres per block of the big kernel.
            pub const CB: usize = 4;
            /// Rows per step of the big kernel (two vectors).
            pub const RB: usize = 2 * $lanes;
            /// Rows per step of the small kernel.
            const RS: usize = 2 * $lanes;
            const L: usize = $lanes;

            pub fn pack(centers: &[$t], norms: &[$t], k: usize, d: usize) -> Packed<$t> {
                if d <= SMALL_KERNEL_D {
                    return Packed {
                        data: Vec::new(),
                        norms: norms[..k].to_vec(),
                        index: Vec::new(),
                        rows: centers[..k * d].to_vec(),
                        nb: 0,
                        d,
                        k,
                        small: true,
                    };
                }
                let nb = k.div_ceil(CB);
                let mut data = vec![0.0 as $t; nb * d * CB];
                let mut pn = vec![<$t>::INFINITY; nb * CB];
                for j in 0..k {
                    let (b, l) = (j / CB, j % CB);
                    for f in 0..d {
                        data[b * d * CB + f * CB + l] = centers[j * d + f];
                    }
                    pn[j] = norms[j];
                }
                let index = (0..nb * CB).map(|j| j as $t).collect();
                Packed { data, norms: pn, index, rows: Vec::new(), nb, d, k, small: false }
            }

            /// Labels of the `labels.len()` rows of `x` (row-major, `d` columns).
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; `x.len() >= labels.len() * d`;
            /// `k < 2^24` (centre indices are carried as floats).
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn assign(x: &[$t], p: &Packed<$t>, labels: &mut [i32]) {
                assert!(x.len() >= labels.len() * p.d);
                if labels.is_empty() || p.k == 0 {
                    return;
                }
                if p.small {
                    assign_small(x, p, labels)
                } else {
                    assign_big::<false>(x, p, labels, std::ptr::null_mut(), std::ptr::null_mut())
                }
            }

            /// [`assign`] for `d > SMALL_KERNEL_D` that also stores each row's smallest score
            /// (`best`, its label's) and smallest score over the other centres (`second`,
            /// `+inf` when `k = 1`): the same labels, bit for bit, from the same FMA chains.
            /// Hamerly's bounds (`hamerly.rs`) are built from the two scores.
            ///
            /// # Safety
            /// As [`assign`]; `p` packed for `d > SMALL_KERNEL_D`; `best` and `second` hold
            /// at least `labels.len()` values.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn assign_with_scores(
                x: &[$t],
                p: &Packed<$t>,
                labels: &mut [i32],
                best: &mut [$t],
                second: &mut [$t],
            ) {
                assert!(!p.small && x.len() >= labels.len() * p.d);
                assert!(best.len() >= labels.len() && second.len() >= labels.len());
                if labels.is_empty() || p.k == 0 {
                    return;
                }
                assign_big::<true>(x, p, labels, best.as_mut_ptr(), second.as_mut_ptr())
            }

            /// Copy `m <= RB` rows at `xr` (`d` columns) into `xt[f * RB + i]`, feature-major,
            /// rows `m..RB` zero.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            unsafe fn transpose_rows(xr: *const $t, m: usize, d: usize, xt: *mut $t) {
                if m == RB {
                    let mut f = 0;
                    while f + L <= d {
                        $tile(xr.add(f), d, xt.add(f * RB), RB);
                        $tile(xr.add(L * d + f), d, xt.add(f * RB + L), RB);
                        f += L;
                    }
                    while f < d {
                        for i in 0..RB {
                            *xt.add(f * RB + i) = *xr.add(i * d + f);
                        }
                        f += 1;
                    }
                } else {
                    for f in 0..d {
                        for i in 0..RB {
                            *xt.add(f * RB + i) = if i < m { *xr.add(i * d + f) } else { 0.0 };
                        }
                    }
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn assign_big<const SCORES: bool>(
                x: &[$t],
                p: &Packed<$t>,
                labels: &mut [i32],
                best: *mut $t,
                second: *mut $t,
            ) {
                let d = p.d;
                let rows = labels.len();
                // The transposed rows: on the stack (not initialised: every step writes all
                // `RB × d` values before reading them) unless `d` is large.
                let mut xt_stack = [MaybeUninit::<$t>::uninit(); RB * STACK_D];
                let mut xt_heap: Vec<$t> = Vec::new();
                let xt: *mut $t = if d <= STACK_D {
                    xt_stack.as_mut_ptr().cast::<$t>()
                } else {
                    xt_heap.resize(RB * d, 0.0);
                    xt_heap.as_mut_ptr()
                };
                let m2: $vec = $set1(-2.0);
                // One step's rows in cache lines, prefetched `per_block` lines per centre block.
                let step_bytes = RB * d * std::mem::size_of::<$t>();
                let lines = step_bytes.div_ceil(64);
                let per_block = lines.div_ceil(p.nb);
                let mut lab = [0i32; RB];
                let mut r = 0;
                while r < rows {
                    let m = RB.min(rows - r);
                    let xr = x.as_ptr().add(r * d);
                    transpose_rows(xr, m, d, xt);
                    // The next step's rows (past the end of `x` on the last step: a prefetch
                    // never faults and reads nothing).
                    let next = xr.cast::<u8>().wrapping_add(step_bytes);
                    // Running minimum of each lane's scores and its centre index.
                    let (mut v0, mut v1): ($vec, $vec) = ($setzero(), $setzero());
                    let (mut i0, mut i1): ($vec, $vec) = ($setzero(), $setzero());
                    // With SCORES: each lane's smallest score among the centres that are not
                    // its running minimum (`min(w, max(s, v))` before `v` takes `min(s, v)`).
                    let inf: $vec = $set1(<$t>::INFINITY);
                    let (mut w0, mut w1): ($vec, $vec) = (inf, inf);
                    for b in 0..p.nb {
                        for u in b * per_block..((b + 1) * per_block).min(lines) {
                            _mm_prefetch::<_MM_HINT_T0>(next.wrapping_add(u * 64).cast::<i8>());
                        }
                        let cp = p.data.as_ptr().add(b * d * CB);
                        let mut a00: $vec = $setzero();
                        let mut a01: $vec = $setzero();
                        let mut a02: $vec = $setzero();
                        let mut a03: $vec = $setzero();
                        let mut a10: $vec = $setzero();
                        let mut a11: $vec = $setzero();
                        let mut a12: $vec = $setzero();
                        let mut a13: $vec = $setzero();
                        // Features in order: each accumulator is one sequential FMA chain.
                        for f in 0..d {
                            let xp = xt.add(f * RB);
                            let x0 = $loadu(xp);
                            let x1 = $loadu(xp.add(L));
                            let c = cp.add(f * CB);
                            let c0 = $set1(*c);
                            a00 = $fmadd(x0, c0, a00);
                            a10 = $fmadd(x1, c0, a10);
                            let c1 = $set1(*c.add(1));
                            a01 = $fmadd(x0, c1, a01);
                            a11 = $fmadd(x1, c1, a11);
                            let c2 = $set1(*c.add(2));
                            a02 = $fmadd(x0, c2, a02);
                            a12 = $fmadd(x1, c2, a12);
                            let c3 = $set1(*c.add(3));
                            a03 = $fmadd(x0, c3, a03);
                            a13 = $fmadd(x1, c3, a13);
                        }
                        let np = p.norms.as_ptr().add(b * CB);
                        let ip = p.index.as_ptr().add(b * CB);
                        macro_rules! emit {
                            ($j:expr, $a0:expr, $a1:expr) => {{
                                let nj: $vec = $set1(*np.add($j));
                                let s0 = $fmadd(m2, $a0, nj);
                                let s1 = $fmadd(m2, $a1, nj);
                                if $j == 0 && b == 0 {
                                    // Centre 0 sets the minimum unconditionally (label 0).
                                    v0 = s0;
                                    v1 = s1;
                                } else {
                                    // `min(s, v)` is `s < v ? s : v` (`v` on NaN or equal
                                    // values): the same bits as blending on the mask `lt`,
                                    // without waiting for the compare.
                                    let jv: $vec = $set1(*ip.add($j));
                                    let lt0 = $cmp::<_CMP_LT_OQ>(s0, v0);
                                    let lt1 = $cmp::<_CMP_LT_OQ>(s1, v1);
                                    if SCORES {
                                        w0 = $min(w0, $max(s0, v0));
                                        w1 = $min(w1, $max(s1, v1));
                                    }
                                    v0 = $min(s0, v0);
                                    v1 = $min(s1, v1);
                                    i0 = $blendv(i0, jv, lt0);
                                    i1 = $blendv(i1, jv, lt1);
                                }
                            }};
                        }
                        emit!(0, a00, a10);
                        emit!(1, a01, a11);
                        emit!(2, a02, a12);
                        emit!(3, a03, a13);
                    }
                    // Indices are small non-negative integers: the truncating conversion is exact.
                    $istore(lab.as_mut_ptr() as *mut $itype, $cvt(i0));
                    $istore(lab.as_mut_ptr().add(L) as *mut $itype, $cvt(i1));
                    labels[r..r + m].copy_from_slice(&lab[..m]);
                    if SCORES {
                        let mut v = [0.0 as $t; RB];
                        let mut w = [0.0 as $t; RB];
                        $storeu(v.as_mut_ptr(), v0);
                        $storeu(v.as_mut_ptr().add(L), v1);
                        $storeu(w.as_mut_ptr(), w0);
                        $storeu(w.as_mut_ptr().add(L), w1);
                        std::ptr::copy_nonoverlapping(v.as_ptr(), best.add(r), m);
                        std::ptr::copy_nonoverlapping(w.as_ptr(), second.add(r), m);
                    }
                    r += m;
                }
            }

            /// Scores of the `RS` transposed rows at `xp` against centre `j`.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            unsafe fn score(xp: *const $t, cs: *const $t, ns: *const $t, d: usize, j: usize) -> ($vec, $vec) {
                let m2: $vec = $set1(-2.0);
                let c = cs.add(j * d);
                let cb = $set1(*c);
                let mut a0 = $mul($loadu(xp), cb);
                let mut a1 = $mul($loadu(xp.add(L)), cb);
                for f in 1..d {
                    let cb = $set1(*c.add(f));
                    a0 = $fmadd($loadu(xp.add(f * RS)), cb, a0);
                    a1 = $fmadd($loadu(xp.add(f * RS + L)), cb, a1);
                }
                let nj = $set1(*ns.add(j));
                ($fmadd(m2, a0, nj), $fmadd(m2, a1, nj))
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn assign_small(x: &[$t], p: &Packed<$t>, labels: &mut [i32]) {
                match p.d {
                    1 => small_d::<1>(x, p, labels),
                    2 => small_d::<2>(x, p, labels),
                    3 => small_d::<3>(x, p, labels),
                    4 => small_d::<4>(x, p, labels),
                    5 => small_d::<5>(x, p, labels),
                    6 => small_d::<6>(x, p, labels),
                    7 => small_d::<7>(x, p, labels),
                    _ => small_d::<8>(x, p, labels),
                }
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn small_d<const D: usize>(x: &[$t], p: &Packed<$t>, labels: &mut [i32]) {
                debug_assert!(p.d == D && D <= SMALL_KERNEL_D);
                let k = p.k;
                let rows = labels.len();
                // Transposed rows: xt[f * RS + r].
                let mut xt = [0.0 as $t; SMALL_KERNEL_D * RS];
                let mut lab = [0i32; RS];
                let cs = p.rows.as_ptr();
                let ns = p.norms.as_ptr();
                let mut r = 0;
                while r < rows {
                    let m = RS.min(rows - r);
                    if m == RS {
                        let xr = x.as_ptr().add(r * D);
                        for rr in 0..RS {
                            for f in 0..D {
                                *xt.get_unchecked_mut(f * RS + rr) = *xr.add(rr * D + f);
                            }
                        }
                    } else {
                        for rr in 0..RS {
                            for f in 0..D {
                                xt[f * RS + rr] = if rr < m { x[(r + rr) * D + f] } else { 0.0 };
                            }
                        }
                    }
                    let xp = xt.as_ptr();
                    // Centre 0 initialises the running minimum (label 0 unless a later centre
                    // is strictly smaller).
                    let (mut mv0, mut mv1) = score(xp, cs, ns, D, 0);
                    let mut mi0: $vec = $setzero();
                    let mut mi1: $vec = $setzero();
                    for j in 1..k {
                        let (s0, s1) = score(xp, cs, ns, D, j);
                        let jv = $set1(j as $t);
                        let lt0 = $cmp::<_CMP_LT_OQ>(s0, mv0);
                        let lt1 = $cmp::<_CMP_LT_OQ>(s1, mv1);
                        mv0 = $blendv(mv0, s0, lt0);
                        mv1 = $blendv(mv1, s1, lt1);
                        mi0 = $blendv(mi0, jv, lt0);
                        mi1 = $blendv(mi1, jv, lt1);
                    }
                    // Indices are small non-negative integers: the truncating conversion is exact.
                    $istore(lab.as_mut_ptr() as *mut $itype, $cvt(mi0));
                    $istore(lab.as_mut_ptr().add(L) as *mut $itype, $cvt(mi1));
                    labels[r..r + m].copy_from_slice(&lab[..m]);
                    r += m;
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
impl_kernel!(k64, f64, 4, __m256d, _mm256_set1_pd, _mm256_loadu_pd, _mm256_storeu_pd,
    _mm256_fmadd_pd, _mm256_mul_pd,
    _mm256_setzero_pd, _mm256_min_pd, _mm256_max_pd, _mm256_cmp_pd, _mm256_blendv_pd, _mm256_cvttpd_epi32, _mm_storeu_si128,
    __m128i, transpose_4x4_pd);
#[cfg(target_arch = "x86_64")]
impl_kernel!(k32, f32, 8, __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_storeu_ps,
    _mm256_fmadd_ps, _mm256_mul_ps,
    _mm256_setzero_ps, _mm256_min_ps, _mm256_max_ps, _mm256_cmp_ps, _mm256_blendv_ps, _mm256_cvttps_epi32, _mm256_storeu_si256,
    __m256i, transpose_8x8_ps);

/// Transpose an 8×8 `f32` tile: row `i` at `src + i * ld` becomes lane `i` of the rows
/// `dst + q * ldd` (`q` = column).
///
/// # Safety
/// AVX must be available; the 8 source rows and the 8 destination rows of 8 values must be
/// valid.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn transpose_8x8_ps(src: *const f32, ld: usize, dst: *mut f32, ldd: usize) {
    use std::arch::x86_64::*;
    let r0 = _mm256_loadu_ps(src);
    let r1 = _mm256_loadu_ps(src.add(ld));
    let r2 = _mm256_loadu_ps(src.add(2 * ld));
    let r3 = _mm256_loadu_ps(src.add(3 * ld));
    let r4 = _mm256_loadu_ps(src.add(4 * ld));
    let r5 = _mm256_loadu_ps(src.add(5 * ld));
    let r6 = _mm256_loadu_ps(src.add(6 * ld));
    let r7 = _mm256_loadu_ps(src.add(7 * ld));
    let t0 = _mm256_unpacklo_ps(r0, r1);
    let t1 = _mm256_unpackhi_ps(r0, r1);
    let t2 = _mm256_unpacklo_ps(r2, r3);
    let t3 = _mm256_unpackhi_ps(r2, r3);
    let t4 = _mm256_unpacklo_ps(r4, r5);
    let t5 = _mm256_unpackhi_ps(r4, r5);
    let t6 = _mm256_unpacklo_ps(r6, r7);
    let t7 = _mm256_unpackhi_ps(r6, r7);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    _mm256_storeu_ps(dst, _mm256_permute2f128_ps::<0x20>(u0, u4));
    _mm256_storeu_ps(dst.add(ldd), _mm256_permute2f128_ps::<0x20>(u1, u5));
    _mm256_storeu_ps(dst.add(2 * ldd), _mm256_permute2f128_ps::<0x20>(u2, u6));
    _mm256_storeu_ps(dst.add(3 * ldd), _mm256_permute2f128_ps::<0x20>(u3, u7));
    _mm256_storeu_ps(dst.add(4 * ldd), _mm256_permute2f128_ps::<0x31>(u0, u4));
    _mm256_storeu_ps(dst.add(5 * ldd), _mm256_permute2f128_ps::<0x31>(u1, u5));
    _mm256_storeu_ps(dst.add(6 * ldd), _mm256_permute2f128_ps::<0x31>(u2, u6));
    _mm256_storeu_ps(dst.add(7 * ldd), _mm256_permute2f128_ps::<0x31>(u3, u7));
}

/// Transpose a 4×4 `f64` tile (see [`transpose_8x8_ps`]).
///
/// # Safety
/// As [`transpose_8x8_ps`], with 4 rows of 4 values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn transpose_4x4_pd(src: *const f64, ld: usize, dst: *mut f64, ldd: usize) {
    use std::arch::x86_64::*;
    let r0 = _mm256_loadu_pd(src);
    let r1 = _mm256_loadu_pd(src.add(ld));
    let r2 = _mm256_loadu_pd(src.add(2 * ld));
    let r3 = _mm256_loadu_pd(src.add(3 * ld));
    let t0 = _mm256_unpacklo_pd(r0, r1);
    let t1 = _mm256_unpackhi_pd(r0, r1);
    let t2 = _mm256_unpacklo_pd(r2, r3);
    let t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(dst, _mm256_permute2f128_pd::<0x20>(t0, t2));
    _mm256_storeu_pd(dst.add(ldd), _mm256_permute2f128_pd::<0x20>(t1, t3));
    _mm256_storeu_pd(dst.add(2 * ldd), _mm256_permute2f128_pd::<0x31>(t0, t2));
    _mm256_storeu_pd(dst.add(3 * ldd), _mm256_permute2f128_pd::<0x31>(t1, t3));
}

/// Whether the fused kernels can run on this CPU.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// The previous big kernel (6 rows × `2 × lanes` centres register-blocked, scores stored to
/// an L1 block, then the first index equal to each row's minimum), kept as a bit-exact oracle
/// for the tests of the rows-in-lanes kernel.
#[cfg(all(test, target_arch = "x86_64"))]
macro_rules! impl_blocked {
    ($modname:ident, $t:ty, $lanes:expr, $vec:ty, $set1:ident, $loadu:ident, $fmadd:ident,
     $storeu:ident, $setzero:ident, $cmp:ident, $min:ident, $movemask:ident) => {
        pub(crate) mod $modname {
            use std::arch::x86_64::*;

            pub const NR: usize = 2 * $lanes;
            pub const MR: usize = 6;
            const L: usize = $lanes;

            pub struct Blocked {
                pub data: Vec<$t>,
                pub norms: Vec<$t>,
                pub nb: usize,
                pub d: usize,
                pub k: usize,
            }

            pub fn pack(centers: &[$t], norms: &[$t], k: usize, d: usize) -> Blocked {
                let nb = k.div_ceil(NR);
                let mut data = vec![0.0 as $t; nb * d * NR];
                let mut pn = vec![<$t>::INFINITY; nb * NR];
                for j in 0..k {
                    let (b, l) = (j / NR, j % NR);
                    for f in 0..d {
                        data[b * d * NR + f * NR + l] = centers[j * d + f];
                    }
                    pn[b * NR + l] = norms[j];
                }
                Blocked { data, norms: pn, nb, d, k }
            }

            /// # Safety
            /// AVX2 and FMA; `x.len() >= labels.len() * d`; `d > 8`.
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn assign(x: &[$t], p: &Blocked, labels: &mut [i32]) {
                assert!(x.len() >= labels.len() * p.d);
                if !labels.is_empty() && p.k > 0 {
                    assign_big(x, p, labels)
                }
            }

            /// First index of the minimum of `s`, given `vm` whose lanes hold the minimum over
            /// the non-NaN scores (padding lanes are `+inf`). Scalar semantics as
            /// `argmin_first`: a NaN at `s[0]` keeps label 0, later NaNs never win. The first
            /// equal lane is found branch-free over groups of 64 lanes.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            #[inline]
            unsafe fn first_equal_min(s: &[$t], vm: $vec) -> i32 {
                let k = s.len();
                let p = s.as_ptr();
                if (*p).is_nan() {
                    return 0;
                }
                let mut buf = [0.0 as $t; L];
                $storeu(buf.as_mut_ptr(), vm);
                let mut m = buf[0];
                for &v in &buf[1..] {
                    if v < m {
                        m = v;
                    }
                }
                let mv: $vec = $set1(m);
                let mut j = 0;
                while j + L <= k {
                    let mut mask: u64 = 0;
                    let mut q = 0;
                    while q < 64 && j + q + L <= k {
                        let mm = $movemask($cmp::<_CMP_EQ_OQ>($loadu(p.add(j + q)), mv)) as u64;
                        mask |= mm << q;
                        q += L;
                    }
                    if mask != 0 {
                        return (j + mask.trailing_zeros() as usize) as i32;
                    }
                    j += q;
                }
                while j < k {
                    if s[j] == m {
                        return j as i32;
                    }
                    j += 1;
                }
                0
            }

            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn assign_big(x: &[$t], p: &Blocked, labels: &mut [i32]) {
                let d = p.d;
                let rows = labels.len();
                let kp = p.nb * NR;
                // Scratch on the stack when small (the common case), else on the heap.
                const STACK: usize = MR * 256;
                let mut sc_stack = [0.0 as $t; STACK];
                let mut sc_heap = Vec::new();
                let sc: &mut [$t] = if MR * kp <= STACK {
                    &mut sc_stack[..MR * kp]
                } else {
                    sc_heap.resize(MR * kp, 0.0 as $t);
                    &mut sc_heap
                };
                let mut pad = if rows % MR != 0 { vec![0.0 as $t; MR * d] } else { Vec::new() };
                let m2: $vec = $set1(-2.0);
                let mut r = 0;
                while r < rows {
                    let m = MR.min(rows - r);
                    let x0: *const $t = if m == MR {
                        x.as_ptr().add(r * d)
                    } else {
                        pad[..m * d].copy_from_slice(&x[r * d..(r + m) * d]);
                        for v in &mut pad[m * d..] {
                            *v = 0.0;
                        }
                        pad.as_ptr()
                    };
                    let (x1, x2, x3, x4, x5) = (x0.add(d), x0.add(2 * d), x0.add(3 * d), x0.add(4 * d), x0.add(5 * d));
                    let so = sc.as_mut_ptr();
                    // Running minimum of each row's scores (NaNs never enter: `min(s, r)`
                    // returns `r` when `s` is NaN).
                    let inf: $vec = $set1(<$t>::INFINITY);
                    let mut rmin = [inf; MR];
                    for b in 0..p.nb {
                        let cp = p.data.as_ptr().add(b * d * NR);
                        let mut a00: $vec = $setzero();
                        let mut a01: $vec = $setzero();
                        let mut a10: $vec = $setzero();
                        let mut a11: $vec = $setzero();
                        let mut a20: $vec = $setzero();
                        let mut a21: $vec = $setzero();
                        let mut a30: $vec = $setzero();
                        let mut a31: $vec = $setzero();
                        let mut a40: $vec = $setzero();
                        let mut a41: $vec = $setzero();
                        let mut a50: $vec = $setzero();
                        let mut a51: $vec = $setzero();
                        macro_rules! step {
                            ($f:expr) => {{
                                let f = $f;
                                let c0 = $loadu(cp.add(f * NR));
                                let c1 = $loadu(cp.add(f * NR + L));
                                let b0 = $set1(*x0.add(f));
                                a00 = $fmadd(b0, c0, a00);
                                a01 = $fmadd(b0, c1, a01);
                                let b1 = $set1(*x1.add(f));
                                a10 = $fmadd(b1, c0, a10);
                                a11 = $fmadd(b1, c1, a11);
                                let b2 = $set1(*x2.add(f));
                                a20 = $fmadd(b2, c0, a20);
                                a21 = $fmadd(b2, c1, a21);
                                let b3 = $set1(*x3.add(f));
                                a30 = $fmadd(b3, c0, a30);
                                a31 = $fmadd(b3, c1, a31);
                                let b4 = $set1(*x4.add(f));
                                a40 = $fmadd(b4, c0, a40);
                                a41 = $fmadd(b4, c1, a41);
                                let b5 = $set1(*x5.add(f));
                                a50 = $fmadd(b5, c0, a50);
                                a51 = $fmadd(b5, c1, a51);
                            }};
                        }
                        // Features in order (each accumulator's FMA chain is sequential in f);
                        // unrolled by two to halve the loop overhead.
                        let mut f = 0;
                        while f + 2 <= d {
                            step!(f);
                            step!(f + 1);
                            f += 2;
                        }
                        if f < d {
                            step!(f);
                        }
                        let np = p.norms.as_ptr().add(b * NR);
                        let (n0, n1) = ($loadu(np), $loadu(np.add(L)));
                        let o = so.add(b * NR);
                        macro_rules! emit {
                            ($row:expr, $a0:expr, $a1:expr) => {{
                                let s0 = $fmadd(m2, $a0, n0);
                                let s1 = $fmadd(m2, $a1, n1);
                                $storeu(o.add($row * kp), s0);
                                $storeu(o.add($row * kp + L), s1);
                                rmin[$row] = $min(s1, $min(s0, rmin[$row]));
                            }};
                        }
                        emit!(0, a00, a01);
                        emit!(1, a10, a11);
                        emit!(2, a20, a21);
                        emit!(3, a30, a31);
                        emit!(4, a40, a41);
                        emit!(5, a50, a51);
                    }
                    for rr in 0..m {
                        labels[r + rr] = first_equal_min(&sc[rr * kp..rr * kp + p.k], rmin[rr]);
                    }
                    r += m;
                }
            }

        }
    };
}

#[cfg(all(test, target_arch = "x86_64"))]
impl_blocked!(blocked64, f64, 4, __m256d, _mm256_set1_pd, _mm256_loadu_pd, _mm256_fmadd_pd,
    _mm256_storeu_pd, _mm256_setzero_pd, _mm256_cmp_pd, _mm256_min_pd, _mm256_movemask_pd);
#[cfg(all(test, target_arch = "x86_64"))]
impl_blocked!(blocked32, f32, 8, __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps,
    _mm256_storeu_ps, _mm256_setzero_ps, _mm256_cmp_ps, _mm256_min_ps, _mm256_movemask_ps);

/// The kernels' scalar definition (test reference): score `fma(-2, acc, norm)` with one FMA
/// chain per (row, centre) in feature order, label the first minimum under strict `<`
/// starting at centre 0. `x` is `n × d` and `c` is `k × d`, both row-major.
#[cfg(test)]
pub(crate) fn scalar_labels<F: rml_core::Float>(x: &[F], c: &[F], norms: &[F], k: usize, d: usize) -> Vec<i32> {
    x.chunks_exact(d)
        .map(|row| {
            let score = |j: usize| {
                let mut acc = F::zero();
                for f in 0..d {
                    acc = row[f].mul_add(c[j * d + f], acc);
                }
                F::from_f64(-2.0).mul_add(acc, norms[j])
            };
            let (mut best, mut bv) = (0usize, score(0));
            for j in 1..k {
                let s = score(j);
                if s < bv {
                    best = j;
                    bv = s;
                }
            }
            best as i32
        })
        .collect()
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    //! The rows-in-lanes big kernel against the previous register-blocked kernel (bit-exact
    //! oracle) and a scalar reference of the documented arithmetic.

    use super::scalar_labels;

    /// Deterministic values: small integers (many exact ties between centres) or fractions.
    fn values(n: usize, seed: u64, ints: bool) -> Vec<f64> {
        let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (s >> 11) as f64 / (1u64 << 53) as f64;
                if ints {
                    (u * 5.0).floor() - 2.0
                } else {
                    u * 8.0 - 4.0
                }
            })
            .collect()
    }

    macro_rules! check {
        ($name:ident, $t:ty, $kern:ident, $oracle:ident, $reference:ident) => {
            /// Labels of the new kernel, the old kernel and the scalar reference; `nan_norm`
            /// replaces some norms by NaN (centre 0 among them when `Some(0)`).
            fn $name(n: usize, d: usize, k: usize, seed: u64, ints: bool, nan_norm: Option<usize>) {
                let x: Vec<$t> = values(n * d, seed, ints).into_iter().map(|v| v as $t).collect();
                let mut c: Vec<$t> = values(k * d, seed + 1, ints).into_iter().map(|v| v as $t).collect();
                // Duplicate centres: exact ties that must go to the smaller index.
                for j in (3..k).step_by(4) {
                    for f in 0..d {
                        c[j * d + f] = c[(j - 3) * d + f];
                    }
                }
                let mut norms: Vec<$t> =
                    (0..k).map(|j| c[j * d..(j + 1) * d].iter().fold(0.0, |s, &v| s + v * v)).collect();
                if let Some(j) = nan_norm {
                    for jj in (j..k).step_by(5) {
                        norms[jj] = <$t>::NAN;
                    }
                }
                let want = $reference(&x, &c, &norms, k, d);
                let p = super::$kern::pack(&c, &norms, k, d);
                assert!(!p.small);
                let mut got = vec![-1i32; n];
                // SAFETY: the caller checked `available()`; sizes as required.
                unsafe { super::$kern::assign(&x, &p, &mut got) };
                let o = super::$oracle::pack(&c, &norms, k, d);
                let mut old = vec![-1i32; n];
                // SAFETY: as above.
                unsafe { super::$oracle::assign(&x, &o, &mut old) };
                let what = format!("{} n={n} d={d} k={k} ints={ints} nan={nan_norm:?}", stringify!($t));
                assert_eq!(old, want, "oracle vs reference, {what}");
                assert_eq!(got, want, "new kernel vs reference, {what}");
                if nan_norm == Some(0) {
                    assert!(got.iter().all(|&l| l == 0), "{what}");
                }
            }
        };
    }
    check!(check64, f64, k64, blocked64, scalar_labels);
    check!(check32, f32, k32, blocked32, scalar_labels);

    #[test]
    fn big_kernel_is_bit_identical_to_the_blocked_kernel() {
        if !super::available() {
            return;
        }
        let ks = [1usize, 2, 3, 5, 8, 16, 17, 31, 37, 64, 65];
        let ns = [1usize, 5, 6, 7, 16, 17, 23, 33, 61];
        for d in 9..=70 {
            let k = ks[d % ks.len()];
            let n = ns[d % ns.len()];
            for ints in [true, false] {
                check64(n, d, k, d as u64, ints, None);
                check32(n, d, k, d as u64, ints, None);
            }
        }
        // Every k and n shape at a few d (tile remainder 0, 1 and 7 features).
        for d in [9, 16, 23, 32] {
            for &k in &ks {
                for &n in &ns {
                    check64(n, d, k, (n * 100 + k) as u64, true, None);
                    check32(n, d, k, (n * 100 + k) as u64, true, None);
                }
            }
        }
    }

    #[test]
    fn big_kernel_nan_scores_as_the_scalar_scan() {
        if !super::available() {
            return;
        }
        for (d, k) in [(9, 7), (32, 16), (33, 21)] {
            for nan in [Some(0), Some(2)] {
                check64(41, d, k, 7, false, nan);
                check32(41, d, k, 7, false, nan);
            }
        }
    }
}
