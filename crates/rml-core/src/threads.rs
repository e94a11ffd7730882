//! `n_jobs` as scikit-learn means it, on rayon pools.
//!
//! Every native call runs inside a pool of the requested size. Pools are cached per size and
//! per process: after `os.fork()` the child sees a different pid, forgets the parent's pools
//! (their threads do not exist in the child) and builds fresh ones, so a fork after a parallel
//! call never hangs.

use crate::{RmlError, RmlResult};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Environment variable that caps every pool, whatever `n_jobs` says.
pub const THREADS_ENV: &str = "RML_NUM_THREADS";

fn available_cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// The `RML_NUM_THREADS` cap, if set to a positive integer.
pub fn env_thread_cap() -> Option<usize> {
    std::env::var(THREADS_ENV).ok()?.trim().parse::<usize>().ok().filter(|&n| n > 0)
}

/// Number of threads for an `n_jobs` value, with scikit-learn's (joblib's) rules:
/// `None` and `-1` mean all cores, `k > 0` means `k`, `k < -1` means `cores + 1 + k`
/// (at least 1), `0` is invalid. The result is capped by `RML_NUM_THREADS`.
pub fn resolve_n_jobs(n_jobs: Option<i64>) -> RmlResult<usize> {
    let cores = available_cores() as i64;
    let n = match n_jobs {
        None | Some(-1) => cores,
        Some(0) => {
            return Err(RmlError::InvalidParameter(
                "n_jobs == 0 has no meaning; use None, -1 or a positive integer".into(),
            ))
        }
        Some(k) if k > 0 => k,
        Some(k) => (cores + 1 + k).max(1),
    } as usize;
    Ok(match env_thread_cap() {
        Some(cap) => n.min(cap),
        None => n,
    })
}

struct PoolCache {
    pid: u32,
    pools: HashMap<usize, Arc<rayon::ThreadPool>>,
}

fn cache() -> &'static Mutex<PoolCache> {
    static CACHE: OnceLock<Mutex<PoolCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(PoolCache { pid: std::process::id(), pools: HashMap::new() }))
}

/// A cached pool with exactly `n_threads` threads, valid in this process.
pub fn pool(n_threads: usize) -> RmlResult<Arc<rayon::ThreadPool>> {
    let n_threads = n_threads.max(1);
    let mut guard = cache().lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let pid = std::process::id();
    if guard.pid != pid {
        // Forked child: the parent's worker threads were not copied. Dropping the pools would
        // try to talk to them, so they are leaked on purpose (a few bytes, once per fork).
        let stale = std::mem::take(&mut guard.pools);
        std::mem::forget(stale);
        guard.pid = pid;
    }
    if let Some(p) = guard.pools.get(&n_threads) {
        return Ok(Arc::clone(p));
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(n_threads)
        .thread_name(|i| format!("rml-worker-{i}"))
        .build()
        .map_err(|e| RmlError::Internal(format!("cannot start thread pool: {e}")))?;
    let p = Arc::new(p);
    guard.pools.insert(n_threads, Arc::clone(&p));
    Ok(p)
}

/// Run `f` inside the pool for `n_jobs` (see [`resolve_n_jobs`]).
pub fn with_n_jobs<R: Send>(n_jobs: Option<i64>, f: impl FnOnce() -> R + Send) -> RmlResult<R> {
    let p = pool(resolve_n_jobs(n_jobs)?)?;
    Ok(p.install(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn n_jobs_rules() {
        let cores = available_cores();
        if env_thread_cap().is_none() {
            assert_eq!(resolve_n_jobs(None).unwrap(), cores);
            assert_eq!(resolve_n_jobs(Some(-1)).unwrap(), cores);
            assert_eq!(resolve_n_jobs(Some(-100)).unwrap(), 1);
        }
        assert_eq!(resolve_n_jobs(Some(1)).unwrap(), 1);
        assert!(resolve_n_jobs(Some(0)).is_err());
    }

    #[test]
    fn pool_has_requested_size() {
        let p = pool(3).unwrap();
        assert_eq!(p.current_num_threads(), 3);
        assert_eq!(with_n_jobs(Some(1), rayon::current_num_threads).unwrap(), 1);
    }
}

/// Threads of the rayon pool the caller is running in.
pub fn current_num_threads() -> usize {
    rayon::current_num_threads()
}
