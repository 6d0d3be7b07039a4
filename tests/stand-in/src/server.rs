//! HTTP routing: one fallback handler parses Kubernetes paths by hand, because `/api/v1/namespaces/{name}/status`
//! (a cluster-scoped object's subresource) and `/api/v1/namespaces/{ns}/{plural}` (a namespaced collection) have
//! the same shape and only the registry can tell them apart.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::discovery;
use crate::error::ApiError;
use crate::faults::Faults;
use crate::object::{meta_str, name_of, namespace_of};
use crate::patch::PatchKind;
use crate::query::Query;
use crate::registry::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector, Selection};
use crate::store::{Origin, Part, Store};
use crate::table::{table, wants_table};
use crate::watch::{self, WatchRequest};

/// State shared by the server and the [`crate::StandIn`] handle.
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<Faults>,
    pub(crate) bookmark_interval: Duration,
    pub(crate) address: String,
}

impl Shared {
    /// The store, locked. A panic under the lock leaves consistent data (every write is a single insert or
    /// remove), so poisoning is ignored.
    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault settings, locked.
    pub(crate) fn faults(&self) -> MutexGuard<'_, Faults> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The router serving every path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (path, raw_query) = (uri.path(), uri.query().unwrap_or_default());
    tracing::debug!(%method, path, query = raw_query, "stand-in request");
    let (delay, injected) = shared.faults().on_request(method.as_str(), path, raw_query);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if let Some(code) = injected {
        return error_response(&ApiError::from_code(code));
    }
    let request = Request {
        method,
        query: Query::parse(raw_query),
        headers,
        body,
    };
    route(&shared, path, &request).unwrap_or_else(|err| error_response(&err))
}

/// The parts of a request the handlers need.
struct Request {
    method: Method,
    query: Query,
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json_body(&self) -> Result<Value, ApiError> {
        if self.body.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&self.body).map_err(|err| {
            ApiError::bad_request(format!("the request body is not valid JSON: {err}"))
        })
    }
}

/// A request for one kind's collection, object or subresource.
struct Target {
    rt: ResourceType,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn route(shared: &Shared, path: &str, request: &Request) -> Result<Response, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let document = discovery::document(&shared.store().registry, &shared.address, &segments);
    if let Some(document) = document {
        return match request.method {
            Method::GET => Ok(json_response(StatusCode::OK, &document?)),
            _ => Err(ApiError::method_not_allowed()),
        };
    }
    let (group, version, rest) = match segments.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::not_found_path()),
    };
    let mut store = shared.store();
    let lookup = |plural: &str| store.registry.by_plural(group, version, plural).cloned();
    let (namespace, plural, tail) = match rest {
        ["namespaces", ns, plural, tail @ ..] if lookup(plural).is_some_and(|t| t.namespaced) => {
            (Some((*ns).to_string()), *plural, tail)
        }
        [plural, tail @ ..] => (None, *plural, tail),
        [] => return Err(ApiError::not_found_path()),
    };
    let rt = lookup(plural).ok_or_else(ApiError::not_found_path)?;
    if tail.len() > 2 || (rt.namespaced && namespace.is_none() && !tail.is_empty()) {
        return Err(ApiError::not_found_path());
    }
    let target = Target {
        rt,
        namespace,
        name: tail.first().map(ToString::to_string),
        subresource: tail.get(1).map(ToString::to_string),
    };
    resource(shared, &mut store, target, request)
}

