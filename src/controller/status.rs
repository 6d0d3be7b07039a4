//! NautobotSync status from what the reconciler and the worker know. Pure.
//!
//! Conditions: `Ready` (the spec, the token and Nautobot are usable and the caches are synced),
//! `Synced` (the last pass applied every change), `Degraded` (something needs a person: held
//! deletions, conflicts, failed objects, insecure TLS, or whatever keeps it from being Ready).
//! Reasons are bounded CamelCase categories; messages never contain the token.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::worker::{Phase, WorkerReport};
use crate::api::conditions::{
    ConditionStatus, NewCondition, same_conditions, set_condition, types,
};
use crate::api::{LeftBehind, NautobotSyncStatus, ObjectCounts};
use crate::model::Kind;

/// Why a NautobotSync cannot run at all (before any worker).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    /// CamelCase reason: InvalidSpec, SecretNotFound, SecretKeyMissing, CaBundleNotFound...
    pub reason: &'static str,
    /// Human message.
    pub message: String,
}

/// What the status is computed from.
#[derive(Debug, Clone)]
pub enum StatusInput<'a> {
    /// Nothing can run.
    Blocked(&'a Blocked),
    /// The worker's report.
    Worker {
        /// The report.
        report: &'a WorkerReport,
        /// TLS verification is off.
        insecure: bool,
        /// The spec says dry run.
        dry_run: bool,
        /// The spec says suspend.
        suspend: bool,
        /// The Nautobot URL (for messages).
        url: &'a str,
        /// `spec.clusterName`.
        cluster_name: &'a str,
    },
}

impl<'a> StatusInput<'a> {
    /// A worker's report under the spec it runs.
    pub fn worker(report: &'a WorkerReport, cfg: &'a crate::config::SyncConfig) -> Self {
        StatusInput::Worker {
            report,
            insecure: cfg.insecure_skip_tls_verify,
            dry_run: cfg.dry_run,
            suspend: cfg.suspend,
            url: &cfg.nautobot_url,
            cluster_name: &cfg.cluster_name,
        }
    }
}

fn cond<'a>(
    type_: &'a str,
    status: ConditionStatus,
    reason: &'a str,
    message: impl Into<String>,
) -> NewCondition<'a> {
    NewCondition {
        type_,
        status,
        reason,
        message: message.into(),
    }
}

/// The earlier cluster names that still own objects, after a pass under `current`: those the
/// status lists and the name the last writing pass synced under, with the worker's counts
/// (a name not counted, or whose count failed, keeps its last count). A name goes once it owns
/// nothing, or when it is the current name again.
fn left_behind_after(
    s: &NautobotSyncStatus,
    counted: &[(String, Option<usize>)],
    current: &str,
) -> Vec<LeftBehind> {
    let known = s.left_behind.iter().map(|l| (&l.cluster_name, l.objects));
    let mut out: Vec<LeftBehind> = Vec::new();
    for (name, last) in known.chain(s.synced_cluster_name.iter().map(|n| (n, None))) {
        if name == current || out.iter().any(|l| l.cluster_name == *name) {
            continue;
        }
        let objects = match counted.iter().find(|(n, _)| n == name) {
            Some((_, Some(n))) => Some(i64::try_from(*n).unwrap_or(i64::MAX)),
            _ => last,
        };
        if objects != Some(0) {
            out.push(LeftBehind {
                cluster_name: name.clone(),
                objects,
            });
        }
    }
    out
}

/// Degraded's message while earlier cluster names own objects: how many, and how to remove
/// them.
fn renamed_message(left: &[LeftBehind], current: &str) -> String {
    let counts: Vec<String> = left
        .iter()
        .map(|l| match l.objects {
            Some(n) => format!("{n} objects owned under {:?}", l.cluster_name),
            None => format!("objects owned under {:?} (not counted yet)", l.cluster_name),
        })
        .collect();
    let example = &left[0].cluster_name;
    format!(
        "spec.clusterName changed to {current:?}: {} are left in Nautobot untouched. To remove them, \
         create a NautobotSync with that clusterName (clusterName: {example:?}), suspend: true and \
         onDelete: Delete, then delete it; or delete them in Nautobot",
        counts.join(", ")
    )
}

