//! `lacuna serve`: the same command table, events and media as the desktop shell, over HTTP on
//! 127.0.0.1, plus the built web UI — so the same UI runs in a browser (what the browser tests
//! drive, and what a team will use later).
//!
//! Routes (every one but the UI's files needs the session token: a bearer header for commands,
//! `?token=` where a browser cannot set headers — `<img>` and `EventSource`):
//! - `POST /api/{command}` with a JSON object → the answer as JSON, or `{code, message}` with a
//!   4xx/5xx status;
//! - `GET /api/events?token=` → server-sent events, one `{event, payload}` JSON per message;
//! - `GET /media/image/{id}?token=` and `/media/thumb/{id}?token=` → an image the open catalog
//!   knows (never a path from the client);
//! - anything else → the UI's files (`index.html` for unknown paths).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use lacuna_api::{ApiError, ErrorCode};
use lacuna_app::App;
use serde::Deserialize;
use serde_json::Value;
use tower_http::services::{ServeDir, ServeFile};

/// What `lacuna serve` needs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// 0: any free port.
    pub port: u16,
    /// The built UI (`ui/dist`); `None` or missing: a page that says how to build it.
    pub ui_dir: Option<PathBuf>,
    /// The session token; a random one when `None`.
    pub token: Option<String>,
}

#[derive(Debug)]
struct Shared {
    app: Arc<App>,
    token: String,
    /// Becomes true when the server stops: event streams end then (a graceful shutdown waits
    /// for every open connection, and an event stream never ends by itself).
    stopping: tokio::sync::watch::Receiver<bool>,
}

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub addr: SocketAddr,
    pub token: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Server {
    /// The address to open in a browser (the token travels in the fragment, never to a log).
    pub fn url(&self) -> String {
        format!("http://{}/#token={}", self.addr, self.token)
    }

    /// Serves until [`Server::stop`] or the process ends.
    pub fn wait(mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| std::io::Error::other("the server thread panicked"))?,
            None => Ok(()),
        }
    }

    /// Stops accepting connections and waits for the server to end.
    pub fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.wait()
    }
}

fn random_token() -> std::io::Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes)
        .map_err(|e| std::io::Error::other(format!("no randomness for the token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Starts serving `app` on 127.0.0.1 in a background thread (its own Tokio runtime).
pub fn start(app: Arc<App>, options: &ServeOptions) -> std::io::Result<Server> {
    let token = match &options.token {
        Some(t) if t.len() >= 16 => t.clone(),
        Some(_) => return Err(std::io::Error::other("the token must be at least 16 characters")),
        None => random_token()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(("127.0.0.1", options.port)))?;
    let addr = listener.local_addr()?;
    let (stop_tx, stopping) = tokio::sync::watch::channel(false);
    let shared = Arc::new(Shared { app, token: token.clone(), stopping });
    let router = router(shared, options.ui_dir.as_deref());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new().name("lacuna-serve".into()).spawn(move || {
        runtime.block_on(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                    let _ = stop_tx.send(true);
                })
                .await
        })
    })?;
    Ok(Server { addr, token, shutdown: Some(tx), thread: Some(thread) })
}

fn router(shared: Arc<Shared>, ui_dir: Option<&Path>) -> Router {
    let api = Router::new()
        .route("/api/events", get(events))
        .route("/api/{command}", post(command))
        .route("/media/image/{id}", get(image))
        .route("/media/thumb/{id}", get(thumb))
        .with_state(shared);
    match ui_dir.filter(|d| d.join("index.html").is_file()) {
        Some(dir) => {
            let index = dir.join("index.html");
            api.fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
        }
        None => api.fallback(no_ui),
    }
}

async fn no_ui() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "The web UI is not built: run `cd ui && npm ci && npm run build`, or pass --ui DIR.\n",
    )
        .into_response()
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn unauthorized() -> Response {
    error_response(&ApiError::new(
        ErrorCode::InvalidInput,
        "this server needs its session token (open the URL `lacuna serve` printed)",
    ))
    .map_status(StatusCode::UNAUTHORIZED)
}

