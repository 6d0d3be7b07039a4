//! How failures are retried, per NautobotSync: exponential backoff with jitter, by error
//! category, reset on success.
//!
//! A transient failure (Nautobot unreachable, slow, throttling or erroring, the Kubernetes API
//! failing) is retried after a second, then 2, 4... up to 5 minutes. A failure that only a
//! person can fix (a refused token, an unsupported Nautobot version, a certificate that is not
//! trusted, a spec Nautobot cannot satisfy, another cluster's identity) starts at 30 seconds
//! and waits up to 10 minutes; a change of the NautobotSync or its Secret is retried at once
//! anyway, and a new spec generation starts the count over (what failed may be fixed). The jitter spreads the retries of many NautobotSyncs (or replicas after an outage)
//! over the second half of each interval. Pure: the caller supplies the random fraction.

use std::time::Duration;

/// Whether a failure can go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Retried soon.
    Transient,
    /// Needs a person; retried rarely.
    Permanent,
}

impl Class {
    /// The class of an error category (`ApiError::category`, `SyncError::category`, the
    /// reconcile errors' categories).
    pub fn of(category: &str) -> Class {
        match category {
            "NautobotUnauthorized"
            | "NautobotVersionUnsupported"
            | "NautobotTLSError"
            | "InvalidSpec"
            | "PrerequisiteUnusable"
            | "ClusterIdentityMismatch" => Class::Permanent,
            _ => Class::Transient,
        }
    }

    /// (first delay, longest delay).
    fn range(self) -> (Duration, Duration) {
        match self {
            Class::Transient => (Duration::from_secs(1), Duration::from_secs(300)),
            Class::Permanent => (Duration::from_secs(30), Duration::from_secs(600)),
        }
    }
}

/// The retry state of one NautobotSync.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    failures: u32,
    class: Option<Class>,
    /// The spec generation the failures are of.
    generation: Option<i64>,
}

impl Backoff {
    /// A state with no failure.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a failure of `category` and returns the delay before the next attempt:
    /// `first * 2^n` capped, of which the second half is jittered by `fraction` (in `[0, 1)`).
    /// A failure of another class than the last starts over.
    pub fn failed(&mut self, category: &str, fraction: f64) -> Duration {
        let class = Class::of(category);
        if self.class != Some(class) {
            self.failures = 0;
            self.class = Some(class);
        }
        let (first, cap) = class.range();
        let full = first.saturating_mul(1u32 << self.failures.min(20)).min(cap);
        self.failures = self.failures.saturating_add(1);
        full.div_f64(2.0) + full.div_f64(2.0).mul_f64(fraction.clamp(0.0, 1.0))
    }

    /// The failures to come are of spec `generation`: a new generation starts over.
    pub fn of_generation(&mut self, generation: i64) -> &mut Self {
        if self.generation != Some(generation) {
            *self = Backoff {
                generation: Some(generation),
                ..Self::default()
            };
        }
        self
    }

    /// A success: the next failure starts at the first delay again.
    pub fn succeeded(&mut self) {
        *self = Self::default();
    }

    /// Failures in a row.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// A fraction in `[0, 1)` for the jitter, from the standard library's random hasher keys (no
/// random number crate for this).
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_failures_double_from_a_second_up_to_five_minutes_then_reset() {
        let mut b = Backoff::new();
        let top: Vec<u64> = (0..12)
            .map(|_| b.failed("NautobotUnreachable", 0.999_999).as_secs())
            .collect();
        assert_eq!(top, [0, 1, 3, 7, 15, 31, 63, 127, 255, 299, 299, 299]);
        b.succeeded();
        assert_eq!(
            b.failed("NautobotServerError", 0.0),
            Duration::from_millis(500)
        );
        assert_eq!(b.failed("NautobotTimeout", 0.0), Duration::from_secs(1));
    }

    #[test]
    fn failures_only_a_person_can_fix_wait_long_and_a_new_class_starts_over() {
        let mut b = Backoff::new();
        let waits: Vec<Duration> = (0..7)
            .map(|_| b.failed("NautobotUnauthorized", 1.0))
            .collect();
        assert_eq!(waits[0], Duration::from_secs(30));
        assert_eq!(waits[1], Duration::from_secs(60));
        assert_eq!(waits[6], Duration::from_secs(600), "capped at 10 minutes");
        assert_eq!(b.failures(), 7);
        // the token fixed, Nautobot now down: a transient failure starts at a second
        assert_eq!(b.failed("NautobotUnreachable", 1.0), Duration::from_secs(1));
        assert_eq!(b.failures(), 1);
        for category in [
            "InvalidSpec",
            "NautobotVersionUnsupported",
            "NautobotTLSError",
            "ClusterIdentityMismatch",
        ] {
            assert_eq!(Class::of(category), Class::Permanent, "{category}");
        }
        for category in [
            "NautobotRateLimited",
            "NautobotBadResponse",
            "KubernetesApiError",
            "CleanupFailed",
        ] {
            assert_eq!(Class::of(category), Class::Transient, "{category}");
        }
    }

    #[test]
    fn a_new_spec_generation_starts_the_count_over() {
        let mut b = Backoff::new();
        for _ in 0..5 {
            b.of_generation(3).failed("NautobotUnauthorized", 1.0);
        }
        assert_eq!(b.failures(), 5);
        // the same spec: the count goes on
        assert_eq!(
            b.of_generation(3).failed("NautobotUnauthorized", 1.0),
            Duration::from_secs(600)
        );
        // the spec edited: the first delay again
        assert_eq!(
            b.of_generation(4).failed("NautobotUnauthorized", 1.0),
            Duration::from_secs(30)
        );
        assert_eq!(b.failures(), 1);
    }

    #[test]
    fn the_jitter_spreads_over_the_second_half_of_the_interval() {
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
            seen.insert((j * 10.0) as u8);
            let d = Backoff::new().failed("NautobotUnreachable", j);
            assert!(d >= Duration::from_millis(500) && d <= Duration::from_secs(1));
        }
        assert!(seen.len() >= 5, "spread: {seen:?}");
    }
}
