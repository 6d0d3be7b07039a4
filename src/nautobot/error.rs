//! Errors of the Nautobot layer, with a bounded category for metrics and Event reasons.

use serde_json::Value;

/// What went wrong talking to Nautobot. Messages never contain the token.
/// Why an HTTP client cannot be built (before any request).
#[derive(Debug, thiserror::Error)]
pub enum ClientBuildError {
    /// The CA bundle does not parse.
    #[error("the CA bundle is not valid PEM: {0}")]
    CaBundle(reqwest::Error),
    /// The CA bundle parses but holds nothing.
    #[error("the CA bundle holds no certificate")]
    EmptyCaBundle,
    /// reqwest refused the configuration.
    #[error("cannot build the HTTP client: {0}")]
    Build(reqwest::Error),
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// Connection refused, DNS, TLS handshake: Nautobot cannot be reached.
    #[error("cannot reach Nautobot at {url}: {message}")]
    Unreachable {
        /// The base URL.
        url: String,
        /// Cause.
        message: String,
    },
    /// The TLS handshake failed: most often Nautobot's certificate is not trusted (signed by a
    /// CA that is neither in the system roots nor in `caBundleRef`), expired, or issued for
    /// another name. Not retried: the next attempt would fail the same way.
    #[error("TLS handshake with Nautobot at {url} failed: {message}; {hint}")]
    Tls {
        /// The base URL.
        url: String,
        /// Cause (rustls' words).
        message: String,
        /// What to fix.
        hint: String,
    },
    /// No answer within the request timeout.
    #[error("Nautobot did not answer within {seconds}s ({method} {path})")]
    Timeout {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// The timeout.
        seconds: u64,
    },
    /// 401/403: the token is missing, wrong or lacks permissions.
    #[error("Nautobot refused the token ({status}): {detail}")]
    Unauthorized {
        /// HTTP status.
        status: u16,
        /// Nautobot's explanation.
        detail: String,
    },
    /// The server's version is outside what the operator supports.
    #[error("Nautobot's version is not supported (this operator supports {wanted}): {detail}")]
    UnsupportedVersion {
        /// What the operator supports ("2.4 to 3.x"), or the version it sent.
        wanted: String,
        /// What the server said.
        detail: String,
    },
    /// Any other HTTP error status, with Nautobot's body (a field-to-messages map, or a list of
    /// them aligned with a bulk request).
    #[error("Nautobot answered {status} to {method} {path}: {summary}")]
    Http {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// HTTP status.
        status: u16,
        /// A one-line summary of the body.
        summary: String,
        /// The JSON body, when there was one.
        body: Option<Value>,
    },
    /// The operator is shutting down: the request was not sent (a pass stops at its next
    /// request once the shutdown grace period is over).
    #[error("the operator is shutting down: no new requests to Nautobot")]
    Stopped,
    /// A 2xx answer that is not the JSON we expect (an HTML page from a proxy, say).
    #[error("Nautobot's answer to {method} {path} cannot be read: {message}")]
    Decode {
        /// HTTP method.
        method: String,
        /// Path.
        path: String,
        /// Cause.
        message: String,
    },
}

