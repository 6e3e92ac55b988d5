//! The HTTP/1.1 front end: tokio + hyper, every wait under a timer, every buffer bounded.
//!
//! - connections: at most [`crate::Limits::max_connections`] in all and
//!   [`crate::Limits::per_client_connections`] per IP address (beyond: `503` and close), each at
//!   most [`crate::Limits::connection_lifetime`];
//! - a request: headers within [`crate::Limits::header_timeout`] (hyper's header-read timer, which
//!   also closes idle kept-alive connections), body within [`crate::Limits::body_timeout`] and
//!   [`crate::Limits::max_body`] bytes (`408` / `413`), handled within
//!   [`crate::Limits::handle_timeout`] by one of [`crate::Limits::workers`] blocking workers (database
//!   and issuer), so a slow client only ever holds its own connection;
//! - idle sessions ended every second past [`crate::Limits::session_idle`];
//! - graceful shutdown: stop accepting, let requests in flight finish (at most
//!   [`crate::Limits::shutdown_grace`]), close.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, watch};

use crate::{ServerError, UpdateServer, json_error};

/// Connections per client address.
#[derive(Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

struct ClientSlot {
    map: Arc<PerClient>,
    ip: IpAddr,
}

impl PerClient {
    fn acquire(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let mut m = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = m.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            map: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut m = self
            .map
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = m.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                m.remove(&self.ip);
            }
        }
    }
}

/// A running HTTP server.
pub struct ServerHandle {
    addr: SocketAddr,
    https: bool,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerHandle({})", self.addr)
    }
}

impl ServerHandle {
    /// `http://ADDR` (`https://ADDR` with TLS).
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Graceful shutdown: stops accepting, lets requests in flight finish (bounded), waits.
    pub fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Serves until SIGINT or SIGTERM, then shuts down gracefully.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

fn respond(status: u16, text: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(
    req: Request<Incoming>,
    server: Arc<UpdateServer>,
    workers: Arc<Semaphore>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let limits = server.limits().clone();
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let bearer = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let announced = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limits.max_body as u64) {
        let (s, t) = json_error(413, format!("body larger than {} bytes", limits.max_body));
        return Ok(respond(s, t));
    }
    let body = Limited::new(req.into_body(), limits.max_body);
    let body = match tokio::time::timeout(limits.body_timeout, body.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            let (s, t) = if e.is::<http_body_util::LengthLimitError>() {
                json_error(413, format!("body larger than {} bytes", limits.max_body))
            } else {
                json_error(400, "the request body could not be read")
            };
            return Ok(respond(s, t));
        }
        Err(_) => {
            let (s, t) = json_error(408, "the request body did not arrive in time");
            return Ok(respond(s, t));
        }
    };
    let permit =
        match tokio::time::timeout(limits.handle_timeout, Arc::clone(&workers).acquire_owned())
            .await
        {
            Ok(Ok(p)) => p,
            _ => {
                let (s, t) = json_error(503, "the server is busy: try again later");
                return Ok(respond(s, t));
            }
        };
    let work = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        server.handle(&method, &path, &body, bearer.as_deref())
    });
    let (status, text) = match tokio::time::timeout(limits.handle_timeout, work).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => json_error(500, "the request failed"),
        Err(_) => json_error(503, "the request took too long"),
    };
    Ok(respond(status, text))
}

/// One HTTP/1.1 connection over `io` (plain TCP or TLS), with the header timer.
fn http_connection<I>(
    io: I,
    server: Arc<UpdateServer>,
    workers: Arc<Semaphore>,
    limits: &crate::Limits,
) -> impl hyper_util::server::graceful::GracefulConnection + Send + 'static
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        handle(req, Arc::clone(&server), Arc::clone(&workers))
    });
    hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(16 * 1024)
        .serve_connection(TokioIo::new(io), service)
}

