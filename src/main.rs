//! The `grantd` command line: `serve`, `migrate`, `tenant create`, `key create|revoke`.
//! Exit codes: 0 success, 2 usage error, 1 anything else, with a one-line reason on stderr.

use clap::{Args, Parser, Subcommand};
use grantd::clock::{Clock, SystemClock};
use grantd::config::Config;
use grantd::domain::audit::Actor;
use grantd::domain::ids::{KeyId, TenantId};
use grantd::domain::role::Role;
use grantd::service::{import, keys, policy_tests, tenants};
use grantd::store;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "grantd",
    version,
    about = "Multi-tenant Cedar policy decision point with a grant lifecycle"
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Global {
    /// Database URL (`sqlite://PATH`, created if missing).
    #[arg(
        long,
        global = true,
        env = "GRANTD_DATABASE_URL",
        default_value = "sqlite://grantd.db"
    )]
    database_url: String,
    /// Directory holding `schema.cedarschema` and the example policies.
    #[arg(
        long,
        global = true,
        env = "GRANTD_POLICIES_DIR",
        default_value = "./policies"
    )]
    policies_dir: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage tenants.
    #[command(subcommand)]
    Tenant(TenantCmd),
    /// Manage API keys.
    #[command(subcommand)]
    Key(KeyCmd),
    /// An online, consistent copy of the database (while the server runs, too), holding
    /// every decision event acknowledged before it was taken. PATH must not exist.
    Backup { path: PathBuf },
    /// Policies as code: import or export a `policies/` directory.
    #[command(subcommand)]
    Policy(PolicyCmd),
}

