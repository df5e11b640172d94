//! Runtime configuration. Every setting has a default, a flag and a `GRANTD_*` environment
//! variable (clap reads both, flags win); see the README's configuration table.

use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: String,
    pub policies_dir: PathBuf,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
    /// Decision events that may wait for the group-commit writer before callers block.
    pub audit_queue_capacity: usize,
    /// Most events in one group commit.
    pub audit_batch_max: usize,
    /// How often to look for writes made by other processes (the CLI) that in-memory
    /// caches must drop.
    pub change_poll_interval: std::time::Duration,
    /// How often expired grants are persisted as EXPIRED.
    pub sweep_interval: std::time::Duration,
    /// Active grants a re-evaluation handles per transaction.
    pub reevaluation_batch: i64,
    /// Audit events older than this many days are pruned (the chain stays verifiable from
    /// its new anchor). `None` keeps them forever.
    pub audit_retention_days: Option<u32>,
    /// Connection limits: header-read, idle and body-read timeouts, the connection cap.
    pub server: crate::http::server::ServerLimits,
    /// After a shutdown signal, how long the server keeps serving, new connections
    /// included, while `/readyz` answers 503 (so a load balancer moves traffic away before
    /// anything is refused). Zero: it stops accepting at once.
    pub shutdown_drain: std::time::Duration,
    /// After the drain period, how long in-flight requests and the audit queue have before
    /// the process exits regardless.
    pub shutdown_grace: std::time::Duration,
    /// How webhooks are delivered, and which URLs they may have.
    pub webhooks: crate::service::webhooks::DeliveryConfig,
    /// The default limits of every tenant and every key (`None`: unlimited).
    pub quotas: crate::service::quotas::QuotaDefaults,
}

impl Config {
    pub fn new(database_url: impl Into<String>, policies_dir: impl Into<PathBuf>) -> Self {
        Config {
            database_url: database_url.into(),
            policies_dir: policies_dir.into(),
            body_limit_bytes: 1024 * 1024,
            audit_queue_capacity: 4096,
            audit_batch_max: 512,
            change_poll_interval: std::time::Duration::from_secs(1),
            sweep_interval: std::time::Duration::from_secs(1),
            reevaluation_batch: 200,
            audit_retention_days: None,
            server: crate::http::server::ServerLimits::default(),
            shutdown_drain: std::time::Duration::ZERO,
            shutdown_grace: std::time::Duration::from_secs(10),
            webhooks: crate::service::webhooks::DeliveryConfig::default(),
            quotas: crate::service::quotas::QuotaDefaults::default(),
        }
    }
}
