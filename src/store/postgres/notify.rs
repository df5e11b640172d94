//! Cache coherence between processes sharing one database: every configuration write and
//! key revocation sends a notification on [`CHANNEL`] inside its transaction (PostgreSQL
//! delivers it at commit, and never for a rolled-back write), and every serving process
//! listens on that channel and hands what it hears to its commit listener, so another
//! instance's write reaches this instance's caches within a network round trip.
//!
//! The listener reconnects by itself. A notification sent while it was disconnected is
//! lost, so each (re)connection is reported as [`Commit::Missed`]: the caches then
//! compare their revisions with the database at once (the change poller), and the poller
//! keeps running at its interval as the fallback for a listener that stays down.

use super::PgStore;
use crate::domain::ids::{KeyId, TenantId};
use crate::error::Result;
use crate::store::{Commit, CommitListener};
use sqlx::postgres::{PgListener, PgPool};
use sqlx::PgConnection;
use std::time::Duration;

/// The channel every grantd process of a database sends and listens on.
pub(super) const CHANNEL: &str = "grantd_changes";

/// What a notification says: small text, parsed back by [`Notice::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Notice {
    /// The tenant's configuration moved to this revision.
    Config(TenantId, i64),
    KeyRevoked(KeyId),
}

impl Notice {
    fn payload(&self) -> String {
        match self {
            Notice::Config(t, r) => format!("config {} {r}", t.0),
            Notice::KeyRevoked(k) => format!("key {}", k.0),
        }
    }

    fn parse(payload: &str) -> Option<Notice> {
        let mut parts = payload.split(' ');
        let notice = match (parts.next()?, parts.next()?) {
            ("config", tenant) => {
                Notice::Config(TenantId(tenant.parse().ok()?), parts.next()?.parse().ok()?)
            }
            ("key", key) => Notice::KeyRevoked(KeyId(key.parse().ok()?)),
            _ => return None,
        };
        parts.next().is_none().then_some(notice)
    }

    fn commit(self) -> Commit {
        match self {
            Notice::Config(tenant, revision) => Commit::Config { tenant, revision },
            Notice::KeyRevoked(k) => Commit::KeyRevoked(k),
        }
    }
}

/// Queues the notice in `conn`'s transaction: sent when it commits.
pub(super) async fn notify(conn: &mut PgConnection, notice: &Notice) -> Result<()> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(notice.payload())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// How long the listener waits before connecting again after a failed attempt.
const RECONNECT_BACKOFF: Duration = Duration::from_millis(250);

impl PgStore {
    /// Listens until the pool closes (or the task is aborted), handing every notice to
    /// `listener` and every (re)connection to it as [`Commit::Missed`].
    pub(super) fn spawn_listener(
        pool: PgPool,
        listener: CommitListener,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let failures = crate::throttle::LogThrottle::new(Duration::from_secs(10));
            while !pool.is_closed() {
                let outcome = listen_once(&pool, &listener).await;
                metrics::gauge!("grantd_change_listener_up").set(0.0);
                match outcome {
                    Ok(()) => {}
                    Err(e) => {
                        if pool.is_closed() {
                            return;
                        }
                        if let Some(n) = failures.admit() {
                            tracing::warn!(error = ?e, earlier_not_logged = n,
                                "change notifications are down; caches fall back to polling")
                        }
                    }
                }
                tokio::time::sleep(RECONNECT_BACKOFF).await;
            }
        })
    }
}

/// One connection's life: connects, reports the gap before it, then forwards notices
/// until the connection cannot be re-established.
async fn listen_once(pool: &PgPool, listener: &CommitListener) -> Result<()> {
    let mut l = PgListener::connect_with(pool).await?;
    l.listen(CHANNEL).await?;
    metrics::counter!("grantd_change_listener_connects_total").increment(1);
    metrics::gauge!("grantd_change_listener_up").set(1.0);
    listener(Commit::Missed);
    loop {
        match l.try_recv().await? {
            Some(n) => match Notice::parse(n.payload()) {
                Some(notice) => listener(notice.commit()),
                None => tracing::warn!(
                    payload = n.payload(),
                    "ignored a change notification grantd does not understand"
                ),
            },
            // The connection was lost and has been re-established: what was sent in
            // between is gone.
            None => {
                metrics::counter!("grantd_change_listener_connects_total").increment(1);
                listener(Commit::Missed)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_garbage_is_refused() {
        let t = TenantId(uuid::Uuid::new_v4());
        let k = KeyId(uuid::Uuid::new_v4());
        for n in [Notice::Config(t, 42), Notice::KeyRevoked(k)] {
            assert_eq!(Notice::parse(&n.payload()), Some(n));
        }
        for bad in [
            "",
            "config",
            "config x 1",
            &format!("config {} x", t.0),
            &format!("config {} 1 extra", t.0),
            &format!("key {} extra", k.0),
            "tenant 1",
        ] {
            assert_eq!(Notice::parse(bad), None, "{bad:?}");
        }
    }
}
