//! Fused assignment micro-kernel (x86-64 AVX2 + FMA, chosen at run time): for 4 rows at a
//! time and blocks of `2 × lanes` centres, `s = ||c||² - 2 x·c` is accumulated in registers
//! (one FMA per feature and centre, the same summation order for every row) and folded into a
//! running first-minimum per lane, so the `(rows × k)` score block never goes to memory.
//!
//! Tie rule as everywhere in K-means: the smallest centre index among equal minimal scores.
//! Rows left over (`n % 4`) use the same fused arithmetic in scalar code, so a row's label
//! does not depend on its position.

/// Centres packed for the kernel: blocks of `nr` centres, each `d × nr` (feature-major), and
/// padded norms (`+inf` for padding lanes so that they never win).
pub(crate) struct Packed<T> {
    pub data: Vec<T>,
    pub norms: Vec<T>,
    pub nb: usize,
    pub d: usize,
}

macro_rules! impl_kernel {
    ($modname:ident, $t:ty, $lanes:expr, $vec:ty, $set1:ident, $loadu:ident, $fmadd:ident, $storeu:ident, $setzero:ident, $cmp:ident, $blendv:ident, $add:ident, $iota:expr) => {
        pub(crate) mod $modname {
            use super::Packed;
            #[cfg(target_arch = "x86_64")]
            use std::arch::x86_64::*;

            pub const NR: usize = 2 * $lanes;

            pub fn pack(centers: &[$t], norms: &[$t], k: usize, d: usize) -> Packed<$t> {
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
                Packed { data, norms: pn, nb, d }
            }

            #[inline(always)]
            fn scalar_row(x: &[$t], p: &Packed<$t>) -> i32 {
                let d = p.d;
                let mut best = 0usize;
                let mut min = <$t>::INFINITY;
                for b in 0..p.nb {
                    for l in 0..NR {
                        let mut acc: $t = 0.0;
                        for f in 0..d {
                            acc = x[f].mul_add(p.data[b * d * NR + f * NR + l], acc);
                        }
                        let v = (-2.0 as $t).mul_add(acc, p.norms[b * NR + l]);
                        if v < min {
                            min = v;
                            best = b * NR + l;
                        }
                    }
                }
                best as i32
            }

            /// Labels of the `labels.len()` rows of `x` (row-major, `d` columns).
            ///
            /// # Safety
            /// The CPU must support AVX2 and FMA; `x.len() >= labels.len() * d`.
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            pub unsafe fn assign(x: &[$t], p: &Packed<$t>, labels: &mut [i32]) {
                let d = p.d;
                let rows = labels.len();
                assert!(x.len() >= rows * d);
                let m2: $vec = $set1(-2.0);
                let mut r = 0;
                // Lane indices as floats (exact: k < 2^24 is checked by the caller).
                let iota: [$t; NR] = $iota;
                let (i0, i1) = ($loadu(iota.as_ptr()), $loadu(iota.as_ptr().add($lanes)));
                while r + 4 <= rows {
                    let inf: $vec = $set1(<$t>::INFINITY);
                    let zero: $vec = $setzero();
                    // Running first-minimum per lane: values and centre indices (as floats).
                    let mut mv = [inf; 8];
                    let mut mi = [zero; 8];
                    let x0 = x.as_ptr().add(r * d);
                    let (x1, x2, x3) = (x0.add(d), x0.add(2 * d), x0.add(3 * d));
                    for b in 0..p.nb {
                        let cp = p.data.as_ptr().add(b * d * NR);
                        let (mut a00, mut a01, mut a10, mut a11): ($vec, $vec, $vec, $vec) =
                            ($setzero(), $setzero(), $setzero(), $setzero());
                        let (mut a20, mut a21, mut a30, mut a31): ($vec, $vec, $vec, $vec) =
                            ($setzero(), $setzero(), $setzero(), $setzero());
                        for f in 0..d {
                            let c0 = $loadu(cp.add(f * NR));
                            let c1 = $loadu(cp.add(f * NR + $lanes));
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
                        }
                        let np = p.norms.as_ptr().add(b * NR);
                        let (n0, n1) = ($loadu(np), $loadu(np.add($lanes)));
                        let base: $vec = $set1((b * NR) as $t);
                        let (j0, j1) = ($add(base, i0), $add(base, i1));
                        let sc = [
                            $fmadd(m2, a00, n0), $fmadd(m2, a01, n1),
                            $fmadd(m2, a10, n0), $fmadd(m2, a11, n1),
                            $fmadd(m2, a20, n0), $fmadd(m2, a21, n1),
                            $fmadd(m2, a30, n0), $fmadd(m2, a31, n1),
                        ];
                        for q in 0..8 {
                            let lt = $cmp::<_CMP_LT_OQ>(sc[q], mv[q]);
                            mv[q] = $blendv(mv[q], sc[q], lt);
                            mi[q] = $blendv(mi[q], if q % 2 == 0 { j0 } else { j1 }, lt);
                        }
                    }
                    for rr in 0..4 {
                        let mut vals = [0.0 as $t; NR];
                        let mut idx = [0.0 as $t; NR];
                        $storeu(vals.as_mut_ptr(), mv[2 * rr]);
                        $storeu(vals.as_mut_ptr().add($lanes), mv[2 * rr + 1]);
                        $storeu(idx.as_mut_ptr(), mi[2 * rr]);
                        $storeu(idx.as_mut_ptr().add($lanes), mi[2 * rr + 1]);
                        let mut best = idx[0];
                        let mut bv = vals[0];
                        for l in 1..NR {
                            if vals[l] < bv || (vals[l] == bv && idx[l] < best) {
                                bv = vals[l];
                                best = idx[l];
                            }
                        }
                        labels[r + rr] = best as i32;
                    }
                    r += 4;
                }
                while r < rows {
                    labels[r] = scalar_row(&x[r * d..(r + 1) * d], p);
                    r += 1;
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
impl_kernel!(k64, f64, 4, __m256d, _mm256_set1_pd, _mm256_loadu_pd, _mm256_fmadd_pd, _mm256_storeu_pd, _mm256_setzero_pd, _mm256_cmp_pd, _mm256_blendv_pd, _mm256_add_pd, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]);
#[cfg(target_arch = "x86_64")]
impl_kernel!(k32, f32, 8, __m256, _mm256_set1_ps, _mm256_loadu_ps, _mm256_fmadd_ps, _mm256_storeu_ps, _mm256_setzero_ps, _mm256_cmp_ps, _mm256_blendv_ps, _mm256_add_ps, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0]);

/// Whether the fused kernel can run on this CPU.
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
