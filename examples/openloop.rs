//! The load generator of `benches/latency.sh`: POSTs a file of JSON bodies (one per line,
//! taken in turn) to one URL at a constant rate (open loop) or as fast as answers come
//! (closed loop), and prints the latency distribution.
//!
//! ```text
//! openloop URL TENANT KEY BODIES_FILE RATE SECONDS [CONNECTIONS] [WARMUP_SECONDS]
//! ```
//!
//! `RATE` is requests per second; `0` runs closed loop (each connection sends its next
//! request as soon as its answer arrived, like wrk). Open loop, request *i* is due at
//! `start + i / RATE`, and its latency is measured from that due time, not from when a
//! connection was free to send it: a stall of the server counts for every request due during
//! it (no coordinated omission). At most `CONNECTIONS` (default 64) requests are in flight;
//! a request due while all are busy waits, and that wait is part of its latency, as it would
//! be for a client with a pool of that size. Answers during the first `WARMUP_SECONDS`
//! (default 1) are not counted.
//!
//! Prints one line of JSON: `{"rate","achieved","count","errors","statuses","p50_ms","p90_ms",
//! "p99_ms","p999_ms","max_ms"}`; `errors` counts transport failures and answers other than
//! 2xx (a run with errors is not a latency measurement; the script refuses it).
//!
//! Written here rather than installed: wrk measures closed loop only, wrk2 and vegeta are not
//! among Debian's packages, and the benchmark needs thousands of distinct bodies per run
//! with latency taken from each request's due time; the client is a page of code over the
//! hyper that grantd already builds. It runs on one thread so that it takes at most one of
//! the machine's cores from the server.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::time::Instant;

struct Plan {
    host: String,
    path: String,
    tenant: String,
    key: String,
    bodies: Vec<Bytes>,
    /// Nanoseconds between due times; 0 for closed loop.
    interval_ns: u64,
    start: Instant,
    count_from: Instant,
    end: Instant,
    next: AtomicU64,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<String, u64>,
    errors: u64,
}

async fn connect(addr: &str) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn worker(plan: Arc<Plan>) -> Tally {
    let mut tally = Tally::default();
    let mut sender = None;
    loop {
        let i = plan.next.fetch_add(1, Ordering::Relaxed);
        let due = if plan.interval_ns == 0 {
            Instant::now()
        } else {
            plan.start + Duration::from_nanos(i * plan.interval_ns)
        };
        if due >= plan.end {
            return tally;
        }
        tokio::time::sleep_until(due).await;
        let body = plan.bodies[(i % plan.bodies.len() as u64) as usize].clone();
        let request = hyper::Request::post(&plan.path)
            .header("host", &plan.host)
            .header("content-type", "application/json")
            .header("x-tenant-id", &plan.tenant)
            .header("x-api-key", &plan.key)
            .body(Full::new(body))
            .expect("a valid request");
        let outcome = async {
            if sender.is_none() {
                sender = Some(connect(&plan.host).await?);
            }
            let s = sender.as_mut().expect("connected");
            s.ready().await?;
            let response = s.send_request(request).await?;
            let status = response.status();
            response.into_body().collect().await?;
            anyhow::Ok(status)
        }
        .await;
        let done = Instant::now();
        if done < plan.count_from {
            continue;
        }
        match outcome {
            Ok(status) => {
                *tally
                    .statuses
                    .entry(status.as_u16().to_string())
                    .or_default() += 1;
                if !status.is_success() {
                    tally.errors += 1;
                }
                tally
                    .latencies_us
                    .push(done.duration_since(due).as_micros() as u64);
            }
            Err(_) => {
                tally.errors += 1;
                *tally.statuses.entry("transport".into()).or_default() += 1;
                sender = None;
            }
        }
    }
}

fn percentile(sorted: &[u64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64 / 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 7 {
        anyhow::bail!(
            "usage: openloop URL TENANT KEY BODIES_FILE RATE SECONDS [CONNECTIONS] [WARMUP_SECONDS]"
        );
    }
    let url = url::Url::parse(&args[1])?;
    let host = format!(
        "{}:{}",
        url.host_str().unwrap_or("127.0.0.1"),
        url.port_or_known_default().unwrap_or(80)
    );
    let bodies: Vec<Bytes> = std::fs::read_to_string(&args[4])?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| Bytes::from(l.to_owned()))
        .collect();
    anyhow::ensure!(!bodies.is_empty(), "{} holds no bodies", args[4]);
    let rate: f64 = args[5].parse()?;
    let seconds: f64 = args[6].parse()?;
    let connections: usize = args.get(7).map(|s| s.parse()).transpose()?.unwrap_or(64);
    let warmup: f64 = args.get(8).map(|s| s.parse()).transpose()?.unwrap_or(1.0);
    let start = Instant::now() + Duration::from_millis(100);
    let plan = Arc::new(Plan {
        host,
        path: url.path().to_owned(),
        tenant: args[2].clone(),
        key: args[3].clone(),
        bodies,
        interval_ns: if rate > 0.0 { (1e9 / rate) as u64 } else { 0 },
        start,
        count_from: start + Duration::from_secs_f64(warmup),
        end: start + Duration::from_secs_f64(warmup + seconds),
        next: AtomicU64::new(0),
    });
    let workers: Vec<_> = (0..connections)
        .map(|_| tokio::spawn(worker(plan.clone())))
        .collect();
    let mut all = Tally::default();
    for w in workers {
        let t = w.await?;
        all.latencies_us.extend(t.latencies_us);
        all.errors += t.errors;
        for (k, v) in t.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    all.latencies_us.sort_unstable();
    let l = &all.latencies_us;
    let out = serde_json::json!({
        "rate": rate,
        "achieved": (l.len() as f64 / seconds).round(),
        "count": l.len(),
        "errors": all.errors,
        "statuses": all.statuses,
        "p50_ms": percentile(l, 0.50),
        "p90_ms": percentile(l, 0.90),
        "p99_ms": percentile(l, 0.99),
        "p999_ms": percentile(l, 0.999),
        "max_ms": l.last().map(|&m| m as f64 / 1000.0).unwrap_or(0.0),
    });
    println!("{out}");
    Ok(())
}
