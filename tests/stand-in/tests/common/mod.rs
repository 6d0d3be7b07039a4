//! Helpers shared by the integration tests.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

/// How long any wait in these tests may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs `future` with the test deadline, failing with `what` when it runs out.
pub async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Polls `check` until it holds, failing with `what` at the test deadline.
pub async fn until(what: &str, mut check: impl FnMut() -> bool) {
    within(what, async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

/// A Pod in `default` with one `app` label.
pub fn pod(name: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    })
}

/// A KubeVirt VirtualMachine in `default`.
pub fn virtual_machine(name: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"runStrategy": "Always"},
        "status": {"printableStatus": "Running"},
    })
}
