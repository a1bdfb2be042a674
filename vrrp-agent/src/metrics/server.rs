//! The `/metrics` HTTP endpoint (hyper, HTTP/1.1) on the agent's tokio runtime.
//!
//! A scrape asks the agent's loop for a [`View`] through a bounded channel; the loop answers
//! between two of its turns (after its timer, signals and kernel events: see
//! `Agent::main_loop`), which costs it the copying of a few counters. Encoding the text runs
//! on tokio's blocking pool, off the loop's thread. A loop that does not answer within
//! [`ANSWER_WITHIN`] gets `keepalived_up 0`, never a hung scrape.
use std::{convert::Infallible, net::SocketAddr, sync::Arc, time::Duration};

use http_body_util::Full;
use hyper::{
    body::{Bytes, Incoming},
    header, Method, Request, Response, StatusCode,
};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, Semaphore},
};

use super::{instruments, render, View};

/// How long a scrape waits for the loop's answer.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 8;
/// A connection that has sent no complete request head within this is closed.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest life of one connection (keep-alive included).
const CONNECTION_LIFETIME: Duration = Duration::from_secs(60);

/// The text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the listening socket failed (address in use, not local, ...).
    #[error("--metrics-listen {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
}

/// A request for a [`View`], answered on the channel it carries.
pub type ViewRequest = oneshot::Sender<View>;

/// The agent's end: scrapes waiting for a [`View`].
pub struct Scrapes {
    rx: mpsc::Receiver<ViewRequest>,
    local: SocketAddr,
}

impl Scrapes {
    /// The next scrape waiting for a view (`None`: the endpoint stopped).
    pub async fn recv(&mut self) -> Option<ViewRequest> {
        self.rx.recv().await
    }

    /// The address the endpoint listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }
}

/// Binds `addr` and serves `/metrics` on the current tokio runtime until the runtime ends.
pub async fn serve(addr: SocketAddr) -> Result<Scrapes, ServeError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    // Scrapes beyond a few in flight wait for room (each answer is a fresh snapshot).
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(accept(listener, tx));
    Ok(Scrapes { rx, local })
}

async fn accept(listener: TcpListener, tx: mpsc::Sender<ViewRequest>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!("metrics endpoint: accepting a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let tx = tx.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(req, tx.clone()));
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Ok(Err(e)) = tokio::time::timeout(CONNECTION_LIFETIME, conn).await {
                tracing::debug!("metrics endpoint: connection: {e}");
            }
            drop(permit);
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

async fn answer(
    req: Request<Incoming>,
    tx: mpsc::Sender<ViewRequest>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "GET /metrics\n");
        r.headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    match req.uri().path() {
        "/metrics" => {}
        "/" => return Ok(reply(StatusCode::OK, TEXT, "vrrp-agent: see /metrics\n")),
        _ => {
            return Ok(reply(
                StatusCode::NOT_FOUND,
                TEXT,
                "not found: see /metrics\n",
            ))
        }
    }
    let view = tokio::time::timeout(ANSWER_WITHIN, async {
        let (ask, answer) = oneshot::channel();
        tx.send(ask).await.ok()?;
        answer.await.ok()
    })
    .await
    .ok()
    .flatten();
    if view.is_none() {
        tracing::warn!(
            "metrics endpoint: the agent's loop did not answer within {ANSWER_WITHIN:?}"
        );
    }
    // Encoding is the only real work of a scrape: off the loop's thread.
    let body = tokio::task::spawn_blocking(move || render(view.as_ref(), instruments().registry()))
        .await
        .unwrap_or_default();
    Ok(reply(StatusCode::OK, CONTENT_TYPE, body))
}
