//! Nearest-neighbour chains (scipy's `nn_chain`): Ward over centroids, complete and average
//! over a condensed distance matrix.

use super::{Input, Linkage, Merge, RowMetric};
use rayon::prelude::*;
use rml_core::{Cancel, RmlError, RmlResult};

/// Active clusters scanned per parallel task; below twice this a scan runs on one thread.
const PAR_ROWS: usize = 1024;

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

/// Minimum of `f(p)` over positions `0..len` as `(value, id(p))`, parallel over fixed blocks
/// (the reduction is a lexicographic minimum, so the result does not depend on threads).
fn scan_min(
    len: usize,
    f: impl Fn(usize) -> (f64, usize) + Sync,
) -> (f64, usize) {
    let init = (f64::INFINITY, usize::MAX);
    if len < 2 * PAR_ROWS {
        (0..len).fold(init, |acc, p| better(acc, f(p)))
    } else {
        (0..len.div_ceil(PAR_ROWS))
            .into_par_iter()
            .map(|b| {
                let lo = b * PAR_ROWS;
                let hi = (lo + PAR_ROWS).min(len);
                (lo..hi).fold(init, |acc, p| better(acc, f(p)))
            })
            .reduce(|| init, better)
    }
}

/// Ward linkage by a nearest-neighbour chain over centroids; O(n d) memory.
///
/// Clusters live in "slots" numbered like scipy's: merging slots `x < y` keeps the new
/// cluster in slot `y`. The active clusters are also kept compactly (swap-remove) so scans
/// read contiguous memory; ties are resolved by slot number, not position.
pub(crate) fn ward(x: &[f64], n: usize, d: usize, cancel: &Cancel) -> RmlResult<Vec<Merge>> {
    // Compact active arrays.
    let mut cent: Vec<f64> = x.to_vec();
    let mut size: Vec<f64> = vec![1.0; n];
    let mut slot: Vec<usize> = (0..n).collect();
    let mut pos: Vec<usize> = (0..n).collect(); // slot -> position
    let mut len = n;
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges = Vec::with_capacity(n - 1);

    // Squared Ward distance between positions p and q.
    let ward2 = |cent: &[f64], size: &[f64], p: usize, q: usize| -> f64 {
        let (a, b) = (&cent[p * d..p * d + d], &cent[q * d..q * d + d]);
        let mut s = 0.0;
        for (u, v) in a.iter().zip(b) {
            let t = u - v;
            s += t * t;
        }
        let (np, nq) = (size[p], size[q]);
        2.0 * np * nq / (np + nq) * s
    };

    for _ in 0..n - 1 {
        cancel.check()?;
        if chain.is_empty() {
            let first = slot[..len].iter().copied().min().ok_or_else(|| {
                RmlError::Internal("ward chain: no active cluster".into())
            })?;
            chain.push(first);
        }
        let (xs, ys, cur) = loop {
            let xs = *chain.last().expect("chain is not empty");
            let px = pos[xs];
            let prev = if chain.len() > 1 { Some(chain[chain.len() - 2]) } else { None };
            let (cent_r, size_r, slot_r) = (&cent, &size, &slot);
            let best = scan_min(len, |p| {
                if p == px {
                    (f64::INFINITY, usize::MAX)
                } else {
                    (ward2(cent_r, size_r, px, p), slot_r[p])
                }
            });
            let (y, cur) = match prev {
                Some(pv) => {
                    let dprev = ward2(&cent, &size, px, pos[pv]);
                    if best.0 < dprev {
                        (best.1, best.0)
                    } else {
                        (pv, dprev)
                    }
                }
                None => (best.1, best.0),
            };
            if y == usize::MAX {
                return Err(RmlError::Internal("ward chain found no neighbour".into()));
            }
            if prev == Some(y) {
                break (xs, y, cur);
            }
            chain.push(y);
        };
        chain.truncate(chain.len() - 2);
        let (a, b) = if xs < ys { (xs, ys) } else { (ys, xs) };
        merges.push(Merge { a, b, dist: cur.sqrt() });
        // New centroid in slot b, slot a removed.
        let (pa, pb) = (pos[a], pos[b]);
        let (na, nb) = (size[pa], size[pb]);
        let tot = na + nb;
        for j in 0..d {
            cent[pb * d + j] = (na * cent[pa * d + j] + nb * cent[pb * d + j]) / tot;
        }
        size[pb] = tot;
        // swap-remove position pa
        let last = len - 1;
        if pa != last {
            for j in 0..d {
                cent[pa * d + j] = cent[last * d + j];
            }
            size[pa] = size[last];
            slot[pa] = slot[last];
            pos[slot[pa]] = pa;
        }
        len -= 1;
    }
    Ok(merges)
}

