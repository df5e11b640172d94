//! Appending decision events: the group-commit writer.
//!
//! A decision's response must not leave before its event is durable, yet one fsync per
//! decision would cap throughput at the disk's sync rate. Callers therefore hand events to
//! one writer task through a bounded queue and wait for their acknowledgement; the writer
//! takes everything that queued up while the previous commit ran and commits it as one
//! transaction. A full queue makes callers wait (backpressure), nothing is ever dropped, and
//! when the last sender is gone the writer drains the queue before it stops.
//!
//! Mutations do not come through here: they append their event inside their own
//! transaction (see `store`).

use crate::domain::audit::{AuditEvent, NewEvent};
use crate::domain::ids::TenantId;
use crate::error::{Error, Result};
use crate::store::DynStore;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

struct Job {
    tenant: TenantId,
    event: NewEvent,
    done: oneshot::Sender<Result<AuditEvent>>,
}

/// Handle to the writer task. Cloning shares the one queue.
#[derive(Clone)]
pub struct AuditWriter {
    tx: mpsc::Sender<Job>,
    paused: Arc<watch::Sender<bool>>,
}

/// While held, the writer commits nothing (tests use it to show that responses wait).
pub struct PauseGuard(Arc<watch::Sender<bool>>);

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.0.send_replace(false);
    }
}

impl AuditWriter {
    /// Starts the writer. `capacity` bounds the queue; `max_batch` bounds one commit.
    pub fn spawn(store: DynStore, capacity: usize, max_batch: usize) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let (paused, paused_rx) = watch::channel(false);
        let handle = tokio::spawn(run(store, rx, paused_rx, max_batch.max(1)));
        (
            AuditWriter {
                tx,
                paused: Arc::new(paused),
            },
            handle,
        )
    }

    /// Appends one event and returns once it is committed. Waits while the queue is full.
    pub async fn append(&self, tenant: TenantId, event: NewEvent) -> Result<AuditEvent> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Job {
                tenant,
                event,
                done,
            })
            .await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the audit writer has stopped")))?;
        wait.await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the audit writer has stopped")))?
    }

    /// Events waiting in the queue (not counting a batch being committed).
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    #[doc(hidden)]
    pub fn pause(&self) -> PauseGuard {
        self.paused.send_replace(true);
        PauseGuard(self.paused.clone())
    }
}

async fn run(
    store: DynStore,
    mut rx: mpsc::Receiver<Job>,
    mut paused: watch::Receiver<bool>,
    max_batch: usize,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while let Some(first) = rx.recv().await {
        // The sender side of `paused` lives in every handle; if all are gone we just go on.
        let _ = paused.wait_for(|p| !*p).await;
        batch.push(first);
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let events = batch.iter().map(|j| (j.tenant, j.event.clone())).collect();
        match store.append_events(events).await {
            Ok(stored) => {
                for (job, event) in batch.drain(..).zip(stored) {
                    // A caller that gave up waiting no longer needs the answer; its event is
                    // committed all the same.
                    let _ = job.done.send(Ok(event));
                }
            }
            Err(e) => {
                tracing::error!(error = ?e, events = batch.len(), "audit group commit failed");
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(Error::Unavailable(anyhow::anyhow!(
                        "the audit log could not be written"
                    ))));
                }
            }
        }
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
