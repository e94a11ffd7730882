//! Nearest-neighbour chains (scipy's `nn_chain`): Ward over centroids. Complete and average
//! live in [`super::lazy`]; the eager square-matrix chain kept here (tests only) is the
//! reference the lazy one is checked against.

#[cfg(test)]
use super::{Input, Linkage, RowMetric};
use super::Merge;
use rayon::prelude::*;
use rml_core::{Cancel, RmlError, RmlResult};

/// Active clusters scanned per parallel task (the eager reference chain).
#[cfg(test)]
const PAR_ROWS: usize = 256;

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

/// Positions per SIMD block of the Ward scan.
const WB: usize = 8;
/// Positions per parallel task of the Ward scan (parallel only above twice this).
#[cfg(not(test))]
const WARD_PAR: usize = 8192;
#[cfg(test)]
const WARD_PAR: usize = 256; // exercise the parallel path in unit tests

/// Active Ward clusters, stored compactly and feature-major (`cent[j * cap + p]`) so a scan
/// computes eight distances at a time. Ties are resolved by slot number, not position.
struct WardSet {
    d: usize,
    cap: usize,
    len: usize,
    cent: Vec<f64>,
    size: Vec<f64>,
    slot: Vec<usize>,
    pos: Vec<usize>,
}

impl WardSet {
    fn new(x: &[f64], n: usize, d: usize) -> RmlResult<Self> {
        let cap = n + WB; // padding so a block may read past `len`
        let mut cent = rml_core::size::try_zeroed_vec::<f64>(cap, d, "ward centroids")?;
        for i in 0..n {
            for j in 0..d {
                cent[j * cap + i] = x[i * d + j];
            }
        }
        let mut size = vec![1.0; cap];
        for v in size[n..].iter_mut() {
            *v = 1.0;
        }
        Ok(WardSet { d, cap, len: n, cent, size, slot: (0..n).collect(), pos: (0..n).collect() })
    }

    /// Squared Ward distance between positions p and q (same expression as the scan).
    fn w2(&self, p: usize, q: usize) -> f64 {
        let mut s = 0.0;
        for j in 0..self.d {
            let t = self.cent[j * self.cap + q] - self.cent[j * self.cap + p];
            s += t * t;
        }
        let (np, nq) = (self.size[p], self.size[q]);
        2.0 * np * nq / (np + nq) * s
    }

    /// Nearest active cluster to position `px` among positions `lo..hi`: `(w2, slot)`.
    fn scan(&self, px: usize, lo: usize, hi: usize) -> (f64, usize) {
        let (d, cap) = (self.d, self.cap);
        let nx = self.size[px];
        let mut cx = [0.0f64; 64];
        let small = d <= 64;
        if small {
            for j in 0..d {
                cx[j] = self.cent[j * cap + px];
            }
        }
        let mut best = (f64::INFINITY, usize::MAX);
        let mut p0 = lo;
        while p0 < hi {
            let m = WB.min(hi - p0);
            let mut w = [0.0f64; WB];
            if small {
                for (j, &xj) in cx[..d].iter().enumerate() {
                    let cj = &self.cent[j * cap + p0..j * cap + p0 + WB];
                    for q in 0..WB {
                        let t = cj[q] - xj;
                        w[q] += t * t;
                    }
                }
            } else {
                for j in 0..d {
                    let xj = self.cent[j * cap + px];
                    let cj = &self.cent[j * cap + p0..j * cap + p0 + WB];
                    for q in 0..WB {
                        let t = cj[q] - xj;
                        w[q] += t * t;
                    }
                }
            }
            let sz = &self.size[p0..p0 + WB];
            for q in 0..WB {
                w[q] *= 2.0 * nx * sz[q] / (nx + sz[q]);
            }
            for (q, &wq) in w[..m].iter().enumerate() {
                if wq <= best.0 || wq.is_nan() {
                    let p = p0 + q;
                    if p != px {
                        best = better(best, (wq, self.slot[p]));
                    }
                }
            }
            p0 += WB;
        }
        best
    }

    fn nearest(&self, px: usize) -> (f64, usize) {
        let init = (f64::INFINITY, usize::MAX);
        if self.len < 2 * WARD_PAR {
            self.scan(px, 0, self.len)
        } else {
            (0..self.len.div_ceil(WARD_PAR))
                .into_par_iter()
                .map(|b| self.scan(px, b * WARD_PAR, ((b + 1) * WARD_PAR).min(self.len)))
                .reduce(|| init, better)
        }
    }

