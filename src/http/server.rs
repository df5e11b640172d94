//! The connection loop: HTTP/1.1 over hyper, with the limits a server facing hostile or
//! slow clients needs, which `axum::serve` does not offer (it has no header-read or idle
//! timeout, no cap on connections, and its graceful shutdown waits for every connection
//! without a deadline):
//!
//! - **Header-read timeout**: a connection must deliver a complete request head within
//!   this long of opening, or of the first byte of a later request. A client sending its
//!   head a byte a second is closed.
//! - **Idle timeout**: a keep-alive connection with no request for this long is closed.
//! - **Body-read timeout**: a request body must arrive whole within this long of its head;
//!   a body that trickles in is cut off (`400 invalid_input`) and the connection closed.
//! - **Connection cap**: past it, a new connection is answered `503 unavailable` (with
//!   `Retry-After`) and closed at once, so clients learn why instead of hanging; the cap
//!   is kept below the process's file-descriptor limit, which is raised to its hard limit,
//!   so connections never take the descriptors the database needs.
//! - **Shutdown with a deadline**: the listener closes, connections without a request in
//!   flight (idle, or still sending a head) close at once, requests in flight are
//!   answered (their connections close after the answer), and whatever is left at the
//!   deadline is dropped.
//!
//! The timeouts are kept by one watchdog per connection, beside hyper's connection future
//! in the same task: the socket counts bytes read, the service counts requests in flight,
//! and the watchdog sleeps until the next moment either could expire. (hyper's own
//! `header_read_timeout` starts when it waits for a head, idle or not, so it cannot tell a
//! slow head from an idle keep-alive connection.)

use axum::body::Body;
use axum::http::{Request, Response};
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tower::ServiceExt;

/// The connection limits (see the module docs; flags in `grantd serve --help`).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// File descriptors kept out of the connection cap: the database's connections, its
/// journal files, the listener, the log.
const FD_RESERVE: u64 = 256;

/// Connections past the cap that may be in the middle of being told so at once (each holds
/// a descriptor from the reserve for at most [`REFUSAL_TIME`]); past this, they are closed
/// without an answer. So about 1,000 refusals a second are answered.
const MAX_REFUSING: usize = 128;

/// How long a refusal waits for the client to take its answer and close.
const REFUSAL_TIME: Duration = Duration::from_millis(125);

/// Raises the soft limit on open files to the hard limit and returns it (`None` where it
/// cannot be read).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            // SAFETY: `raised` is a valid rlimit; raising the soft limit up to the hard
            // one needs no privilege.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                lim.rlim_cur = lim.rlim_max;
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 everywhere
        Some(lim.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// The connection cap to apply: `wanted`, lowered to fit the file-descriptor limit.
pub fn effective_max_connections(wanted: usize, fd_limit: Option<u64>) -> usize {
    match fd_limit {
        Some(fds) => {
            let room = fds.saturating_sub(FD_RESERVE).max(16) as usize;
            wanted.min(room).max(1)
        }
        None => wanted.max(1),
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then drains as the module docs
/// say, for `drain` after the signal. Returns when the signal came.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()> + Send,
    drain: Duration,
) -> Instant {
    let fd_limit = raise_fd_limit();
    let max = effective_max_connections(limits.max_connections, fd_limit);
    if max < limits.max_connections {
        tracing::warn!(
            wanted = limits.max_connections,
            max,
            fd_limit,
            "the connection cap is lowered to fit the open-file limit"
        );
    }
    let slots = Arc::new(Semaphore::new(max));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut conns = JoinSet::new();
    let accept_errors = crate::throttle::LogThrottle::new(Duration::from_secs(10));
    let refusals = crate::throttle::LogThrottle::new(Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        while conns.try_join_next().is_some() {}
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                if let Some(n) = accept_errors.admit() {
                    tracing::warn!(error = %e, earlier_not_logged = n, "accepting a connection failed");
                }
                // Out of descriptors (or another resource): give connections time to end
                // instead of spinning on the error.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match slots.clone().try_acquire_owned() {
            Ok(slot) => {
                conns.spawn(serve_conn(
                    stream,
                    router.clone(),
                    limits,
                    stop_rx.clone(),
                    slot,
                ));
            }
            Err(_) => {
                if let Some(n) = refusals.admit() {
                    tracing::warn!(
                        max_connections = max,
                        earlier_not_logged = n,
                        "connection cap reached; new connections are answered 503"
                    );
                }
                if let Ok(permit) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(async move {
                        refuse(stream).await;
                        drop(permit);
                    });
                }
            }
        }
    }
    let signal = Instant::now();
    let deadline = signal + drain;
    drop(listener);
    let _ = stop_tx.send(true);
    let open = conns.len();
    let sleep = tokio::time::sleep_until(deadline.into());
    tokio::pin!(sleep);
    loop {
        tokio::select! {
            next = conns.join_next() => if next.is_none() { break },
            _ = &mut sleep => {
                tracing::warn!(
                    connections = conns.len(),
                    "shutdown deadline reached; closing the connections left"
                );
                conns.abort_all();
                while conns.join_next().await.is_some() {}
                break;
            }
        }
    }
    tracing::debug!(open, "connections drained");
    signal
}

/// Answers a connection past the cap with `503 unavailable` and closes it.
async fn refuse(mut stream: TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = serde_json::json!({
        "code": "unavailable",
        "message": "the server has as many connections as it takes; retry shortly",
    })
    .to_string();
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: {}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        crate::error::RETRY_AFTER_SECS,
        body.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(body.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes: closing with unread bytes would
        // reset the connection, and the client might lose the answer.
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_TIME, answer).await;
}

