//! The runtimes shared by every connection of a front end: a pool of runtimes over
//! one store, each with its own store handle reading an immutable snapshot of one
//! committed generation. Reads run in parallel on the blocking thread pool (one
//! per runtime); writes are serialised per store: the runtimes of this process
//! queue at one in-process gate, then take the store's writer lock (which other
//! processes — the CLI, another `serve` or `mcp` — also respect) only around the
//! write itself. No lock is held while idle, and every request first catches up
//! with what was committed since the runtime's last request.
//!
//! Audit records of reads are group-committed: a read whose only write is its
//! own audit record gives its runtime back to the pool at once and queues the
//! record; one commit task seals every queued record onto the chain and commits
//! them in one durable commit, and only then are those requests answered. While
//! a commit is in flight the next records queue, so under load one fsync
//! carries many records.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::anyhow;
use phase_memory_model::{AuditRef, Diagnostic, Envelope, Status};
use phase_memory_runtime::{
    CallContext, Clock, DEFAULT_WRITE_WAIT, DeferredAudit, Extension, GroupResult, Outcome, Ran,
    Runtime, SharedSnapshot, WriteGate, WriteRequest, groups_writes, open_runtime_waiting,
};
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// What a queued audit record's request receives: its reference, or why the
/// group commit failed (status and diagnostic).
type GroupReply = Result<AuditRef, (Status, Vec<Diagnostic>)>;

/// Audit records and writes waiting for the next group commit.
#[derive(Default)]
struct GroupQueue {
    waiting: Vec<(DeferredAudit, oneshot::Sender<GroupReply>)>,
    /// Writes ([`groups_writes`]) waiting, with where to send their envelope.
    writes: Vec<(WriteRequest, oneshot::Sender<Envelope>)>,
    /// A commit task is running (it takes everything queued meanwhile).
    committing: bool,
    /// Group commits done and records they carried (for metrics and tests).
    commits: u64,
    records: u64,
    /// Group commits that carried writes, and the writes they carried.
    write_groups: u64,
    grouped_writes: u64,
}

/// Runtimes of a pool by default: one per core and one more (at least 3, at
/// most 9). A runtime now and then waits on the file system (a page of the
/// snapshot or index read in, the store's generation checked) or on a lock;
/// with one runtime per core its core then idles while requests queue, and
/// the extra one takes it (16 clients on 2 cores: about 1.8 cores busy instead
/// of 1.6, docs/benchmarks.md).
pub fn default_pool_size() -> usize {
    pool_size_for(
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2),
    )
}

/// [`default_pool_size`] on a machine with `cores` cores.
fn pool_size_for(cores: usize) -> usize {
    cores.saturating_add(1).clamp(3, 9)
}

struct Pool {
    idle: Mutex<Vec<Runtime>>,
    permits: Arc<Semaphore>,
    size: u32,
    group: Mutex<GroupQueue>,
    /// The runtime the commit task uses, beside the pool, so a group commit
    /// (its fsyncs) never holds a runtime reads are waiting for. `None` inside
    /// after a panic lost it; without one the commit task takes a pool runtime.
    committer: Option<Arc<Mutex<Option<Runtime>>>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("size", &self.size).finish()
    }
}

/// A pool of runtimes shared by the connections of a front end. Cloning shares it.
#[derive(Clone, Debug)]
pub struct SharedRuntime {
    pool: Arc<Pool>,
}

/// One runtime of the pool, held exclusively: obtained with
/// [`SharedRuntime::acquire`], used with [`HeldRuntime::run`] (which blocks; call
/// it from a blocking thread). Dropping it returns the runtime to the pool.
#[derive(Debug)]
pub struct HeldRuntime {
    runtime: Option<Runtime>,
    pool: Arc<Pool>,
    _permit: OwnedSemaphorePermit,
}

impl HeldRuntime {
    /// The store's commit generation (for metrics).
    pub fn generation(&self) -> u64 {
        self.runtime
            .as_ref()
            .map(|rt| rt.store().generation())
            .unwrap_or(0)
    }

