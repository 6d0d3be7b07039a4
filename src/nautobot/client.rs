//! The Nautobot REST client: the only code that knows HTTP.
//!
//! [`NautobotApi`] is the small interface the rest of the operator uses (list, bulk create,
//! bulk update, bulk delete, get); [`HttpClient`] implements it with reqwest: token auth, the
//! API version negotiated with the server ([`crate::model::version`]), CA bundle or insecure mode, per-request timeout, bounded concurrency,
//! keep-alive, and retries with exponential backoff and jitter on connection errors, timeouts,
//! 5xx and 429 (honouring Retry-After). Every request is counted by method for tests, metrics
//! and benchmarks.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;
use uuid::Uuid;

use super::error::{ApiError, ClientBuildError, summarize};
use super::pace::{self, Admit, Cut, Outcome, Pace};
use crate::config::SyncConfig;
use crate::model::version::{self, ApiVersion, Server};

/// Page size of list requests (Nautobot's maximum).
pub const PAGE_SIZE: usize = 1000;

/// The operations the sync needs. Implemented over HTTP by [`HttpClient`] and in memory by
/// the test fake.
pub trait NautobotApi: Send + Sync {
    /// Every object of a collection matching `query`, following pagination (pages of
    /// [`PAGE_SIZE`]). Add `exclude_m2m=true` when tags and content types are not needed.
    fn list(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
    ) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send;
    /// One object by id, `None` when it does not exist.
    fn get(
        &self,
        endpoint: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Value>, ApiError>> + Send;
    /// Bulk create (atomic): the created objects.
    fn create(
        &self,
        endpoint: &str,
        items: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send;
    /// Bulk partial update (atomic; ids that do not exist are skipped): the updated objects.
    fn update(
        &self,
        endpoint: &str,
        items: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send;
    /// Bulk delete (ids that do not exist are skipped).
    fn delete(
        &self,
        endpoint: &str,
        ids: Vec<Uuid>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Checks that this is a Nautobot the operator can speak to, before a full pass, and
    /// settles the REST API version spoken from then on ([`NautobotApi::api_version`]); says
    /// which Nautobot it is. Nothing to check by default (fakes): no release, the version
    /// spoken.
    fn check(&self) -> impl Future<Output = Result<Server, ApiError>> + Send {
        async move {
            Ok(Server {
                release: None,
                api: self.api_version(),
            })
        }
    }
    /// The REST API version spoken, which says which Nautobot this is: the newest
    /// ([`ApiVersion::NEWEST`]) until [`NautobotApi::check`] has asked the server.
    fn api_version(&self) -> ApiVersion {
        ApiVersion::NEWEST
    }
}

/// A shared client is a client (a worker and a test holding the same one).
impl<T: NautobotApi> NautobotApi for std::sync::Arc<T> {
    fn list(
        &self,
        endpoint: &str,
        query: &[(&str, String)],
    ) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send {
        (**self).list(endpoint, query)
    }
    fn get(
        &self,
        endpoint: &str,
        id: Uuid,
    ) -> impl Future<Output = Result<Option<Value>, ApiError>> + Send {
        (**self).get(endpoint, id)
    }
    fn create(
        &self,
        endpoint: &str,
        items: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send {
        (**self).create(endpoint, items)
    }
    fn update(
        &self,
        endpoint: &str,
        items: Vec<Value>,
    ) -> impl Future<Output = Result<Vec<Value>, ApiError>> + Send {
        (**self).update(endpoint, items)
    }
    fn delete(
        &self,
        endpoint: &str,
        ids: Vec<Uuid>,
    ) -> impl Future<Output = Result<(), ApiError>> + Send {
        (**self).delete(endpoint, ids)
    }
    fn check(&self) -> impl Future<Output = Result<Server, ApiError>> + Send {
        (**self).check()
    }
    fn api_version(&self) -> ApiVersion {
        (**self).api_version()
    }
}

/// An API token. Its Debug and Display never show it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming the whitespace and newline Secrets often carry.
    pub fn new(s: impl Into<String>) -> Self {
        Token(s.into().trim().to_string())
    }
    fn header(&self) -> String {
        format!("Token {}", self.0)
    }
    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Whether two tokens are the same (without exposing either).
    pub fn same_as(&self, other: &Token) -> bool {
        self.0 == other.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

/// How to reach Nautobot.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Base URL, without `/api`.
    pub url: String,
    /// API token.
    pub token: Token,
    /// PEM CA bundle to trust in addition to the system roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Skip TLS verification.
    pub insecure_skip_tls_verify: bool,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Requests in flight at most (the pace adapts below it: [`super::pace`]).
    pub max_concurrent: usize,
    /// Requests a second at most (`None`: no cap).
    pub max_per_second: Option<u32>,
    /// Attempts per request for retryable failures (1 = no retry).
    pub max_attempts: u32,
    /// First backoff delay; doubles per attempt, with jitter, capped at 10 s.
    pub backoff: Duration,
}

/// Installs rustls' ring provider as the process default. kube and reqwest both use rustls;
/// without one process-wide provider, building an https client panics. Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl ClientConfig {
    /// The client a NautobotSync asks for: its URL, TLS, timeout and concurrency (the one way
    /// every caller builds it: the worker, the `onDelete` cleanup, `plan` and `apply`).
    pub fn from_spec(cfg: &SyncConfig, token: Token, ca_bundle_pem: Option<Vec<u8>>) -> Self {
        ClientConfig {
            ca_bundle_pem,
            insecure_skip_tls_verify: cfg.insecure_skip_tls_verify,
            timeout: cfg.request_timeout,
            max_concurrent: cfg.max_concurrent,
            max_per_second: cfg.max_requests_per_second,
            ..ClientConfig::new(&cfg.nautobot_url, token)
        }
    }

    /// Defaults for a URL and token.
    pub fn new(url: impl Into<String>, token: Token) -> Self {
        ClientConfig {
            url: url.into(),
            token,
            ca_bundle_pem: None,
            insecure_skip_tls_verify: false,
            timeout: Duration::from_secs(30),
            max_concurrent: 2,
            max_per_second: None,
            max_attempts: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

/// Requests sent, by method (every attempt counts).
#[derive(Debug, Default)]
pub struct RequestStats {
    gets: AtomicU64,
    posts: AtomicU64,
    patches: AtomicU64,
    deletes: AtomicU64,
}

/// A copy of [`RequestStats`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RequestCounts {
    /// GET requests.
    pub gets: u64,
    /// POST requests.
    pub posts: u64,
    /// PATCH requests.
    pub patches: u64,
    /// DELETE requests.
    pub deletes: u64,
}

impl RequestCounts {
    /// Requests that write.
    pub fn writes(&self) -> u64 {
        self.posts + self.patches + self.deletes
    }
    /// All requests.
    pub fn total(&self) -> u64 {
        self.gets + self.writes()
    }
    /// Requests since `earlier`.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        RequestCounts {
            gets: self.gets - earlier.gets,
            posts: self.posts - earlier.posts,
            patches: self.patches - earlier.patches,
            deletes: self.deletes - earlier.deletes,
        }
    }
}

impl RequestStats {
    fn count(&self, method: &Method) {
        let c = match *method {
            Method::GET => &self.gets,
            Method::POST => &self.posts,
            Method::PATCH => &self.patches,
            Method::DELETE => &self.deletes,
            _ => return,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
    /// A snapshot of the counters.
    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts {
            gets: self.gets.load(Ordering::Relaxed),
            posts: self.posts.load(Ordering::Relaxed),
            patches: self.patches.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
        }
    }
}

/// The HTTP implementation of [`NautobotApi`].
#[derive(Clone)]
pub struct HttpClient {
    http: reqwest::Client,
    base: String,
    token: Token,
    timeout: Duration,
    max_attempts: u32,
    backoff: Duration,
    /// When the next request may go, shared by clones ([`super::pace`]).
    paced: Arc<Paced>,
    stats: Arc<RequestStats>,
    /// The negotiated REST API version ([`ApiVersion::pack`]), shared by clones.
    api_version: Arc<AtomicU32>,
    /// The release `/api/status/` named, asked once per API version negotiated (the endpoint
    /// takes a second: it asks the Celery workers), shared by clones.
    release: Arc<Mutex<Option<String>>>,
    metrics: Option<Arc<crate::runtime::metrics::Metrics>>,
    /// A CA bundle is trusted besides the system roots (for the hint of a TLS error).
    has_ca_bundle: bool,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// Builds a client; fails on a malformed CA bundle.
    pub fn new(cfg: ClientConfig) -> Result<Self, ClientBuildError> {
        // idempotent; a library user (the bench, tests) need not know about rustls providers
        install_crypto_provider();
        let mut builder = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(50))
            .user_agent(concat!(
                "nautobot-sync-operator/",
                env!("CARGO_PKG_VERSION")
            ));
        if let Some(pem) = &cfg.ca_bundle_pem {
            let certs =
                reqwest::Certificate::from_pem_bundle(pem).map_err(ClientBuildError::CaBundle)?;
            if certs.is_empty() {
                return Err(ClientBuildError::EmptyCaBundle);
            }
            builder = builder.tls_certs_merge(certs);
        }
        if cfg.insecure_skip_tls_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(ClientBuildError::Build)?;
        Ok(HttpClient {
            http,
            base: cfg.url.trim_end_matches('/').to_string(),
            token: cfg.token,
            timeout: cfg.timeout,
            max_attempts: cfg.max_attempts.max(1),
            backoff: cfg.backoff,
            paced: Arc::new(Paced {
                pace: Mutex::new(Pace::new(cfg.max_concurrent, cfg.max_per_second)),
                freed: Notify::new(),
            }),
            stats: Arc::new(RequestStats::default()),
            api_version: Arc::new(AtomicU32::new(ApiVersion::NEWEST.pack())),
            release: Arc::default(),
            metrics: None,
            has_ca_bundle: cfg.ca_bundle_pem.is_some(),
        })
    }

    /// Reports every request to these metrics (method, status class, latency).
    pub fn with_metrics(mut self, metrics: Arc<crate::runtime::metrics::Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Request counters.
    pub fn stats(&self) -> RequestCounts {
        self.stats.snapshot()
    }

    /// Base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The REST API version requests are sent with.
    pub fn api_version(&self) -> ApiVersion {
        ApiVersion::unpack(self.api_version.load(Ordering::Relaxed)).unwrap_or(ApiVersion::NEWEST)
    }

    /// Checks that Nautobot answers, is a version the operator supports (2.4 to 3.x) and
    /// accepts the token; from then on requests speak the version negotiated
    /// ([`version::negotiate`]) with the server's newest, which `/api/` names in its
    /// `API-Version` header when asked without a version. The release comes from
    /// `/api/status/` the first time, and again when the API version changes (an upgrade).
    pub async fn check(&self) -> Result<Server, ApiError> {
        let (status, headers, body) = self
            .send_as(Method::GET, &format!("{}/api/", self.base), None, None)
            .await?;
        if status != StatusCode::OK {
            return Err(self.http_error(Method::GET, "/api/", status, body));
        }
        // a page that is not JSON (an SSO portal, a proxy's page, a wrong URL) carries no
        // API-Version either: say what it is rather than blame the version
        if serde_json::from_slice::<Value>(&body).is_err() {
            return Err(decode_error(&Method::GET, "/api/".into(), &body, None));
        }
        let header = headers.get("API-Version").and_then(|v| v.to_str().ok());
        let version = version::negotiate(header).map_err(|e| ApiError::UnsupportedVersion {
            wanted: ApiVersion::supported_range(),
            detail: e.to_string(),
        })?;
        let before = self.api_version.swap(version.pack(), Ordering::Relaxed);
        let changed = ApiVersion::unpack(before) != Some(version);
        let known = self.release.lock().map(|r| r.clone()).unwrap_or_default();
        let release = async {
            match known {
                Some(r) if !changed => Some(r),
                _ => self.ask_release().await,
            }
        };
        // the root is readable anonymously on some setups: prove the token with a cheap list
        let one = [("limit", "1".to_string())];
        let token = self.list_page("extras/tags/", &one);
        let (release, token) = futures::join!(release, token);
        token?;
        if let Ok(mut slot) = self.release.lock() {
            slot.clone_from(&release);
        }
        let server = Server {
            release,
            api: version,
        };
        if changed {
            tracing::info!(api_version = %version, release = server.release.as_deref(),
                url = %self.base, "speaking {}", server.describe());
        }
        Ok(server)
    }

    /// The release `/api/status/` names, `None` when it does not answer (not every proxy lets
    /// it through; nothing depends on it but the status shown).
    async fn ask_release(&self) -> Option<String> {
        match self.json_call(Method::GET, "status/", None).await {
            Ok(v) => v
                .get("nautobot-version")
                .and_then(Value::as_str)
                .map(|r| crate::model::names::truncate(r, 64)),
            Err(e) => {
                tracing::debug!(error = %e, "Nautobot's /api/status/ did not say its release");
                None
            }
        }
    }

    fn url(&self, endpoint: &str) -> String {
        format!("{}/api/{}", self.base, endpoint)
    }

    fn http_error(
        &self,
        method: Method,
        path: &str,
        status: StatusCode,
        body: Vec<u8>,
    ) -> ApiError {
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let summary = match &json {
            Some(v) => summarize(v),
            None => {
                let text = String::from_utf8_lossy(&body);
                let t = text.trim();
                if t.starts_with('<') {
                    "an HTML page instead of JSON (a proxy or a wrong URL?)".to_string()
                } else {
                    crate::model::names::truncate(t, 200)
                }
            }
        };
        match status.as_u16() {
            401 | 403 => ApiError::Unauthorized {
                status: status.as_u16(),
                detail: summary,
            },
            406 => ApiError::UnsupportedVersion {
                wanted: self.api_version().to_string(),
                detail: summary,
            },
            s => ApiError::Http {
                method: method.to_string(),
                path: path.to_string(),
                status: s,
                summary,
                body: json,
            },
        }
    }

    /// Sends one request with retries; returns status, headers and body of the final answer.
    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), ApiError> {
        self.send_as(method, url, body, Some(self.api_version()))
            .await
    }

    /// [`HttpClient::send`] in `version` (`None`: the server's newest).
    async fn send_as(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        version: Option<ApiVersion>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), ApiError> {
        let path = url
            .strip_prefix(&self.base)
            .unwrap_or(url)
            .split('?')
            .next()
            .unwrap_or("")
            .to_string();
        let mut attempt = 0;
        let mut backoff = retry_backoff(self.backoff);
        loop {
            attempt += 1;
            let result = {
                let ticket = self.paced.enter().await;
                self.stats.count(&method);
                let started = std::time::Instant::now();
                let mut req = self
                    .http
                    .request(method.clone(), url)
                    .header("Authorization", self.token.header())
                    .header("Accept", accept(version));
                if let Some(b) = body {
                    req = req.json(b);
                }
                let result = match req.send().await {
                    Ok(resp) => {
                        let status = resp.status();
                        let headers = resp.headers().clone();
                        match resp.bytes().await {
                            Ok(b) => Ok((status, headers, b.to_vec())),
                            Err(e) => Err(self.transport_error(&method, &path, e)),
                        }
                    }
                    Err(e) => Err(self.transport_error(&method, &path, e)),
                };
                let answer = result.as_ref().map_or(0, |(_, _, b)| b.len());
                let kind = pace_kind(&method, &path, body, answer);
                let cut = ticket.done(&kind, started.elapsed(), outcome(&result));
                if let Some(m) = &self.metrics {
                    let status = result.as_ref().ok().map(|(s, _, _)| s.as_u16());
                    m.observe_nautobot_request(method.as_str(), status, started.elapsed());
                    if let Some(cut) = cut {
                        m.record_pace_cut(cut.label());
                    }
                }
                result
            };
            let retry_after = match &result {
                Ok((status, headers, body)) => {
                    let s = status.as_u16();
                    let integrity = s == 500 && body.windows(14).any(|w| w == b"IntegrityError");
                    if (s == 429 || (s >= 500 && !integrity)) && attempt < self.max_attempts {
                        Some(retry_after(headers))
                    } else {
                        None
                    }
                }
                // a failed TLS handshake fails the same way every time: report it at once
                Err(ApiError::Tls { .. }) => None,
                Err(_) if attempt < self.max_attempts => Some(None),
                Err(_) => None,
            };
            match retry_after {
                None => return result,
                Some(wait) => {
                    let delay = wait.unwrap_or_else(|| backoff.next().unwrap_or(MAX_BACKOFF));
                    tracing::debug!(%method, %path, attempt, delay_ms = delay.as_millis() as u64, "retrying Nautobot request");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    fn transport_error(&self, method: &Method, path: &str, e: reqwest::Error) -> ApiError {
        if e.is_timeout() {
            ApiError::Timeout {
                method: method.to_string(),
                path: path.to_string(),
                seconds: self.timeout.as_secs(),
            }
        } else if let Some(tls) = tls_cause(&e) {
            ApiError::Tls {
                url: self.base.clone(),
                message: tls.to_string(),
                hint: tls_hint(tls, self.has_ca_bundle),
            }
        } else {
            // reqwest's chain carries the cause (connection refused, certificate...), never headers
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message = format!("{message}: {s}");
                source = s.source();
            }
            if let Some(hint) = unreachable_hint(&e, &message) {
                message = format!("{message}; {hint}");
            }
            ApiError::Unreachable {
                url: self.base.clone(),
                message,
            }
        }
    }

    async fn json_call(
        &self,
        method: Method,
        endpoint: &str,
        body: Option<Value>,
    ) -> Result<Value, ApiError> {
        let url = if endpoint.starts_with("http://") || endpoint.starts_with("https://") {
            endpoint.to_string()
        } else {
            self.url(endpoint)
        };
        let (status, _, bytes) = self.send(method.clone(), &url, body.as_ref()).await?;
        let path = format!("/api/{}", endpoint.split('?').next().unwrap_or(""));
        if !status.is_success() {
            return Err(self.http_error(method, &path, status, bytes));
        }
        if bytes.is_empty() || status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| decode_error(&method, path, &bytes, Some(e)))
    }

    async fn list_page(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Value, ApiError> {
        let q = encode_query(query);
        self.json_call(Method::GET, &format!("{endpoint}?{q}"), None)
            .await
    }
}

/// An error and its causes, outermost first. (An `io::Error` hides the error it wraps from
/// `source()`, and hyper nests them: look inside with `get_ref`.)
fn causes<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> impl Iterator<Item = &'a (dyn std::error::Error + 'static)> {
    std::iter::successors(Some(e), |err| {
        match err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        }
    })
}

/// The rustls error behind a failed request, if the TLS handshake is what failed.
fn tls_cause<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    causes(e).find_map(|err| err.downcast_ref::<rustls::Error>())
}

/// What to check when no connection could be made, or an answer was cut off, for the causes a
/// person can act on: a host name that does not resolve, a port where nothing listens, a
/// network with no route, an answer broken mid-body.
fn unreachable_hint(e: &reqwest::Error, chain: &str) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    if e.is_body() || e.is_decode() {
        return Some(
            "the connection broke in the middle of Nautobot's answer: a proxy or load balancer \
             cutting answers off, or Nautobot restarting",
        );
    }
    let io_hint = causes(e).find_map(|err| match err.downcast_ref::<std::io::Error>()?.kind() {
        K::ConnectionRefused => Some(
            "nothing accepts connections at that address: check the port of spec.nautobot.url \
             and that Nautobot (or the route or Service in front of it) is up",
        ),
        K::HostUnreachable | K::NetworkUnreachable => Some(
            "no network route to Nautobot from the operator's pod: check egress NetworkPolicies, \
             proxies and firewalls between the cluster and Nautobot",
        ),
        _ => None,
    });
    if io_hint.is_some() {
        return io_hint;
    }
    // hyper-util names resolver failures "dns error" and hides the io::Error's kind
    chain.contains("dns error").then_some(
        "the host name of spec.nautobot.url does not resolve from the operator's pod: check the name \
         (inside the cluster a Service is <name>.<namespace>.svc) and the cluster's DNS",
    )
}

/// What to do about a failed TLS handshake, in the words of the spec.
fn tls_hint(e: &rustls::Error, has_ca_bundle: bool) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. })
        | rustls::Error::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "Nautobot's certificate is outside its validity period: renew it".into()
        }
        rustls::Error::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "Nautobot's certificate is not issued for the host of spec.nautobot.url: use a name the certificate carries".into()
        }
        rustls::Error::InvalidCertificate(_) if has_ca_bundle => {
            "the CA bundle of spec.nautobot.caBundleRef (and the system roots) did not sign Nautobot's certificate: \
             put the PEM certificate of the CA that issued it in that ConfigMap or Secret (a change is picked up without a restart)"
                .into()
        }
        rustls::Error::InvalidCertificate(_) => {
            "Nautobot's certificate is not signed by a CA the operator trusts: put the PEM certificate of the CA that issued it \
             in a ConfigMap or Secret in this namespace and set spec.nautobot.caBundleRef to it \
             (insecureSkipTlsVerify: true turns verification off, for tests only)"
                .into()
        }
        _ => "check that spec.nautobot.url is an https endpoint of Nautobot (not plain http) and what its TLS setup accepts".into(),
    }
}

