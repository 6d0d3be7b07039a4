//! metav1.Condition handling with Kubernetes semantics: `lastTransitionTime` changes only when
//! a condition's status changes, and comparisons ignore timestamps and order (an
//! order-sensitive compare makes controllers patch status forever).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

/// Condition types the operator maintains.
pub mod types {
    /// The operator can reach Nautobot with a valid spec and token, and its caches are synced.
    pub const READY: &str = "Ready";
    /// The last sync applied every computed change.
    pub const SYNCED: &str = "Synced";
    /// Something is wrong but the sync continues (held deletions, conflicts, failed objects).
    pub const DEGRADED: &str = "Degraded";
}

/// A condition to set, without timestamps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCondition<'a> {
    /// Condition type, see [`types`].
    pub type_: &'a str,
    /// `true` or `false` (Unknown is written as `status: Unknown`).
    pub status: ConditionStatus,
    /// CamelCase reason.
    pub reason: &'a str,
    /// Human-readable message.
    pub message: String,
}

/// The status of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    /// "True"
    True,
    /// "False"
    False,
    /// "Unknown"
    Unknown,
}

impl ConditionStatus {
    /// The string form used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// Sets `new` in `conditions`, keeping the previous `lastTransitionTime` unless the status
/// changed. Conditions stay sorted by type so that the written list is stable.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    new: NewCondition<'_>,
    generation: Option<i64>,
    now: &Time,
) {
    let status = new.status.as_str();
    let last_transition_time = conditions
        .iter()
        .find(|c| c.type_ == new.type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    conditions.retain(|c| c.type_ != new.type_);
    conditions.push(Condition {
        type_: new.type_.to_string(),
        status: status.to_string(),
        reason: new.reason.to_string(),
        message: new.message,
        observed_generation: generation,
        last_transition_time,
    });
    conditions.sort_by(|a, b| a.type_.cmp(&b.type_));
}

/// Whether two condition lists say the same thing, ignoring order and timestamps.
pub fn same_conditions(a: &[Condition], b: &[Condition]) -> bool {
    fn key(c: &Condition) -> (&str, &str, &str, &str, Option<i64>) {
        (
            &c.type_,
            &c.status,
            &c.reason,
            &c.message,
            c.observed_generation,
        )
    }
    let mut ka: Vec<_> = a.iter().map(key).collect();
    let mut kb: Vec<_> = b.iter().map(key).collect();
    ka.sort();
    kb.sort();
    ka == kb
}

/// Finds a condition by type.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    fn ready(status: ConditionStatus, reason: &str) -> NewCondition<'static> {
        NewCondition {
            type_: types::READY,
            status,
            reason: if reason == "A" { "A" } else { "B" },
            message: format!("because {reason}"),
        }
    }

    #[test]
    fn transition_time_is_kept_while_status_is_unchanged() {
        let mut c = Vec::new();
        set_condition(
            &mut c,
            ready(ConditionStatus::True, "A"),
            Some(1),
            &t("2026-01-01T00:00:00Z"),
        );
        set_condition(
            &mut c,
            ready(ConditionStatus::True, "B"),
            Some(2),
            &t("2026-01-02T00:00:00Z"),
        );
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].last_transition_time, t("2026-01-01T00:00:00Z"));
        assert_eq!(c[0].reason, "B");
        assert_eq!(c[0].observed_generation, Some(2));
        set_condition(
            &mut c,
            ready(ConditionStatus::False, "B"),
            Some(2),
            &t("2026-01-03T00:00:00Z"),
        );
        assert_eq!(c[0].last_transition_time, t("2026-01-03T00:00:00Z"));
        assert_eq!(c[0].status, "False");
    }

    #[test]
    fn comparison_ignores_order_and_timestamps() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let synced = NewCondition {
            type_: types::SYNCED,
            status: ConditionStatus::True,
            reason: "Synced",
            message: "ok".into(),
        };
        set_condition(
            &mut a,
            ready(ConditionStatus::True, "A"),
            None,
            &t("2026-01-01T00:00:00Z"),
        );
        set_condition(&mut a, synced.clone(), None, &t("2026-01-01T00:00:00Z"));
        set_condition(&mut b, synced, None, &t("2026-02-01T00:00:00Z"));
        set_condition(
            &mut b,
            ready(ConditionStatus::True, "A"),
            None,
            &t("2026-02-01T00:00:00Z"),
        );
        b.reverse();
        assert!(same_conditions(&a, &b));
        set_condition(
            &mut b,
            ready(ConditionStatus::False, "A"),
            None,
            &t("2026-02-01T00:00:00Z"),
        );
        assert!(!same_conditions(&a, &b));
        assert_eq!(find(&b, types::READY).unwrap().status, "False");
    }
}
