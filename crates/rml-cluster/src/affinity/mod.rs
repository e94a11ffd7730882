//! Affinity propagation (Frey & Dueck 2007), reproducing scikit-learn's
//! `_affinity_propagation` message-passing loop operation for operation.
//!
//! The caller passes the similarity matrix `S` *after* scikit-learn's preprocessing (preference
//! on the diagonal, the seeded degeneracy-removing noise added): that part draws from numpy's
//! `RandomState` and stays in Python so `S` is bit-identical to scikit-learn's.
//!
//! # Arithmetic (why the results are identical to scikit-learn's)
//! scikit-learn holds the messages `R` and `A` in float64 whatever the dtype of `S` (they are
//! `np.zeros((n, n))`), so this kernel does too: `S` is read in its own dtype (float32 or
//! float64) and widened exactly to f64. Every elementwise operation is performed in the same
//! order with the same roundings (`R = R*d + Rnew*(1-d)`, `A = A*d - T*(1-d)`), no fused
//! multiply-add. The one reduction, numpy's `np.sum(Rp, axis=0)` over a C-ordered matrix, adds
//! the rows one after another; it is reproduced exactly by giving each thread whole columns and
//! summing rows in order. Row maxima (`argmax` with the first index winning ties, the second
//! maximum) are exact and combined across column blocks in index order. Results therefore do
//! not depend on the number of threads.
//!
//! # Memory
//! `S` (borrowed) plus `R` and `A` (n x n f64 each) and O(n) scratch per column block: one n x n
//! buffer less than scikit-learn, which also keeps a float64 temporary `tmp`.
//!
//! # Passes
//! Each iteration reads S, R once and writes R (responsibilities, with the column sums of
//! `max(R, 0)` accumulated on the fly), then reads R, A, S and writes A (availabilities, with the
//! row maxima of `A + S` for the next iteration accumulated on the fly): 7 n x n memory
//! streams per iteration, against about 28 for numpy's version.

use ndarray::{ArrayView2, ArrayViewMut2, Axis};
use rayon::prelude::*;
use rml_core::{ensure, ensure_param, size, Cancel, Float, RmlError, RmlResult};

/// Checked hyperparameters of the message-passing loop.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityParams {
    damping: f64,
    max_iter: usize,
    convergence_iter: usize,
}

impl AffinityParams {
    /// `damping` in [0.5, 1), `max_iter >= 1`, `convergence_iter >= 1` (scikit-learn's ranges).
    pub fn new(damping: f64, max_iter: usize, convergence_iter: usize) -> RmlResult<Self> {
        ensure_param!(
            damping.is_finite() && (0.5..1.0).contains(&damping),
            "damping must be in [0.5, 1.0), got {damping}"
        );
        ensure_param!(max_iter >= 1, "max_iter must be >= 1, got {max_iter}");
        ensure_param!(convergence_iter >= 1, "convergence_iter must be >= 1, got {convergence_iter}");
        Ok(Self { damping, max_iter, convergence_iter })
    }
}

/// The fitted clustering.
#[derive(Debug, Clone, PartialEq)]
pub struct AffinityResult {
    /// Sorted indices of the exemplars (empty when no exemplar emerged).
    pub cluster_centers_indices: Vec<i64>,
    /// Label of each sample in `0..n_clusters`, or all `-1` when there is no exemplar.
    pub labels: Vec<i64>,
    /// Iterations run (`it + 1` in scikit-learn's loop).
    pub n_iter: usize,
    /// Whether the convergence test stopped the loop before `max_iter`.
    pub converged: bool,
}

/// Row maximum of one column block: the largest value, its first index, the second largest
/// (largest over the other positions), and whether a NaN was seen.
#[derive(Debug, Clone, Copy)]
struct RowMax {
    m1: f64,
    i1: usize,
    m2: f64,
    nan: bool,
}

impl RowMax {
    #[inline(always)]
    fn empty(first: usize) -> Self {
        Self { m1: f64::NEG_INFINITY, i1: first, m2: f64::NEG_INFINITY, nan: false }
    }

