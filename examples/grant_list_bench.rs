//! `grants/list` on a large tenant: loads N grants (default 1,000,000) into one tenant of a
//! fresh SQLite file (or, with `GRANTD_BENCH_POSTGRES_URL=postgres://USER@HOST/DB`, of a
//! fresh PostgreSQL database on that server), then times typical dashboard queries through the list service
//! (filter parsing, the SQL of the page and of `total`, the cursor), 25 per page.
//!
//! The population: 20,000 users, 50 apps with 10 entitlements each (grants on an
//! entitlement, one in ten on the app itself), granted uniformly over the last year for 1
//! hour to 90 days, so about one in eight is active now; one in ten revoked; grants that
//! expired more than a day ago already persisted as EXPIRED by the sweeper; 60 % used at some
//! point (`last_used_at`). Another tenant holds 100,000 grants of its own alongside.
//!
//! `cargo run --release --example grant_list_bench -- [grants]`
//! (`GRANTD_BENCH_PAGE_SIZE=4096` to create the database with that page size)

use chrono::{DateTime, Duration, Utc};
use grantd::clock::{format_ts, ManualClock};
use grantd::domain::grant_query::{RawFilter, RawValue};
use grantd::domain::ids::TenantId;
use grantd::service::grant_list::{self, ListQuery};
use grantd::service::Caller;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

#[path = "support/page_size.rs"]
mod page_size;

const USERS: u64 = 20_000;
const APPS: u64 = 50;