/// The new status. Timestamps of unchanged conditions are kept from `prev`.
pub fn compute(
    prev: Option<&NautobotSyncStatus>,
    generation: Option<i64>,
    input: StatusInput<'_>,
    now: &Time,
) -> NautobotSyncStatus {
    use ConditionStatus::{False, True, Unknown};
    let mut s = prev.cloned().unwrap_or_default();
    s.observed_generation = generation;
    let mut conds = std::mem::take(&mut s.conditions);
    let mut set = |c: NewCondition<'_>| set_condition(&mut conds, c, generation, now);
    match input {
        StatusInput::Blocked(b) => {
            set(cond(types::READY, False, b.reason, b.message.clone()));
            set(cond(
                types::SYNCED,
                False,
                b.reason,
                "not syncing until this is fixed",
            ));
            set(cond(types::DEGRADED, True, b.reason, b.message.clone()));
            s.last_error = Some(b.message.clone());
        }
        StatusInput::Worker {
            report,
            insecure,
            dry_run,
            suspend,
            url,
            cluster_name,
        } => {
            match &report.phase {
                Phase::Starting | Phase::NotLeader => {
                    set(cond(
                        types::READY,
                        Unknown,
                        "Starting",
                        "the operator is starting",
                    ));
                    set(cond(types::SYNCED, Unknown, "Starting", "no sync pass yet"));
                }
                Phase::WaitingForCaches(missing) => {
                    set(cond(
                        types::READY,
                        False,
                        "WaitingForCaches",
                        format!("waiting for the first list of: {}", missing.join(", ")),
                    ));
                    set(cond(
                        types::SYNCED,
                        Unknown,
                        "WaitingForCaches",
                        "nothing is synced before the cluster cache is complete",
                    ));
                }
                Phase::Interrupted(message) => {
                    // a restart is no failure: Ready and Degraded stay as the last pass left
                    // them; the next leader's full pass takes Synced back
                    set(cond(types::SYNCED, False, "Interrupted", message.clone()));
                }
                Phase::Error { category, message } => {
                    set(cond(types::READY, False, category, message.clone()));
                    set(cond(
                        types::SYNCED,
                        False,
                        category,
                        "the last sync pass failed; retrying with backoff",
                    ));
                    set(cond(types::DEGRADED, True, category, message.clone()));
                    s.last_error = Some(message.clone());
                }
                Phase::Synced => {
                    let total: usize = report.in_sync.values().sum();
                    set(cond(
                        types::READY,
                        True,
                        "Ready",
                        format!(
                            "connected to Nautobot at {url}; {total} objects owned{}",
                            if insecure {
                                "; TLS verification is OFF (insecureSkipTlsVerify)"
                            } else {
                                ""
                            }
                        ),
                    ));
                    let (status, reason, message) = if dry_run {
                        (
                            False,
                            "DryRun",
                            format!("dry run: {} changes computed, none written", report.pending),
                        )
                    } else if suspend {
                        (
                            False,
                            "Suspended",
                            format!("suspended: {} changes waiting", report.pending),
                        )
                    } else if report.pending > 0 {
                        (
                            False,
                            "ChangesPending",
                            format!("{} changes not applied (failed or held)", report.pending),
                        )
                    } else {
                        (
                            True,
                            "Synced",
                            format!("Nautobot matches the cluster ({total} objects)"),
                        )
                    };
                    set(cond(types::SYNCED, status, reason, message));
                    let left_behind = left_behind_after(&s, &report.left_behind, cluster_name);
                    let degraded = if report.held > 0 {
                        Some((
                            "DeletionsHeld",
                            report.held_reason.clone().unwrap_or_default(),
                        ))
                    } else if !left_behind.is_empty() {
                        Some((
                            "ClusterRenamed",
                            renamed_message(&left_behind, cluster_name),
                        ))
                    } else if !report.conflicts.is_empty() {
                        Some((
                            "Conflicts",
                            format!(
                                "{} objects in Nautobot block ours: {}",
                                report.conflicts.len(),
                                report.conflicts[0]
                            ),
                        ))
                    } else if !report.failures.is_empty() {
                        let f = &report.failures[0];
                        Some((
                            "ObjectsFailed",
                            format!(
                                "{} objects failed; first: {} {} {}: {}",
                                report.failures.len(),
                                f.action,
                                f.kind,
                                f.name,
                                f.message
                            ),
                        ))
                    } else if insecure {
                        Some((
                            "InsecureTLS",
                            "TLS verification of Nautobot is off (insecureSkipTlsVerify)"
                                .to_string(),
                        ))
                    } else {
                        None
                    };
                    match degraded {
                        Some((reason, message)) => {
                            set(cond(types::DEGRADED, True, reason, message))
                        }
                        None => set(cond(
                            types::DEGRADED,
                            False,
                            "AsExpected",
                            "nothing needs attention",
                        )),
                    }
                    s.last_error = None;
                    // a pass that wrote synced under the current name; the earlier names stay
                    // listed while they own anything
                    if !(dry_run || suspend) {
                        s.synced_cluster_name = Some(cluster_name.to_string());
                        s.left_behind = left_behind;
                    }
                }
            }
            if report.last_sync.is_some() {
                s.last_sync_time = report.last_sync.map(Time);
            }
            if report.last_full_sync.is_some() {
                s.last_full_sync_time = report.last_full_sync.map(Time);
            }
            let c = |k: &[Kind]| {
                k.iter()
                    .map(|k| report.in_sync.get(k).copied().unwrap_or(0) as i64)
                    .sum::<i64>()
            };
            let counts = ObjectCounts {
                clusters: c(&[Kind::Cluster]),
                tenants: c(&[Kind::Tenant]),
                devices: c(&[Kind::Device]),
                virtual_machines: c(&[Kind::VirtualMachine]),
                interfaces: c(&[Kind::DeviceInterface, Kind::VmInterface]),
                ip_addresses: c(&[Kind::IpAddress, Kind::Prefix]),
                services: c(&[Kind::CloudService, Kind::IpamService]),
                other: c(&[
                    Kind::CloudAccount,
                    Kind::DeviceClusterAssignment,
                    Kind::IpAddressToInterface,
                ]),
            };
            s.objects_in_sync = report.in_sync.values().sum::<usize>() as i64;
            s.objects = Some(counts);
            s.pending_changes = report.pending as i64;
            s.held_deletions = report.held as i64;
            s.conflicts = report.conflicts.len() as i64;
            s.kubevirt_detected = Some(report.kubevirt);
            if let Some(server) = &report.nautobot {
                s.nautobot = Some(crate::plan::dialect::server_status(server));
            }
            s.warnings = report
                .warnings
                .iter()
                .map(|w| format!("{}: {}", w.source, w.message))
                .collect();
        }
    }
    s.conditions = conds;
    s
}