    #[inline(always)]
    fn push(&mut self, v: f64, k: usize) {
        if v > self.m1 {
            self.m2 = self.m1;
            self.m1 = v;
            self.i1 = k;
        } else if v > self.m2 {
            self.m2 = v;
        }
        self.nan |= v.is_nan();
    }

    /// Fold the next block (columns after this one's) into this one.
    #[inline(always)]
    fn merge(&mut self, next: &RowMax) {
        if next.m1 > self.m1 {
            self.m2 = if self.m1 > next.m2 { self.m1 } else { next.m2 };
            self.m1 = next.m1;
            self.i1 = next.i1;
        } else if next.m1 > self.m2 {
            self.m2 = next.m1;
        }
        self.nan |= next.nan;
    }
}

/// numpy's `argmax` over `values`: the first maximum, or the first NaN if there is one.
fn np_argmax(values: impl Iterator<Item = f64>) -> usize {
    let mut best = f64::NEG_INFINITY;
    let mut arg = 0usize;
    for (j, v) in values.enumerate() {
        if v.is_nan() {
            return j;
        }
        if v > best || j == 0 {
            best = v;
            arg = j;
        }
    }
    arg
}

/// numpy's `(argmax(row), row[argmax], max(row without argmax))` for a row holding a NaN
/// (`max` propagates NaN, `argmax` returns the first NaN).
fn np_row_max_slow(row: impl Iterator<Item = f64> + Clone) -> RowMax {
    let i1 = np_argmax(row.clone());
    let mut m1 = f64::NEG_INFINITY;
    let mut m2 = f64::NEG_INFINITY;
    let mut m2_nan = false;
    for (k, v) in row.enumerate() {
        if k == i1 {
            m1 = v;
        } else if v.is_nan() {
            m2_nan = true;
        } else if v > m2 {
            m2 = v;
        }
    }
    RowMax { m1, i1, m2: if m2_nan { f64::NAN } else { m2 }, nan: true }
}

/// numpy's `np.maximum(x, 0)` (x if x >= 0 or NaN, else 0; -0.0 stays -0.0).
#[inline(always)]
fn max0(x: f64) -> f64 {
    if x < 0.0 {
        0.0
    } else {
        x
    }
}

/// Per-column-block scratch, reused across iterations.
struct Block {
    /// Column sums of `Rp` over the block's columns.
    colsum: Vec<f64>,
    /// Row maxima of `A + S` over the block's columns, one per row.
    rowmax: Vec<RowMax>,
    /// `diag(A) + diag(R) > 0` for the block's columns.
    exemplar: Vec<bool>,
    /// `A + S` of the current row.
    scratch: Vec<f64>,
}

fn contiguous<'a, T>(s: Option<&'a [T]>) -> RmlResult<&'a [T]> {
    s.ok_or_else(|| RmlError::Internal("non-contiguous row in affinity propagation".into()))
}

fn contiguous_mut<'a, T>(s: Option<&'a mut [T]>) -> RmlResult<&'a mut [T]> {
    s.ok_or_else(|| RmlError::Internal("non-contiguous row in affinity propagation".into()))
}

/// Row maximum of `v` (columns `c0..`): exact, in any order, so computed with independent
/// lanes; rows holding a NaN are flagged for numpy's rules.
fn rowmax_of(v: &[f64], c0: usize) -> RowMax {
    #[inline(always)]
    fn vmax(v: &[f64]) -> f64 {
        let mut m = [f64::NEG_INFINITY; 4];
        let chunks = v.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for l in 0..4 {
                m[l] = if c[l] > m[l] { c[l] } else { m[l] };
            }
        }
        let mut out = m[0];
        for &x in m[1..].iter().chain(rest.iter()) {
            out = if x > out { x } else { out };
        }
        out
    }
    let nan = v.iter().fold(false, |f, x| f | x.is_nan());
    let m1 = vmax(v);
    let j1 = v.iter().position(|&x| x == m1).unwrap_or(0);
    let a = vmax(&v[..j1]);
    let b = vmax(&v[(j1 + 1).min(v.len())..]);
    RowMax { m1, i1: c0 + j1, m2: if b > a { b } else { a }, nan }
}