    /// Merge slot `a` into slot `b` (new centroid in `b`), removing `a`.
    fn merge(&mut self, a: usize, b: usize) {
        let (d, cap) = (self.d, self.cap);
        let (pa, pb) = (self.pos[a], self.pos[b]);
        let (na, nb) = (self.size[pa], self.size[pb]);
        let tot = na + nb;
        for j in 0..d {
            let (ca, cb) = (self.cent[j * cap + pa], self.cent[j * cap + pb]);
            self.cent[j * cap + pb] = (na * ca + nb * cb) / tot;
        }
        self.size[pb] = tot;
        let last = self.len - 1;
        if pa != last {
            for j in 0..d {
                self.cent[j * cap + pa] = self.cent[j * cap + last];
            }
            self.size[pa] = self.size[last];
            self.slot[pa] = self.slot[last];
            self.pos[self.slot[pa]] = pa;
        }
        self.size[last] = 1.0;
        self.len -= 1;
    }
}

/// Ward linkage by a nearest-neighbour chain over centroids; O(n d) memory.
///
/// Clusters live in "slots" numbered like scipy's: merging slots `x < y` keeps the new
/// cluster in slot `y`.
pub(crate) fn ward(x: &[f64], n: usize, d: usize, cancel: &Cancel) -> RmlResult<Vec<Merge>> {
    let mut set = WardSet::new(x, n, d)?;
    let mut chain: Vec<usize> = Vec::with_capacity(n);
    let mut merges = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        cancel.check()?;
        if chain.is_empty() {
            let first = set.slot[..set.len].iter().copied().min().ok_or_else(|| {
                RmlError::Internal("ward chain: no active cluster".into())
            })?;
            chain.push(first);
        }
        let (xs, ys, cur) = loop {
            let xs = *chain.last().expect("chain is not empty");
            let px = set.pos[xs];
            let prev = if chain.len() > 1 { Some(chain[chain.len() - 2]) } else { None };
            let best = set.nearest(px);
            let (y, cur) = match prev {
                Some(pv) => {
                    let dprev = set.w2(px, set.pos[pv]);
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
        set.merge(a, b);
    }
    Ok(merges)
}

/// Reference (tests): full symmetric distance matrix (`n x n`, both triangles; for precomputed input the upper
/// triangle is mirrored, as scikit-learn reads only that). Scans then read one contiguous
/// row; the price is twice the memory of scipy's condensed matrix, which scikit-learn
/// holds twice anyway (the `pdist` result and `nn_chain`'s working copy).
#[cfg(test)]
pub(crate) fn square(input: Input<'_>, cancel: &Cancel) -> RmlResult<Vec<f64>> {
    let n = input.n();
    let mut out = rml_core::size::try_zeroed_vec::<f64>(n, n, "distance matrix")?;
    let norms: Vec<f64> = match input {
        Input::Rows { x, d, metric: RowMetric::Cosine, .. } => x
            .chunks_exact(d)
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().sqrt())
            .collect(),
        _ => Vec::new(),
    };
    let res: Vec<RmlResult<()>> = out
        .par_chunks_mut(n)
        .enumerate()
        .with_min_len(16)
        .map(|(i, row)| {
            if i % 64 == 0 {
                cancel.check()?;
            }
            match input {
                Input::Precomputed { dist, n } => {
                    for (j, o) in row.iter_mut().enumerate() {
                        *o = if i < j {
                            dist[i * n + j]
                        } else if j < i {
                            dist[j * n + i]
                        } else {
                            0.0
                        };
                    }
                }
                Input::Rows { x, d, metric, .. } => {
                    let a = &x[i * d..(i + 1) * d];
                    for (j, o) in row.iter_mut().enumerate() {
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

/// Reference (tests): complete or average linkage by a nearest-neighbour chain over the full
/// matrix, which is overwritten eagerly, column writes included (scipy's `nn_chain` with its Lance–Williams updates).
///
/// Clusters keep scipy's slot numbers (`ids`, used for ties and output) but live at matrix
/// positions; whenever a quarter of the positions are dead the matrix is compacted in place, so
/// rows stay short and column updates touch fewer cache lines (O(n^2) copying in total).
#[cfg(test)]
pub(crate) fn generic(
    dm: &mut Vec<f64>,
    n: usize,
    linkage: Linkage,
    cancel: &Cancel,
) -> RmlResult<Vec<Merge>> {
    let mut m = n; // matrix dimension
    let mut size: Vec<usize> = vec![1; n]; // by position; 0 = merged away
    let mut ids: Vec<usize> = (0..n).collect(); // position -> slot
    let mut pos: Vec<usize> = (0..n).collect(); // slot -> position
    let mut n_active = n;
    let mut chain: Vec<usize> = Vec::with_capacity(n); // slots
    let mut merges = Vec::with_capacity(n - 1);
    for _ in 0..n - 1 {
        cancel.check()?;
        if n_active * 4 <= m * 3 && m > 64 {
            // Compact: positions of live clusters, in order; in place is safe because every
            // destination index is at most its source index.
            let live: Vec<usize> = (0..m).filter(|&p| size[p] > 0).collect();
            let a = live.len();
            for (i, &pi) in live.iter().enumerate() {
                for (j, &pj) in live.iter().enumerate() {
                    dm[i * a + j] = dm[pi * m + pj];
                }
            }
            dm.truncate(a * a);
            dm.shrink_to_fit();
            let new_ids: Vec<usize> = live.iter().map(|&p| ids[p]).collect();
            let new_size: Vec<usize> = live.iter().map(|&p| size[p]).collect();
            ids = new_ids;
            size = new_size;
            for (p, &sl) in ids.iter().enumerate() {
                pos[sl] = p;
            }
            m = a;
        }
        if chain.is_empty() {
            let first = (0..m).filter(|&p| size[p] > 0).map(|p| ids[p]).min().ok_or_else(|| {
                RmlError::Internal("chain: no active cluster".into())
            })?;
            chain.push(first);
        }
        let (x, y, cur) = loop {
            let x = *chain.last().expect("chain is not empty");
            let px = pos[x];
            let prev = if chain.len() > 1 { Some(chain[chain.len() - 2]) } else { None };
            let row: &[f64] = &dm[px * m..(px + 1) * m];
            let (size_r, ids_r) = (&size, &ids);
            let best = scan_min_range(m, |lo, hi| {
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
        merges.push(Merge { a: x, b: y, dist: cur });
        let (px, py) = (pos[x], pos[y]);
        let (nx, ny) = (size[px], size[py]);
        size[px] = 0;
        size[py] = nx + ny;
        n_active -= 1;
        // New distances of cluster y: computed from rows x and y (contiguous reads), stored
        // in row y, then written down column y (one entry per row; parallel over rows when
        // the matrix is large, since those writes are what the update waits on).
        for p in 0..m {
            if size[p] == 0 || p == py {
                continue;
            }
            let dxi = dm[px * m + p];
            let dyi = dm[py * m + p];
            dm[py * m + p] = match linkage {
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
        let (before, rest) = dm[..m * m].split_at_mut(py * m);
        let (row_y, after) = rest.split_at_mut(m);
        let row_y: &[f64] = row_y;
        let write = |p: usize, row: &mut [f64]| {
            if size[p] > 0 {
                row[py] = row_y[p];
            }
        };
        if m >= 2 * PAR_ROWS {
            before.par_chunks_mut(m).enumerate().with_min_len(256).for_each(|(p, r)| write(p, r));
            after
                .par_chunks_mut(m)
                .enumerate()
                .with_min_len(256)
                .for_each(|(q, r)| write(py + 1 + q, r));
        } else {
            before.chunks_mut(m).enumerate().for_each(|(p, r)| write(p, r));
            after.chunks_mut(m).enumerate().for_each(|(q, r)| write(py + 1 + q, r));
        }
    }
    Ok(merges)
}

/// Minimum over `0..len` of per-range minima `f(lo, hi)`, parallel over fixed blocks.
#[cfg(test)]
fn scan_min_range(
    len: usize,
    f: impl Fn(usize, usize) -> (f64, usize) + Sync,
) -> (f64, usize) {
    if len < 2 * PAR_ROWS {
        f(0, len)
    } else {
        (0..len.div_ceil(PAR_ROWS))
            .into_par_iter()
            .map(|b| f(b * PAR_ROWS, ((b + 1) * PAR_ROWS).min(len)))
            .reduce(|| (f64::INFINITY, usize::MAX), better)
    }
}
