//! Appending decision events: the group-commit writer.
//!
//! A decision's response must not leave before its event is durable, yet one fsync per
//! decision would cap throughput at the disk's sync rate. Callers therefore hand events to
//! one writer through a bounded queue and wait for their acknowledgement; the writer takes
//! everything that queued up while the previous commit ran and commits it as one
//! transaction. The store starts the writer (`Store::start_decision_writer`): a thread of
//! its own with a blocking append, or a task. A full queue makes callers wait
//! (backpressure), nothing is ever dropped, and when the last sender is gone the writer
//! drains the queue before it stops.
//!
//! Mutations do not come through here: they append their event inside their own
//! transaction (see `store`).

use crate::domain::audit::{Appended, NewEvent};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::DynStore;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

struct Job {
    tenant: TenantId,
    event: NewEvent,
    done: oneshot::Sender<Result<Appended>>,
    /// When it was handed over (before it waited for its tenant's share of the queue): its
    /// wait for a batch is `grantd_audit_queue_seconds`.
    queued_at: std::time::Instant,
    /// Its place in its tenant's share of the queue, given back when it goes into a batch.
    share: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Handle to the writer task. Cloning shares the one queue.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
    paused: Arc<watch::Sender<bool>>,
    /// Events handed over and not yet in a batch (the channel's and the writer's own
    /// queues alike).
    waiting: Arc<AtomicUsize>,
    /// Each tenant's share of the queue (see [`AuditWriter::append`]).
    shares: Arc<Shares>,
}

/// At most `per_tenant` events of one tenant wait for a batch at once: a tenant that floods
/// (or whose chain a long write holds) waits in its own line, and cannot fill the queue
/// that other tenants' events pass through.
struct Shares {
    per_tenant: usize,
    tenants: std::sync::Mutex<std::collections::HashMap<TenantId, Arc<tokio::sync::Semaphore>>>,
}

impl Shares {
    async fn enter(&self, tenant: TenantId) -> Result<tokio::sync::OwnedSemaphorePermit> {
        let line = self
            .tenants
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(tenant)
            .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.per_tenant)))
            .clone();
        line.acquire_owned()
            .await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the audit writer has stopped")))
    }
}

/// The writer's end of the queue: counts the events it takes into batches.
struct Inbox {
    rx: mpsc::Receiver<Job>,
    waiting: Arc<AtomicUsize>,
}

impl Inbox {
    /// The jobs of `batch` went into a batch: they no longer wait, and how long each
    /// waited is recorded.
    fn taken(&self, batch: &mut [Job]) {
        self.waiting.fetch_sub(batch.len(), Ordering::Relaxed);
        let now = std::time::Instant::now();
        let waited = metrics::histogram!("grantd_audit_queue_seconds");
        for job in batch {
            waited.record(now.saturating_duration_since(job.queued_at).as_secs_f64());
            job.share = None;
        }
    }
}

/// While held, the writer commits nothing (tests use it to show that responses wait).
pub struct PauseGuard(Arc<watch::Sender<bool>>);

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

impl AuditWriter {
    /// Starts the store's writer (see `Store::start_decision_writer`). `capacity` bounds
    /// the queue; `max_batch` bounds one commit.
    pub fn spawn(store: DynStore, capacity: usize, max_batch: usize) -> (Self, JoinHandle<()>) {
        store.start_decision_writer(store.clone(), capacity, max_batch)
    }

    /// The writer as a task that commits each batch with `Store::append_events`.
    pub fn spawn_task(
        store: DynStore,
        capacity: usize,
        max_batch: usize,
    ) -> (Self, JoinHandle<()>) {
        let (writer, rx, paused_rx, max_batch) = Self::channel(capacity, max_batch);
        (writer, tokio::spawn(run(store, rx, paused_rx, max_batch)))
    }