/// One iteration's work on one column block `[c0, c0 + width)`.
///
/// The inner loops apply the off-diagonal formula to every column (so they vectorise) and then
/// redo the one or two special columns (the row's argmax, the diagonal) from saved values,
/// which gives exactly the element-by-element result.
#[allow(clippy::too_many_arguments)]
fn block_iteration<T: Float>(
    s: &ArrayView2<'_, T>,
    mut r: ArrayViewMut2<'_, f64>,
    mut a: ArrayViewMut2<'_, f64>,
    c0: usize,
    rowmax_prev: &[RowMax],
    damping: f64,
    blk: &mut Block,
) -> RmlResult<()> {
    let n = s.nrows();
    let width = r.ncols();
    let c1 = c0 + width;
    let omd = 1.0 - damping;
    let s_blk = s.slice(ndarray::s![.., c0..c1]);
    let local = |k: usize| if k >= c0 && k < c1 { Some(k - c0) } else { None };

    // Responsibilities: R = R*d + Rnew*(1-d), Rnew = S - Y (S - Y2 at the row's argmax);
    // column sums of Rp = max(R, 0) (R itself on the diagonal), rows added in order.
    for i in 0..n {
        let rm = &rowmax_prev[i];
        let (y, ii, y2) = (rm.m1, rm.i1, rm.m2);
        let srow = s_blk.row(i);
        let srow = contiguous(srow.as_slice())?;
        let mut rrow = r.row_mut(i);
        let rrow = contiguous_mut(rrow.as_slice_mut())?;
        let colsum = &mut blk.colsum[..];
        let (jii, jd) = (local(ii), local(i));
        let saved_ii = jii.map(|j| (rrow[j], colsum[j]));
        let saved_d = jd.map(|j| colsum[j]);
        if i == 0 {
            for ((rv, sv), cs) in rrow.iter_mut().zip(srow.iter()).zip(colsum.iter_mut()) {
                let rn = *rv * damping + (sv.as_f64() - y) * omd;
                *rv = rn;
                *cs = max0(rn);
            }
        } else {
            for ((rv, sv), cs) in rrow.iter_mut().zip(srow.iter()).zip(colsum.iter_mut()) {
                let rn = *rv * damping + (sv.as_f64() - y) * omd;
                *rv = rn;
                *cs += max0(rn);
            }
        }
        if let (Some(j), Some((r_old, cs_old))) = (jii, saved_ii) {
            let rn = r_old * damping + (srow[j].as_f64() - y2) * omd;
            rrow[j] = rn;
            let rp = if ii == i { rn } else { max0(rn) };
            colsum[j] = if i == 0 { rp } else { cs_old + rp };
        }
        if let (Some(j), Some(cs_old)) = (jd, saved_d) {
            if ii != i {
                let rn = rrow[j];
                colsum[j] = if i == 0 { rn } else { cs_old + rn };
            }
        }
    }

    // Availabilities: T = Rp - colsum, clipped at 0 off the diagonal; A = A*d - T*(1-d).
    // Row maxima of A + S for the next iteration and the exemplar test on the diagonal.
    for i in 0..n {
        let srow = s_blk.row(i);
        let srow = contiguous(srow.as_slice())?;
        let rrow = r.row(i);
        let rrow = contiguous(rrow.as_slice())?;
        let mut arow = a.row_mut(i);
        let arow = contiguous_mut(arow.as_slice_mut())?;
        let jd = local(i);
        let a_old = jd.map(|j| arow[j]);
        for ((((av, rv), sv), cs), sc) in arow
            .iter_mut()
            .zip(rrow.iter())
            .zip(srow.iter())
            .zip(blk.colsum.iter())
            .zip(blk.scratch.iter_mut())
        {
            let t = max0(max0(*rv) - *cs);
            let an = *av * damping - t * omd;
            *av = an;
            *sc = an + sv.as_f64();
        }
        if let (Some(j), Some(a_old)) = (jd, a_old) {
            let rv = rrow[j];
            let t = rv - blk.colsum[j];
            let an = a_old * damping - t * omd;
            arow[j] = an;
            blk.exemplar[j] = an + rv > 0.0;
            blk.scratch[j] = an + srow[j].as_f64();
        }
        blk.rowmax[i] = rowmax_of(&blk.scratch, c0);
    }
    Ok(())
}