/// Refuses a connection over a limit with `503` and closes it.
async fn refuse(mut stream: tokio::net::TcpStream) {
    let body = "{\"error\":\"too many connections\"}";
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        let _ = stream.write_all(msg.as_bytes()).await;
        let _ = stream.shutdown().await;
    })
    .await;
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    server: Arc<UpdateServer>,
    mut stop: watch::Receiver<bool>,
    on_signal: bool,
) {
    let limits = server.limits().clone();
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let workers = Arc::new(Semaphore::new(limits.workers.max(1)));
    let per_client = Arc::new(PerClient::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let tls = server.tls().map(tokio_rustls::TlsAcceptor::from);
    let sweeper = {
        let server = Arc::clone(&server);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let s = Arc::clone(&server);
                let _ = tokio::task::spawn_blocking(move || s.expire_sessions()).await;
            }
        })
    };
    let signal = async move {
        if !on_signal {
            return std::future::pending::<()>().await;
        }
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    tokio::pin!(signal);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else {
                    // Out of descriptors or similar: wait a little instead of spinning.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
                    tokio::spawn(refuse(stream));
                    continue;
                };
                let Some(slot) = per_client.acquire(peer.ip(), limits.per_client_connections) else {
                    drop(permit);
                    tokio::spawn(refuse(stream));
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let server = Arc::clone(&server);
                let workers = Arc::clone(&workers);
                let lifetime = limits.connection_lifetime;
                let header_timeout = limits.header_timeout;
                match &tls {
                    None => {
                        let conn = graceful.watch(http_connection(stream, server, workers, &limits));
                        tokio::spawn(async move {
                            let _ = tokio::time::timeout(lifetime, conn).await;
                            drop(slot);
                            drop(permit);
                        });
                    }
                    Some(acceptor) => {
                        // The handshake runs under the header timer; a connection that does
                        // not complete it in time is dropped.
                        let acceptor = acceptor.clone();
                        let limits = limits.clone();
                        let watcher = graceful.watcher();
                        tokio::spawn(async move {
                            let Ok(Ok(tls_stream)) =
                                tokio::time::timeout(header_timeout, acceptor.accept(stream)).await
                            else {
                                return;
                            };
                            let conn = watcher.watch(http_connection(tls_stream, server, workers, &limits));
                            let _ = tokio::time::timeout(lifetime, conn).await;
                            drop(slot);
                            drop(permit);
                        });
                    }
                }
            }
            _ = stop.changed() => break,
            () = &mut signal => break,
        }
    }
    drop(listener);
    sweeper.abort();
    let _ = tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await;
}

fn start(server: UpdateServer, addr: &str, on_signal: bool) -> Result<ServerHandle, ServerError> {
    let listen_err = |detail: String| ServerError::Listen {
        addr: addr.to_owned(),
        detail,
    };
    let workers = server.limits().workers.max(1);
    let https = server.tls().is_some();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(workers + 2)
        .thread_name("cps-update-worker")
        .enable_all()
        .build()
        .map_err(|e| listen_err(e.to_string()))?;
    let std_listener = std::net::TcpListener::bind(addr).map_err(|e| listen_err(e.to_string()))?;
    std_listener
        .set_nonblocking(true)
        .map_err(|e| listen_err(e.to_string()))?;
    let bound = std_listener
        .local_addr()
        .map_err(|e| listen_err(e.to_string()))?;
    let listener = {
        let _guard = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener).map_err(|e| listen_err(e.to_string()))?
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = Arc::new(server);
    let thread = std::thread::Builder::new()
        .name("cps-update-server".into())
        .spawn(move || {
            runtime.block_on(accept_loop(
                listener,
                Arc::clone(&server),
                stop_rx,
                on_signal,
            ));
            runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            // The last reference is dropped here, outside the runtime: a store's blocking
            // client (PostgreSQL) must not be dropped on a runtime thread.
            drop(server);
        })
        .map_err(|e| listen_err(e.to_string()))?;
    Ok(ServerHandle {
        addr: bound,
        https,
        stop: stop_tx,
        thread: Some(thread),
    })
}

/// Serves `server` on `addr` (`127.0.0.1:0` picks a free port) in a thread, until
/// [`ServerHandle::stop`].
pub fn serve(server: UpdateServer, addr: &str) -> Result<ServerHandle, ServerError> {
    start(server, addr, false)
}

/// Like [`serve`], and also shuts down gracefully on SIGINT / SIGTERM (the binary).
pub fn serve_until_signal(server: UpdateServer, addr: &str) -> Result<ServerHandle, ServerError> {
    start(server, addr, true)
}