fn resource(
    shared: &Shared,
    store: &mut Store,
    target: Target,
    request: &Request,
) -> Result<Response, ApiError> {
    let Target {
        rt,
        namespace,
        name,
        subresource,
    } = target;
    let ns = namespace.as_deref();
    let part = match subresource.as_deref() {
        None => Part::Main,
        Some("status") if rt.status_subresource => Part::Status,
        Some(_) => return Err(ApiError::not_found_path()),
    };
    let ok = |value: Value| Ok(json_response(StatusCode::OK, &value));
    match (&request.method, name.as_deref()) {
        (&Method::GET, None) if part == Part::Main => {
            let selection = selection(ns, &request.query)?;
            if request.query.flag("watch") {
                let watch = watch_request(selection, &request.query)?;
                let body = watch::start(store, &rt, watch, shared.bookmark_interval);
                return Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response());
            }
            let list = list(store, &rt, &selection, &request.query)?;
            if wants_table(request.header(header::ACCEPT)) {
                let items: Vec<&Value> = list["items"].as_array().into_iter().flatten().collect();
                let include = request.query.get("includeObject").unwrap_or_default();
                return ok(table(&rt, &items, list["metadata"].clone(), include));
            }
            ok(list)
        }
        (&Method::POST, None) if part == Part::Main => {
            let created = store.create(&rt, ns, request.json_body()?, Origin::Api)?;
            Ok(json_response(StatusCode::CREATED, &created))
        }
        (&Method::GET, Some(name)) => {
            let obj = store
                .get(&rt, ns, name)
                .ok_or_else(|| ApiError::not_found(&rt.resource_name(), name))?;
            if wants_table(request.header(header::ACCEPT)) {
                let metadata = json!({"resourceVersion": meta_str(obj, "resourceVersion")});
                return ok(table(
                    &rt,
                    &[obj],
                    metadata,
                    request.query.get("includeObject").unwrap_or_default(),
                ));
            }
            ok(obj.clone())
        }
        (&Method::PUT, Some(name)) => {
            ok(store.update(&rt, ns, name, request.json_body()?, part)?)
        }
        (&Method::PATCH, Some(name)) => {
            let kind = PatchKind::from_content_type(request.header(header::CONTENT_TYPE))?;
            if kind == PatchKind::Apply && request.query.get("fieldManager").is_none() {
                return Err(ApiError::invalid(
                    "fieldManager: Required value: is required for apply patch",
                ));
            }
            let (obj, created) = store.patch(&rt, ns, name, kind, &request.json_body()?, part)?;
            let status = if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(json_response(status, &obj))
        }
        (&Method::DELETE, Some(name)) if part == Part::Main => {
            ok(store.delete(&rt, ns, name, &request.json_body()?)?)
        }
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn selection(namespace: Option<&str>, query: &Query) -> Result<Selection, ApiError> {
    Ok(Selection {
        namespace: namespace.map(str::to_string),
        labels: LabelSelector::parse(query.get("labelSelector").unwrap_or_default())?,
        fields: FieldSelector::parse(query.get("fieldSelector").unwrap_or_default())?,
    })
}

fn watch_request(selection: Selection, query: &Query) -> Result<WatchRequest, ApiError> {
    let number = |key: &str| {
        query
            .get(key)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| ApiError::bad_request(format!("invalid {key}: {v:?}")))
            })
            .transpose()
    };
    Ok(WatchRequest {
        selection,
        resource_version: number("resourceVersion")?,
        send_initial_events: query.flag("sendInitialEvents"),
        bookmarks: query.flag("allowWatchBookmarks"),
        timeout: number("timeoutSeconds")?.map(Duration::from_secs),
    })
}

/// A list page. The continue token is `{snapshot rv}/{namespace}/{name}` of the page's last object; later pages
/// report the first page's resourceVersion, so a watch from it replays anything that changed meanwhile.
fn list(
    store: &Store,
    rt: &ResourceType,
    selection: &Selection,
    query: &Query,
) -> Result<Value, ApiError> {
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let invalid_token = || ApiError::bad_request("invalid continue token");
    let (snapshot_rv, after) = match query.get("continue") {
        None => (store.resource_version(), None),
        Some(token) => {
            let mut parts = token.splitn(3, '/');
            let rv = parts
                .next()
                .and_then(|rv| rv.parse::<u64>().ok())
                .ok_or_else(invalid_token)?;
            let (ns, name) = (
                parts.next().ok_or_else(invalid_token)?,
                parts.next().ok_or_else(invalid_token)?,
            );
            (rv, Some((ns.to_string(), name.to_string())))
        }
    };
    if snapshot_rv < store.oldest_resource_version() {
        return Err(ApiError::expired(
            "The provided continue parameter is too old to display a consistent list result. \
             You can start a new list without the continue parameter.",
        ));
    }
    let mut items = store.list(rt, selection).filter(|obj| {
        after.as_ref().is_none_or(|(ns, name)| {
            (namespace_of(obj), name_of(obj)) > (ns.as_str(), name.as_str())
        })
    });
    let page: Vec<Value> = items
        .by_ref()
        .take(limit.unwrap_or(usize::MAX))
        .cloned()
        .collect();
    let remaining = items.count();
    let mut metadata = json!({"resourceVersion": snapshot_rv.to_string()});
    if remaining > 0
        && let Some(last) = page.last()
    {
        metadata["continue"] =
            format!("{snapshot_rv}/{}/{}", namespace_of(last), name_of(last)).into();
        metadata["remainingItemCount"] = remaining.into();
    }
    Ok(json!({
        "kind": format!("{}List", rt.kind),
        "apiVersion": rt.api_version(),
        "metadata": metadata,
        "items": page,
    }))
}

fn json_response(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(value.to_string()),
    )
        .into_response()
}

fn error_response(err: &ApiError) -> Response {
    let status = StatusCode::from_u16(err.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_response(status, &err.to_status());
    if err.code == 429 || err.code == 503 {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}