/// A 2xx answer that is not JSON: names an HTML page as such.
fn decode_error(
    method: &Method,
    path: String,
    body: &[u8],
    cause: Option<serde_json::Error>,
) -> ApiError {
    let looks_html = body.trim_ascii_start().first() == Some(&b'<');
    ApiError::Decode {
        method: method.to_string(),
        path,
        message: match cause {
            _ if looks_html => "an HTML page instead of JSON (a proxy or a wrong URL?)".into(),
            Some(e) => e.to_string(),
            None => "not JSON".into(),
        },
    }
}

fn encode_query(query: &[(&str, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", pct(k), pct(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a query component escapes: everything but RFC 3986's unreserved characters.
const QUERY_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a query component.
fn pct(s: &str) -> percent_encoding::PercentEncode<'_> {
    percent_encoding::utf8_percent_encode(s, QUERY_COMPONENT)
}

/// The longest wait between two attempts before jitter.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The waits between attempts of one request: base x 2^(attempt-1), capped at [`MAX_BACKOFF`],
/// each plus a random jitter of up to itself (so that replicas and workers that failed together
/// do not retry together).
fn retry_backoff(base: Duration) -> impl Iterator<Item = Duration> {
    use backon::BackoffBuilder;
    backon::ExponentialBuilder::default()
        .with_min_delay(base)
        .with_factor(2.0)
        .with_max_delay(MAX_BACKOFF)
        .with_jitter()
        .without_max_times()
        .build()
}

/// The `Accept` header: JSON, in `version` when given (else the server's newest).
/// A `Retry-After` in seconds (the form Nautobot's throttling and common proxies send), at
/// most [`pace::MAX_PAUSE`].
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get("Retry-After")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| Duration::from_secs(s).min(pace::MAX_PAUSE))
}