/// Whether two statuses differ in anything but timestamps and condition order.
pub fn differs(a: Option<&NautobotSyncStatus>, b: &NautobotSyncStatus) -> bool {
    let Some(a) = a else { return true };
    let strip = |s: &NautobotSyncStatus| {
        let mut s = s.clone();
        s.conditions.clear();
        s.last_sync_time = None;
        s.last_full_sync_time = None;
        s
    };
    // sync times matter only when they move by a full pass, not on every incremental tick
    let full_moved = a.last_full_sync_time != b.last_full_sync_time;
    strip(a) != strip(b) || !same_conditions(&a.conditions, &b.conditions) || full_moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::conditions::find;
    use std::collections::BTreeMap;

    fn t(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    fn synced() -> WorkerReport {
        WorkerReport {
            phase: Phase::Synced,
            generation: 3,
            last_sync: Some("2026-11-26T10:00:00Z".parse().unwrap()),
            last_full_sync: Some("2026-11-26T10:00:00Z".parse().unwrap()),
            in_sync: BTreeMap::from([(Kind::VirtualMachine, 5), (Kind::Tenant, 4)]),
            ..Default::default()
        }
    }

    fn worker(r: &WorkerReport) -> StatusInput<'_> {
        worker_named(r, "ocp-lab")
    }

    /// A healthy worker's input for a NautobotSync with this `clusterName`.
    fn worker_named<'a>(r: &'a WorkerReport, cluster_name: &'a str) -> StatusInput<'a> {
        StatusInput::Worker {
            report: r,
            insecure: false,
            dry_run: false,
            suspend: false,
            url: "https://nb",
            cluster_name,
        }
    }

    #[test]
    fn a_healthy_pass_is_ready_and_synced() {
        let r = synced();
        let s = compute(None, Some(3), worker(&r), &t("2026-11-26T10:00:01Z"));
        assert_eq!(find(&s.conditions, "Ready").unwrap().status, "True");
        assert_eq!(find(&s.conditions, "Synced").unwrap().reason, "Synced");
        assert_eq!(find(&s.conditions, "Degraded").unwrap().status, "False");
        assert_eq!(s.objects_in_sync, 9);
        assert_eq!(s.objects.as_ref().unwrap().virtual_machines, 5);
        assert_eq!(s.observed_generation, Some(3));
    }

    #[test]
    fn says_which_nautobot_and_what_it_does_not_store() {
        let now = t("2026-11-26T10:00:01Z");
        // before any full pass: nothing said
        let s = compute(None, Some(1), worker(&synced()), &now);
        assert_eq!(s.nautobot, None);
        let mut r = synced();
        r.nautobot = Some(crate::model::Server {
            release: Some("3.2.7".into()),
            api: crate::model::ApiVersion::V3_2,
        });
        let s = compute(Some(&s), Some(1), worker(&r), &now);
        let n = s.nautobot.clone().unwrap();
        assert_eq!(
            (n.version.as_deref(), n.api_version.as_str()),
            (Some("3.2.7"), "3.2")
        );
        assert!(n.not_synced.is_empty());
        // the same NautobotSync after Nautobot was replaced by a 2.4
        r.nautobot = Some(crate::model::Server {
            release: Some("2.4.44".into()),
            api: crate::model::ApiVersion::V2_4,
        });
        let s = compute(Some(&s), Some(1), worker(&r), &now);
        let n = s.nautobot.clone().unwrap();
        assert_eq!(n.api_version, "2.4");
        assert_eq!(n.not_synced.len(), 1);
        assert_eq!(n.not_synced[0].kind, "dcim.deviceclusterassignment");
        assert!(n.not_synced[0].reason.contains("cluster field"));
        // an incremental pass (no check) keeps what the last full pass said
        r.nautobot = None;
        let s2 = compute(Some(&s), Some(1), worker(&r), &now);
        assert_eq!(s2.nautobot, s.nautobot);
        let json = serde_json::to_value(&s2).unwrap();
        assert_eq!(json["nautobot"]["apiVersion"], "2.4");
        assert_eq!(json["nautobot"]["version"], "2.4.44");
        assert!(json["nautobot"]["notSynced"][0]["reason"].is_string());
    }

    #[test]
    fn a_rename_points_at_what_the_old_name_left_until_it_is_gone() {
        let now = t("2026-11-26T10:00:00Z");
        let degraded = |s: &NautobotSyncStatus| {
            let d = find(&s.conditions, "Degraded").unwrap();
            (d.reason.clone(), d.message.clone())
        };
        let left = |s: &NautobotSyncStatus| {
            s.left_behind
                .iter()
                .map(|l| (l.cluster_name.clone(), l.objects))
                .collect::<Vec<_>>()
        };
        let r = synced();
        let s = compute(None, Some(1), worker(&r), &now);
        assert_eq!(s.synced_cluster_name.as_deref(), Some("ocp-lab"));
        assert!(s.left_behind.is_empty());
        // renamed to ocp-new: 103 objects are still owned by ocp-lab
        let mut r = synced();
        r.left_behind = vec![("ocp-lab".into(), Some(103))];
        let s = compute(Some(&s), Some(2), worker_named(&r, "ocp-new"), &now);
        let (reason, msg) = degraded(&s);
        assert_eq!(reason, "ClusterRenamed");
        assert!(msg.contains("103 objects owned under \"ocp-lab\""), "{msg}");
        assert!(msg.contains("clusterName: \"ocp-lab\""), "{msg}");
        assert!(msg.contains("onDelete: Delete"), "{msg}");
        assert_eq!(s.synced_cluster_name.as_deref(), Some("ocp-new"));
        assert_eq!(left(&s), [("ocp-lab".to_string(), Some(103))]);
        // renamed again before they are gone: both earlier names are followed
        let mut r = synced();
        r.left_behind = vec![("ocp-lab".into(), Some(103)), ("ocp-new".into(), Some(7))];
        let s = compute(Some(&s), Some(3), worker_named(&r, "ocp-third"), &now);
        let (reason, msg) = degraded(&s);
        assert_eq!(reason, "ClusterRenamed");
        assert!(
            msg.contains("103 objects owned under \"ocp-lab\", 7 objects owned under \"ocp-new\""),
            "{msg}"
        );
        assert_eq!(
            left(&s),
            [
                ("ocp-lab".to_string(), Some(103)),
                ("ocp-new".to_string(), Some(7))
            ]
        );
        // an incremental pass (no count) or a failed count keeps what is known
        let r = synced();
        let s = compute(Some(&s), Some(3), worker_named(&r, "ocp-third"), &now);
        assert_eq!(left(&s).len(), 2);
        let mut r = synced();
        r.left_behind = vec![("ocp-lab".into(), None), ("ocp-new".into(), Some(7))];
        let s = compute(Some(&s), Some(3), worker_named(&r, "ocp-third"), &now);
        assert_eq!(left(&s)[0], ("ocp-lab".to_string(), Some(103)));
        // a dry run changes neither the synced name nor the list
        let mut r = synced();
        r.left_behind = vec![("ocp-lab".into(), Some(0)), ("ocp-new".into(), Some(0))];
        let mut input = worker_named(&r, "ocp-fourth");
        if let StatusInput::Worker { dry_run, .. } = &mut input {
            *dry_run = true;
        }
        let d = compute(Some(&s), Some(4), input, &now);
        assert_eq!(d.synced_cluster_name.as_deref(), Some("ocp-third"));
        assert_eq!(left(&d).len(), 2);
        // a person removed the first name's objects; the second still owns some
        let mut r = synced();
        r.left_behind = vec![("ocp-lab".into(), Some(0)), ("ocp-new".into(), Some(7))];
        let s = compute(Some(&s), Some(3), worker_named(&r, "ocp-third"), &now);
        assert_eq!(left(&s), [("ocp-new".to_string(), Some(7))]);
        // renamed back to ocp-new: its objects are current again, not left behind
        let mut r = synced();
        r.left_behind = vec![("ocp-third".into(), Some(0))];
        let s = compute(Some(&s), Some(5), worker_named(&r, "ocp-new"), &now);
        assert!(s.left_behind.is_empty(), "{:?}", s.left_behind);
        assert_eq!(degraded(&s).0, "AsExpected");
        assert_eq!(s.synced_cluster_name.as_deref(), Some("ocp-new"));
    }

    #[test]
    fn held_deletions_and_errors_say_why() {
        let mut r = synced();
        r.held = 40;
        r.pending = 40;
        r.held_reason = Some("40 of 50 owned objects would be deleted".into());
        let s = compute(None, Some(3), worker(&r), &t("2026-11-26T10:00:01Z"));
        let d = find(&s.conditions, "Degraded").unwrap();
        assert_eq!(
            (d.status.as_str(), d.reason.as_str()),
            ("True", "DeletionsHeld")
        );
        assert!(d.message.contains("40 of 50"));
        assert_eq!(
            find(&s.conditions, "Synced").unwrap().reason,
            "ChangesPending"
        );

        r.phase = Phase::Error {
            category: "NautobotUnauthorized".into(),
            message: "Nautobot refused the token (403)".into(),
        };
        let s2 = compute(Some(&s), Some(3), worker(&r), &t("2026-11-26T10:05:00Z"));
        let ready = find(&s2.conditions, "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "NautobotUnauthorized")
        );
        assert_eq!(ready.last_transition_time, t("2026-11-26T10:05:00Z"));
        // the Degraded condition stayed True: its transition time is kept
        assert_eq!(
            find(&s2.conditions, "Degraded")
                .unwrap()
                .last_transition_time,
            t("2026-11-26T10:00:01Z")
        );
        assert_eq!(
            s2.last_sync_time, s.last_sync_time,
            "the last good sync is remembered"
        );
    }

    #[test]
    fn a_pass_interrupted_by_a_shutdown_says_so_and_is_no_failure() {
        let s = compute(None, Some(2), worker(&synced()), &t("2026-11-26T10:00:00Z"));
        let mut r = synced();
        r.phase = Phase::Interrupted("the operator shut down during a full sync pass".into());
        let s2 = compute(Some(&s), Some(2), worker(&r), &t("2026-11-26T10:01:00Z"));
        let synced_c = find(&s2.conditions, "Synced").unwrap();
        assert_eq!(
            (synced_c.status.as_str(), synced_c.reason.as_str()),
            ("False", "Interrupted")
        );
        assert!(synced_c.message.contains("shut down"));
        // Ready stays as it was, with its transition time; no Degraded, no lastError
        let ready = find(&s2.conditions, "Ready").unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("True", "Ready")
        );
        assert_eq!(ready.last_transition_time, t("2026-11-26T10:00:00Z"));
        assert!(find(&s2.conditions, "Degraded").is_none_or(|d| d.status == "False"));
        assert_eq!(s2.last_error, s.last_error);
    }

    #[test]
    fn blocked_specs_and_unchanged_statuses() {
        let b = Blocked {
            reason: "SecretNotFound",
            message: "Secret nautobot-sync/tok not found".into(),
        };
        let s = compute(
            None,
            Some(1),
            StatusInput::Blocked(&b),
            &t("2026-11-26T10:00:00Z"),
        );
        assert_eq!(
            find(&s.conditions, "Ready").unwrap().reason,
            "SecretNotFound"
        );
        let again = compute(
            Some(&s),
            Some(1),
            StatusInput::Blocked(&b),
            &t("2026-11-26T11:00:00Z"),
        );
        assert!(
            !differs(Some(&s), &again),
            "same state, later time: no write"
        );
        let r = synced();
        let s3 = compute(Some(&s), Some(1), worker(&r), &t("2026-11-26T11:00:00Z"));
        assert!(differs(Some(&s), &s3));
        let dry = StatusInput::Worker {
            report: &r,
            insecure: true,
            dry_run: true,
            suspend: false,
            url: "u",
            cluster_name: "ocp-lab",
        };
        let s4 = compute(None, Some(1), dry, &t("2026-11-26T11:00:00Z"));
        assert_eq!(find(&s4.conditions, "Synced").unwrap().reason, "DryRun");
        assert_eq!(
            find(&s4.conditions, "Degraded").unwrap().reason,
            "InsecureTLS"
        );
        // said in Ready too, where a more urgent Degraded reason cannot hide it
        assert!(
            find(&s4.conditions, "Ready")
                .unwrap()
                .message
                .contains("TLS verification is OFF")
        );
    }
}
