//! Group commit of new grants. Every write of a tenant holds its chain head until it
//! commits, so one tenant's grant requests commit one after another, each waiting for its
//! own fsync. Here the requests of a tenant that arrive while its batch commits are
//! committed together in the next (tenants' batches run in parallel; see `dispatch`):
//! one transaction holding the tenant's head, each request checked as it would be alone
//! (the configuration revision it was decided at, its idempotency key — against stored
//! records and against the batch's earlier requests), then one multi-row insert per table,
//! the events appended in one statement, and one commit.
//!
//! A batch that fails before its commit for a reason one request may have brought (a
//! constraint, a value the database refuses) is retried request by request, each as a
//! batch of one, so one request's fault is its own; a database that cannot be used
//! (unavailable) and a commit that fails are reported to every request of the batch at
//! once, as a single request's would be.

use super::grants::{idempotency_from_row, insert_idempotency};
use super::*;
use sqlx::types::Json;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Requests in one batch at most.
const MAX_BATCH: usize = 64;

/// Batches (of different tenants) in flight at once: each holds a pooled connection.
const PARALLEL: usize = 8;

struct Job {
    request: Request,
    done: oneshot::Sender<Result<InsertOutcome>>,
}

/// The handle to the batching task (started with the store).
pub(super) struct GrantBatcher {
    tx: mpsc::Sender<Job>,
}

impl GrantBatcher {
    pub(super) fn start(pool: PgPool) -> Self {
        let (tx, rx) = mpsc::channel::<Job>(1024);
        tokio::spawn(dispatch(pool, rx));
        GrantBatcher { tx }
    }

    /// `GrantStore::insert_grant`, committed with the requests that queue meanwhile.
    pub(super) async fn insert(
        &self,
        tenant: TenantId,
        grant: Grant,
        event: NewEvent,
        idempotency: Option<IdempotencyRecord>,
        decided_at: i64,
    ) -> Result<InsertOutcome> {
        let (done, wait) = oneshot::channel();
        let job = Job {
            request: Request {
                tenant,
                grant,
                event,
                idempotency,
                decided_at,
            },
            done,
        };
        self.tx
            .send(job)
            .await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the grant writer has stopped")))?;
        wait.await
            .map_err(|_| Error::Unavailable(anyhow::anyhow!("the grant writer has stopped")))?
    }
}

/// Runs a batch and answers its requests; a panic inside (a bug) answers them with an
/// error instead of ending the writer, which goes on with the next batch.
/// Batches per tenant: each tenant has one batch at a time in flight (its writes are
/// serialised on its head anyway) and its requests queue for the next one; batches of
/// different tenants run in parallel, up to [`PARALLEL`], so a tenant whose head a long
/// write holds delays only its own requests.
async fn dispatch(pool: PgPool, mut rx: mpsc::Receiver<Job>) {
    let mut queues: HashMap<TenantId, Vec<Job>> = HashMap::new();
    let mut busy: std::collections::HashSet<TenantId> = std::collections::HashSet::new();
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<TenantId>();
    let slots = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
    let mut open = true;
    loop {
        if !open && busy.is_empty() && queues.is_empty() {
            return;
        }
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(job) => queues.entry(job.request.tenant).or_default().push(job),
                None => open = false,
            },
            Some(tenant) = done_rx.recv() => {
                busy.remove(&tenant);
            }
        }
        while let Ok(job) = rx.try_recv() {
            queues.entry(job.request.tenant).or_default().push(job);
        }
        let ready: Vec<TenantId> = queues
            .keys()
            .filter(|t| !busy.contains(t))
            .copied()
            .collect();
        for tenant in ready {
            let Some(queue) = queues.get_mut(&tenant) else {
                continue;
            };
            let rest = queue.split_off(queue.len().min(MAX_BATCH));
            let jobs = std::mem::replace(queue, rest);
            if queue.is_empty() {
                queues.remove(&tenant);
            }
            busy.insert(tenant);
            let (pool, slots, done) = (pool.clone(), slots.clone(), done_tx.clone());
            tokio::spawn(async move {
                let _slot = slots.acquire_owned().await;
                run(&pool, jobs).await;
                let _ = done.send(tenant);
            });
        }
    }
}

