//! Kubernetes API request metrics: a tower layer on the kube client's stack that counts every
//! request by verb and status class and times it to the answer's headers
//! (`nbsync_kube_requests_total`, `nbsync_kube_request_duration_seconds`, as client-go's
//! `rest_client_requests_total` and `rest_client_request_duration_seconds`). A throttling or
//! failing API server shows there before it shows anywhere else.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower::{Layer, Service};

use super::metrics::{Metrics, kube_verb};

/// The layer: `ClientBuilder::try_from(config)?.with_layer(&KubeMetricsLayer::new(m)).build()`.
#[derive(Clone)]
pub struct KubeMetricsLayer(Arc<Metrics>);

impl KubeMetricsLayer {
    /// Counts into `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        KubeMetricsLayer(metrics)
    }
}

impl<S> Layer<S> for KubeMetricsLayer {
    type Service = KubeMetrics<S>;
    fn layer(&self, inner: S) -> KubeMetrics<S> {
        KubeMetrics {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// The service the layer wraps around the client's stack.
#[derive(Clone)]
pub struct KubeMetrics<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> Service<Request<B>> for KubeMetrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response<R>, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let verb = kube_verb(req.method().as_str(), req.uri().query());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let r = answer.await;
            let status = r.as_ref().ok().map(|a| a.status().as_u16());
            metrics.observe_kube_request(verb, status, started.elapsed());
            r
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An API server that answers 200 to GETs and 429 to the rest, or fails.
    #[derive(Clone)]
    struct Server;
    impl Service<Request<()>> for Server {
        type Response = Response<()>;
        type Error = &'static str;
        type Future = std::future::Ready<Result<Response<()>, &'static str>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, req: Request<()>) -> Self::Future {
            let status = match req.method().as_str() {
                "GET" => 200,
                "DELETE" => return std::future::ready(Err("connection reset")),
                _ => 429,
            };
            std::future::ready(Ok(Response::builder().status(status).body(()).unwrap()))
        }
    }

    #[tokio::test]
    async fn every_request_is_counted_by_verb_and_status_class() {
        let metrics = Metrics::new();
        let mut svc = KubeMetricsLayer::new(metrics.clone()).layer(Server);
        let req =
            |method: &str, uri: &str| Request::builder().method(method).uri(uri).body(()).unwrap();
        let _ = svc
            .call(req("GET", "/api/v1/pods?watch=true&resourceVersion=1"))
            .await;
        let _ = svc.call(req("GET", "/api/v1/pods?limit=500")).await;
        let _ = svc
            .call(req(
                "PATCH",
                "/apis/nbsync.dev/v1alpha1/namespaces/a/nautobotsyncs/b/status",
            ))
            .await;
        assert!(
            svc.call(req("DELETE", "/api/v1/namespaces/a/pods/b"))
                .await
                .is_err()
        );
        let text = metrics.render();
        for line in [
            r#"nbsync_kube_requests_total{status_class="2xx",verb="watch"} 1"#,
            r#"nbsync_kube_requests_total{status_class="2xx",verb="get"} 1"#,
            r#"nbsync_kube_requests_total{status_class="4xx",verb="patch"} 1"#,
            r#"nbsync_kube_requests_total{status_class="error",verb="delete"} 1"#,
            r#"nbsync_kube_request_duration_seconds_count{verb="get"} 1"#,
        ] {
            assert!(text.contains(line), "{line} not in\n{text}");
        }
    }
}