#[derive(Subcommand)]
enum PolicyCmd {
    /// Import `schema.cedarschema` and `<key>.json` policy files; upserts by key, all-or-nothing.
    /// The directory's policy tests (`tests/*.json`) must pass first, unless --skip-tests.
    Import {
        #[arg(long)]
        tenant: TenantId,
        dir: PathBuf,
        /// Import although the directory's policy tests fail (said in the audit events).
        #[arg(long)]
        skip_tests: bool,
    },
    /// Run the policy tests of a directory (`tests/*.json`) against its schema,
    /// `entities/*.json` and policies, offline: no server, no database. Exits 1 if any
    /// fails.
    Test { dir: PathBuf },
    /// Write the tenant's schema and policies (one `<key>.json` each) into a directory.
    Export {
        #[arg(long)]
        tenant: TenantId,
        dir: PathBuf,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "GRANTD_BIND", default_value = "127.0.0.1:8080")]
    bind: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "GRANTD_BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    body_limit_bytes: usize,
    /// Decision audit events that may queue for the group-commit writer before callers wait
    /// (one tenant's events at most a quarter of them).
    #[arg(long, env = "GRANTD_AUDIT_QUEUE_CAPACITY", default_value_t = 4096)]
    audit_queue_capacity: usize,
    /// How often (ms) to notice writes made by other processes, e.g. `grantd key revoke` or
    /// `grantd policy import` while the server runs; writes through the API apply at once.
    #[arg(long, env = "GRANTD_CHANGE_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    change_poll_ms: u64,
    /// Active grants a re-evaluation (after a policy, schema or entity write) handles per
    /// transaction: smaller batches hold the tenant's write lock for less time each.
    #[arg(long, env = "GRANTD_REEVALUATION_BATCH", default_value_t = 200, value_parser = clap::value_parser!(i64).range(1..=5_000))]
    reevaluation_batch: i64,
    /// How often (ms) expired grants are persisted as EXPIRED with their audit event (every
    /// read already treats them as expired).
    #[arg(long, env = "GRANTD_SWEEP_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=600_000))]
    sweep_interval_ms: u64,
    /// Prune audit events older than this many days (default: keep forever); the chain stays
    /// verifiable from the last pruned event.
    #[arg(long, env = "GRANTD_AUDIT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    audit_retention_days: Option<u32>,
    /// A connection must send a complete request head within this many ms of opening (or
    /// of the first byte of a later request), or it is closed.
    #[arg(long, env = "GRANTD_HEADER_READ_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    header_read_timeout_ms: u64,
    /// A keep-alive connection without a request for this many ms is closed.
    #[arg(long, env = "GRANTD_IDLE_TIMEOUT_MS", default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(100..=3_600_000))]
    idle_timeout_ms: u64,
    /// A request body must arrive whole within this many ms of its head (else 400 and the
    /// connection is closed).
    #[arg(long, env = "GRANTD_BODY_READ_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(100..=600_000))]
    body_read_timeout_ms: u64,
    /// Most connections open at once; past it a new connection is answered 503 and closed.
    /// Lowered to fit the open-file limit (raised to its hard limit at start) less 256.
    #[arg(long, env = "GRANTD_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    max_connections: u64,
    /// Accept webhook URLs with `http://` (default: https only).
    #[arg(long, env = "GRANTD_ALLOW_INSECURE_WEBHOOKS")]
    allow_insecure_webhooks: bool,
    /// Let webhooks reach loopback, private, link-local and other non-public addresses
    /// (default: refused, also when a host name resolves to one).
    #[arg(long, env = "GRANTD_ALLOW_PRIVATE_WEBHOOKS")]
    allow_private_webhooks: bool,
    /// The first webhook retry's delay in ms; later retries wait multiples of it (x60,
    /// x360, x1440, x3600, x7200, x7200: about 27.6 hours in all at the default).
    #[arg(long, env = "GRANTD_WEBHOOK_RETRY_BASE_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    webhook_retry_base_ms: u64,
    /// The most one webhook delivery attempt may take, in ms.
    #[arg(long, env = "GRANTD_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000))]
    webhook_timeout_ms: u64,
    /// Webhook delivery attempts in flight at once.
    #[arg(long, env = "GRANTD_WEBHOOK_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1024))]
    webhook_concurrency: u64,
    /// After SIGTERM or Ctrl-C: keep serving (new connections too) for this many ms while
    /// `/readyz` answers 503, so a load balancer takes the instance out of rotation before
    /// it stops accepting. Set it above the balancer's readiness interval × failure
    /// threshold for rolling restarts without failed requests.
    #[arg(long, env = "GRANTD_SHUTDOWN_DRAIN_MS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    shutdown_drain_ms: u64,
    /// After the drain period: in-flight requests and the audit queue have this many ms,
    /// then the process exits regardless.
    #[arg(long, env = "GRANTD_SHUTDOWN_GRACE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    shutdown_grace_ms: u64,
    /// Every tenant's quota, per second, for decisions (authorize, counting each request
    /// of a batch; grant writes; access checks) and, separately, for every other call;
    /// with --tenant-burst. Unset: unlimited. The operator's limit for a tenant (`grantd
    /// tenant quota`) replaces it; a tenant's admin may lower its own (`PUT /v1/quota`).
    /// Per instance.
    #[arg(long, env = "GRANTD_TENANT_RPS", requires = "tenant_burst", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    tenant_rps: Option<u32>,
    /// The most calls of a tenant at once (the bucket's size); with --tenant-rps.
    #[arg(long, env = "GRANTD_TENANT_BURST", requires = "tenant_rps", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    tenant_burst: Option<u32>,
    /// Every API key's quota, per second, kept like the tenant's (two buckets); with
    /// --key-burst. Unset: unlimited. Per instance.
    #[arg(long, env = "GRANTD_KEY_RPS", requires = "key_burst", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    key_rps: Option<u32>,
    /// The most calls of a key at once; with --key-rps.
    #[arg(long, env = "GRANTD_KEY_BURST", requires = "key_rps", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    key_burst: Option<u32>,
    /// Log output: `pretty` or `json` (the filter is `GRANTD_LOG`, e.g. `info,grantd=debug`).
    #[arg(long, env = "GRANTD_LOG_FORMAT", default_value = "pretty", value_parser = ["pretty", "json"])]
    log_format: String,
}