/// The kind of request the pace compares latencies within: the method, the endpoint (without
/// ids or the query) and the size within a factor of 2 (the answer's bytes, plus the ids of a
/// bulk delete): a page of 1000 devices and a lookup by name are different kinds.
fn pace_kind(method: &Method, path: &str, body: Option<&Value>, answer: usize) -> String {
    let endpoint: Vec<&str> = path
        .trim_start_matches("/api/")
        .split('/')
        .filter(|s| !s.is_empty())
        .take(2)
        .collect();
    let items = body.and_then(Value::as_array).map_or(0, Vec::len);
    let size = (answer + 64 * items).max(1).ilog2();
    format!("{method} {} {size}", endpoint.join("/"))
}

/// What an attempt says about Nautobot's load.
fn outcome(
    result: &Result<(StatusCode, reqwest::header::HeaderMap, Vec<u8>), ApiError>,
) -> Outcome {
    match result {
        Ok((status, headers, _)) => match status.as_u16() {
            429 | 503 => Outcome::Overloaded(retry_after(headers)),
            502 | 504 => Outcome::Failed,
            _ => Outcome::Answered,
        },
        Err(ApiError::Timeout { .. } | ApiError::Unreachable { .. }) => Outcome::Failed,
        Err(_) => Outcome::Dropped,
    }
}

