//! The HTTP/1.1 server of the page (tokio + hyper, as cps-update-server): every request
//! passes [`Guard::check`], card work runs on the blocking pool, every response carries a
//! strict Content-Security-Policy and no CORS header, and the server stops once no page has
//! asked anything for the idle time.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use rand_core::RngCore;
use serde_json::Value;
use zeroize::Zeroizing;

use super::api::State;
use super::guard::{Guard, Seen};
use super::i18n;
use crate::Failure;
use crate::opts::CardArgs;

/// The largest request body (a PIN change is under 100 bytes).
const MAX_BODY: usize = 4096;

/// The Content-Security-Policy of every response: only this server's own script, style and
/// requests; no inline script, no frame, no form to elsewhere.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

const PAGE: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const STYLE: &str = include_str!("assets/style.css");

struct Shared {
    guard: Guard,
    state: Arc<State>,
    update_server: String,
    last_request: Mutex<Instant>,
}

/// A running server.
pub struct Server {
    url: String,
    runtime: tokio::runtime::Runtime,
    done: tokio::sync::oneshot::Receiver<()>,
}

impl Server {
    /// The page's URL, secret included.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// Serves until the page has been closed for the idle time (or Ctrl-C).
    pub fn wait(self) {
        let Server { runtime, done, .. } = self;
        runtime.block_on(async {
            tokio::select! {
                _ = done => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        });
        runtime.shutdown_timeout(Duration::from_secs(1));
    }
}

/// Binds `listen` and starts serving the page for the card `card` names.
pub fn start(
    listen: &str,
    card: CardArgs,
    update_server: &str,
    idle: Duration,
) -> Result<Server, Failure> {
    let listener = std::net::TcpListener::bind(listen)
        .map_err(|e| Failure::new(1, format!("cannot listen on {listen}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Failure::new(1, format!("cannot listen on {listen}: {e}")))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| Failure::new(1, format!("cannot listen on {listen}: {e}")))?;
    let mut raw = [0u8; 16];
    rand_core::OsRng.fill_bytes(&mut raw);
    let secret = hex::encode(raw);
    let shown = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let authority = shown.to_string();
    let guard = Guard::new(
        secret.clone(),
        &authority,
        addr.port(),
        shown.ip().is_loopback(),
    );
    let shared = Arc::new(Shared {
        guard,
        state: Arc::new(State::new(card)),
        update_server: update_server.to_owned(),
        last_request: Mutex::new(Instant::now()),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::new(1, format!("cannot start the page's server: {e}")))?;
    let (stop, done) = tokio::sync::oneshot::channel();
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)
            .map_err(|e| Failure::new(1, format!("cannot listen on {listen}: {e}")))?
    };
    runtime.spawn(accept_loop(listener, Arc::clone(&shared)));
    runtime.spawn(idle_watch(shared, idle, stop));
    Ok(Server {
        url: format!("http://{authority}/{secret}/"),
        runtime,
        done,
    })
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move { Ok::<_, Infallible>(handle(req, shared).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .max_buf_size(16 * 1024)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(600), conn).await;
        });
    }
}

/// Stops the server once nothing was asked for `idle` (never while an update runs).
async fn idle_watch(shared: Arc<Shared>, idle: Duration, stop: tokio::sync::oneshot::Sender<()>) {
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let last = *shared
            .last_request
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let running = shared.state.update_running();
        if !running && last.elapsed() >= idle {
            eprintln!("{}", tr!("gestion-idle-stop", idle = idle.as_secs()));
            let _ = stop.send(());
            return;
        }
    }
}

