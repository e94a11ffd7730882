//! The one helper every binding goes through: release the GIL, run the kernel in the
//! `n_jobs` pool, poll Ctrl-C while it runs, and map errors.

use crate::errors::to_py_err;
use pyo3::prelude::*;
use rml_core::{threads, Cancel, RmlError, RmlResult};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// How often the waiting thread takes the GIL back to look for KeyboardInterrupt.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Run `kernel` with the GIL released inside the rayon pool chosen by `n_jobs`.
///
/// The calling thread waits and, every [`SIGNAL_POLL`], re-attaches to the interpreter to run
/// `PyErr_CheckSignals`; on KeyboardInterrupt it sets the [`Cancel`] flag that kernels poll
/// between chunks, waits for the kernel to stop, and re-raises the interrupt.
pub fn run<T, F>(py: Python<'_>, n_jobs: Option<i64>, kernel: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce(&Cancel) -> RmlResult<T> + Send,
{
    let n_threads = threads::resolve_n_jobs(n_jobs).map_err(to_py_err)?;
    let pool = threads::pool(n_threads).map_err(to_py_err)?;
    let cancel = Cancel::new();
    let done: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());
    let mut outcome: Option<RmlResult<T>> = None;
    let mut interrupt: Option<PyErr> = None;

    py.detach(|| {
        pool.in_place_scope(|scope| {
            let (cancel, done, outcome) = (&cancel, &done, &mut outcome);
            scope.spawn(move |_| {
                *outcome = Some(kernel(cancel));
                let mut finished = done.0.lock().unwrap_or_else(|p| p.into_inner());
                *finished = true;
                done.1.notify_all();
            });
            let mut finished = done.0.lock().unwrap_or_else(|p| p.into_inner());
            while !*finished {
                let (guard, timeout) = done
                    .1
                    .wait_timeout(finished, SIGNAL_POLL)
                    .unwrap_or_else(|p| p.into_inner());
                finished = guard;
                if timeout.timed_out() && !*finished && interrupt.is_none() {
                    if let Err(err) = Python::attach(|py| py.check_signals()) {
                        interrupt = Some(err);
                        cancel.request();
                    }
                }
            }
        });
    });

    if let Some(err) = interrupt {
        return Err(err);
    }
    match outcome {
        Some(result) => result.map_err(to_py_err),
        // The kernel panicked: rayon re-raises the panic out of the scope, so this is
        // unreachable in practice; keep a clean error rather than an unwrap.
        None => Err(to_py_err(RmlError::Internal("kernel produced no result".into()))),
    }
}
