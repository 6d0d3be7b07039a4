//! The [`StandIn`] handle: starting and stopping the server, registering kinds, fault hooks and store helpers.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::ApiError;
use crate::faults::{Faults, RecordedRequest};
use crate::registry::{Registry, ResourceKey, ResourceType};
use crate::selectors::Selection;
use crate::server::{Shared, router};
use crate::store::Store;

/// Settings for [`StandIn::start_with`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Also serve OpenShift's `config.openshift.io/v1` Network and ClusterVersion (cluster-scoped).
    pub openshift: bool,
    /// How often watches that allow bookmarks get a BOOKMARK event.
    pub bookmark_interval: Duration,
    /// How many changes are kept for watches to resume from; older resourceVersions get 410 Expired.
    pub history_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            openshift: false,
            bookmark_interval: Duration::from_secs(2),
            history_limit: 10_000,
        }
    }
}

/// A running fake API server on `127.0.0.1` and a handle to its state.
///
/// Dropping the handle stops accepting connections; [`StandIn::shutdown`] also waits for the server to stop.
pub struct StandIn {
    shared: Arc<Shared>,
    url: String,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Starts a server with the default [`Options`] on a free port, on a task of the current tokio runtime.
    ///
    /// # Panics
    /// If no port on 127.0.0.1 can be bound, or outside a tokio runtime.
    pub async fn start() -> Self {
        Self::start_with(Options::default()).await
    }