fn response(status: u16, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    let h = r.headers_mut();
    use hyper::header::{self, HeaderValue};
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn json(value: &Value) -> Response<Full<Bytes>> {
    response(
        200,
        "application/json; charset=utf-8",
        Bytes::from(value.to_string()),
    )
}

fn text(status: u16, body: &'static str) -> Response<Full<Bytes>> {
    response(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(body.as_bytes()),
    )
}

async fn handle(req: Request<Incoming>, shared: Arc<Shared>) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let header =
        |name: hyper::header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    // Every header once only: two `Host` or two `Origin` headers are refused as foreign.
    let single = |name: hyper::header::HeaderName| parts.headers.get_all(name).iter().count() <= 1;
    let seen = Seen {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        host: header(hyper::header::HOST).filter(|_| single(hyper::header::HOST)),
        origin: if single(hyper::header::ORIGIN) {
            header(hyper::header::ORIGIN)
        } else {
            Some("several")
        },
        fetch_site: parts
            .headers
            .get("sec-fetch-site")
            .map(|v| v.to_str().unwrap_or("invalid")),
    };
    let route = match shared.guard.check(&seen) {
        Ok(route) => route.to_owned(),
        Err(refusal) => return text(refusal.status(), refusal.reason()),
    };
    *shared
        .last_request
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
    let post = parts.method == hyper::Method::POST;
    if !post {
        return get(&route, header(hyper::header::ACCEPT_LANGUAGE), &shared).await;
    }
    let is_json = header(hyper::header::CONTENT_TYPE).is_some_and(|t| {
        t.trim()
            .to_ascii_lowercase()
            .starts_with("application/json")
    });
    if !is_json {
        return text(415, "a JSON body is expected");
    }
    let collected = match tokio::time::timeout(
        Duration::from_secs(10),
        Limited::new(body, MAX_BODY).collect(),
    )
    .await
    {
        Ok(Ok(c)) => c.to_bytes(),
        Ok(Err(_)) => return text(413, "request body too large"),
        Err(_) => return text(408, "request body too slow"),
    };
    // The body may hold a PIN: wiped once parsed.
    let raw = Zeroizing::new(Vec::from(collected));
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        return text(400, "the body is not JSON");
    };
    drop(raw);
    let state = Arc::clone(&shared.state);
    let work = tokio::task::spawn_blocking(move || -> Option<Value> {
        Some(match route.as_str() {
            "/api/pin/change" => state.change_pin(body),
            "/api/pin/unblock" => state.unblock_pin(body),
            "/api/situations" => state.situations(body),
            "/api/update/start" => state.start_update(&body),
            "/api/fido2/enroll" => state.fido2_enroll(body),
            "/api/fido2/credentials" => state.fido2_credentials(body),
            "/api/fido2/delete" => state.fido2_delete(body),
            "/api/fido2/reset" => state.fido2_reset(&body),
            _ => return None,
        })
    });
    match work.await {
        Ok(Some(v)) => json(&v),
        Ok(None) => text(404, "not found"),
        Err(_) => text(500, "internal error"),
    }
}

async fn get(route: &str, accept_language: Option<&str>, shared: &Shared) -> Response<Full<Bytes>> {
    match route {
        // The page's relative links need the trailing slash.
        "" => {
            let mut r = text(308, "moved");
            let location = format!("/{}/", shared.guard.secret());
            if let Ok(v) = hyper::header::HeaderValue::from_str(&location) {
                r.headers_mut().insert(hyper::header::LOCATION, v);
            }
            r
        }
        "/" => {
            let lang = i18n::choose(accept_language);
            let mut r = response(
                200,
                "text/html; charset=utf-8",
                Bytes::from(i18n::render(PAGE, lang, &shared.update_server)),
            );
            r.headers_mut().insert(
                hyper::header::CONTENT_LANGUAGE,
                hyper::header::HeaderValue::from_static(lang.code()),
            );
            r.headers_mut().insert(
                hyper::header::VARY,
                hyper::header::HeaderValue::from_static("Accept-Language"),
            );
            r
        }
        "/app.js" => response(
            200,
            "text/javascript; charset=utf-8",
            Bytes::from_static(SCRIPT.as_bytes()),
        ),
        "/style.css" => response(
            200,
            "text/css; charset=utf-8",
            Bytes::from_static(STYLE.as_bytes()),
        ),
        "/api/status" | "/api/card" | "/api/pin" | "/api/update" | "/api/fido2" => {
            let state = Arc::clone(&shared.state);
            let route = route.to_owned();
            let work = tokio::task::spawn_blocking(move || match route.as_str() {
                "/api/status" => state.status(),
                "/api/card" => state.card(),
                "/api/pin" => state.pin(),
                "/api/update" => state.update_progress(),
                _ => state.fido2(),
            });
            match work.await {
                Ok(v) => json(&v),
                Err(_) => text(500, "internal error"),
            }
        }
        _ => text(404, "not found"),
    }
}