/// The pace of a client and the requests waiting for it ([`super::pace`]): the pure state
/// behind a lock, and a wake-up when a request in flight is done.
struct Paced {
    pace: Mutex<Pace>,
    freed: Notify,
}

impl Paced {
    /// Waits until the pace admits one more request.
    async fn enter(self: &Arc<Self>) -> Ticket {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            let admit = self
                .pace
                .lock()
                .map_or(Admit::Go, |mut p| p.admit(std::time::Instant::now()));
            match admit {
                Admit::Go => {
                    return Ticket {
                        paced: Some(self.clone()),
                    };
                }
                Admit::Wait(d) => tokio::time::sleep(d).await,
                Admit::Full => freed.await,
            }
        }
    }
}

/// One admitted request; dropped without [`Ticket::done`] (a cancelled pass), it frees its
/// place and says nothing about Nautobot.
struct Ticket {
    paced: Option<Arc<Paced>>,
}

impl Ticket {
    fn done(mut self, kind: &str, latency: Duration, outcome: Outcome) -> Option<Cut> {
        let paced = self.paced.take()?;
        let cut = paced
            .pace
            .lock()
            .ok()
            .and_then(|mut p| p.done(std::time::Instant::now(), kind, latency, outcome));
        paced.freed.notify_waiters();
        cut
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(paced) = self.paced.take() {
            if let Ok(mut p) = paced.pace.lock() {
                p.done(
                    std::time::Instant::now(),
                    "",
                    Duration::ZERO,
                    Outcome::Dropped,
                );
            }
            paced.freed.notify_waiters();
        }
    }
}

