//! A fault-injecting reverse proxy in front of Nautobot for the fault suite (`tests/faults.rs`).
//!
//! The operator is pointed at [`FaultProxy::url`] instead of Nautobot; the test switches the
//! [`Mode`] at run time. Every connection is served by hyper with the request handling done
//! through axum's body and response helpers; each connection can be dropped from its handler
//! (the "applied but not acknowledged" case), which a plain `axum::serve` cannot do.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the proxy does to the next requests.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Nautobot is gone: every new connection is closed at once, every request on a kept-alive
    /// connection is dropped without an answer.
    Down,
    /// Forward each request after this delay.
    Delay(Duration),
    /// Answer the next `n` requests with `status` (429 and 503 with `Retry-After: 1`), then pass.
    FailNext { n: usize, status: u16 },
    /// Answer every request with an HTML page (a login portal, a proxy error page) and `status`.
    Html { status: u16 },
    /// Forward every `every`-th POST to Nautobot, then drop the connection without answering.
    CloseConnection { every: usize },
    /// Answer the next `n` requests of `method` with `status` (429 and 503 with
    /// `Retry-After: 1`), then pass; other methods pass.
    FailMethod {
        method: String,
        n: usize,
        status: u16,
    },
    /// Forward every `every`-th request of `method` to Nautobot, then drop the connection
    /// without answering (applied, not acknowledged); other requests pass.
    DropAnswerOf { method: String, every: usize },
    /// Answer 403 as Nautobot does for a revoked token.
    RejectToken,
    /// Forward, but rewrite the `API-Version` response header.
    ApiVersion(String),
    /// A bulk POST or PATCH whose JSON items contain this substring: 400 with Nautobot's
    /// per-item error list (`{}` for the good items), nothing forwarded.
    FailObjectInBatch(String),
    /// Forward, but answer every list GET (a JSON object with `results`) with `results`
    /// renamed: JSON of the wrong shape, with a right status and `API-Version`.
    WrongShape,
    /// Forward, but send only the first half of every answer body and then break the
    /// connection (`Content-Length` promises the whole).
    Truncate,
}

struct State {
    mode: Mode,
    counts: BTreeMap<String, u64>,
    /// Requests of the method a `DropAnswerOf` mode watches, since the mode was set.
    method_seen: usize,
    /// Requests forwarded to Nautobot and answered by it with 2xx, by method.
    forwarded_ok: BTreeMap<String, u64>,
    posts_seen: usize,
    faults: u64,
}

/// Handle to a running proxy; dropped with the test.
#[derive(Clone)]
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1 (a free port) forwarding to `upstream`.
    pub async fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            mode: Mode::Pass,
            counts: BTreeMap::new(),
            method_seen: 0,
            forwarded_ok: BTreeMap::new(),
            posts_seen: 0,
            faults: 0,
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        let upstream = upstream.trim_end_matches('/').to_string();
        let st = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                if st.lock().unwrap().mode == Mode::Down {
                    st.lock().unwrap().faults += 1;
                    drop(tcp); // refused: closed before any byte
                    continue;
                }
                let (st, http, upstream) = (st.clone(), http.clone(), upstream.clone());
                tokio::spawn(async move {
                    // a handler that wants the connection gone notifies; the connection future
                    // (with any answer in progress) is then dropped, closing the socket
                    let kill = Arc::new(Notify::new());
                    let k = kill.clone();
                    let service = hyper::service::service_fn(move |req| {
                        handle(st.clone(), http.clone(), upstream.clone(), k.clone(), req)
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service);
                    tokio::select! {
                        _ = conn => {}
                        _ = kill.notified() => {}
                    }
                });
            }
        });
        FaultProxy {
            url: format!("http://{addr}"),
            state,
            task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// Switches the mode (takes effect for the next request).
    pub fn set(&self, mode: Mode) {
        let mut s = self.state.lock().unwrap();
        s.mode = mode;
        s.posts_seen = 0;
        s.method_seen = 0;
    }

    /// The current mode (`FailNext` turns into `Pass` once spent).
    pub fn mode(&self) -> Mode {
        self.state.lock().unwrap().mode.clone()
    }

    /// Requests received, by method (`GET`, `POST`, `PATCH`, `DELETE`).
    pub fn count(&self, method: &str) -> u64 {
        let s = self.state.lock().unwrap();
        s.counts.get(method).copied().unwrap_or(0)
    }

    /// Requests that write (POST, PATCH, PUT, DELETE) received.
    pub fn writes(&self) -> u64 {
        ["POST", "PATCH", "PUT", "DELETE"]
            .iter()
            .map(|m| self.count(m))
            .sum()
    }

    /// Requests forwarded to Nautobot and answered 2xx, any method.
    pub fn forwarded_ok(&self) -> u64 {
        self.state.lock().unwrap().forwarded_ok.values().sum()
    }

    /// Writes that reached Nautobot and succeeded (acknowledged or not).
    pub fn writes_applied(&self) -> u64 {
        let s = self.state.lock().unwrap();
        ["POST", "PATCH", "PUT", "DELETE"]
            .iter()
            .map(|m| s.forwarded_ok.get(*m).copied().unwrap_or(0))
            .sum()
    }

    /// Requests (or connections) the proxy answered with a fault.
    pub fn faults(&self) -> u64 {
        self.state.lock().unwrap().faults
    }
}