/// What the watchdog of one connection reads: requests in flight, and when the current
/// wait (for a head, or idle) began.
struct Activity {
    base: Instant,
    in_flight: AtomicU32,
    /// Milliseconds after `base` when the current phase began: the connection opened, the
    /// last response was produced, or the first byte of a head arrived after it.
    since: AtomicU64,
    /// Whether bytes of a head are arriving (or the connection is new): the header-read
    /// timeout applies; otherwise the idle timeout does.
    reading: AtomicBool,
}

impl Activity {
    fn new() -> Self {
        Activity {
            base: Instant::now(),
            in_flight: AtomicU32::new(0),
            since: AtomicU64::new(0),
            reading: AtomicBool::new(true),
        }
    }

    fn now_ms(&self) -> u64 {
        self.base.elapsed().as_millis() as u64
    }

    fn bytes_read(&self) {
        if self.in_flight.load(Ordering::Acquire) == 0 && !self.reading.load(Ordering::Acquire) {
            self.since.store(self.now_ms(), Ordering::Release);
            self.reading.store(true, Ordering::Release);
        }
    }

    fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    fn request_ended(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.reading.store(false, Ordering::Release);
            self.since.store(self.now_ms(), Ordering::Release);
        }
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }

    /// When the current wait expires (`None`: a request is in flight).
    fn expires_at(&self, limits: &ServerLimits) -> Option<Instant> {
        if self.busy() {
            return None;
        }
        let since = self.base + Duration::from_millis(self.since.load(Ordering::Acquire));
        Some(if self.reading.load(Ordering::Acquire) {
            since + limits.header_read_timeout
        } else {
            since + limits.idle_timeout
        })
    }
}

/// Counts a request in flight from its head until its response is produced.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(a: &Arc<Activity>) -> Self {
        a.request_started();
        InFlight(a.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

async fn serve_conn(
    stream: TcpStream,
    router: Router,
    limits: ServerLimits,
    mut stop: watch::Receiver<bool>,
    _slot: tokio::sync::OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: stream,
        activity: activity.clone(),
    });
    let for_service = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let guard = InFlight::new(&for_service);
        let router = router.clone();
        let body_timeout = limits.body_read_timeout;
        async move {
            let req = req.map(|b| Body::new(DeadlineBody::new(b, body_timeout)));
            let res: Result<Response<Body>, std::convert::Infallible> = router.oneshot(req).await;
            drop(guard);
            res
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        // A client that sends its request and then shuts down its sending side still gets
        // its answer (the idle and header timeouts still close the connection).
        .half_close(true)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let mut stopping = *stop.borrow();
    loop {
        if stopping && !activity.busy() {
            // Idle, or still sending a head: nothing in flight to answer.
            return;
        }
        let expires = activity.expires_at(&limits);
        // While a request is in flight, look again after the shorter timeout.
        let wake = expires.unwrap_or_else(|| {
            Instant::now() + limits.header_read_timeout.min(limits.idle_timeout)
        });
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                return;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    // Answer what is in flight, then close.
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                if activity.expires_at(&limits).is_some_and(|at| at <= Instant::now()) {
                    return;
                }
            }
        }
    }
}

/// The socket, telling the watchdog when bytes arrive.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.bytes_read();
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// A request body that must arrive whole within a deadline of its head.
struct DeadlineBody {
    inner: Incoming,
    limit: Duration,
    /// Started on the first poll that finds no data ready.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    deadline: Instant,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration) -> Self {
        DeadlineBody {
            inner,
            limit,
            sleep: None,
            deadline: Instant::now() + limit,
        }
    }
}

/// The error a body that did not arrive in time ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within {0} ms")]
pub struct BodyTimeout(u128);

impl http_body::Body for DeadlineBody {
    type Data = bytes::Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let deadline = this.deadline;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline.into())));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Some(Err(BodyTimeout(this.limit.as_millis()).into())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_fits_the_descriptor_limit() {
        assert_eq!(effective_max_connections(4096, Some(1024)), 768);
        assert_eq!(effective_max_connections(100, Some(1024)), 100);
        assert_eq!(effective_max_connections(4096, Some(1_048_576)), 4096);
        assert_eq!(effective_max_connections(4096, None), 4096);
        assert_eq!(effective_max_connections(4096, Some(100)), 16);
    }

    #[test]
    fn a_new_connection_waits_for_a_head_and_an_answered_one_is_idle() {
        let limits = ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            ..ServerLimits::default()
        };
        let a = Activity::new();
        let opened = a.base;
        assert_eq!(
            a.expires_at(&limits),
            Some(opened + Duration::from_secs(10))
        );
        a.bytes_read();
        assert_eq!(
            a.expires_at(&limits),
            Some(opened + Duration::from_secs(10))
        );
        a.request_started();
        assert_eq!(a.expires_at(&limits), None);
        a.bytes_read(); // the body
        a.request_ended();
        let idle = a.expires_at(&limits).unwrap();
        assert!(idle >= opened + Duration::from_secs(60));
        // The next request's first byte starts the header-read timeout.
        a.bytes_read();
        let head = a.expires_at(&limits).unwrap();
        assert!(head < idle && head >= opened + Duration::from_secs(10));
    }
}
