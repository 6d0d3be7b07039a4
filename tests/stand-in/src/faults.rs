//! Fault injection and request recording, consulted once at the start of every request.

use std::collections::VecDeque;
use std::time::Duration;

/// One request as the stand-in received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path without the query, e.g. `/api/v1/namespaces/default/pods`.
    pub path: String,
    /// The raw (still form-encoded) query string without the `?`, e.g. `&watch=true&resourceVersion=12`.
    pub query: String,
}

/// A `fail_matching` rule.
#[derive(Debug)]
struct Rule {
    needle: String,
    status: u16,
    remaining: usize,
}

/// The fault settings and the request log.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    delay: Duration,
    fail_next: VecDeque<u16>,
    rules: Vec<Rule>,
    unavailable: bool,
    requests: Vec<RecordedRequest>,
}

impl Faults {
    /// Records a request and decides its fate: how long to delay it, and which error status to answer with, if
    /// any. Unavailability wins over `fail_next`, which wins over `fail_matching` rules.
    pub(crate) fn on_request(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
    ) -> (Duration, Option<u16>) {
        self.requests.push(RecordedRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: query.to_string(),
        });
        let target = if query.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{query}")
        };
        let status = if self.unavailable {
            Some(503)
        } else if let Some(status) = self.fail_next.pop_front() {
            Some(status)
        } else if let Some(rule) = self.rules.iter_mut().find(|r| target.contains(&r.needle)) {
            rule.remaining -= 1;
            Some(rule.status)
        } else {
            None
        };
        self.rules.retain(|r| r.remaining > 0);
        (self.delay, status)
    }

    pub(crate) fn set_delay(&mut self, delay: Duration) {
        self.delay = delay;
    }

    pub(crate) fn fail_next(&mut self, count: usize, status: u16) {
        self.fail_next.extend(std::iter::repeat_n(status, count));
    }

    pub(crate) fn fail_matching(&mut self, needle: &str, status: u16, count: usize) {
        if count > 0 {
            self.rules.push(Rule {
                needle: needle.to_string(),
                status,
                remaining: count,
            });
        }
    }

    pub(crate) fn set_unavailable(&mut self, unavailable: bool) {
        self.unavailable = unavailable;
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.requests.clone()
    }

    pub(crate) fn clear_requests(&mut self) {
        self.requests.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_counts() {
        let mut faults = Faults::default();
        faults.fail_matching("watch=true", 500, 1);
        faults.fail_next(1, 429);
        assert_eq!(
            faults.on_request("GET", "/api/v1/pods", "&watch=true").1,
            Some(429)
        );
        assert_eq!(
            faults.on_request("GET", "/api/v1/pods", "&limit=500").1,
            None
        );
        assert_eq!(
            faults.on_request("GET", "/api/v1/pods", "&watch=true").1,
            Some(500)
        );
        assert_eq!(
            faults.on_request("GET", "/api/v1/pods", "&watch=true").1,
            None
        );
        faults.set_unavailable(true);
        assert_eq!(faults.on_request("GET", "/version", "").1, Some(503));
        assert_eq!(faults.requests().len(), 5);
    }
}
