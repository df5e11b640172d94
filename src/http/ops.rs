//! Operations endpoints, without authentication: liveness, readiness, metrics.

use super::AppState;
use crate::error::{ErrorBody, Result};
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use std::sync::OnceLock;

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

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "ready", body = Health),
        (status = 503, description = "the database is unreachable", body = ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Health>> {
    state.services.store.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
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