    /// The writer as a task that commits each tenant's events in batches of their own:
    /// one batch per tenant at a time (its chain takes one append at a time anyway), up to
    /// `parallel` tenants' batches at once. A tenant whose events arrive while another
    /// tenant's large batch commits is not queued behind it (a store whose tenants' chains
    /// can be appended in parallel starts this one; see
    /// [`AuditStore::start_decision_writer`]). Tenants waiting for a free batch are served
    /// in turn. Besides the channel's `capacity`, the writer holds at most `capacity`
    /// events in its tenants' queues, so a full writer still makes callers wait.
    ///
    /// [`AuditStore::start_decision_writer`]: crate::store::AuditStore::start_decision_writer
    pub fn spawn_per_tenant(
        store: DynStore,
        capacity: usize,
        max_batch: usize,
        parallel: usize,
    ) -> (Self, JoinHandle<()>) {
        let (writer, rx, paused_rx, max_batch) = Self::channel(capacity, max_batch);
        let task = tokio::spawn(run_per_tenant(
            store,
            rx,
            paused_rx,
            PerTenant {
                capacity: capacity.max(1),
                max_batch,
                parallel: parallel.max(1),
            },
        ));
        (writer, task)
    }

    /// The writer's loop on a thread of its own, committing each batch with a blocking
    /// append: the serial step every decision waits for is never queued behind request
    /// tasks on the runtime's workers, and no async hand-off sits inside it.
    pub fn spawn_thread(
        sink: Arc<dyn BlockingAppend>,
        capacity: usize,
        max_batch: usize,
    ) -> (Self, JoinHandle<()>) {
        let (writer, rx, paused_rx, max_batch) = Self::channel(capacity, max_batch);
        let (stopped, wait) = oneshot::channel::<()>();
        let runtime = tokio::runtime::Handle::current();
        let spawned = std::thread::Builder::new()
            .name("grantd-audit".into())
            .spawn(move || {
                run_blocking(sink, rx, paused_rx, max_batch, runtime);
                let _ = stopped.send(());
            });
        if let Err(e) = spawned {
            // Dropping the receiver fails every append as unavailable.
            tracing::error!(error = %e, "could not start the audit writer thread");
        }
        let handle = tokio::spawn(async move {
            let _ = wait.await;
        });
        (writer, handle)
    }

    fn channel(capacity: usize, max_batch: usize) -> (Self, Inbox, watch::Receiver<bool>, usize) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (paused, paused_rx) = watch::channel(false);
        let waiting = Arc::new(AtomicUsize::new(0));
        (
            AuditWriter {
                tx,
                paused: Arc::new(paused),
                waiting: waiting.clone(),
                shares: Arc::new(Shares {
                    per_tenant: (capacity / 4).max(1),
                    tenants: Default::default(),
                }),
            },
            Inbox { rx, waiting },
            paused_rx,
            max_batch.max(1),
        )
    }

    /// Appends one event and returns once it is committed: where it landed on the chain.
    /// Waits while the queue is full, or while a quarter of it holds this tenant's events.
    pub async fn append(&self, tenant: TenantId, event: NewEvent) -> Result<Appended> {
        // the wait for the tenant's share of the queue is part of the event's queue wait
        let queued_at = std::time::Instant::now();
        let share = self.shares.enter(tenant).await?;
        let (done, wait) = oneshot::channel();
        // counted from now; uncounted again unless the job is sent (a caller may stop
        // waiting for room in the queue)
        struct Counted<'a>(&'a AtomicUsize, bool);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                if !self.1 {
                    self.0.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let mut counted = Counted(&self.waiting, false);
        self.tx
            .send(Job {
                tenant,
                event,
                done,
                queued_at,
                share: Some(share),
            })
            .await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the audit writer has stopped")))?;
        counted.1 = true;
        wait.await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the audit writer has stopped")))?
    }

    /// Events waiting for a batch (not counting batches being committed).
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    #[doc(hidden)]
    pub fn pause(&self) -> PauseGuard {
        self.paused.send_replace(true);
        PauseGuard(self.paused.clone())
    }
}

