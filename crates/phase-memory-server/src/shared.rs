//! One runtime shared by every connection of a front end: runs are serialised
//! per store (one at a time, behind an async mutex) and executed on the blocking
//! thread pool, so readers never see a half-applied write and the async reactor
//! never blocks on store I/O.

use std::path::Path;
use std::sync::Arc;

use anyhow::anyhow;
use phase_memory_model::{Diagnostic, Envelope, Status};
use phase_memory_runtime::{CallContext, Clock, Extension, Runtime, open_runtime};
use serde_json::Value;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// A runtime shared by the connections of a front end. Cloning shares it.
///
/// The store's exclusive writer lock is held for as long as any clone lives.
#[derive(Clone, Debug)]
pub struct SharedRuntime {
    inner: Arc<Mutex<Runtime>>,
}

/// The runtime, held exclusively: obtained with [`SharedRuntime::acquire`], used
/// with [`HeldRuntime::run`] (which blocks; call it from a blocking thread).
#[derive(Debug)]
pub struct HeldRuntime {
    guard: OwnedMutexGuard<Runtime>,
}

impl HeldRuntime {
    /// The store's commit generation (for metrics).
    pub fn generation(&self) -> u64 {
        self.guard.store().generation()
    }

    /// Runs one operation through the runner.
    pub fn run(&mut self, operation: &str, request: Value, ctx: &CallContext) -> Envelope {
        self.guard.run(operation, request, ctx)
    }
}

impl SharedRuntime {
    /// Wraps an open runtime.
    pub fn new(runtime: Runtime) -> Self {
        SharedRuntime {
            inner: Arc::new(Mutex::new(runtime)),
        }
    }

    /// Opens the store at `dir` (taking its writer lock) and registers
    /// `extensions` (front-end handlers such as `eval.run`).
    pub fn open(
        dir: &Path,
        clock: Clock,
        extensions: Vec<(String, Extension)>,
    ) -> anyhow::Result<Self> {
        let mut runtime = open_runtime(dir, clock).map_err(|(status, d)| {
            anyhow!(
                "opening the store at {}: {} ({}, {})",
                dir.display(),
                d.message,
                d.code,
                status.as_str()
            )
        })?;
        for (name, handler) in extensions {
            runtime.register_extension(&name, handler);
        }
        Ok(SharedRuntime::new(runtime))
    }

    /// Waits until the runtime is free and holds it. Dropping the future before
    /// it resolves gives up the place in the queue (nothing has run).
    pub async fn acquire(&self) -> HeldRuntime {
        HeldRuntime {
            guard: self.inner.clone().lock_owned().await,
        }
    }

    /// Runs one operation: waits for the runtime, then runs on the blocking pool.
    pub async fn run(&self, operation: &str, request: Value, ctx: CallContext) -> Envelope {
        let held = self.acquire().await;
        run_held(held, operation.to_string(), request, ctx).await
    }
}

/// Runs an operation on a held runtime on the blocking pool and releases the
/// runtime when done. The run completes even if the returned future is dropped.
pub(crate) async fn run_held(
    mut held: HeldRuntime,
    operation: String,
    request: Value,
    ctx: CallContext,
) -> Envelope {
    let op = operation.clone();
    let task = tokio::task::spawn_blocking(move || held.run(&operation, request, &ctx));
    match task.await {
        Ok(env) => env,
        Err(_) => front_end_envelope(
            &op,
            Status::Error,
            Diagnostic::error(
                "internal.panic",
                format!(
                    "operation {op} failed unexpectedly; the store commit is atomic, so it either fully applied or not at all"
                ),
            ),
        ),
    }
}

/// An envelope made by a front end for a request that never reached the runner
/// (unauthenticated, too large, malformed JSON, timed out). Its `profile_digest`
/// is empty and it has no audit record.
pub fn front_end_envelope(operation: &str, status: Status, diagnostic: Diagnostic) -> Envelope {
    let mut env = Envelope::new(operation, status, "req-unprocessed", "");
    env.diagnostics.push(diagnostic);
    env
}