#[derive(Subcommand)]
enum TenantCmd {
    /// Create a tenant with the default schema and print its id and first admin key.
    Create {
        name: String,
        /// Print exactly one JSON line `{"tenant_id", "api_key"}`.
        #[arg(long)]
        json: bool,
    },
    /// Show, set (--rps with --burst) or clear (--clear) the operator's request quota for a
    /// tenant, which replaces the --tenant-rps/--tenant-burst default of every instance
    /// within a second (a limit the tenant's admin set with `PUT /v1/quota` can only lower
    /// it; `GET /v1/quota` shows both). Prints the operator's limit as JSON (`null`: none).
    Quota {
        tenant: TenantId,
        /// Calls per second, sustained (each of the decisions and other budgets).
        #[arg(long, requires = "burst", conflicts_with = "clear", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        rps: Option<u32>,
        /// The most calls at once.
        #[arg(long, requires = "rps", conflicts_with = "clear", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        burst: Option<u32>,
        /// Remove the operator's limit for the tenant (the instance default holds again,
        /// lowered by the tenant admin's own limit if it set one).
        #[arg(long)]
        clear: bool,
    },
}

#[derive(Subcommand)]
enum KeyCmd {
    /// Create an API key and print it (shown once).
    Create {
        #[arg(long)]
        tenant: TenantId,
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: Option<String>,
        /// Print exactly one JSON line `{"key_id", "api_key", "role"}`.
        #[arg(long)]
        json: bool,
    },
    /// Revoke an API key; it fails on the very next request.
    Revoke {
        #[arg(long)]
        tenant: TenantId,
        key_id: KeyId,
    },
}

