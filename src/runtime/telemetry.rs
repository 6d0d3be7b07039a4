//! Logging setup: JSON lines in a cluster, readable text on a terminal.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Log output format.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

impl LogFormat {
    /// Text on a terminal, JSON otherwise (in a pod).
    pub fn detect() -> Self {
        if std::io::stderr().is_terminal() {
            LogFormat::Text
        } else {
            LogFormat::Json
        }
    }
}

/// Installs the global subscriber, writing to stderr. An invalid filter falls back to `info`
/// with a warning instead of failing.
pub fn init(filter: &str, format: LogFormat) {
    let (env_filter, bad) = match EnvFilter::try_new(filter) {
        Ok(f) => (f, None),
        Err(e) => (EnvFilter::new("info"), Some(e.to_string())),
    };
    let ansi = std::io::stderr().is_terminal();
    match format {
        LogFormat::Json => {
            tracing_subscriber::util::SubscriberInitExt::init(json(env_filter, std::io::stderr))
        }
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(env_filter)
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .init(),
    }
    if let Some(e) = bad {
        tracing::warn!(filter, error = %e, "invalid log filter; using info");
    }
}

/// The JSON format: one object per line, the event's fields at the top level, and `spans`,
/// the fields of every span the event is in, outermost first: kube-runtime's
/// `reconciling object` span (`object.ref`, `object.reason`) and the operator's `worker` span
/// (`nautobotsync`), so that every line says which NautobotSync it is about.
fn json<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(true)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_carry_the_fields_of_the_spans_they_are_in() {
        let buf = Buffer::default();
        let writer = buf.clone();
        let subscriber = json(EnvFilter::new("info"), move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            // as kube-runtime's controller wraps a reconcile, and as the operator a worker
            let reconcile = tracing::info_span!(
                "reconciling object",
                "object.ref" = "NautobotSync.v1alpha1.nbsync.dev/ocp-lab.nautobot-sync",
                "object.reason" = "object updated"
            );
            reconcile.in_scope(|| tracing::warn!(error = "boom", "reconcile failed"));
            let worker =
                tracing::info_span!(parent: None, "worker", nautobotsync = "nautobot-sync/ocp-lab");
            worker.in_scope(|| tracing::info!(written = 3, "sync pass done"));
        });
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "reconcile failed");
        assert_eq!(lines[0]["error"], "boom");
        assert_eq!(
            lines[0]["spans"][0]["object.ref"],
            "NautobotSync.v1alpha1.nbsync.dev/ocp-lab.nautobot-sync"
        );
        assert_eq!(lines[1]["written"], 3);
        assert_eq!(lines[1]["spans"][0]["name"], "worker");
        assert_eq!(
            lines[1]["spans"][0]["nautobotsync"],
            "nautobot-sync/ocp-lab"
        );
    }
}