#[inline]
fn cidx(n: usize, i: usize, j: usize) -> usize {
    // i != j
    let (i, j) = if i < j { (i, j) } else { (j, i) };
    n * i - i * (i + 1) / 2 + (j - i - 1)
}

/// Condensed distance matrix (scipy's `pdist` layout) of the input.
pub(crate) fn condensed(input: Input<'_>, cancel: &Cancel) -> RmlResult<Vec<f64>> {
    let n = input.n();
    let m = n
        .checked_mul(n - 1)
        .map(|v| v / 2)
        .ok_or_else(|| RmlError::TooLarge(format!("input too large: {n} samples")))?;
    let mut out = rml_core::size::try_zeroed_vec::<f64>(m, 1, "condensed distance matrix")?;
    // Row i of the condensed matrix starts at cidx(n, i, i + 1).
    let mut rows: Vec<&mut [f64]> = Vec::with_capacity(n);
    let mut rest: &mut [f64] = &mut out;
    for i in 0..n {
        let (head, tail) = rest.split_at_mut(n - 1 - i);
        rows.push(head);
        rest = tail;
    }
    let norms: Vec<f64> = match input {
        Input::Rows { x, d, metric: RowMetric::Cosine, .. } => x
            .chunks_exact(d)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .collect(),
        _ => Vec::new(),
    };
    let res: Vec<RmlResult<()>> = rows
        .into_par_iter()
        .enumerate()
        .with_min_len(16)
        .map(|(i, row)| {
            if i % 64 == 0 {
                cancel.check()?;
            }
            match input {
                Input::Precomputed { dist, n } => {
                    row.copy_from_slice(&dist[i * n + i + 1..(i + 1) * n]);
                }
                Input::Rows { x, d, metric, .. } => {
                    let a = &x[i * d..(i + 1) * d];
                    for (o, j) in row.iter_mut().zip(i + 1..n) {
                        let b = &x[j * d..(j + 1) * d];
                        *o = match metric {
                            RowMetric::Euclidean => super::mst::euclidean(a, b),
                            RowMetric::Manhattan => super::mst::manhattan(a, b),
                            RowMetric::Cosine => super::mst::cosine(a, b, norms[i], norms[j]),
                        };
                    }
                }
            }
            Ok(())
        })
        .collect();
    for r in res {
        r?;
    }
    Ok(out)
}

/// Complete or average linkage by a nearest-neighbour chain over a condensed matrix, which
/// is overwritten (scipy's `nn_chain` with its Lance–Williams updates).
pub(crate) fn generic(
    dm: &mut [f64],
    n: usize,
    linkage: Linkage,
    cancel: &Cancel,
) -> RmlResult<Vec<Merge>> {
    let mut size: Vec<usize> = vec![1; n];
    let mut active: Vec<usize> = (0..n).collect(); // compact list of active slots
    let mut pos: Vec<usize> = (0..n).collect();
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        cancel.check()?;
        if chain.is_empty() {
            let first = active.iter().copied().min().ok_or_else(|| {
                RmlError::Internal("chain: no active cluster".into())
            })?;
            chain.push(first);
        }
        let (x, y, cur) = loop {
            let x = *chain.last().expect("chain is not empty");
            let prev = if chain.len() > 1 { Some(chain[chain.len() - 2]) } else { None };
            let dmr: &[f64] = dm;
            let act = &active;
            let best = scan_min(active.len(), |p| {
                let i = act[p];
                if i == x {
                    (f64::INFINITY, usize::MAX)
                } else {
                    (dmr[cidx(n, x, i)], i)
                }
            });
            let (y, cur) = match prev {
                Some(pv) => {
                    let dprev = dm[cidx(n, x, pv)];
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
        merges.push(Merge { a: x, b: y, dist: cur });
        let (nx, ny) = (size[x], size[y]);
        size[x] = 0;
        size[y] = nx + ny;
        // remove x from the active list
        let px = pos[x];
        active.swap_remove(px);
        if px < active.len() {
            pos[active[px]] = px;
        }
        for &i in active.iter() {
            if i == y {
                continue;
            }
            let dxi = dm[cidx(n, i, x)];
            let dyi = dm[cidx(n, i, y)];
            dm[cidx(n, i, y)] = match linkage {
                Linkage::Complete => {
                    if dxi > dyi {
                        dxi
                    } else {
                        dyi
                    }
                }
                _ => (nx as f64 * dxi + ny as f64 * dyi) / (nx + ny) as f64,
            };
        }
    }
    Ok(merges)
}