/// A small deterministic generator (splitmix64), so every run loads the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One generated grant, as the sweeper would have left it.
struct Gen {
    id: uuid::Uuid,
    user: String,
    rtype: &'static str,
    rid: String,
    app: String,
    scopes: &'static str,
    status: &'static str,
    policy: uuid::Uuid,
    ticket: String,
    granted_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    extended: bool,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

fn generate(rng: &mut Rng, policies: &[uuid::Uuid], now: DateTime<Utc>) -> Gen {
    let user = rng.below(USERS);
    let app = rng.below(APPS);
    let on_app = rng.below(10) == 0;
    let granted_at = now - Duration::seconds(rng.below(365 * 86_400) as i64);
    let duration = Duration::seconds(3600 + rng.below(90 * 86_400) as i64);
    let mut expires_at = granted_at + duration;
    let revoked = rng.below(10) == 0;
    let extended = !revoked && rng.below(20) == 0;
    if extended {
        expires_at += Duration::days(7);
    }
    let revoked_at = revoked
        .then(|| granted_at + Duration::seconds(rng.below(duration.num_seconds() as u64) as i64));
    let revoked_at = revoked_at.filter(|t| *t < now);
    let end = revoked_at.unwrap_or(expires_at).min(now);
    let used = rng.below(10) < 6 && end > granted_at;
    let last_used_at = used.then(|| {
        granted_at
            + Duration::seconds(rng.below((end - granted_at).num_seconds().max(1) as u64) as i64)
    });
    let status = if revoked_at.is_some() {
        "REVOKED"
    } else if expires_at < now - Duration::days(1) {
        "EXPIRED"
    } else if extended {
        "EXTENDED"
    } else {
        "GRANTED"
    };
    let scopes = match rng.below(3) {
        0 => "[]",
        1 => "[\"read\"]",
        _ => "[\"read\",\"write\"]",
    };
    let (rtype, rid) = if on_app {
        ("App", format!("app{app:02}"))
    } else {
        ("Entitlement", format!("app{app:02}-ent{}", rng.below(10)))
    };
    let policy = policies[rng.below(20) as usize];
    Gen {
        id: uuid::Uuid::now_v7(),
        user: format!("u{user:05}"),
        rtype,
        rid,
        app: format!("app{app:02}"),
        scopes,
        status,
        policy,
        ticket: format!("ticket-{}", rng.below(1_000_000)),
        granted_at,
        expires_at,
        extended,
        last_used_at,
        revoked_at,
        updated_at: revoked_at.unwrap_or(granted_at),
    }
}

const GRANT_INSERT: &str =
    "INSERT INTO grants (tenant_id, id, principal_type, principal_id, resource_type, \
     resource_id, app, scopes, status, policy_id, requested_by, granted_by, reason, \
     granted_at, expires_at, extension_count, last_used_at, revoked_at, revoked_by, \
     revoke_reason, audit_session, notices, created_at, updated_at, version) ";

/// Where the loader writes: the SQLite file (without waiting for fsync: a benchmark
/// fixture, not a grant write) or the PostgreSQL database.
enum Loader {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

async fn load(pool: &Loader, tenant: TenantId, n: u64, now: DateTime<Utc>, seed: u64) {
    let mut rng = Rng(seed);
    let policies: Vec<uuid::Uuid> = (0..20).map(|_| uuid::Uuid::now_v7()).collect();
    let batch = 1000;
    let mut done = 0;
    while done < n {
        let rows: Vec<Gen> = (0..batch.min(n - done))
            .map(|_| generate(&mut rng, &policies, now))
            .collect();
        match pool {
            Loader::Sqlite(pool) => {
                let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(GRANT_INSERT);
                q.push_values(&rows, |mut b, g| {
                    b.push_bind(tenant.to_string())
                        .push_bind(g.id.to_string())
                        .push_bind("User")
                        .push_bind(g.user.clone())
                        .push_bind(g.rtype)
                        .push_bind(g.rid.clone())
                        .push_bind(g.app.clone())
                        .push_bind(g.scopes)
                        .push_bind(g.status)
                        .push_bind(g.policy.to_string())
                        .push_bind(format!("portal:{}@example.com", g.user))
                        .push_bind(None::<String>)
                        .push_bind(g.ticket.clone())
                        .push_bind(format_ts(&g.granted_at))
                        .push_bind(format_ts(&g.expires_at))
                        .push_bind(i64::from(g.extended))
                        .push_bind(g.last_used_at.as_ref().map(format_ts))
                        .push_bind(g.revoked_at.as_ref().map(format_ts))
                        .push_bind(g.revoked_at.map(|_| "admin-key".to_string()))
                        .push_bind(g.revoked_at.map(|_| "offboarding".to_string()))
                        .push_bind(false)
                        .push_bind("[]")
                        .push_bind(format_ts(&g.granted_at))
                        .push_bind(format_ts(&g.updated_at))
                        .push_bind(1 + i64::from(g.revoked_at.is_some()) + i64::from(g.extended));
                });
                q.build().execute(pool).await.expect("insert");
            }
            Loader::Postgres(pool) => {
                let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(GRANT_INSERT);
                q.push_values(&rows, |mut b, g| {
                    let scopes: serde_json::Value = serde_json::from_str(g.scopes).unwrap();
                    b.push_bind(tenant.0)
                        .push_bind(g.id)
                        .push_bind("User")
                        .push_bind(g.user.clone())
                        .push_bind(g.rtype)
                        .push_bind(g.rid.clone())
                        .push_bind(g.app.clone())
                        .push_bind(sqlx::types::Json(scopes))
                        .push_bind(g.status)
                        .push_bind(g.policy)
                        .push_bind(format!("portal:{}@example.com", g.user))
                        .push_bind(None::<String>)
                        .push_bind(g.ticket.clone())
                        .push_bind(g.granted_at)
                        .push_bind(g.expires_at)
                        .push_bind(i64::from(g.extended))
                        .push_bind(g.last_used_at)
                        .push_bind(g.revoked_at)
                        .push_bind(g.revoked_at.map(|_| "admin-key".to_string()))
                        .push_bind(g.revoked_at.map(|_| "offboarding".to_string()))
                        .push_bind(false)
                        .push_bind(sqlx::types::Json(serde_json::json!([])))
                        .push_bind(g.granted_at)
                        .push_bind(g.updated_at)
                        .push_bind(1 + i64::from(g.revoked_at.is_some()) + i64::from(g.extended));
                });
                q.build().execute(pool).await.expect("insert");
            }
        }
        done += rows.len() as u64;
    }
}

/// A grantd over the benchmark's database. The data is written as the sweeper would have
/// left it; the sweeper is kept still while timing.
async fn open_app(url: &str, clock: Arc<ManualClock>) -> grantd::App {
    let mut config =
        grantd::config::Config::new(url, concat!(env!("CARGO_MANIFEST_DIR"), "/policies"));
    config.sweep_interval = std::time::Duration::from_secs(86_400);
    grantd::App::open(config, clock).await.expect("app opens")
}

fn f(attribute: &str, operator: &str, values: &[Value]) -> RawFilter {
    RawFilter {
        attribute: attribute.into(),
        operator: operator.into(),
        values: Some(
            values
                .iter()
                .map(|v| RawValue { value: v.clone() })
                .collect(),
        ),
    }
}

fn query(sort: &str, token: Option<String>) -> ListQuery {
    ListQuery {
        sort_order: Some(sort.into()),
        next_page_token: token,
        ..Default::default()
    }
}

#[tokio::main]
async fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    // GRANTD_BENCH_DB=<file>: time the queries on a database a previous run kept
    // (GRANTD_BENCH_KEEP=1) instead of loading a new one (SQLite)
    let reuse = std::env::var("GRANTD_BENCH_DB").ok();
    // with GRANTD_BENCH_POSTGRES_URL, the database of that server a previous run kept
    let reuse = reuse.or_else(|| {
        std::env::var("GRANTD_BENCH_POSTGRES_URL")
            .ok()
            .and(std::env::var("GRANTD_BENCH_POSTGRES_DB").ok())
    });
    // GRANTD_BENCH_POSTGRES_URL=postgres://USER@HOST/DB: load into a fresh database of that
    // server (named grantd_grant_bench_<pid>, dropped after) instead of a SQLite file
    let postgres = std::env::var("GRANTD_BENCH_POSTGRES_URL").ok();
    let dir = std::env::temp_dir().join(format!("grantd-grant-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pg_db = match (&postgres, &reuse) {
        (Some(_), Some(name)) => name.clone(),
        _ => format!("grantd_grant_bench_{}", std::process::id()),
    };
    let url = match (&postgres, &reuse) {
        (Some(server), _) => {
            let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
            format!("{base}/{pg_db}")
        }
        (None, Some(file)) => format!("sqlite://{file}"),
        (None, None) => {
            page_size::create_if_asked(&dir.join("grants.db"));
            format!("sqlite://{}/grants.db", dir.display())
        }
    };
    let now: DateTime<Utc> = match &reuse {
        // the kept data was written relative to the time of that run
        Some(_) => std::env::var("GRANTD_BENCH_NOW")
            .expect("GRANTD_BENCH_NOW: the time the kept run printed")
            .parse()
            .unwrap(),
        None => Utc::now(),
    };
    println!("now = {}", format_ts(&now));
    let clock = Arc::new(ManualClock::new(now));
    let app = open_app(&url, clock.clone()).await;
    let services = app.state.services.clone();
    let schema = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/policies/schema.cedarschema"
    ))
    .unwrap();
    let loader = if postgres.is_some() {
        Loader::Postgres(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap(),
        )
    } else {
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        Loader::Sqlite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(
                    opts.synchronous(sqlx::sqlite::SqliteSynchronous::Off)
                        .pragma("cache_size", "-1000000"),
                )
                .await
                .unwrap(),
        )
    };
    let tenant = match (&reuse, &loader) {
        (Some(_), Loader::Postgres(pool)) => {
            let (t,): (uuid::Uuid,) =
                sqlx::query_as("SELECT tenant_id FROM grant_counts ORDER BY n DESC LIMIT 1")
                    .fetch_one(pool)
                    .await
                    .unwrap();
            TenantId(t)
        }
        (Some(_), Loader::Sqlite(pool)) => {
            let (t,): (String,) = sqlx::query_as(
                "SELECT tenant_id FROM grants GROUP BY tenant_id ORDER BY COUNT(*) DESC LIMIT 1",
            )
            .fetch_one(pool)
            .await
            .unwrap();
            t.parse().unwrap()
        }
        _ => {
            let (tenant, _) =
                grantd::service::tenants::create(&services.store, "bench", schema.clone(), now)
                    .await
                    .expect("tenant");
            let (other, _) =
                grantd::service::tenants::create(&services.store, "other", schema, now)
                    .await
                    .expect("tenant");
            let t0 = Instant::now();
            load(&loader, other, n / 10, now, 7).await;
            load(&loader, tenant, n, now, 42).await;
            println!(
                "loaded {n} grants (+{} in another tenant) in {:.1} s",
                n / 10,
                t0.elapsed().as_secs_f64()
            );
            tenant
        }
    };
    // what the server's statistics upkeep would have done by now (SQLite: the hourly
    // `PRAGMA optimize`; PostgreSQL: autovacuum's ANALYZE)
    let t0 = Instant::now();
    match &loader {
        Loader::Sqlite(pool) => {
            pool.close().await;
            grantd::store::sqlite::SqliteStore::connect(&url)
                .await
                .expect("store")
                .optimize()
                .await
                .expect("optimize");
        }
        Loader::Postgres(pool) => {
            sqlx::query("VACUUM ANALYZE grants")
                .execute(pool)
                .await
                .expect("analyze");
            sqlx::query("VACUUM ANALYZE grant_day_counts")
                .execute(pool)
                .await
                .expect("analyze");
            pool.close().await;
        }
    }
    println!(
        "planner statistics refreshed in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    // the server's pooled connections read the statistics when they are recycled (within
    // ten minutes); a freshly opened server stands for that here
    drop(services);
    drop(app);
    let app = open_app(&url, clock.clone()).await;
    let services = app.state.services.clone();

    let caller = Caller {
        tenant_id: tenant,
        key_id: grantd::domain::ids::KeyId::new(),
        role: grantd::domain::role::Role::Auditor,
        on_behalf_of: None,
        min_policy_set_version: None,
    };
    let active = f("status", "IS_ANY_OF", &[json!("ACTIVE")]);
    let month_ago = format_ts(&(now - Duration::days(30)));
    let cases: Vec<(&str, Vec<RawFilter>, &str, usize)> = vec![
        (
            "ACTIVE, app, expires IS_WITHIN P7D, EXPIRES_AT_ASC, page 1",
            vec![
                active.clone(),
                f("app", "IS_ANY_OF", &[json!("app07")]),
                f("expires_at", "IS_WITHIN", &[json!("P7D")]),
            ],
            "EXPIRES_AT_ASC",
            1,
        ),
        (
            "same, page 10 via next_page_token",
            vec![
                active.clone(),
                f("app", "IS_ANY_OF", &[json!("app07")]),
                f("expires_at", "IS_WITHIN", &[json!("P7D")]),
            ],
            "EXPIRES_AT_ASC",
            10,
        ),
        (
            "unused: last_login_at IS_ON_OR_BEFORE -30d",
            vec![f("last_login_at", "IS_ON_OR_BEFORE", &[json!(month_ago)])],
            "GRANTED_AT_DESC",
            1,
        ),
        (
            "unused and ACTIVE (access review)",
            vec![
                active.clone(),
                f("last_login_at", "IS_ON_OR_BEFORE", &[json!(month_ago)]),
            ],
            "GRANTED_AT_DESC",
            1,
        ),
        (
            "one user's grants",
            vec![f("user", "EQUALS", &[json!("u01234")])],
            "GRANTED_AT_DESC",
            1,
        ),
        (
            "ACTIVE, EXPIRES_AT_ASC, page 1",
            vec![active.clone()],
            "EXPIRES_AT_ASC",
            1,
        ),
        ("no filter, page 1", vec![], "GRANTED_AT_DESC", 1),
        (
            "no filter, page 10 via next_page_token",
            vec![],
            "GRANTED_AT_DESC",
            10,
        ),
    ];
    println!(
        "{:<58} {:>8} {:>8} {:>8} {:>6}",
        "query (25 per page)", "p50 ms", "p99 ms", "total", "items"
    );
    for (name, filters, sort, page) in cases {
        if std::env::var("GRANTD_BENCH_ONLY").is_ok_and(|o| !name.contains(&o)) {
            continue;
        }
        if std::env::var_os("GRANTD_BENCH_EXPLAIN").is_some() && postgres.is_none() {
            let store = grantd::store::sqlite::SqliteStore::connect(&url)
                .await
                .unwrap();
            let conds = grantd::domain::grant_query::parse_filters(&filters, now).unwrap();
            let sort = grantd::domain::grant_query::SortOrder::parse(Some(sort)).unwrap();
            let after = (page > 1).then(|| grantd::domain::grant_query::After {
                sort_value: now,
                id: uuid::Uuid::nil(),
            });
            for via_index in [true, false] {
                println!("    plan walking the sort index: {via_index}");
                for line in store
                    .explain_list(tenant, &conds, sort, after.as_ref(), now, via_index)
                    .await
                    .unwrap()
                {
                    println!("    {line}");
                }
            }
        }
        // the token of page `page - 1`, found once
        let mut token = None;
        for _ in 1..page {
            let p = grant_list::list(&services, &caller, filters.clone(), query(sort, token))
                .await
                .expect("list");
            token = p.next_page_token;
            if token.is_none() {
                break;
            }
        }
        let mut times = Vec::new();
        let (mut total, mut items) = (0, 0);
        for _ in 0..50 {
            let t = Instant::now();
            let p = grant_list::list(
                &services,
                &caller,
                filters.clone(),
                query(sort, token.clone()),
            )
            .await
            .expect("list");
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            total = p.total;
            items = p.items.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "{name:<58} {:>8.2} {:>8.2} {total:>8} {items:>6}",
            times[24], times[49]
        );
    }
    drop(app);
    if postgres.is_some() && (std::env::var_os("GRANTD_BENCH_KEEP").is_some() || reuse.is_some()) {
        println!("kept {url}");
    } else if let Some(server) = &postgres {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
        sqlx::query(&format!("DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    } else if std::env::var_os("GRANTD_BENCH_KEEP").is_some() || reuse.is_some() {
        println!("kept {url}");
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