trait MapStatus {
    fn map_status(self, status: StatusCode) -> Response;
}

impl MapStatus for Response {
    fn map_status(mut self, status: StatusCode) -> Response {
        *self.status_mut() = status;
        self
    }
}

fn bearer_ok(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| same(t.trim(), token))
}

#[derive(Debug, Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

fn query_ok(q: &TokenQuery, token: &str) -> bool {
    q.token.as_deref().is_some_and(|t| same(t, token))
}

/// Runs `f` on the blocking pool: commands and media touch SQLite and the file system, which
/// must stay off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("a worker thread failed: {e}")))?
}

fn error_response(e: &ApiError) -> Response {
    let body = serde_json::to_vec(e).unwrap_or_else(|_| b"{}".to_vec());
    let status =
        StatusCode::from_u16(lacuna_app::http_status(e.code)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn command(
    State(shared): State<Arc<Shared>>,
    UrlPath(command): UrlPath<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if !bearer_ok(&headers, &shared.token) {
        return unauthorized();
    }
    let args: Value = if body.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                return error_response(&ApiError::new(
                    ErrorCode::InvalidInput,
                    format!("{command}: the request body is not JSON: {e}"),
                ));
            }
        }
    };
    let app = Arc::clone(&shared.app);
    match blocking(move || app.call(&command, args)).await {
        Ok(answer) => {
            let body = serde_json::to_vec(&answer).unwrap_or_else(|_| b"null".to_vec());
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        Err(e) => error_response(&e),
    }
}

async fn events(State(shared): State<Arc<Shared>>, Query(q): Query<TokenQuery>) -> Response {
    if !query_ok(&q, &shared.token) {
        return unauthorized();
    }
    let rx = shared.app.subscribe();
    let (tx, arx) = tokio::sync::mpsc::unbounded_channel();
    // The app's events arrive on a std channel: a thread carries them over until the client goes.
    std::thread::spawn(move || {
        while let Ok(event) = rx.recv() {
            if tx.send(event).is_err() {
                break;
            }
        }
    });
    let stopping = shared.stopping.clone();
    let stream = futures_util::stream::unfold((arx, stopping), |(mut arx, mut stopping)| async move {
        if *stopping.borrow() {
            return None;
        }
        let event = tokio::select! {
            event = arx.recv() => event?,
            _ = stopping.changed() => return None,
        };
        let data = serde_json::to_string(&event).unwrap_or_default();
        Some((Ok::<_, Infallible>(SseEvent::default().data(data)), (arx, stopping)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

fn media_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 2] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        // Originals and thumbnails of an id do not change while the catalog knows the file.
        (header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600")),
    ]
}

async fn image(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<i64>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !query_ok(&q, &shared.token) {
        return unauthorized();
    }
    let app = Arc::clone(&shared.app);
    let path = match blocking(move || app.image_file(id)).await {
        Ok(p) => p,
        Err(e) => return error_response(&e),
    };
    match tokio::fs::File::open(&path).await {
        Ok(file) => {
            let stream = futures_util::stream::unfold(file, |mut file| async move {
                use tokio::io::AsyncReadExt as _;
                let mut buf = vec![0u8; 256 * 1024];
                match file.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok::<_, std::io::Error>(buf), file))
                    }
                    Err(e) => Some((Err(e), file)),
                }
            });
            (media_headers(lacuna_app::media_type(&path)), Body::from_stream(stream)).into_response()
        }
        Err(e) => error_response(&ApiError::new(
            ErrorCode::PathNotFound,
            format!("image {id}: {}: {e}", path.display()),
        )),
    }
}

async fn thumb(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<i64>,
    Query(q): Query<TokenQuery>,
) -> Response {
    if !query_ok(&q, &shared.token) {
        return unauthorized();
    }
    let app = Arc::clone(&shared.app);
    match blocking(move || app.thumbnail(id)).await {
        Ok(bytes) => (media_headers("image/jpeg"), bytes).into_response(),
        Err(e) => error_response(&e),
    }
}