fn accept(version: Option<ApiVersion>) -> String {
    match version {
        Some(v) => format!("application/json; version={v}"),
        None => "application/json".to_string(),
    }
}

impl NautobotApi for HttpClient {
    async fn check(&self) -> Result<Server, ApiError> {
        HttpClient::check(self).await
    }
    fn api_version(&self) -> ApiVersion {
        HttpClient::api_version(self)
    }
    async fn list(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Vec<Value>, ApiError> {
        let mut q: Vec<(&str, String)> = vec![("limit", PAGE_SIZE.to_string())];
        q.extend(query.iter().cloned());
        let mut page = self.list_page(endpoint, &q).await?;
        let mut out = Vec::new();
        loop {
            let results = page
                .get("results")
                .and_then(Value::as_array)
                .cloned()
                .ok_or_else(|| ApiError::Decode {
                    method: "GET".into(),
                    path: format!("/api/{endpoint}"),
                    message: "a list answer without `results`".into(),
                })?;
            out.extend(results);
            match page.get("next").and_then(Value::as_str) {
                Some(next) if !next.is_empty() => {
                    // follow `next` on our own base URL (Nautobot may build it with another host)
                    let rel = next
                        .split_once("/api/")
                        .map(|(_, r)| r.to_string())
                        .unwrap_or_else(|| next.to_string());
                    page = self.json_call(Method::GET, &rel, None).await?;
                }
                _ => break,
            }
        }
        Ok(out)
    }

    async fn get(&self, endpoint: &str, id: Uuid) -> Result<Option<Value>, ApiError> {
        match self
            .json_call(Method::GET, &format!("{endpoint}{id}/"), None)
            .await
        {
            Ok(v) => Ok(Some(v)),
            Err(ApiError::Http { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn create(&self, endpoint: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let v = self
            .json_call(Method::POST, endpoint, Some(Value::Array(items)))
            .await?;
        Ok(as_list(v))
    }

    async fn update(&self, endpoint: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        let v = self
            .json_call(Method::PATCH, endpoint, Some(Value::Array(items)))
            .await?;
        Ok(as_list(v))
    }

    async fn delete(&self, endpoint: &str, ids: Vec<Uuid>) -> Result<(), ApiError> {
        let body = Value::Array(
            ids.iter()
                .map(|id| serde_json::json!({"id": id.to_string()}))
                .collect(),
        );
        self.json_call(Method::DELETE, endpoint, Some(body))
            .await
            .map(|_| ())
    }
}

fn as_list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_error_is_found_inside_nested_io_errors() {
        // what hyper hands back for an untrusted certificate
        let rustls_error =
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls_error);
        let outer = std::io::Error::other(inner);
        let e = tls_cause(&outer).expect("found");
        assert!(tls_hint(e, false).contains("set spec.nautobot.caBundleRef"));
        assert!(tls_hint(e, true).contains("did not sign"));
        assert!(tls_cause(&std::io::Error::other("connection refused")).is_none());
    }

    #[test]
    fn the_token_never_prints() {
        let t = Token::new("0123456789abcdef0123456789abcdef01234567\n");
        assert_eq!(format!("{t:?}"), "Token(***)");
        let cfg = ClientConfig::new("https://n", t);
        assert!(!format!("{cfg:?}").contains("0123456789abcdef"));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let ms = Duration::from_millis;
        let waits: Vec<Duration> = retry_backoff(ms(500)).take(30).collect();
        assert!(waits[0] >= ms(500) && waits[0] < ms(1000), "{waits:?}");
        assert!(waits[2] >= ms(2000) && waits[2] < ms(4000), "{waits:?}");
        assert!(
            waits[29] >= MAX_BACKOFF && waits[29] < 2 * MAX_BACKOFF,
            "{waits:?}"
        );
        let again: Vec<Duration> = retry_backoff(ms(500)).take(30).collect();
        assert_ne!(waits, again, "jittered");
    }

    #[test]
    fn html_pages_are_named() {
        let e = decode_error(
            &Method::GET,
            "/api/".into(),
            b"\n <!DOCTYPE html><html>",
            None,
        );
        assert_eq!(e.category(), "NautobotBadResponse");
        assert!(
            e.to_string().contains("an HTML page instead of JSON"),
            "{e}"
        );
    }

    #[test]
    fn queries_are_encoded() {
        assert_eq!(
            encode_query(&[
                ("cf_k8s_uid__re", "^(a|b)$".into()),
                ("name", "x y/z".into())
            ]),
            "cf_k8s_uid__re=%5E%28a%7Cb%29%24&name=x%20y%2Fz"
        );
    }
}