/// Combine the blocks' row maxima in column order; rows holding a NaN are recomputed with
/// numpy's NaN rules from `A + S`.
fn combine_rowmax<T: Float>(
    blocks: &[Block],
    a: &[f64],
    s: &ArrayView2<'_, T>,
    out: &mut [RowMax],
) -> RmlResult<()> {
    let n = s.nrows();
    out.par_iter_mut().enumerate().try_for_each(|(i, o)| -> RmlResult<()> {
        let mut acc = blocks[0].rowmax[i];
        for b in &blocks[1..] {
            acc.merge(&b.rowmax[i]);
        }
        if acc.nan {
            let srow = s.row(i);
            let arow = &a[i * n..(i + 1) * n];
            acc = np_row_max_slow(arow.iter().zip(srow.iter()).map(|(x, y)| x + y.as_f64()));
        }
        *o = acc;
        Ok(())
    })
}

/// Run scikit-learn's affinity propagation on a prepared similarity matrix `s` (n x n, C
/// order; preference on the diagonal and noise already added).
///
/// Parallel over column blocks of the messages; results identical for any thread count.
/// Time O(n^2) per iteration, memory two n x n float64 matrices.
pub fn fit<T: Float>(s: ArrayView2<'_, T>, params: &AffinityParams, cancel: &Cancel) -> RmlResult<AffinityResult> {
    let n = s.nrows();
    ensure!(n >= 1, "affinity propagation needs at least one sample");
    ensure!(
        s.ncols() == n,
        "The matrix of similarities must be a square array. Got ({}, {}) instead.",
        n,
        s.ncols()
    );
    ensure!(s.is_standard_layout(), "the similarity matrix must be C-contiguous");
    let damping = params.damping;
    let ci = params.convergence_iter;

    let mut r = size::try_zeroed_vec::<f64>(n, n, "affinity propagation responsibilities")?;
    let mut a = size::try_zeroed_vec::<f64>(n, n, "affinity propagation availabilities")?;
    let e_len = size::checked_elems(n, ci, "affinity propagation convergence history")?;
    let mut e = vec![false; e_len];

    let n_threads = rayon::current_num_threads().max(1);
    let n_blocks = n_threads.min(n).max(1);
    let width = n.div_ceil(n_blocks);
    let n_blocks = n.div_ceil(width);
    let mut blocks: Vec<Block> = (0..n_blocks)
        .map(|b| {
            let w = width.min(n - b * width);
            Block {
                colsum: vec![0.0; w],
                rowmax: vec![RowMax::empty(0); n],
                exemplar: vec![false; w],
                scratch: vec![0.0; w],
            }
        })
        .collect();

    // Row maxima of A + S with A = 0 for the first iteration.
    let mut rowmax = vec![RowMax::empty(0); n];
    rowmax.par_iter_mut().enumerate().for_each(|(i, o)| {
        let srow = s.row(i);
        let mut rm = RowMax::empty(0);
        for (k, v) in srow.iter().enumerate() {
            rm.push(0.0 + v.as_f64(), k);
        }
        if rm.nan {
            rm = np_row_max_slow(srow.iter().map(|v| 0.0 + v.as_f64()));
        }
        *o = rm;
    });

    let mut converged = false;
    let mut it = 0usize;
    let mut exemplar = vec![false; n];
    while it < params.max_iter {
        cancel.check()?;
        {
            let mut rv = ArrayViewMut2::from_shape((n, n), &mut r[..])
                .map_err(|e| RmlError::Internal(e.to_string()))?;
            let mut av = ArrayViewMut2::from_shape((n, n), &mut a[..])
                .map_err(|e| RmlError::Internal(e.to_string()))?;
            let rchunks: Vec<_> = rv.axis_chunks_iter_mut(Axis(1), width).collect();
            let achunks: Vec<_> = av.axis_chunks_iter_mut(Axis(1), width).collect();
            let rowmax_prev = &rowmax;
            let s_ref = &s;
            rchunks
                .into_par_iter()
                .zip(achunks)
                .zip(blocks.par_iter_mut())
                .enumerate()
                .try_for_each(|(b, ((rc, ac), blk))| {
                    block_iteration(s_ref, rc, ac, b * width, rowmax_prev, damping, blk)
                })?;
        }
        combine_rowmax(&blocks, &a, &s, &mut rowmax)?;

        // Convergence test, as scikit-learn: E = diag(A) + diag(R) > 0 unchanged for the
        // last `convergence_iter` iterations and at least one exemplar.
        for (b, blk) in blocks.iter().enumerate() {
            exemplar[b * width..b * width + blk.exemplar.len()].copy_from_slice(&blk.exemplar);
        }
        let col = it % ci;
        let mut k_count = 0usize;
        for (i, &x) in exemplar.iter().enumerate() {
            e[i * ci + col] = x;
            k_count += x as usize;
        }
        if it >= ci {
            let all_stable = (0..n).all(|i| {
                let row = &e[i * ci..(i + 1) * ci];
                let se = row.iter().filter(|&&x| x).count();
                se == ci || se == 0
            });
            if all_stable && k_count > 0 {
                converged = true;
                break;
            }
        }
        it += 1;
    }
    let n_iter = if converged { it + 1 } else { params.max_iter };
    drop(r);
    drop(a);
    drop(e);

    let (cluster_centers_indices, labels) = assign(&s, &exemplar, cancel)?;
    Ok(AffinityResult { cluster_centers_indices, labels, n_iter, converged })
}

