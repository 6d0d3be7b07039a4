//! An in-memory Nautobot behind [`NautobotApi`], for request-level tests of the sync pass and
//! the worker: collections of JSON objects, filtered by `id`, `cf_<key>` and plain field
//! equality as Nautobot's REST filters do, bulk writes that are atomic, a request log, and
//! injected faults (a connection lost after so many writes).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use serde_json::{Value, json};
use uuid::Uuid;

use super::client::NautobotApi;
use super::error::ApiError;
use crate::model::ApiVersion;

/// One request, as the log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// The collection.
    pub endpoint: String,
    /// Objects written (0 for reads).
    pub objects: usize,
}

/// The in-memory Nautobot.
#[derive(Debug, Default)]
pub struct FakeNautobot {
    collections: Mutex<BTreeMap<String, BTreeMap<String, Value>>>,
    log: Mutex<Vec<Request>>,
    next_id: AtomicU64,
    /// The collection whose writes cut the connection, and how many are still answered.
    cut: Mutex<Option<(String, usize)>>,
    /// The connection is lost: every request fails.
    lost: AtomicBool,
    /// Every request waits forever (a Nautobot, or a proxy, that accepts and never answers).
    hanging: AtomicBool,
    /// Every request takes this long (milliseconds).
    latency_ms: AtomicU64,
    /// The Nautobot it plays ([`ApiVersion::pack`]; 0: the newest).
    version: AtomicU32,
}

impl FakeNautobot {
    /// An empty Nautobot holding only the Location `location` (which bootstrap never creates).
    pub fn with_location(location: &str) -> Self {
        let fake = FakeNautobot::default();
        fake.insert(
            "dcim/locations/",
            json!({"id": Uuid::from_u128(1).to_string(), "name": location}),
        );
        fake
    }

    /// Plays this Nautobot: a 2.x has no DeviceClusterAssignment endpoint (404, as Nautobot 2.4).
    pub fn speaking(self, version: ApiVersion) -> Self {
        self.version.store(version.pack(), Ordering::SeqCst);
        self
    }

    /// Puts an object into a collection as a person would.
    pub fn insert(&self, endpoint: &str, object: Value) {
        let id = object["id"].as_str().unwrap_or_default().to_string();
        self.lock()
            .entry(endpoint.into())
            .or_default()
            .insert(id, object);
    }

    /// The objects of a collection.
    pub fn objects(&self, endpoint: &str) -> Vec<Value> {
        self.lock()
            .get(endpoint)
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One object.
    pub fn object(&self, endpoint: &str, id: Uuid) -> Option<Value> {
        self.lock().get(endpoint)?.get(&id.to_string()).cloned()
    }

    /// After `n` more write requests to `endpoint`, every request fails as if the connection
    /// were lost.
    pub fn lose_connection_after(&self, endpoint: &str, n: usize) {
        *self.cut.lock().unwrap_or_else(|e| e.into_inner()) = Some((endpoint.into(), n));
    }

    /// From now on every request waits forever without an answer.
    pub fn hang(&self) {
        self.hanging.store(true, Ordering::SeqCst);
    }

    /// From now on every request takes `latency` (a slow or busy Nautobot).
    pub fn slow(&self, latency: std::time::Duration) {
        self.latency_ms
            .store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    async fn stall(&self) {
        if self.hanging.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let ms = self.latency_ms.load(Ordering::SeqCst);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
    }

    /// Nautobot answers again.
    pub fn reconnect(&self) {
        *self.cut.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.lost.store(false, Ordering::SeqCst);
    }

    /// The requests so far, and clears the log.
    pub fn take_log(&self) -> Vec<Request> {
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<String, Value>>> {
        self.collections.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, method: &'static str, endpoint: &str, objects: usize) -> Result<(), ApiError> {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Request {
                method,
                endpoint: endpoint.into(),
                objects,
            });
        if let Some((at, left)) = self.cut.lock().unwrap_or_else(|e| e.into_inner()).as_mut()
            && method != "GET"
            && at == endpoint
        {
            match left.checked_sub(1) {
                Some(l) => *left = l,
                None => self.lost.store(true, Ordering::SeqCst),
            }
        }
        if self.lost.load(Ordering::SeqCst) {
            return Err(ApiError::Unreachable {
                url: "fake://nautobot".into(),
                message: "connection lost".into(),
            });
        }
        if endpoint == crate::model::Kind::DeviceClusterAssignment.endpoint()
            && !self.api_version().has_device_cluster_assignments()
        {
            return Err(ApiError::Http {
                method: method.into(),
                path: format!("/api/{endpoint}"),
                status: 404,
                summary: "Not found.".into(),
                body: Some(json!({"detail": "Not found."})),
            });
        }
        Ok(())
    }
}

/// Whether an object passes one filter (`key=value`), as Nautobot's filters compare.
fn passes(o: &Value, key: &str, value: &str) -> bool {
    let as_text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Object(m) => m.get("id").and_then(Value::as_str).map(String::from),
        Value::Null => None,
        other => Some(other.to_string()),
    };
    match key.strip_prefix("cf_") {
        Some(cf) => o["custom_fields"].get(cf).and_then(as_text).as_deref() == Some(value),
        None => o.get(key).and_then(as_text).as_deref() == Some(value),
    }
}