async fn run(pool: &PgPool, jobs: Vec<Job>) {
    use futures_util::FutureExt;
    let (senders, jobs): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.done, j.request)).unzip();
    let outcomes = match std::panic::AssertUnwindSafe(outcomes(pool, &jobs))
        .catch_unwind()
        .await
    {
        Ok(outcomes) => outcomes,
        Err(_) => {
            tracing::error!(
                requests = jobs.len(),
                "the grant writer panicked on a batch"
            );
            jobs.iter()
                .map(|_| Err(Error::internal(anyhow::anyhow!("the grant writer failed"))))
                .collect()
        }
    };
    for (done, outcome) in senders.into_iter().zip(outcomes) {
        let _ = done.send(outcome);
    }
}

/// A request of a batch, without its answer channel.
struct Request {
    tenant: TenantId,
    grant: Grant,
    event: NewEvent,
    idempotency: Option<IdempotencyRecord>,
    decided_at: i64,
}

/// Each request's outcome, in order.
async fn outcomes(pool: &PgPool, jobs: &[Request]) -> Vec<Result<InsertOutcome>> {
    if jobs.len() == 1 {
        return vec![insert_alone(pool, &jobs[0]).await];
    }
    match insert_batch(pool, jobs).await {
        Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
        // the commit's fate is unknown or it failed: every request learns it, as alone
        Err((true, e)) => {
            let message = e.to_string();
            jobs.iter()
                .map(|_| {
                    Err(Error::Unavailable(anyhow::anyhow!(
                        "committing the grant failed: {message}"
                    )))
                })
                .collect()
        }
        // the database cannot be used now: every request learns it at once (one by one,
        // each would wait out its own connection timeout)
        Err((false, e @ Error::Unavailable(_))) => {
            static LOG: crate::throttle::LogThrottle =
                crate::throttle::LogThrottle::new(std::time::Duration::from_secs(10));
            if let Some(n) = LOG.admit() {
                tracing::warn!(error = ?e, earlier_not_logged = n, "a batch of grants could not be written");
            }
            let message = e.to_string();
            jobs.iter()
                .map(|_| Err(Error::Unavailable(anyhow::anyhow!("{message}"))))
                .collect()
        }
        // nothing was committed, for a reason one request may have brought: each on its own
        Err((false, e)) => {
            static LOG: crate::throttle::LogThrottle =
                crate::throttle::LogThrottle::new(std::time::Duration::from_secs(10));
            if let Some(n) = LOG.admit() {
                tracing::warn!(error = ?e, earlier_not_logged = n, "a batch of grants failed; writing them one by one");
            }
            let mut out = Vec::with_capacity(jobs.len());
            for job in jobs {
                out.push(insert_alone(pool, job).await);
            }
            out
        }
    }
}

/// One request in a transaction of its own: a batch of one, its error as it came.
async fn insert_alone(pool: &PgPool, job: &Request) -> Result<InsertOutcome> {
    let mut outcomes = insert_batch(pool, std::slice::from_ref(job))
        .await
        .map_err(|(_, e)| e)?;
    outcomes
        .pop()
        .ok_or_else(|| Error::internal(anyhow::anyhow!("a batch of one had no outcome")))
}