    /// The profile the runtime last read (`None` after a panic lost it).
    pub fn profile(&self) -> Option<&phase_memory_profile::Profile> {
        self.runtime.as_ref().map(|rt| rt.profile())
    }

    /// Runs one operation through the runner, leaving the audit record of a
    /// read for a group commit.
    fn run_grouped(&mut self, operation: &str, request: Value, ctx: &CallContext) -> Ran {
        match self.runtime.as_mut() {
            Some(rt) => rt.run_deferring_audit(operation, request, ctx),
            None => Ran::Done(self.run(operation, request, ctx)),
        }
    }

    /// Runs one operation through the runner.
    pub fn run(&mut self, operation: &str, request: Value, ctx: &CallContext) -> Envelope {
        match self.runtime.as_mut() {
            Some(rt) => rt.run(operation, request, ctx),
            None => front_end_envelope(
                operation,
                Status::Error,
                Diagnostic::error("internal.panic", "the runtime was lost after a panic"),
            ),
        }
    }
}

impl Drop for HeldRuntime {
    fn drop(&mut self) {
        // A runtime that panicked mid-run may hold the writer lock: drop it (its
        // store handle releases the lock) rather than hand it out again.
        if std::thread::panicking() {
            return;
        }
        if let Some(rt) = self.runtime.take() {
            self.pool
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(rt);
        }
    }
}

/// Every runtime of the pool, held: nothing runs until it is dropped.
#[derive(Debug)]
pub struct Drained {
    _permits: OwnedSemaphorePermit,
}

impl SharedRuntime {
    /// Wraps open runtimes (at least one) into a pool; they share one write gate
    /// and one activation snapshot. Group commits take a runtime of the pool.
    pub fn from_runtimes(runtimes: Vec<Runtime>) -> Self {
        Self::pool_of(runtimes, None)
    }

    /// Wraps open runtimes (at least one) into a pool with `committer`, a
    /// runtime of its own for group commits (audit records of reads, grouped
    /// writes): a commit waiting on the disk then leaves every pool runtime to
    /// reads. All share one write gate and one activation snapshot.
    pub fn with_committer(runtimes: Vec<Runtime>, committer: Runtime) -> Self {
        Self::pool_of(runtimes, Some(committer))
    }

    fn pool_of(mut runtimes: Vec<Runtime>, mut committer: Option<Runtime>) -> Self {
        let gate = WriteGate::new();
        let snapshot = SharedSnapshot::new();
        for rt in runtimes.iter_mut().chain(committer.as_mut()) {
            rt.share_write_gate(gate.clone());
            rt.share_snapshot(snapshot.clone());
        }
        let size = runtimes.len().max(1) as u32;
        SharedRuntime {
            pool: Arc::new(Pool {
                permits: Arc::new(Semaphore::new(runtimes.len())),
                idle: Mutex::new(runtimes),
                size,
                group: Mutex::new(GroupQueue::default()),
                committer: committer.map(|c| Arc::new(Mutex::new(Some(c)))),
            }),
        }
    }

    /// Wraps one open runtime (a pool of one).
    pub fn new(runtime: Runtime) -> Self {
        Self::from_runtimes(vec![runtime])
    }

    /// Opens a pool of [`default_pool_size`] runtimes over the store at `dir` and
    /// registers `extensions` (front-end handlers such as `eval.run`) with each.
    /// Writes wait up to [`DEFAULT_WRITE_WAIT`] for the writer lock.
    pub fn open(
        dir: &Path,
        clock: Clock,
        extensions: Vec<(String, Extension)>,
    ) -> anyhow::Result<Self> {
        Self::open_with(
            dir,
            clock,
            extensions,
            default_pool_size(),
            DEFAULT_WRITE_WAIT,
        )
    }

