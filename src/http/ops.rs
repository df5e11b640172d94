//! Operations endpoints, without authentication: liveness, readiness, metrics.

use super::AppState;
use crate::error::{Error, ErrorBody};
use crate::store::DynStore;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "alive", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Ready to serve: the database answers and takes writes. Not ready (503 `unavailable`,
/// with `Retry-After` and the reason in `message`) once a shutdown signal came (the
/// instance still serves for `--shutdown-drain-ms`), while the database cannot be reached,
/// a small synced write to it or a 64 KiB file beside it fails (a full disk), the decision
/// log cannot be written or moved into the database, or any write answered 503 in the
/// last 5 seconds. The write probe runs at most once a second; calls in between share its
/// outcome (the read runs on every call).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = Health),
        (status = 503, description = "not ready: the database is unreachable or refuses writes", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>, Error> {
    state
        .readiness
        .check(&state.services.store)
        .await
        .map_err(Error::NotReady)?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
}

/// Why the store is not ready, as `/readyz` says it.
fn reason(e: Error) -> String {
    match e {
        Error::Unavailable(e) => format!("{e:#}"),
        e => e.to_string(),
    }
}

/// What `/readyz` knows: when a write last answered 503, and the last write probe.
pub struct Readiness {
    base: Instant,
    /// Milliseconds after `base` at which a write last answered 503, plus one (0: never).
    write_failed: AtomicU64,
    probe: tokio::sync::Mutex<Option<(Instant, std::result::Result<(), String>)>>,
    /// A shutdown signal came: not ready, whatever the store says.
    draining: std::sync::atomic::AtomicBool,
}

/// How long a write that answered 503 keeps the server from being ready.
pub const WRITE_FAULT_HOLD: Duration = Duration::from_secs(5);
/// How long one write probe's outcome answers `/readyz`.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// How long the write probe may take before the database counts as not taking writes.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Default for Readiness {
    fn default() -> Self {
        Readiness {
            base: Instant::now(),
            write_failed: AtomicU64::new(0),
            probe: tokio::sync::Mutex::new(None),
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

impl Readiness {
    /// A write (any request but GET and HEAD) answered 503.
    pub fn write_failed(&self) {
        let ms = self.base.elapsed().as_millis() as u64 + 1;
        self.write_failed.store(ms, Ordering::Relaxed);
    }

    /// The instance is shutting down: from now on it is not ready.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    pub async fn check(&self, store: &DynStore) -> std::result::Result<(), String> {
        if self.draining() {
            return Err("shutting down: finishing what it serves, taking no new work soon".into());
        }
        let failed = self.write_failed.load(Ordering::Relaxed);
        if failed > 0 {
            let ago = self
                .base
                .elapsed()
                .saturating_sub(Duration::from_millis(failed - 1));
            if ago < WRITE_FAULT_HOLD {
                return Err(format!(
                    "a write answered 503 unavailable {} ms ago",
                    ago.as_millis()
                ));
            }
        }
        // The database answers (a read; every call).
        match tokio::time::timeout(PROBE_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(reason(e)),
            Err(_) => {
                return Err(format!(
                    "the database did not answer within {} ms",
                    PROBE_TIMEOUT.as_millis()
                ))
            }
        }
        // One write probe at a time; callers meanwhile wait for its outcome and share it.
        let mut last = self.probe.lock().await;
        if let Some((at, outcome)) = &*last {
            if at.elapsed() < PROBE_EVERY {
                return outcome.clone();
            }
        }
        let outcome = match tokio::time::timeout(PROBE_TIMEOUT, store.probe_write()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(reason(e)),
            Err(_) => Err(format!(
                "the database did not take a write within {} ms",
                PROBE_TIMEOUT.as_millis()
            )),
        };
        *last = Some((Instant::now(), outcome.clone()));
        outcome
    }
}

static PROMETHEUS: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; servers in one process share it).
pub fn prometheus() -> &'static metrics_exporter_prometheus::PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[
                0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                1.0, 2.5, 5.0,
            ])
            .expect("static buckets are valid")
            // A count, not a duration: the default (seconds) buckets would put every batch
            // past the last one.
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full("grantd_audit_batch_events".into()),
                &[
                    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
                ],
            )
            .expect("static buckets are valid")
            // A decision's evaluation takes microseconds: finer buckets at the bottom.
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Full(
                    "grantd_decision_evaluation_seconds".into(),
                ),
                &[
                    0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ],
            )
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (embedding apps); ours still renders.
        let _ = metrics::set_global_recorder(recorder);
        spawn_upkeep(handle.clone(), UPKEEP_EVERY);
        handle
    })
}

/// How often the recorder's pending histogram samples are folded into their buckets.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// A recorder made by `build_recorder` keeps every histogram sample it is given until
/// someone renders it or runs its upkeep: without a scrape, memory would grow with every
/// request. One thread per process folds them in every `every` (the exporter's own
/// installer does the same).
fn spawn_upkeep(handle: metrics_exporter_prometheus::PrometheusHandle, every: std::time::Duration) {
    let spawned = std::thread::Builder::new()
        .name("grantd-metrics".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the metrics upkeep thread");
    }
}

/// Prometheus text: `grantd_http_requests_total` and `grantd_http_request_duration_seconds`
/// by method (a non-standard method counts as `other`), route template (`unmatched` when
/// no route matched) and status.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub async fn metrics() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        prometheus().render(),
    )
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// Threads of this process with the given name.
    fn threads_named(name: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|comm| comm.trim_end() == name)
            .count()
    }

    #[test]
    fn the_recorder_comes_with_one_upkeep_thread() {
        super::prometheus();
        super::prometheus();
        // A thread names itself once it runs.
        for _ in 0..500 {
            if threads_named("grantd-metrics") > 0 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(threads_named("grantd-metrics"), 1);
    }
}