/// mimalloc instead of the system allocator: a decision allocates and frees many small
/// objects across threads (request parsing, Cedar values, the audit event); interleaved load
/// runs measured ~5% more authorize throughput with it (see README, Performance).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                eprintln!("grantd: a subcommand is required (see grantd --help)");
                return ExitCode::from(2);
            }
            let text = e.render().to_string();
            let line = text.lines().next().unwrap_or("invalid usage");
            eprintln!("grantd: {}", line.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    let log_format = match &cli.command {
        Command::Serve(a) => a.log_format.clone(),
        _ => "pretty".into(),
    };
    init_logging(&log_format, matches!(cli.command, Command::Serve(_)));
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("grantd: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = rt.block_on(run(cli));
    // `serve` has kept its deadline; blocking work still running (a Cedar compile, a
    // probe) must not hold the exit.
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grantd: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line, with the notices an invalid input carries (the
/// Cedar diagnostics the API returns in `notices`), so the CLI says what the API says.
fn one_line(e: &anyhow::Error) -> String {
    // the chain, each cause once: an error that shows its source in its own message (a
    // database error) would otherwise repeat it
    let mut line = String::new();
    let mut previous = String::new();
    for cause in e.chain() {
        let m = cause.to_string();
        // shown already as the end of the cause before it
        if !previous.contains(&m) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&m);
        }
        previous = m;
    }
    let notices = e
        .chain()
        .find_map(|c| match c.downcast_ref::<grantd::error::Error>() {
            Some(grantd::error::Error::InvalidInput { notices, .. }) if !notices.is_empty() => {
                Some(notices)
            }
            _ => None,
        });
    if let Some(notices) = notices {
        for n in notices {
            if !line.contains(n.as_str()) {
                line.push_str("; ");
                line.push_str(n);
            }
        }
    }
    line.replace('\n', " ")
}

fn init_logging(format: &str, serving: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if serving { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("GRANTD_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        builder.init();
    }
}

/// A CLI command's error: "no such tenant" where the store found no such tenant.
fn no_such_tenant(tenant: TenantId) -> impl FnOnce(grantd::error::Error) -> anyhow::Error {
    move |e| match e {
        grantd::error::Error::NotFound(_) => anyhow::anyhow!("no such tenant {tenant}"),
        e => e.into(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let Global {
        database_url,
        policies_dir,
    } = cli.global;
    let clock = SystemClock;
    match cli.command {
        Command::Serve(args) => {
            let mut config = Config::new(database_url, policies_dir);
            config.body_limit_bytes = args.body_limit_bytes;
            config.audit_queue_capacity = args.audit_queue_capacity;
            config.change_poll_interval = std::time::Duration::from_millis(args.change_poll_ms);
            config.sweep_interval = std::time::Duration::from_millis(args.sweep_interval_ms);
            config.reevaluation_batch = args.reevaluation_batch;
            config.audit_retention_days = args.audit_retention_days;
            config.server = grantd::http::server::ServerLimits {
                header_read_timeout: std::time::Duration::from_millis(args.header_read_timeout_ms),
                idle_timeout: std::time::Duration::from_millis(args.idle_timeout_ms),
                body_read_timeout: std::time::Duration::from_millis(args.body_read_timeout_ms),
                max_connections: args.max_connections as usize,
            };
            config.shutdown_drain = std::time::Duration::from_millis(args.shutdown_drain_ms);
            config.shutdown_grace = std::time::Duration::from_millis(args.shutdown_grace_ms);
            config.webhooks = grantd::service::webhooks::DeliveryConfig {
                urls: grantd::domain::webhook::UrlPolicy {
                    allow_insecure: args.allow_insecure_webhooks,
                    allow_private: args.allow_private_webhooks,
                },
                retry_base: std::time::Duration::from_millis(args.webhook_retry_base_ms),
                timeout: std::time::Duration::from_millis(args.webhook_timeout_ms),
                concurrency: args.webhook_concurrency as usize,
            };
            let limit = grantd::service::quotas::Limit::from_options;
            config.quotas = grantd::service::quotas::QuotaDefaults {
                tenant: limit(args.tenant_rps, args.tenant_burst).map_err(anyhow::Error::msg)?,
                key: limit(args.key_rps, args.key_burst).map_err(anyhow::Error::msg)?,
            };
            serve(config, &args.bind).await
        }
        Command::Backup { path } => {
            let r = store::backup(&database_url, &path).await?;
            println!(
                "backed up {} to {}: {} bytes, {} tenants, {} audit events ({} moved from the decision journal first)",
                store::redact_url(&database_url),
                path.display(),
                r.bytes,
                r.tenants,
                r.events,
                r.moved_from_journal
            );
            Ok(())
        }
        Command::Migrate => {
            store::open(&database_url).await?;
            eprintln!(
                "grantd: migrations applied to {}",
                store::redact_url(&database_url)
            );
            Ok(())
        }
        Command::Tenant(TenantCmd::Create { name, json }) => {
            let store = store::open(&database_url).await?;
            let schema = tenants::load_default_schema(&policies_dir)?;
            let (id, key) = tenants::create(&store, &name, schema, clock.now()).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"tenant_id": id.to_string(), "api_key": key})
                );
            } else {
                println!("tenant_id: {id}\napi_key:   {key}\n(the key is shown only once)");
            }
            Ok(())
        }
        Command::Tenant(TenantCmd::Quota {
            tenant,
            rps,
            burst,
            clear,
        }) => {
            let store = store::open(&database_url).await?;
            let limit = grantd::service::quotas::Limit::from_options(rps, burst)
                .map_err(anyhow::Error::msg)?;
            // A tenant that does not exist is an error whatever is asked (its settings row
            // is read to tell).
            store
                .on_change(tenant)
                .await
                .map_err(no_such_tenant(tenant))?;
            if clear || limit.is_some() {
                let found = grantd::service::quotas::set_own_limit(
                    &store,
                    tenant,
                    grantd::domain::quota::QuotaSetter::Operator,
                    limit,
                    Actor::cli(),
                    clock.now(),
                )
                .await?;
                if !found {
                    anyhow::bail!("no such tenant {tenant}");
                }
            }
            // The operator's limit (a tenant admin's own, lower one is in `GET /v1/quota`).
            println!(
                "{}",
                serde_json::json!(store.tenant_quota(tenant).await?.operator)
            );
            Ok(())
        }
        Command::Key(KeyCmd::Create {
            tenant,
            role,
            name,
            json,
        }) => {
            let store = store::open(&database_url).await?;
            let (rec, key) = keys::create(&store, tenant, Actor::cli(), role, name, clock.now())
                .await
                .map_err(no_such_tenant(tenant))?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"key_id": rec.id.to_string(), "api_key": key, "role": role})
                );
            } else {
                println!(
                    "key_id:  {}\nrole:    {role}\napi_key: {key}\n(the key is shown only once)",
                    rec.id
                );
            }
            Ok(())
        }
        Command::Policy(PolicyCmd::Test { dir }) => {
            let report = policy_tests::test_dir(&dir)?;
            print_failures(&report);
            println!("{} passed, {} failed", report.passed, report.failed);
            if report.failed > 0 {
                anyhow::bail!(
                    "{} of {} policy tests failed",
                    report.failed,
                    report.results.len()
                );
            }
            Ok(())
        }
        Command::Policy(PolicyCmd::Import {
            tenant,
            dir,
            skip_tests,
        }) => {
            let mut files = import::read_dir(&dir)?;
            let report = match policy_tests::test_dir_if_any(&dir) {
                Ok(r) => r,
                Err(e) if skip_tests => {
                    eprintln!("grantd: the policy tests could not run ({e}); importing anyway (--skip-tests)");
                    files.skip_tests = true;
                    None
                }
                Err(e) => anyhow::bail!(
                    "the policy tests could not run: {e} (--skip-tests imports anyway)"
                ),
            };
            if let Some(report) = report.filter(|r| r.failed > 0) {
                print_failures(&report);
                if !skip_tests {
                    anyhow::bail!(
                        "{} of {} policy tests failed: nothing was imported (--skip-tests imports anyway)",
                        report.failed,
                        report.results.len()
                    );
                }
                eprintln!(
                    "grantd: {} policy tests failed; importing anyway (--skip-tests)",
                    report.failed
                );
                files.skip_tests = true;
            }
            let store = store::open(&database_url).await?;
            let r = import::import(&store, tenant, Actor::cli(), &files, clock.now())
                .await
                .map_err(no_such_tenant(tenant))?;
            for w in &r.warnings {
                eprintln!("grantd: warning: {w}");
            }
            println!(
                "imported {}: {} created, {} updated, {} unchanged{}",
                dir.display(),
                r.created,
                r.updated,
                r.unchanged,
                if r.schema_changed {
                    ", schema replaced"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Command::Policy(PolicyCmd::Export { tenant, dir }) => {
            let store = store::open(&database_url).await?;
            let (n, skipped) = import::export(&store, tenant, &dir)
                .await
                .map_err(no_such_tenant(tenant))?;
            println!("exported the schema and {n} policies to {}", dir.display());
            if !skipped.is_empty() {
                eprintln!(
                    "grantd: {} policies without a key were not exported (give them a key): {}",
                    skipped.len(),
                    skipped.join(", ")
                );
            }
            Ok(())
        }
        Command::Key(KeyCmd::Revoke { tenant, key_id }) => {
            let store = store::open(&database_url).await?;
            keys::revoke(&store, tenant, Actor::cli(), key_id, clock.now()).await?;
            eprintln!("grantd: key {key_id} revoked");
            Ok(())
        }
    }
}

/// A line per failing policy test.
fn print_failures(report: &policy_tests::Report) {
    for r in report.results.iter().filter(|r| !r.passed) {
        println!(
            "FAIL {}: {}",
            r.name,
            r.failure.as_deref().unwrap_or("failed")
        );
    }
}

async fn serve(config: Config, bind: &str) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {bind}: {e}"))?;
    let app = grantd::App::open(config, Arc::new(SystemClock)).await?;
    let cwd = std::env::current_dir()?;
    if let Some(path) = app.bootstrap_if_empty(&cwd).await? {
        tracing::info!(path = %path.display(), "bootstrapped tenant \"default\"; its id and admin key are in this file (mode 0600)");
    }
    tracing::info!(addr = %listener.local_addr()?, "grantd listening");
    app.serve(listener, shutdown_signal()).await?;
    tracing::info!("grantd stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; draining in-flight requests");
}