impl NautobotApi for FakeNautobot {
    fn api_version(&self) -> ApiVersion {
        ApiVersion::unpack(self.version.load(Ordering::SeqCst)).unwrap_or(ApiVersion::NEWEST)
    }

    async fn list(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Vec<Value>, ApiError> {
        self.stall().await;
        self.record("GET", endpoint, 0)?;
        // repeated keys are alternatives (OR); different keys all apply (AND)
        let mut filters: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in query {
            if !matches!(*k, "limit" | "offset" | "depth" | "exclude_m2m" | "include") {
                filters.entry(k).or_default().push(v);
            }
        }
        Ok(self
            .lock()
            .get(endpoint)
            .into_iter()
            .flat_map(|c| c.values())
            .filter(|o| {
                filters
                    .iter()
                    .all(|(k, vs)| vs.iter().any(|v| passes(o, k, v)))
            })
            .cloned()
            .collect())
    }

    async fn get(&self, endpoint: &str, id: Uuid) -> Result<Option<Value>, ApiError> {
        self.stall().await;
        self.record("GET", endpoint, 0)?;
        Ok(self.object(endpoint, id))
    }

    async fn create(&self, endpoint: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        self.stall().await;
        self.record("POST", endpoint, items.len())?;
        let mut all = self.lock();
        let c = all.entry(endpoint.into()).or_default();
        // atomic, as Nautobot's bulk create: an id that exists refuses the whole batch
        let errors: Vec<Value> = items
            .iter()
            .map(
                |i| match i["id"].as_str().is_some_and(|id| c.contains_key(id)) {
                    true => json!({"id": ["object with this id already exists."]}),
                    false => json!({}),
                },
            )
            .collect();
        if errors.iter().any(|e| e != &json!({})) {
            return Err(ApiError::Http {
                method: "POST".into(),
                path: endpoint.into(),
                status: 400,
                summary: "object with this id already exists.".into(),
                body: Some(Value::Array(errors)),
            });
        }
        let mut out = Vec::with_capacity(items.len());
        for mut item in items {
            let id = match item["id"].as_str() {
                Some(id) => id.to_string(),
                None => {
                    let n = self.next_id.fetch_add(1, Ordering::SeqCst);
                    Uuid::from_u128(0x1000_0000 + u128::from(n)).to_string()
                }
            };
            item["id"] = json!(id);
            c.insert(id, item.clone());
            out.push(item);
        }
        Ok(out)
    }

    async fn update(&self, endpoint: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        self.stall().await;
        self.record("PATCH", endpoint, items.len())?;
        let mut all = self.lock();
        let c = all.entry(endpoint.into()).or_default();
        let mut out = Vec::new();
        for item in items {
            let Some(o) = item["id"].as_str().and_then(|id| c.get_mut(id)) else {
                continue;
            };
            for (k, v) in item.as_object().into_iter().flatten() {
                if k == "custom_fields" {
                    for (ck, cv) in v.as_object().into_iter().flatten() {
                        o["custom_fields"][ck] = cv.clone();
                    }
                } else {
                    o[k] = v.clone();
                }
            }
            out.push(o.clone());
        }
        Ok(out)
    }

    async fn delete(&self, endpoint: &str, ids: Vec<Uuid>) -> Result<(), ApiError> {
        self.stall().await;
        self.record("DELETE", endpoint, ids.len())?;
        if let Some(c) = self.lock().get_mut(endpoint) {
            for id in ids {
                c.remove(&id.to_string());
            }
        }
        Ok(())
    }
}