/// scikit-learn's exemplar refinement and labelling after the loop.
fn assign<T: Float>(s: &ArrayView2<'_, T>, exemplar: &[bool], cancel: &Cancel) -> RmlResult<(Vec<i64>, Vec<i64>)> {
    let n = s.nrows();
    let mut centers: Vec<usize> = (0..n).filter(|&i| exemplar[i]).collect();
    let k = centers.len();
    if k == 0 {
        return Ok((Vec::new(), vec![-1; n]));
    }
    cancel.check()?;
    // c = argmax(S[:, I], axis=1); c[I] = arange(K)
    let nearest = |centers: &[usize]| -> Vec<usize> {
        let mut c: Vec<usize> = (0..n)
            .into_par_iter()
            .map(|i| {
                let row = s.row(i);
                np_argmax(centers.iter().map(|&j| row[j].as_f64()))
            })
            .collect();
        for (j, &ci) in centers.iter().enumerate() {
            c[ci] = j;
        }
        c
    };
    let c = nearest(&centers);
    // Members of each cluster in ascending sample order.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (i, &ci) in c.iter().enumerate() {
        members[ci].push(i);
    }
    // I[k] = ii[argmax(sum(S[ii][:, ii], axis=0))], the column sums in S's dtype, rows in order.
    let refined: Vec<usize> = members
        .par_iter()
        .map(|ii| {
            let mut colsum: Vec<T> = ii.iter().map(|&j| s[[ii[0], j]]).collect();
            for &r in &ii[1..] {
                let row = s.row(r);
                for (cs, &j) in colsum.iter_mut().zip(ii.iter()) {
                    *cs = *cs + row[j];
                }
            }
            ii[np_argmax(colsum.iter().map(|v| v.as_f64()))]
        })
        .collect();
    centers.copy_from_slice(&refined);
    cancel.check()?;
    let c = nearest(&centers);
    let raw: Vec<usize> = c.iter().map(|&j| centers[j]).collect();
    let mut uniq = raw.clone();
    uniq.sort_unstable();
    uniq.dedup();
    let labels = raw
        .iter()
        .map(|v| uniq.binary_search(v).map(|p| p as i64))
        .collect::<Result<Vec<i64>, usize>>()
        .map_err(|_| RmlError::Internal("label not among exemplars".into()))?;
    Ok((uniq.into_iter().map(|v| v as i64).collect(), labels))
}

#[cfg(test)]
mod tests;
