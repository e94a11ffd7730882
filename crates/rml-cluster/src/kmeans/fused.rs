//! Fused assignment micro-kernels (x86-64 AVX2 + FMA, chosen at run time).
//!
//! Every kernel computes, for a row `x` and a centre `c`, the score
//! `s = fma(-2, acc, ||c||²)` with `acc = fma(x[d-1], c[d-1], … fma(x[0], c[0], 0))` — one FMA
//! chain per (row, centre) in feature order — so a row's label does not depend on which
//! kernel ran, on its position in a block or on the thread count. The label is the first
//! minimum (strict `<`, smallest centre index among equal minimal scores), as scikit-learn's
//! `argmin` over its GEMM scores.
//!
//! * [`k64::assign`] / [`k32::assign`] with `d > SMALL_D` ("big" kernel): register-blocked like a
//!   GEMM micro-kernel, `MR = 6` rows × `NR = 2 × lanes` centres (12 accumulators), over a
//!   feature-major packed copy of the centres that stays in L1 (`k × d` values); the scores of
//!   the 6 rows against all centres (`6 × k`, a few KB) are stored to an L1 scratch block while
//!   a running per-row minimum is kept, then each row's first index equal to its minimum is
//!   found with one vector compare per 4/8 scores. The `(n × k)` score matrix never exists.
//! * `d ≤ SMALL_D` ("small" kernel): rows in SIMD lanes (`2 × lanes` rows per step, transposed
//!   on the fly), centres broadcast; a running first minimum per lane (compare + blend), so no
//!   horizontal reduction at all. This case is memory/overhead bound, not FLOP bound.
//!
//! Rows left over at the end of a call go through the same code on a zero-padded copy.

/// Centres packed for the kernels.
pub(crate) struct Packed<T> {
    /// Big kernel: `nb` blocks of `NR` centres, each `d × NR` (feature-major), zero padded.
    pub data: Vec<T>,
    /// Big kernel: norms padded to `nb × NR` with `+inf`; small kernel: the `k` norms.
    pub norms: Vec<T>,
    /// Small kernel: the centres, row-major `k × d`.
    pub rows: Vec<T>,
    pub nb: usize,
    pub d: usize,
    pub k: usize,
    pub small: bool,
}

/// Largest `d` handled by the rows-in-lanes kernel.
pub(crate) const SMALL_KERNEL_D: usize = 8;

macro_rules! impl_kernel {
    ($modname:ident, $t:ty, $lanes:expr, $vec:ty, $set1:ident, $loadu:ident, $fmadd:ident,
     $mul:ident, $storeu:ident, $setzero:ident, $cmp:ident, $blendv:ident, $min:ident,
     $movemask:ident, $cvt:ident, $istore:ident, $itype:ty) => {
        pub(crate) mod $modname {
            use super::{Packed, SMALL_KERNEL_D};
            #[cfg(target_arch = "x86_64")]
            use std::arch::x86_64::*;

            /// Centres per block of the big kernel.
            pub const NR: usize = 2 * $lanes;
            /// Rows per step of the big kernel.
            pub const MR: usize = 6;
            /// Rows per step of the small kernel.
            const RS: usize = 2 * $lanes;
            const L: usize = $lanes;

            pub fn pack(centers: &[$t], norms: &[$t], k: usize, d: usize) -> Packed<$t> {
                if d <= SMALL_KERNEL_D {
                    return Packed {
                        data: Vec::new(),
                        norms: norms[..k].to_vec(),
                        rows: centers[..k * d].to_vec(),
                        nb: 0,
                        d,
                        k,
                        small: true,
                    };
                }
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
                Packed { data, norms: pn, rows: Vec::new(), nb, d, k, small: false }
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
            unsafe fn assign_big(x: &[$t], p: &Packed<$t>, labels: &mut [i32]) {
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
impl_kernel!(k64, f64, 4, __m256d, _mm256_set1_pd, _mm256_loadu_pd, _mm256_fmadd_pd, _mm256_mul_pd,
    _mm256_storeu_pd, _mm256_setzero_pd, _mm256_cmp_pd, _mm256_blendv_pd, _mm256_min_pd,
    _mm256_movemask_pd, _mm256_cvttpd_epi32, _mm_storeu_si128, __m128i);
#[cfg(target_arch = "x86_64")]
impl_kernel!(k32, f32, 8, __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_mul_ps,
    _mm256_storeu_ps, _mm256_setzero_ps, _mm256_cmp_ps, _mm256_blendv_ps, _mm256_min_ps,
    _mm256_movemask_ps, _mm256_cvttps_epi32, _mm256_storeu_si256, __m256i);

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