impl ApiError {
    /// A bounded CamelCase category, usable as an Event reason or metric label.
    pub fn category(&self) -> &'static str {
        match self {
            ApiError::Unreachable { .. } => "NautobotUnreachable",
            ApiError::Tls { .. } => "NautobotTLSError",
            ApiError::Timeout { .. } => "NautobotTimeout",
            ApiError::Unauthorized { .. } => "NautobotUnauthorized",
            ApiError::UnsupportedVersion { .. } => "NautobotVersionUnsupported",
            ApiError::Http { status, .. } if *status >= 500 => "NautobotServerError",
            ApiError::Http { status: 429, .. } => "NautobotRateLimited",
            ApiError::Http { .. } => "NautobotRejected",
            ApiError::Decode { .. } => "NautobotBadResponse",
            ApiError::Stopped => "ShuttingDown",
        }
    }

    /// Whether the whole pass must stop (nothing else will work either), as opposed to one
    /// object or batch failing.
    pub fn is_fatal(&self) -> bool {
        match self {
            ApiError::Unreachable { .. }
            | ApiError::Tls { .. }
            | ApiError::Timeout { .. }
            | ApiError::Unauthorized { .. }
            | ApiError::UnsupportedVersion { .. }
            | ApiError::Decode { .. }
            | ApiError::Stopped => true,
            // 429 after the client's retries: Nautobot (or a proxy in front) throttles us; it
            // says nothing about the objects, so stop the pass and back off rather than
            // split the batch and report good objects as failed
            ApiError::Http { status, .. } => {
                (*status >= 500 && !self.is_integrity_error()) || *status == 429
            }
        }
    }

    /// The HTTP status, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Http { status, .. } => Some(*status),
            ApiError::Unauthorized { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Nautobot's 500 on a concurrent duplicate create (`IntegrityError`).
    pub fn is_integrity_error(&self) -> bool {
        matches!(self, ApiError::Http { status: 500, body: Some(b), .. }
            if b.get("exception").and_then(Value::as_str) == Some("IntegrityError"))
    }

    /// For a 400 on a bulk request: the per-item errors aligned with the request (`{}` for a
    /// good item), when Nautobot gave them.
    pub fn per_item(&self, len: usize) -> Option<Vec<Option<String>>> {
        let ApiError::Http {
            status: 400,
            body: Some(Value::Array(items)),
            ..
        } = self
        else {
            return None;
        };
        if items.len() != len {
            return None;
        }
        Some(
            items
                .iter()
                .map(|i| match i {
                    Value::Object(m) if m.is_empty() => None,
                    other => Some(summarize(other)),
                })
                .collect(),
        )
    }
}

/// One line from a Nautobot error body: `field: message; field: message`.
pub fn summarize(body: &Value) -> String {
    let s = match body {
        Value::Object(m) => {
            if let Some(d) = m.get("detail").and_then(Value::as_str) {
                d.to_string()
            } else if let Some(e) = m.get("error").and_then(Value::as_str) {
                e.to_string()
            } else {
                m.iter()
                    .map(|(k, v)| format!("{k}: {}", flatten(v)))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
        }
        Value::Array(items) => items
            .iter()
            .filter(|i| !matches!(i, Value::Object(m) if m.is_empty()))
            .map(summarize)
            .collect::<Vec<_>>()
            .join(" | "),
        other => flatten(other),
    };
    crate::model::names::truncate(&s, 500)
}

fn flatten(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(flatten).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn http(status: u16, body: Value) -> ApiError {
        ApiError::Http {
            method: "POST".into(),
            path: "/api/x/".into(),
            status,
            summary: summarize(&body),
            body: Some(body),
        }
    }

    #[test]
    fn bulk_errors_align_with_items() {
        let e = http(
            400,
            json!([{}, {"name": ["tenant with this name already exists."]}, {}]),
        );
        let items = e.per_item(3).unwrap();
        assert_eq!(items[0], None);
        assert_eq!(
            items[1].as_deref(),
            Some("name: tenant with this name already exists.")
        );
        assert!(e.per_item(2).is_none(), "misaligned lists are not trusted");
        assert!(http(400, json!({"__all__": ["x"]})).per_item(1).is_none());
        assert_eq!(e.category(), "NautobotRejected");
        assert!(!e.is_fatal());
    }

    #[test]
    fn integrity_errors_are_recognised_and_not_fatal() {
        let e = http(
            500,
            json!({"error": "duplicate key value violates unique constraint", "exception": "IntegrityError"}),
        );
        assert!(e.is_integrity_error());
        assert!(!e.is_fatal());
        let e = http(429, json!({"detail": "Request was throttled."}));
        assert!(
            e.is_fatal(),
            "throttling stops the pass, no object is to blame"
        );
        assert_eq!(e.category(), "NautobotRateLimited");
        let e = http(502, json!({"detail": "bad gateway"}));
        assert!(e.is_fatal());
        assert_eq!(e.category(), "NautobotServerError");
        assert_eq!(
            summarize(&json!({"detail": "No Tenant matches the given query."})),
            "No Tenant matches the given query."
        );
    }
}