/// The batch in one transaction: each request's outcome, or the error with whether it
/// struck at the commit (`true`: its fate unknown) or before (`false`: nothing written).
async fn insert_batch(
    pool: &PgPool,
    jobs: &[Request],
) -> std::result::Result<Vec<InsertOutcome>, (bool, Error)> {
    let before = |e: Error| (false, e);
    let tenants: Vec<TenantId> = jobs.iter().map(|j| j.tenant).collect();
    let mut tx = WriteTx::begin(pool, &tenants).await.map_err(before)?;
    // stored records of the batch's idempotency keys, read at once
    let keys: Vec<(Uuid, String)> = jobs
        .iter()
        .filter_map(|j| j.idempotency.as_ref())
        .map(|r| (r.key_id.0, r.idem_key.clone()))
        .collect();
    let mut stored: HashMap<(Uuid, String), IdempotencyRecord> = HashMap::new();
    if !keys.is_empty() {
        let (ids, names): (Vec<Uuid>, Vec<String>) = keys.iter().cloned().unzip();
        let rows = sqlx::query(
            "SELECT i.* FROM idempotency i JOIN unnest($1::uuid[], $2::text[]) AS k(key_id, idem_key) \
             ON i.key_id = k.key_id AND i.idem_key = k.idem_key",
        )
        .bind(&ids)
        .bind(&names)
        .fetch_all(&mut *tx)
        .await
        .map_err(|e| before(e.into()))?;
        for row in &rows {
            let r = idempotency_from_row(row).map_err(before)?;
            stored.insert((r.key_id.0, r.idem_key.clone()), r);
        }
    }
    let mut outcomes = Vec::with_capacity(jobs.len());
    let mut claimed: Vec<(TenantId, &IdempotencyRecord)> = Vec::new();
    let mut replaced: Vec<(Uuid, String)> = Vec::new();
    let mut rows: Vec<(TenantId, &Grant)> = Vec::new();
    let mut events = Vec::new();
    for job in jobs {
        if !tx.revision_is(job.tenant, job.decided_at) {
            outcomes.push(InsertOutcome::Stale);
            continue;
        }
        if let Some(r) = &job.idempotency {
            let key = (r.key_id.0, r.idem_key.clone());
            // the record another request holds: stored, or claimed earlier in this batch
            // (exactly what it would read, were they committed one after another)
            if let Some(existing) = stored.get(&key) {
                if existing.stands_at(r.created_at) {
                    outcomes.push(InsertOutcome::Replay(existing.clone()));
                    continue;
                }
                replaced.push(key.clone());
            }
            stored.insert(key, r.clone());
            claimed.push((job.tenant, r));
        }
        rows.push((job.tenant, &job.grant));
        events.push((job.tenant, job.event.clone()));
        outcomes.push(InsertOutcome::Done);
    }
    if !replaced.is_empty() {
        let (ids, names): (Vec<Uuid>, Vec<String>) = replaced.into_iter().unzip();
        sqlx::query(
            "DELETE FROM idempotency i USING unnest($1::uuid[], $2::text[]) AS k(key_id, idem_key) \
             WHERE i.key_id = k.key_id AND i.idem_key = k.idem_key",
        )
        .bind(&ids)
        .bind(&names)
        .execute(&mut *tx)
        .await
        .map_err(|e| before(e.into()))?;
    }
    if !claimed.is_empty() {
        insert_idempotency(&mut tx, &claimed)
            .await
            .map_err(before)?;
    }
    if !rows.is_empty() {
        insert_rows(&mut tx, &rows).await.map_err(before)?;
        tx.append(events).await.map_err(before)?;
    }
    tx.commit().await.map_err(|e| (true, e))?;
    Ok(outcomes)
}

/// New grants, many rows per statement.
async fn insert_rows(conn: &mut PgConnection, rows: &[(TenantId, &Grant)]) -> Result<()> {
    // a batch holds at most MAX_BATCH grants: one statement
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "INSERT INTO grants (tenant_id, id, principal_type, principal_id, resource_type, \
         resource_id, app, scopes, status, policy_id, requested_by, granted_by, reason, \
         granted_at, expires_at, extension_count, last_used_at, revoked_at, revoked_by, \
         revoke_reason, audit_session, notices, created_at, updated_at, version, \
         last_decision, approval) ",
    );
    q.push_values(rows, |mut b, (tenant, g)| {
        b.push_bind(tenant.0)
            .push_bind(g.id)
            .push_bind(g.principal.etype.clone())
            .push_bind(g.principal.id.clone())
            .push_bind(g.resource.etype.clone())
            .push_bind(g.resource.id.clone())
            .push_bind(g.app.clone())
            .push_bind(Json(g.scopes.clone()))
            .push_bind(g.status.as_str())
            .push_bind(g.policy_id)
            .push_bind(g.requested_by.clone())
            .push_bind(g.granted_by.clone())
            .push_bind(g.reason.clone())
            .push_bind(g.granted_at)
            .push_bind(g.expires_at)
            .push_bind(g.extension_count)
            .push_bind(g.last_used_at)
            .push_bind(g.revoked_at)
            .push_bind(g.revoked_by.clone())
            .push_bind(g.revoke_reason.clone())
            .push_bind(g.audit_session)
            .push_bind(Json(g.notices.clone()))
            .push_bind(g.created_at)
            .push_bind(g.updated_at)
            .push_bind(g.version)
            .push_bind(g.last_decision.clone().map(Json))
            .push_bind(g.approval.clone().map(Json));
    });
    q.build().execute(&mut *conn).await?;
    Ok(())
}