    /// [`SharedRuntime::open`] with the pool size and the time a write waits for
    /// the store's writer lock before `store.locked`. One more runtime is opened
    /// for group commits ([`SharedRuntime::with_committer`]).
    pub fn open_with(
        dir: &Path,
        clock: Clock,
        extensions: Vec<(String, Extension)>,
        size: usize,
        write_wait: Duration,
    ) -> anyhow::Result<Self> {
        let mut runtimes = Vec::new();
        for _ in 0..size.max(1) + 1 {
            let mut runtime =
                open_runtime_waiting(dir, clock, write_wait).map_err(|(status, d)| {
                    anyhow!(
                        "opening the store at {}: {} ({}, {})",
                        dir.display(),
                        d.message,
                        d.code,
                        status.as_str()
                    )
                })?;
            for (name, handler) in &extensions {
                runtime.register_extension(name, handler.clone());
            }
            runtimes.push(runtime);
        }
        let committer = runtimes.pop();
        Ok(match committer {
            Some(c) => Self::with_committer(runtimes, c),
            None => Self::from_runtimes(runtimes),
        })
    }

    /// Number of runtimes in the pool.
    pub fn size(&self) -> usize {
        self.pool.size as usize
    }

    /// Waits until a runtime of the pool is free and holds it. Dropping the future
    /// before it resolves gives up the place in the queue (nothing has run).
    pub async fn acquire(&self) -> HeldRuntime {
        let permit = match self.pool.permits.clone().acquire_owned().await {
            Ok(p) => p,
            // The semaphore is never closed.
            Err(_) => unreachable_permit(),
        };
        let runtime = self
            .pool
            .idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop();
        HeldRuntime {
            runtime,
            pool: self.pool.clone(),
            _permit: permit,
        }
    }

