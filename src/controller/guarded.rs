//! The Nautobot client as the operator's loops use it: every answer (or error) is progress of
//! the loop's liveness [`Beat`], and once shutdown has drawn the line ([`Gate::close`]) no new
//! request starts: a pass in flight then ends at its next request with [`ApiError::Stopped`],
//! while the requests already sent finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use uuid::Uuid;

use crate::nautobot::{ApiError, ApiVersion, NautobotApi, Server};
use crate::runtime::http::Beat;

/// Whether new requests may start; shared by a worker and the shutdown that closes it.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<AtomicBool>);

impl Gate {
    /// No new request starts after this.
    pub fn close(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Gate::close`] was called.
    pub fn is_closed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn admit(&self) -> Result<(), ApiError> {
        if self.is_closed() {
            Err(ApiError::Stopped)
        } else {
            Ok(())
        }
    }
}

/// A Nautobot client that beats `beat` with every answer and starts nothing once `gate` is
/// closed. A pass that waits on nothing forever is the only kind that stops beating.
pub(crate) struct Guarded<A> {
    api: A,
    beat: Beat,
    gate: Gate,
}

impl<A> Guarded<A> {
    /// `api` beating `beat`, with a gate of its own (never closed unless [`Guarded::gated`]).
    pub(crate) fn new(api: A, beat: Beat) -> Self {
        Guarded {
            api,
            beat,
            gate: Gate::default(),
        }
    }

    /// The same client behind `gate`.
    pub(crate) fn gated(self, gate: Gate) -> Self {
        Guarded { gate, ..self }
    }

    async fn call<T>(&self, req: impl Future<Output = Result<T, ApiError>>) -> Result<T, ApiError> {
        self.gate.admit()?;
        let r = req.await;
        self.beat.progress();
        r
    }
}

impl<A: NautobotApi> NautobotApi for Guarded<A> {
    async fn list(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Vec<Value>, ApiError> {
        self.call(self.api.list(endpoint, query)).await
    }
    async fn get(&self, endpoint: &str, id: Uuid) -> Result<Option<Value>, ApiError> {
        self.call(self.api.get(endpoint, id)).await
    }
    async fn create(&self, endpoint: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        self.call(self.api.create(endpoint, items)).await
    }
    async fn update(&self, endpoint: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
        self.call(self.api.update(endpoint, items)).await
    }
    async fn delete(&self, endpoint: &str, ids: Vec<Uuid>) -> Result<(), ApiError> {
        self.call(self.api.delete(endpoint, ids)).await
    }
    async fn check(&self) -> Result<Server, ApiError> {
        self.call(self.api.check()).await
    }
    fn api_version(&self) -> ApiVersion {
        self.api.api_version()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nautobot::fake::FakeNautobot;

    #[tokio::test]
    async fn a_closed_gate_starts_no_request_and_says_why() {
        let fake = std::sync::Arc::new(FakeNautobot::default());
        let gate = Gate::default();
        let api = Guarded::new(fake.clone(), Beat::detached("test")).gated(gate.clone());
        assert!(api.list("tenancy/tenants/", &[]).await.is_ok());
        assert_eq!(fake.take_log().len(), 1);
        gate.close();
        let e = api.list("tenancy/tenants/", &[]).await.unwrap_err();
        assert!(matches!(e, ApiError::Stopped));
        assert!(e.is_fatal(), "a pass must stop at the closed gate");
        assert_eq!(e.category(), "ShuttingDown");
        assert!(api.create("tenancy/tenants/", vec![]).await.is_err());
        assert!(fake.take_log().is_empty(), "nothing reached Nautobot");
    }
}