/// A synchronous group-commit append, for [`AuditWriter::spawn_thread`].
pub trait BlockingAppend: Send + Sync {
    /// Makes `events` durable as one batch and says where each landed. Blocks.
    fn append_blocking(&self, events: Vec<(TenantId, NewEvent)>) -> Result<Vec<Appended>>;
    /// Housekeeping between batches, after their answers have left. Blocks; failures are
    /// the implementation's to report.
    fn after_batch(&self) {}
}

/// Takes the next batch: waits for one job, then everything that queued up meanwhile.
fn fill(batch: &mut Vec<Job>, first: Job, inbox: &mut Inbox, max_batch: usize) {
    batch.push(first);
    while batch.len() < max_batch {
        match inbox.rx.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    inbox.taken(batch);
    metrics::histogram!("grantd_audit_batch_events").record(batch.len() as f64);
}

type Events = Vec<(TenantId, NewEvent)>;
type Waiting = Vec<oneshot::Sender<Result<Appended>>>;

fn split(batch: &mut Vec<Job>) -> (Events, Waiting) {
    batch
        .drain(..)
        .map(|j| ((j.tenant, j.event), j.done))
        .unzip()
}

/// Failed group commits are logged at most once a second, each line counting the failures
/// left out since the one before: a store that refuses writes fails every batch.
fn failure_log() -> crate::throttle::LogThrottle {
    crate::throttle::LogThrottle::new(std::time::Duration::from_secs(1))
}

/// Answers every job of a batch with the outcome of its commit.
fn answer(
    waiting: Waiting,
    outcome: Result<Vec<Appended>>,
    started: std::time::Instant,
    failures: &crate::throttle::LogThrottle,
) {
    metrics::histogram!("grantd_audit_commit_seconds").record(started.elapsed().as_secs_f64());
    match outcome {
        Ok(stored) => {
            for (done, appended) in waiting.into_iter().zip(stored) {
                // A caller that gave up waiting no longer needs the answer; its event is
                // committed all the same.
                let _ = done.send(Ok(appended));
            }
        }
        Err(e) => {
            if let Some(left_out) = failures.admit() {
                tracing::error!(
                    error = ?e,
                    events = waiting.len(),
                    earlier_not_logged = left_out,
                    "audit group commit failed"
                );
            }
            for done in waiting {
                let _ = done.send(Err(Error::Unavailable(anyhow::anyhow!(
                    "the audit log could not be written"
                ))));
            }
        }
    }
}

async fn run(
    store: DynStore,
    mut inbox: Inbox,
    mut paused: watch::Receiver<bool>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let failures = failure_log();
    while let Some(first) = inbox.rx.recv().await {
        // The sender side of `paused` lives in every handle; if all are gone we just go on.
        let _ = paused.wait_for(|p| !*p).await;
        fill(&mut batch, first, &mut inbox, max_batch);
        commit(&store, &mut batch, &failures).await;
    }
    tracing::debug!("audit writer drained and stopped");
}

/// Commits a batch with `Store::append_events` and answers its callers.
async fn commit(store: &DynStore, batch: &mut Vec<Job>, failures: &crate::throttle::LogThrottle) {
    let (events, waiting) = split(batch);
    let started = std::time::Instant::now();
    let outcome = store
        .append_events(events)
        .await
        .map(|stored| stored.iter().map(Appended::from).collect());
    answer(waiting, outcome, started, failures);
}

struct PerTenant {
    capacity: usize,
    max_batch: usize,
    parallel: usize,
}

/// Says the tenant's batch is done when the batch's task ends, however it ends (a panic in
/// the store drops the batch's answers, so its callers learn the writer failed, and the
/// tenant's next events still get their batch).
struct BatchDone(Option<(TenantId, mpsc::UnboundedSender<TenantId>)>);

impl Drop for BatchDone {
    fn drop(&mut self) {
        if let Some((tenant, done)) = self.0.take() {
            let _ = done.send(tenant);
        }
    }
}

async fn run_per_tenant(
    store: DynStore,
    mut inbox: Inbox,
    mut paused: watch::Receiver<bool>,
    limits: PerTenant,
) {
    use std::collections::{HashMap, HashSet, VecDeque};
    let mut queues: HashMap<TenantId, VecDeque<Job>> = HashMap::new();
    // tenants with events queued and no batch in flight, in the order their turns come
    let mut turns: VecDeque<TenantId> = VecDeque::new();
    let mut busy: HashSet<TenantId> = HashSet::new();
    let mut queued = 0usize;
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<TenantId>();
    let failures = Arc::new(failure_log());
    let mut open = true;
    loop {
        if !open && queued == 0 && busy.is_empty() {
            break;
        }
        // Jobs are taken off the channel only while fewer than `capacity` wait here, so a
        // full writer still makes its callers wait (backpressure).
        let accept = open && queued < limits.capacity;
        let take = |job: Job,
                    queues: &mut HashMap<TenantId, VecDeque<Job>>,
                    turns: &mut VecDeque<TenantId>,
                    busy: &HashSet<TenantId>| {
            let tenant = job.tenant;
            let queue = queues.entry(tenant).or_default();
            if queue.is_empty() && !busy.contains(&tenant) {
                turns.push_back(tenant);
            }
            queue.push_back(job);
        };
        tokio::select! {
            job = inbox.rx.recv(), if accept => match job {
                Some(job) => {
                    take(job, &mut queues, &mut turns, &busy);
                    queued += 1;
                }
                None => open = false,
            },
            Some(tenant) = done_rx.recv() => {
                busy.remove(&tenant);
                if queues.get(&tenant).is_some_and(|q| !q.is_empty()) {
                    turns.push_back(tenant);
                }
            }
        }
        while open && queued < limits.capacity {
            match inbox.rx.try_recv() {
                Ok(job) => {
                    take(job, &mut queues, &mut turns, &busy);
                    queued += 1;
                }
                Err(_) => break,
            }
        }
        if busy.len() >= limits.parallel || turns.is_empty() {
            continue;
        }
        // The sender side of `paused` lives in every handle; if all are gone we just go on.
        let _ = paused.wait_for(|p| !*p).await;
        while busy.len() < limits.parallel {
            let Some(tenant) = turns.pop_front() else {
                break;
            };
            let Some(queue) = queues.get_mut(&tenant) else {
                continue;
            };
            let n = queue.len().min(limits.max_batch);
            let mut batch: Vec<Job> = queue.drain(..n).collect();
            if queue.is_empty() {
                queues.remove(&tenant);
            }
            queued -= batch.len();
            inbox.taken(&mut batch);
            busy.insert(tenant);
            metrics::histogram!("grantd_audit_batch_events").record(batch.len() as f64);
            let (store, failures) = (store.clone(), failures.clone());
            let done = BatchDone(Some((tenant, done_tx.clone())));
            tokio::spawn(async move {
                let _done = done;
                commit(&store, &mut batch, &failures).await;
            });
        }
    }
    tracing::debug!("audit writer drained and stopped");
}

/// The same loop with a blocking append, on the writer's own thread.
fn run_blocking(
    sink: Arc<dyn BlockingAppend>,
    mut inbox: Inbox,
    mut paused: watch::Receiver<bool>,
    max_batch: usize,
    runtime: tokio::runtime::Handle,
) {
    let mut batch = Vec::with_capacity(max_batch);
    let failures = failure_log();
    while let Some(first) = inbox.rx.blocking_recv() {
        if *paused.borrow() {
            let _ = runtime.block_on(paused.wait_for(|p| !*p));
        }
        fill(&mut batch, first, &mut inbox, max_batch);
        let (events, waiting) = split(&mut batch);
        let started = std::time::Instant::now();
        answer(waiting, sink.append_blocking(events), started, &failures);
        sink.after_batch();
    }
    tracing::debug!("audit writer drained and stopped");
}

/// Retention: deletes events older than `days` before `now`, moving each chain's anchor to
/// the last deleted event so verification still covers everything that remains.
pub async fn prune(store: &DynStore, now: chrono::DateTime<chrono::Utc>, days: u32) -> Result<u64> {
    store
        .prune_events(now - chrono::Duration::days(i64::from(days)))
        .await
}