    /// Starts a server with the given options.
    ///
    /// # Panics
    /// If no port on 127.0.0.1 can be bound, or outside a tokio runtime.
    pub async fn start_with(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("stand-in: binding 127.0.0.1:0");
        let address = listener
            .local_addr()
            .expect("stand-in: reading the bound address");
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(
                Registry::builtin(options.openshift),
                options.history_limit,
            )),
            faults: Mutex::new(Faults::default()),
            bookmark_interval: options.bookmark_interval,
            address: address.to_string(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                // A dropped sender also means stop.
                let _ = stopped.await;
            });
            if let Err(err) = serve.await {
                tracing::warn!(%err, "stand-in server failed");
            }
        });
        Self {
            shared,
            url: format!("http://{address}"),
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// The server's base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Writes a kubeconfig pointing at the server (no credentials), with one context as the current context and
    /// `default` as its namespace.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> std::io::Result<()> {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: stand-in\n  cluster:\n    server: {}\n\
             users:\n- name: stand-in\n  user: {{}}\ncontexts:\n- name: stand-in\n  context:\n    \
             cluster: stand-in\n    user: stand-in\n    namespace: default\ncurrent-context: stand-in\n",
            self.url
        );
        std::fs::write(path, text)
    }

    /// A kube client for the server, with `default` as its default namespace.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn client(&self) -> kube::Client {
        let uri = self
            .url
            .parse()
            .expect("stand-in: the server URL is a valid URI");
        kube::Client::try_from(kube::Config::new(uri)).expect("stand-in: building a kube client")
    }

    /// Ends all watches, stops the server and waits (up to five seconds) for it to finish.
    pub async fn shutdown(mut self) {
        self.drop_watches();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    // Registry.

    /// Serves a kind described in full (status subresource, printer columns, short names).
    pub fn register(&self, rt: ResourceType) {
        self.shared.store().register(rt);
    }

    /// Serves a custom kind with a `status` subresource, as a CRD would; discovery shows it at once.
    pub fn register_crd(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        plural: &str,
        namespaced: bool,
        short_names: &[&str],
    ) {
        let rt = ResourceType::new(group, version, kind, plural, namespaced)
            .with_status()
            .with_short_names(short_names);
        self.register(rt);
    }

    /// Stops serving a kind: its objects are deleted (watchers see DELETED), its watches end and discovery drops
    /// it. Returns whether it was served.
    pub fn unregister(&self, group: &str, plural: &str) -> bool {
        let key = ResourceKey {
            group: group.to_string(),
            plural: plural.to_string(),
        };
        self.shared.store().unregister(&key)
    }

    // Fault hooks.

    /// Ends every open watch stream now (clients see the stream close and re-watch).
    pub fn drop_watches(&self) {
        self.shared.store().close_watches(None);
    }

    /// Forgets the change history: the next watch resuming from an earlier resourceVersion gets an in-stream
    /// ERROR with a 410 Expired `Status`, so its client must re-list. Open watches are not ended (see
    /// [`StandIn::drop_watches`]).
    pub fn compact(&self) {
        self.shared.store().compact();
    }

    /// Delays every request by `delay` before it is handled (zero turns it off).
    pub fn set_delay(&self, delay: Duration) {
        self.shared.faults().set_delay(delay);
    }

    /// Answers the next `count` requests, whatever they are, with `status` and a matching `Status` body.
    ///
    /// kube 5's client retries 429, 503 and 504 by itself (up to 15 times, honouring the `Retry-After: 1` the
    /// stand-in sends with them), so those codes reach the caller only after the retries; 500 fails at once.
    pub fn fail_next(&self, count: usize, status: u16) {
        self.shared.faults().fail_next(count, status);
    }

    /// Answers the next `count` requests whose `path?query` contains `needle` with `status`.
    pub fn fail_matching(&self, needle: &str, status: u16, count: usize) {
        self.shared.faults().fail_matching(needle, status, count);
    }

    /// While `true`, every request is answered 503 ServiceUnavailable (with `Retry-After: 1`, which kube's
    /// client honours while retrying: a call made meanwhile completes once this is set back to `false`).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.shared.faults().set_unavailable(unavailable);
    }

    /// Every request received since the start or the last [`StandIn::clear_requests`], in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.faults().requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.faults().clear_requests();
    }

    // Store helpers.

    /// The latest resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().resource_version()
    }

    /// Creates or replaces an object directly in the store, by its `apiVersion`, `kind`, `metadata.namespace`
    /// (default `default` for namespaced kinds) and `metadata.name`, emitting ADDED or MODIFIED. Unlike API writes
    /// it keeps the given `status`, `uid`, `creationTimestamp` and `deletionTimestamp`. A
    /// CustomResourceDefinition registers its kind.
    ///
    /// # Errors
    /// 404 for a kind that is not served, 422 without a name.
    pub fn apply_json(&self, obj: Value) -> Result<Value, ApiError> {
        self.shared.store().apply_whole(obj)
    }

    /// Deletes an object as an API DELETE would: with finalizers it only gets a deletionTimestamp.
    ///
    /// # Errors
    /// 404 when the kind or the object does not exist.
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut store = self.shared.store();
        let rt = kind_of(&store, api_version, kind)?;
        store.delete(&rt, namespace.filter(|_| rt.namespaced), name, &Value::Null)
    }

    /// One object, if it exists.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let store = self.shared.store();
        let rt = kind_of(&store, api_version, kind).ok()?;
        store
            .get(&rt, namespace.filter(|_| rt.namespaced), name)
            .cloned()
    }

    /// The objects of a kind, in one namespace or (with `None`) all, ordered by namespace and name.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let store = self.shared.store();
        let Ok(rt) = kind_of(&store, api_version, kind) else {
            return Vec::new();
        };
        let selection = Selection {
            namespace: namespace.map(str::to_string),
            ..Selection::default()
        };
        store.list(&rt, &selection).cloned().collect()
    }

    /// Loads a `{"kind": "List", "items": [...]}` document with [`StandIn::apply_json`], CustomResourceDefinitions
    /// first so that the custom objects after them are served. Returns how many objects were stored.
    ///
    /// # Errors
    /// The first item that could not be stored (the items before it stay stored).
    pub fn load_list(&self, list: Value) -> Result<usize, ApiError> {
        let items = match list {
            Value::Object(mut map) => match map.remove("items") {
                Some(Value::Array(items)) => items,
                _ => return Err(ApiError::bad_request("a List needs an items array")),
            },
            _ => return Err(ApiError::bad_request("a List must be a JSON object")),
        };
        let is_crd = |item: &Value| {
            item.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
        };
        let (crds, others): (Vec<Value>, Vec<Value>) = items.into_iter().partition(is_crd);
        let count = crds.len() + others.len();
        for item in crds.into_iter().chain(others) {
            self.apply_json(item)?;
        }
        Ok(count)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            self.shared.store().close_watches(None);
            let _ = stop.send(());
        }
    }
}

fn kind_of(store: &Store, api_version: &str, kind: &str) -> Result<ResourceType, ApiError> {
    store
        .registry
        .by_kind(api_version, kind)
        .cloned()
        .ok_or_else(|| ApiError::not_found("kind", &format!("{api_version} {kind}")))
}