    /// Waits until no runtime runs and holds them all (shutdown: lets runs in
    /// flight finish and keeps new ones from starting).
    pub async fn drain(&self) -> Drained {
        // Let audit records queued for a group commit be committed (and their
        // requests answered) first; bounded, as the commit itself is.
        for _ in 0..6_000 {
            let busy = {
                let q = self.pool.group.lock().unwrap_or_else(|e| e.into_inner());
                q.committing || !q.waiting.is_empty() || !q.writes.is_empty()
            };
            if !busy {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        match self
            .pool
            .permits
            .clone()
            .acquire_many_owned(self.pool.size)
            .await
        {
            Ok(p) => Drained { _permits: p },
            Err(_) => unreachable_drain(),
        }
    }

    /// Group commits done so far and the audit records they carried.
    pub fn group_commits(&self) -> (u64, u64) {
        let q = self.pool.group.lock().unwrap_or_else(|e| e.into_inner());
        (q.commits, q.records)
    }

    /// Group commits that carried writes so far, and the writes they carried.
    pub fn grouped_writes(&self) -> (u64, u64) {
        let q = self.pool.group.lock().unwrap_or_else(|e| e.into_inner());
        (q.write_groups, q.grouped_writes)
    }

    /// Runs one operation: a write that may share a commit ([`groups_writes`])
    /// joins the group-commit queue; anything else waits for a free runtime,
    /// then runs on the blocking pool.
    pub async fn run(&self, operation: &str, request: Value, ctx: CallContext) -> Envelope {
        if groups_writes(operation) {
            return self.run_write(operation, request, ctx).await;
        }
        let held = self.acquire().await;
        run_held(held, operation.to_string(), request, ctx).await
    }

    /// Queues a write for the next group commit and waits for its envelope
    /// (sent once the commit holding it returned). The write runs even if the
    /// returned future is dropped.
    pub async fn run_write(&self, operation: &str, request: Value, ctx: CallContext) -> Envelope {
        let span = tracing::info_span!(
            "operation",
            operation = %operation,
            status = tracing::field::Empty,
            audit_seq = tracing::field::Empty,
        );
        let (tx, rx) = oneshot::channel();
        {
            let mut q = self.pool.group.lock().unwrap_or_else(|e| e.into_inner());
            let w = WriteRequest {
                operation: operation.to_string(),
                request,
                ctx,
            };
            q.writes.push((w, tx));
            if !q.committing {
                q.committing = true;
                tokio::spawn(commit_queued(self.clone()));
            }
        }
        let env = rx.await.unwrap_or_else(|_| panicked(operation));
        span.record("status", env.status.as_str());
        if let Some(a) = &env.audit {
            span.record("audit_seq", a.seq);
        }
        env
    }
}

#[allow(clippy::panic)]
fn unreachable_permit() -> OwnedSemaphorePermit {
    panic!("the runtime pool's semaphore is never closed")
}

#[allow(clippy::panic)]
fn unreachable_drain() -> Drained {
    panic!("the runtime pool's semaphore is never closed")
}

/// Runs an operation on a held runtime on the blocking pool and releases the
/// runtime when done. The run completes even if the returned future is dropped;
/// a read's audit record is queued for the group commit (which also completes),
/// and the envelope is returned only once that record is durable.
pub(crate) async fn run_held(
    held: HeldRuntime,
    operation: String,
    request: Value,
    ctx: CallContext,
) -> Envelope {
    let op = operation.clone();
    // One span per operation, whichever front end called it (HTTP or MCP).
    let span = tracing::info_span!(
        "operation",
        operation = %op,
        status = tracing::field::Empty,
        audit_seq = tracing::field::Empty,
    );
    let inner = span.clone();
    let handle = tokio::runtime::Handle::current();
    let task = tokio::task::spawn_blocking(move || {
        let mut held = held;
        let pool = held.pool.clone();
        let ran = inner.in_scope(|| held.run_grouped(&operation, request, &ctx));
        drop(held);
        match ran {
            Ran::Done(env) => (env, None),
            Ran::Pending(env, record) => (env, Some(enqueue(&pool, *record, &handle))),
        }
    });
    let (mut env, reply) = match task.await {
        Ok(x) => x,
        Err(_) => return panicked(&op),
    };
    if let Some(reply) = reply {
        match reply.await {
            Ok(Ok(r)) => env.audit = Some(r),
            Ok(Err((status, diagnostics))) => {
                env.status = status;
                env.data = Value::Object(Default::default());
                env.diagnostics.extend(diagnostics);
                env.audit = None;
            }
            Err(_) => return panicked(&op),
        }
    }
    span.record("status", env.status.as_str());
    if let Some(a) = &env.audit {
        span.record("audit_seq", a.seq);
    }
    env
}

fn panicked(op: &str) -> Envelope {
    front_end_envelope(
        op,
        Status::Error,
        Diagnostic::error(
            "internal.panic",
            format!(
                "operation {op} failed unexpectedly; the store commit is atomic, so it either fully applied or not at all"
            ),
        ),
    )
}

/// Queues a read's audit record and starts the commit task unless one runs.
fn enqueue(
    pool: &Arc<Pool>,
    record: DeferredAudit,
    handle: &tokio::runtime::Handle,
) -> oneshot::Receiver<GroupReply> {
    let (tx, rx) = oneshot::channel();
    let mut q = pool.group.lock().unwrap_or_else(|e| e.into_inner());
    q.waiting.push((record, tx));
    if !q.committing {
        q.committing = true;
        handle.spawn(commit_queued(SharedRuntime { pool: pool.clone() }));
    }
    rx
}

/// The runtime a group commit runs on: the pool's committer, or else one of
/// the pool's runtimes (held like a read's).
enum CommitRuntime {
    Own(Arc<Mutex<Option<Runtime>>>),
    Held(Box<HeldRuntime>),
}

impl CommitRuntime {
    async fn take(shared: &SharedRuntime) -> Self {
        if let Some(c) = &shared.pool.committer
            && c.lock().unwrap_or_else(|e| e.into_inner()).is_some()
        {
            return CommitRuntime::Own(c.clone());
        }
        CommitRuntime::Held(Box::new(shared.acquire().await))
    }

    /// Runs `f` on the runtime (blocking: call it on a blocking thread); `None`
    /// when the runtime was lost after a panic.
    fn with<R>(&mut self, f: impl FnOnce(&mut Runtime) -> R) -> Option<R> {
        match self {
            CommitRuntime::Own(c) => c.lock().unwrap_or_else(|e| e.into_inner()).as_mut().map(f),
            CommitRuntime::Held(h) => h.runtime.as_mut().map(f),
        }
    }
}

impl SharedRuntime {
    /// Drops the committer after a panic during a group commit (its store handle
    /// may hold the writer lock; dropping it releases the lock): later commits
    /// take a pool runtime.
    fn lose_committer(&self) {
        if let Some(c) = &self.pool.committer {
            let lost = c.lock().unwrap_or_else(|e| e.into_inner()).take();
            drop(lost);
        }
    }
}

/// The commit task: commits everything queued (writes and audit records of
/// reads), in groups, until the queue is empty (bounded by what was queued;
/// each round takes it all).
async fn commit_queued(shared: SharedRuntime) {
    loop {
        // Take a runtime first, then everything queued until now: what arrives
        // while this waits for a runtime joins this group.
        let mut held = CommitRuntime::take(&shared).await;
        let (batch, writes) = {
            let mut q = shared.pool.group.lock().unwrap_or_else(|e| e.into_inner());
            if q.waiting.is_empty() && q.writes.is_empty() {
                q.committing = false;
                return;
            }
            (
                std::mem::take(&mut q.waiting),
                std::mem::take(&mut q.writes),
            )
        };
        let (records, replies): (Vec<_>, Vec<_>) = batch.into_iter().unzip();
        let (writes, write_replies): (Vec<_>, Vec<_>) = writes.into_iter().unzip();
        let n = records.len() as u64;
        // The reads are answered as soon as their records are durable (before
        // the index update, which only the writes wait for).
        let mut replies = Some(replies);
        let counted = shared.clone();
        let task = tokio::task::spawn_blocking(move || {
            let mut answer = |audits: Result<&[AuditRef], &_>| {
                let Some(replies) = replies.take() else {
                    return;
                };
                match audits {
                    Ok(refs) => {
                        // Counted before anyone is answered: a reader that
                        // scrapes the metrics next sees its own record.
                        if n > 0 {
                            let mut q =
                                counted.pool.group.lock().unwrap_or_else(|e| e.into_inner());
                            q.commits += 1;
                            q.records += n;
                        }
                        for (tx, r) in replies.into_iter().zip(refs) {
                            let _ = tx.send(Ok(r.clone()));
                        }
                    }
                    Err(e) => {
                        let o = Outcome::store_error(e);
                        for tx in replies {
                            let _ = tx.send(Err((o.status, o.diagnostics.clone())));
                        }
                    }
                }
            };
            held.with(|rt| rt.commit_group_then(writes, records, &mut answer))
        });
        let result = match task.await {
            Ok(r) => r,
            Err(_) => {
                shared.lose_committer();
                None
            }
        };
        let Some(GroupResult {
            envelopes,
            audits: _,
            grouped,
            took,
        }) = result
        else {
            // A panic: the records' replies were dropped (their requests get
            // `internal.panic`), and so were the writes'.
            drop(write_replies);
            continue;
        };
        tracing::debug!(
            writes = write_replies.len(),
            grouped,
            records = n,
            lock_ms = took.lock.as_secs_f64() * 1e3,
            handlers_ms = took.handlers.as_secs_f64() * 1e3,
            commit_ms = took.commit.as_secs_f64() * 1e3,
            index_ms = took.index.as_secs_f64() * 1e3,
            alone_ms = took.alone.as_secs_f64() * 1e3,
            "group commit"
        );
        {
            let mut q = shared.pool.group.lock().unwrap_or_else(|e| e.into_inner());
            if grouped > 0 {
                q.write_groups += 1;
                q.grouped_writes += grouped as u64;
            }
        }
        for (tx, env) in write_replies.into_iter().zip(envelopes) {
            let _ = tx.send(env);
        }
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

#[cfg(test)]
mod tests {
    use super::pool_size_for;

    #[test]
    fn a_pool_has_one_runtime_more_than_cores_within_bounds() {
        assert_eq!(pool_size_for(1), 3);
        assert_eq!(pool_size_for(2), 3);
        assert_eq!(pool_size_for(4), 5);
        assert_eq!(pool_size_for(8), 9);
        assert_eq!(pool_size_for(64), 9);
        assert_eq!(pool_size_for(usize::MAX), 9);
    }
}
