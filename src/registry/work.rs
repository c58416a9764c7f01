//! Bounds on the heavy work a request can start. Parsing a schema and checking compatibility
//! are pure CPU work whose memory grows with the schema (a 1 MB `.proto` peaks near 150 MB
//! while it compiles), so they run on tokio's blocking pool, never on the async workers that
//! answer every other client, and only within two limits: at most `slots` at once, and only
//! while the memory they are estimated to need fits the budget. Work over budget waits for
//! earlier work to finish rather than failing; one job larger than the whole budget runs alone.
//!
//! The permits move into the blocking job, so a client that goes away while its parse runs
//! does not free the budget before the parse ends.
//!
//! Freed memory only counts as free once the process can reuse it. glibc gives each thread
//! its own allocation arena and keeps what a thread frees for that thread, so sequential
//! parses on different blocking threads would each leave their peak resident and the process
//! would grow by a multiple of the budget (measured: 8 parses of 35 MB, one at a time, grew the
//! process by 62–89 MB with the default arenas, 35 MB with one). A job of at least
//! [`TRIM_FROM`] therefore hands its free memory back to the system before its permits are
//! released.

use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{RegistryError, Result};
use crate::types::SchemaType;

/// The budget is counted in KiB, so a `u32` permit count covers any budget up to 4 TiB.
const UNIT: usize = 1024;

/// Jobs estimated below this run on the caller's thread: a few-KiB schema parses or compares
/// in microseconds, less than the hand-off to the blocking pool costs, and cannot hold up the
/// worker. (An Avro or JSON schema up to about 2 KiB, a `.proto` under 1 KiB.)
const INLINE_BELOW: usize = 512 * 1024;

/// Jobs estimated at this much or more return their freed memory to the system when they end
/// (a `malloc_trim` costs well under a millisecond; a parse this large takes tens).
const TRIM_FROM: usize = 4 << 20;

/// Estimated peak memory of parsing `bytes` of schema text of a type, from the worst shapes
/// measured per byte (heaptrack, parse plus canonical form and a self-comparison): JSON Schema
/// peaks at 190 times the text for a list of empty subschemas (`"anyOf": [{}, {}, …]`), 170 for
/// an enum of empty arrays, 91 for an integer enum; Avro at 72 for a record of many `int`
/// fields, 41 for a large enum; Protobuf (compiled with source info, then re-read as a
/// descriptor pool) at about 160.
pub fn parse_estimate(schema_type: SchemaType, bytes: usize) -> usize {
    let factor = match schema_type {
        SchemaType::Avro => 96,
        SchemaType::Json => 224,
        SchemaType::Protobuf => 192,
    };
    bytes.saturating_mul(factor).saturating_add(64 * UNIT)
}

/// The shared limits (one per registry).
pub struct Workers {
    memory: Arc<Semaphore>,
    budget_units: u32,
    slots: Arc<Semaphore>,
}

impl Workers {
    /// `budget` bytes of estimated memory, `slots` jobs at once (both at least 1).
    pub fn new(budget: usize, slots: usize) -> Self {
        let budget_units = u32::try_from((budget / UNIT).max(1)).unwrap_or(u32::MAX);
        Self {
            memory: Arc::new(Semaphore::new(budget_units as usize)),
            budget_units,
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    /// Runs `job` on the blocking pool once `estimate` bytes of the budget and a slot are
    /// free. A panic in the job (a bug in a parser) answers 50000 instead of taking the
    /// process down.
    pub async fn run<T: Send + 'static>(
        &self,
        estimate: usize,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        if estimate < INLINE_BELOW {
            // Too small to hold up the worker; a panic still answers 50000.
            return std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .map_err(|_| panicked("on the request's thread"));
        }
        let units = u32::try_from(estimate.div_ceil(UNIT))
            .unwrap_or(u32::MAX)
            .clamp(1, self.budget_units);
        let closed = |_| RegistryError::Internal("the work limiter is closed".into());
        let memory = self
            .memory
            .clone()
            .acquire_many_owned(units)
            .await
            .map_err(closed)?;
        let slot = self.slots.clone().acquire_owned().await.map_err(closed)?;
        let trim = estimate >= TRIM_FROM;
        let handle = tokio::task::spawn_blocking(move || {
            // A panic drops the permits while unwinding; the next large job trims.
            let out = job();
            if trim {
                release_free_memory();
            }
            drop((memory, slot));
            out
        });
        handle.await.map_err(|e| panicked(&e.to_string()))
    }
}

/// The answer to a job that panicked (a bug in a parser): logged, and 50000 for the client.
fn panicked(detail: &str) -> RegistryError {
    tracing::error!(detail, "a schema job panicked");
    RegistryError::Internal("the schema could not be processed (internal error)".into())
}

/// Returns the free memory of every allocation arena to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub(crate) fn release_free_memory() {
    // SAFETY: malloc_trim takes no pointers and only walks the allocator's own free lists
    // under its locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other allocators (musl, macOS) return large frees to the system themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn release_free_memory() {}

/// Makes every allocation of `bytes` or more a mapping of its own, unmapped when freed. glibc
/// otherwise raises that threshold after the first large free (up to 32 MiB) and keeps what a
/// large packet took in a thread's arena for good. For the proxy, whose large allocations are
/// the rare large messages; called once at start.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn map_large_allocations(bytes: usize) {
    let bytes = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt takes no pointers; it sets an allocator parameter under its lock.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, bytes);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn map_large_allocations(_bytes: usize) {}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn jobs_over_budget_wait_their_turn() {
        // Jobs of 4 units, large enough for the pool: two fit in a budget of 10, never three.
        let unit = INLINE_BELOW;
        let workers = Arc::new(Workers::new(10 * unit, 8));
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut jobs = Vec::new();
        for _ in 0..6 {
            let (w, running, most) = (workers.clone(), running.clone(), most.clone());
            jobs.push(tokio::spawn(async move {
                w.run(4 * unit, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(30));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .await
            }));
        }
        for j in jobs {
            j.await.expect("task").expect("job");
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_job_larger_than_the_budget_runs_alone() {
        let workers = Workers::new(UNIT, 2);
        let out = workers.run(1 << 30, || 7).await.expect("runs");
        assert_eq!(out, 7);
        assert_eq!(workers.memory.available_permits(), 1, "budget returned");
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_not_a_crash() {
        let workers = Workers::new(UNIT, 1);
        for estimate in [1, INLINE_BELOW] {
            let got = workers
                .run(estimate, || -> i32 { panic!("parser bug") })
                .await;
            assert!(matches!(got, Err(RegistryError::Internal(_))), "{estimate}");
        }
        assert_eq!(workers.run(1, || 1).await.expect("still serves"), 1);
    }
}