fn reply(status: u16, content_type: &str, body: impl Into<Body>) -> Response<Body> {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap(),
    );
    r
}

fn json_reply(status: u16, body: Value) -> Response<Body> {
    reply(status, "application/json", body.to_string())
}

const HTML: &str = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
                    <body><h1>Corporate SSO</h1><form>...</form></body></html>\n";

/// What to do with one request, decided under the lock.
enum Action {
    Forward(Forward),
    Answer(Response<Body>),
    Drop,
}

/// How to forward a request: after a delay, rewriting the version header, dropping the
/// connection instead of answering.
#[derive(Default)]
struct Forward {
    delay: Duration,
    version: Option<String>,
    then_close: bool,
    wrong_shape: bool,
    truncate: bool,
}

async fn handle(
    st: Arc<Mutex<State>>,
    http: reqwest::Client,
    upstream: String,
    kill: Arc<Notify>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(Body::new(body), usize::MAX)
        .await
        .unwrap_or_default();
    let method = parts.method.clone();
    let action = {
        let mut s = st.lock().unwrap();
        *s.counts.entry(method.to_string()).or_default() += 1;
        if method == Method::POST {
            s.posts_seen += 1;
        }
        let mode = s.mode.clone();
        let pass = Action::Forward(Forward::default());
        let action = match mode {
            Mode::Pass => pass,
            Mode::Down => Action::Drop,
            Mode::Delay(delay) => Action::Forward(Forward {
                delay,
                ..Forward::default()
            }),
            Mode::FailNext { n, status } => {
                s.mode = if n > 1 {
                    Mode::FailNext { n: n - 1, status }
                } else {
                    Mode::Pass
                };
                let mut r = json_reply(status, json!({"detail": format!("injected {status}")}));
                if status == 429 || status == 503 {
                    r.headers_mut()
                        .insert("Retry-After", HeaderValue::from_static("1"));
                }
                Action::Answer(r)
            }
            Mode::Html { status } => {
                Action::Answer(reply(status, "text/html; charset=utf-8", HTML))
            }
            Mode::CloseConnection { every } => Action::Forward(Forward {
                then_close: method == Method::POST && s.posts_seen.is_multiple_of(every.max(1)),
                ..Forward::default()
            }),
            Mode::FailMethod {
                method: m,
                n,
                status,
            } if m == method.as_str() => {
                s.mode = if n > 1 {
                    Mode::FailMethod {
                        method: m,
                        n: n - 1,
                        status,
                    }
                } else {
                    Mode::Pass
                };
                let mut r = json_reply(status, json!({"detail": format!("injected {status}")}));
                if status == 429 || status == 503 {
                    r.headers_mut()
                        .insert("Retry-After", HeaderValue::from_static("1"));
                }
                Action::Answer(r)
            }
            Mode::FailMethod { .. } => pass,
            Mode::DropAnswerOf { method: m, every } if m == method.as_str() => {
                s.method_seen += 1;
                Action::Forward(Forward {
                    then_close: s.method_seen.is_multiple_of(every.max(1)),
                    ..Forward::default()
                })
            }
            Mode::DropAnswerOf { .. } => pass,
            Mode::RejectToken => {
                Action::Answer(json_reply(403, json!({"detail": "Invalid token."})))
            }
            Mode::ApiVersion(v) => Action::Forward(Forward {
                version: Some(v),
                ..Forward::default()
            }),
            Mode::WrongShape => Action::Forward(Forward {
                wrong_shape: method == Method::GET,
                ..Forward::default()
            }),
            Mode::Truncate => Action::Forward(Forward {
                truncate: true,
                ..Forward::default()
            }),
            Mode::FailObjectInBatch(needle) => match serde_json::from_slice::<Value>(&body) {
                Ok(Value::Array(items))
                    if (method == Method::POST || method == Method::PATCH)
                        && items.iter().any(|i| i.to_string().contains(&needle)) =>
                {
                    let errors: Vec<Value> = items
                        .iter()
                        .map(|i| match i.to_string().contains(&needle) {
                            true => json!({"name": [format!("injected: refused ({needle})")]}),
                            false => json!({}),
                        })
                        .collect();
                    Action::Answer(json_reply(400, Value::Array(errors)))
                }
                _ => pass,
            },
        };
        let untouched = matches!(&action,
            Action::Forward(f) if f.delay.is_zero() && f.version.is_none() && !f.then_close
                && !f.wrong_shape && !f.truncate);
        if !untouched {
            s.faults += 1;
        }
        action
    };
    let how = match action {
        Action::Answer(r) => return Ok(r),
        Action::Drop => {
            kill.notify_one();
            return std::future::pending().await;
        }
        Action::Forward(how) => how,
    };
    tokio::time::sleep(how.delay).await;
    let url = format!(
        "{upstream}{}",
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut fwd = http.request(method.clone(), url).body(body);
    for (k, v) in &parts.headers {
        if k != header::HOST && k != header::CONTENT_LENGTH && k != header::CONNECTION {
            fwd = fwd.header(k, v);
        }
    }
    let resp = match fwd.send().await {
        Ok(r) => r,
        Err(e) => {
            return Ok(reply(
                502,
                "text/plain",
                format!("proxy: upstream failed: {e}"),
            ));
        }
    };
    let status = resp.status().as_u16();
    if resp.status().is_success() {
        *st.lock()
            .unwrap()
            .forwarded_ok
            .entry(method.to_string())
            .or_default() += 1;
    }
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap_or_default();
    if how.then_close {
        // Nautobot applied it; the client never hears about it
        kill.notify_one();
        return std::future::pending().await;
    }
    let mut bytes = bytes;
    if how.wrong_shape
        && let Ok(Value::Object(mut m)) = serde_json::from_slice::<Value>(&bytes)
        && let Some(results) = m.remove("results")
    {
        m.insert("items".into(), results);
        bytes = Bytes::from(Value::Object(m).to_string());
    }
    let full = bytes.len();
    let mut r = if how.truncate && full > 1 {
        let half = bytes.slice(..full / 2);
        let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
            Ok(half),
            Err(std::io::Error::other(
                "injected: connection broken mid-body",
            )),
        ];
        let mut r = Response::new(Body::from_stream(futures::stream::iter(chunks)));
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(full));
        r
    } else {
        Response::new(Body::from(bytes))
    };
    *r.status_mut() = StatusCode::from_u16(status).unwrap();
    for (k, v) in &headers {
        if k != header::CONTENT_LENGTH && k != header::TRANSFER_ENCODING && k != header::CONNECTION
        {
            r.headers_mut().append(k, v.clone());
        }
    }
    if let Some(v) = how.version {
        r.headers_mut()
            .insert("API-Version", HeaderValue::from_str(&v).unwrap());
    }
    Ok(r)
}
