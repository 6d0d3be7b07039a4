//! Watch streams: one JSON event per line over a chunked HTTP/1.1 body, as kube's client reads them.
//!
//! The starting point is computed under the store lock together with the subscription to live changes, so no
//! change falls between the replayed part and the live part. Too old a resourceVersion is answered in-stream with
//! an ERROR event carrying a 410 `Status` on an HTTP 200: an HTTP 410 would make kube-runtime retry the same
//! resourceVersion forever instead of re-listing.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};
use tokio::time::{Instant, MissedTickBehavior, interval_at, sleep};

use crate::error::ApiError;
use crate::object::meta_mut;
use crate::registry::{ResourceKey, ResourceType};
use crate::selectors::Selection;
use crate::store::{Change, ChangeType, Signal, Store};

/// What a watch request asked for.
#[derive(Clone, Debug)]
pub(crate) struct WatchRequest {
    pub(crate) selection: Selection,
    /// `resourceVersion`; `None` or 0 means "start with the current objects".
    pub(crate) resource_version: Option<u64>,
    /// `sendInitialEvents=true`: current objects, then a BOOKMARK marking their end.
    pub(crate) send_initial_events: bool,
    /// `allowWatchBookmarks=true`.
    pub(crate) bookmarks: bool,
    /// `timeoutSeconds`: the stream ends after this long.
    pub(crate) timeout: Option<Duration>,
}

/// Decides which changes a stream sends, and as which event type.
struct Filter {
    key: ResourceKey,
    selection: Selection,
}

impl Filter {
    /// The event for a change, if this stream sends one. An object that enters the selection through a
    /// modification is sent as ADDED, one that leaves it as DELETED (its previous state at the new
    /// resourceVersion).
    fn translate(&self, change: &Change) -> Option<Value> {
        if change.key != self.key {
            return None;
        }
        let now = self.selection.matches(&change.object);
        let before = change
            .previous
            .as_ref()
            .is_some_and(|p| self.selection.matches(p));
        match (change.change, before, now) {
            (ChangeType::Added, _, true) => Some(event("ADDED", &change.object)),
            (ChangeType::Deleted, _, true) => Some(event("DELETED", &change.object)),
            (ChangeType::Modified, true, true) => Some(event("MODIFIED", &change.object)),
            (ChangeType::Modified, false, true) => Some(event("ADDED", &change.object)),
            (ChangeType::Modified, true, false) => {
                let mut last = change.previous.clone().unwrap_or_default();
                meta_mut(&mut last).insert("resourceVersion".into(), change.rv.to_string().into());
                Some(event("DELETED", &last))
            }
            _ => None,
        }
    }
}

fn event(kind: &str, object: &Value) -> Value {
    json!({"type": kind, "object": object})
}

fn bookmark(rt: &ResourceType, rv: u64, initial_end: bool) -> Value {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    event(
        "BOOKMARK",
        &json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": metadata}),
    )
}

fn line(value: &Value) -> Bytes {
    let mut text = value.to_string();
    text.push('\n');
    Bytes::from(text)
}

fn expired_event(message: &str) -> Value {
    event("ERROR", &ApiError::expired(message).to_status())
}

/// Starts a watch stream; call with the store locked.
pub(crate) fn start(
    store: &Store,
    rt: &ResourceType,
    request: WatchRequest,
    bookmark_interval: Duration,
) -> Body {
    let filter = Filter {
        key: rt.key(),
        selection: request.selection,
    };
    let live = store.subscribe();
    let start_rv = store.resource_version();
    let mut initial = Vec::new();
    let resume_from = request
        .resource_version
        .filter(|rv| *rv > 0 && !request.send_initial_events);
    let mut expired = false;
    if let Some(from) = resume_from {
        match store.history_since(from) {
            Some(changes) => initial.extend(changes.filter_map(|c| filter.translate(c))),
            None => {
                expired = true;
                initial.push(expired_event(&format!(
                    "too old resource version: {from} ({})",
                    store.oldest_resource_version()
                )));
            }
        }
    } else {
        initial.extend(
            store
                .list(rt, &filter.selection)
                .map(|obj| event("ADDED", obj)),
        );
        if request.send_initial_events {
            initial.push(bookmark(rt, start_rv, true));
        }
    }
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let stream = Stream {
        rt: rt.clone(),
        filter,
        live,
        out: tx,
        last_rv: start_rv,
        bookmarks: request.bookmarks.then_some(bookmark_interval),
        timeout: request.timeout,
    };
    tokio::spawn(stream.run(initial, expired));
    Body::from_stream(futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, Infallible>(chunk), rx))
    }))
}

/// The task feeding one watch response.
struct Stream {
    rt: ResourceType,
    filter: Filter,
    live: broadcast::Receiver<Signal>,
    out: mpsc::Sender<Bytes>,
    /// The resourceVersion of the last change this stream has seen (sent or filtered out): bookmarks carry it.
    last_rv: u64,
    bookmarks: Option<Duration>,
    timeout: Option<Duration>,
}

impl Stream {
    async fn run(mut self, initial: Vec<Value>, expired: bool) {
        for value in &initial {
            if self.out.send(line(value)).await.is_err() {
                return;
            }
        }
        if expired {
            return;
        }
        // A day stands in for "no timeout": kube always sends timeoutSeconds.
        let deadline = sleep(self.timeout.unwrap_or(Duration::from_secs(86_400)));
        tokio::pin!(deadline);
        let period = self.bookmarks.unwrap_or(Duration::from_secs(86_400));
        let mut ticker = interval_at(Instant::now() + period, period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let value = tokio::select! {
                () = &mut deadline => return,
                () = self.out.closed() => return,
                _ = ticker.tick(), if self.bookmarks.is_some() => bookmark(&self.rt, self.last_rv, false),
                signal = self.live.recv() => match signal {
                    Ok(Signal::Change(change)) => {
                        self.last_rv = change.rv;
                        match self.filter.translate(&change) {
                            Some(value) => value,
                            None => continue,
                        }
                    }
                    Ok(Signal::Close(None)) | Err(broadcast::error::RecvError::Closed) => return,
                    Ok(Signal::Close(Some(key))) if key == self.filter.key => return,
                    Ok(Signal::Close(Some(_))) => continue,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Changes were lost: the client must re-list.
                        let _ = self.out.send(line(&expired_event("watch fell behind"))).await;
                        return;
                    }
                },
            };
            if self.out.send(line(&value)).await.is_err() {
                return;
            }
        }
    }
}
