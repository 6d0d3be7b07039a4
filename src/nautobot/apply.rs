//! Applying a [`Plan`]: bulk requests in batches, a few at a time, one bad object never
//! blocking the rest.
//!
//! Phases run in order (links made again under the operator's id deleted first, creates
//! parents first, updates, late updates of primary IPs, deletes children first); within a kind, batches of [`ApplyOptions::batch_size`] run on
//! [`ApplyOptions::streams`] concurrent streams (2 x 100 measured best on one Nautobot).
//! Nautobot's bulk requests are all-or-nothing: when a batch is refused, the items Nautobot
//! names are reported and the good ones retried; when it does not say which item is bad, the
//! batch is split in halves until the bad ones are isolated. A 500 `IntegrityError` on create
//! (a concurrent duplicate) is checked by reading the id back. Connection-level failures
//! (unreachable, timeout after retries, refused token) stop the pass: nothing else would work.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde_json::Value;

use super::client::NautobotApi;
use super::error::ApiError;

/// What an apply wrote; `aborted` holds the connection-level error that stopped it.
pub type ApplyReport = crate::plan::ApplyReport<ApiError>;

/// Nautobot's uniqueness messages: "... with this name already exists.", "The fields a, b must
/// make a unique set.", "A virtual machine with this name already exists ...".
fn is_uniqueness_error(message: &str) -> bool {
    message.contains("already exists") || message.contains("must make a unique set")
}
use crate::model::{CF_CLUSTER, Kind};
use crate::plan::{Action, Op, Plan};

/// Batch size and concurrency.
#[derive(Debug, Clone, Copy)]
pub struct ApplyOptions {
    /// Objects per bulk request.
    pub batch_size: usize,
    /// Bulk requests in flight per kind.
    pub streams: usize,
}

impl ApplyOptions {
    /// Bulk batches of 100 (measured best) on as many streams as the spec allows requests.
    pub fn for_spec(cfg: &crate::config::SyncConfig) -> Self {
        ApplyOptions {
            batch_size: 100,
            streams: cfg.max_concurrent,
        }
    }
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            batch_size: 100,
            streams: 2,
        }
    }
}

/// Applies `plan`; returns what happened. Stops at the first connection-level failure
/// (`report.aborted`).
pub async fn apply<A: NautobotApi>(api: &A, plan: &Plan, opts: ApplyOptions) -> ApplyReport {
    let mut report = ApplyReport::default();
    let phases: [(Action, &[Op]); 5] = [
        (Action::Delete, &plan.replaced),
        (Action::Create, &plan.creates),
        (Action::Update, &plan.updates),
        (Action::Update, &plan.late_updates),
        (Action::Delete, &plan.deletes),
    ];
    for (action, ops) in phases {
        // ops are sorted by kind (deletes in reverse): run kind by kind
        let mut start = 0;
        while start < ops.len() {
            let kind = ops[start].kind;
            let end = start + ops[start..].iter().take_while(|o| o.kind == kind).count();
            // futures made up front (they run only when polled): a closure here would make
            // the future's Send-ness higher-ranked, which rustc cannot prove
            let mut batches = Vec::new();
            for b in ops[start..end].chunks(opts.batch_size.max(1)) {
                batches.push(run_batch(api, action, kind, b));
            }
            let results: Vec<BatchOutcome> = futures::stream::iter(batches)
                .buffer_unordered(opts.streams.max(1))
                .collect()
                .await;
            for r in results {
                report.ok(kind, action, r.ok);
                for (op, msg) in r.failed {
                    let conflict = action == Action::Create && is_uniqueness_error(&msg);
                    report.fail(op, action, msg, conflict);
                }
                if let Some(e) = r.fatal {
                    report.aborted.get_or_insert(e);
                }
            }
            if report.aborted.is_some() {
                return report;
            }
            start = end;
        }
    }
    report
}

struct BatchOutcome<'a> {
    ok: usize,
    failed: Vec<(&'a Op, String)>,
    fatal: Option<ApiError>,
}

async fn call<A: NautobotApi>(
    api: &A,
    action: Action,
    kind: Kind,
    ops: &[&Op],
) -> Result<Vec<Value>, ApiError> {
    let bodies = || {
        ops.iter()
            .map(|o| Value::Object(o.body.clone()))
            .collect::<Vec<_>>()
    };
    match action {
        Action::Create => api.create(kind.endpoint(), bodies()).await,
        Action::Update => api.update(kind.endpoint(), bodies()).await,
        Action::Delete => api
            .delete(kind.endpoint(), ops.iter().map(|o| o.id).collect())
            .await
            .map(|_| Vec::new()),
    }
}

/// Checks what Nautobot answered: it silently drops unknown fields and custom fields.
fn read_back(op: &Op, action: Action, answer: Option<&Value>) -> Result<(), String> {
    if action == Action::Delete {
        return Ok(());
    }
    let Some(answer) = answer else {
        return Err(
            "the object no longer exists in Nautobot (it will be recreated by the next full sync)"
                .into(),
        );
    };
    if let Some(cf) = op.body.get("custom_fields").and_then(Value::as_object)
        && let Some(want) = cf.get(CF_CLUSTER)
        && answer.get("custom_fields").and_then(|c| c.get(CF_CLUSTER)) != Some(want)
    {
        return Err(format!(
            "Nautobot dropped the ownership custom field {CF_CLUSTER}: is it enabled for {}?",
            op.kind.content_type()
        ));
    }
    Ok(())
}

/// Creates refused as duplicates ("... with this name already exists.", "The fields
/// virtual_machine, name must make a unique set.", "... with this Id already exists."; the
/// serializer's checks come first, so the id is rarely the one named). That happens when an
/// earlier attempt of the same request was applied but its answer never arrived (the
/// connection dropped after Nautobot committed, and the client retried the POST), and when
/// someone else's object holds the name. Reads our deterministic ids back: an object that is
/// there and carries our ownership marker was created by us and counts as created; anything
/// else stays a failure with Nautobot's message (a conflict). A fatal read error is returned.
async fn created_earlier<'a, A: NautobotApi>(
    api: &A,
    kind: Kind,
    taken: Vec<(&'a Op, String)>,
) -> Result<(usize, Vec<(&'a Op, String)>), ApiError> {
    let query: Vec<(&str, String)> = taken
        .iter()
        .map(|(op, _)| ("id", op.id.to_string()))
        .chain([("exclude_m2m", "true".to_string())])
        .collect();
    let found = match api.list(kind.endpoint(), &query).await {
        Ok(found) => found,
        Err(e) if e.is_fatal() => return Err(e),
        Err(_) => Vec::new(),
    };
    let by_id: BTreeMap<&str, &Value> = found
        .iter()
        .filter_map(|a| Some((a.get("id")?.as_str()?, a)))
        .collect();
    let mut done = 0;
    let mut failed = Vec::new();
    for (op, message) in taken {
        match by_id.get(op.id.to_string().as_str()) {
            Some(answer) if read_back(op, Action::Create, Some(answer)).is_ok() => done += 1,
            _ => failed.push((op, message)),
        }
    }
    Ok((done, failed))
}

async fn run_batch<'a, A: NautobotApi>(
    api: &A,
    action: Action,
    kind: Kind,
    batch: &'a [Op],
) -> BatchOutcome<'a> {
    let mut out = BatchOutcome {
        ok: 0,
        failed: Vec::new(),
        fatal: None,
    };
    let mut work: Vec<Vec<&'a Op>> = vec![batch.iter().collect()];
    while let Some(ops) = work.pop() {
        match call(api, action, kind, &ops).await {
            Ok(answers) => {
                let by_id: BTreeMap<&str, &Value> = answers
                    .iter()
                    .filter_map(|a| Some((a.get("id")?.as_str()?, a)))
                    .collect();
                for op in ops {
                    match read_back(op, action, by_id.get(op.id.to_string().as_str()).copied()) {
                        Ok(()) => out.ok += 1,
                        Err(m) => out.failed.push((op, m)),
                    }
                }
            }
            Err(e) if action == Action::Create && e.is_integrity_error() => {
                if ops.len() > 1 {
                    let (a, b) = ops.split_at(ops.len() / 2);
                    work.push(a.to_vec());
                    work.push(b.to_vec());
                    continue;
                }
                // a concurrent create of the same object: fine if it is there now
                match api.get(kind.endpoint(), ops[0].id).await {
                    Ok(Some(_)) => out.ok += 1,
                    Ok(None) => out.failed.push((ops[0], e.to_string())),
                    Err(e2) if e2.is_fatal() => {
                        out.fatal = Some(e2);
                        return out;
                    }
                    Err(e2) => out.failed.push((ops[0], e2.to_string())),
                }
            }
            Err(e) if e.is_fatal() => {
                out.fatal = Some(e);
                return out;
            }
            Err(e) => {
                if let Some(per_item) = e.per_item(ops.len()) {
                    let mut good = Vec::new();
                    let mut taken = Vec::new();
                    for (op, err) in ops.iter().zip(per_item) {
                        match err {
                            Some(m) if action == Action::Create && is_uniqueness_error(&m) => {
                                taken.push((*op, m))
                            }
                            Some(m) => out.failed.push((op, m)),
                            None => good.push(*op),
                        }
                    }
                    if !taken.is_empty() {
                        match created_earlier(api, kind, taken).await {
                            Ok((done, failed)) => {
                                out.ok += done;
                                out.failed.extend(failed);
                            }
                            Err(e2) => {
                                out.fatal = Some(e2);
                                return out;
                            }
                        }
                    }
                    if !good.is_empty() && good.len() < ops.len() {
                        work.push(good);
                        continue;
                    }
                    if good.is_empty() {
                        continue;
                    }
                }
                if ops.len() > 1 {
                    let (a, b) = ops.split_at(ops.len() / 2);
                    work.push(a.to_vec());
                    work.push(b.to_vec());
                } else {
                    let msg = match &e {
                        ApiError::Http {
                            summary, status, ..
                        } => format!("{status}: {summary}"),
                        other => other.to_string(),
                    };
                    if action == Action::Create && is_uniqueness_error(&msg) {
                        match created_earlier(api, kind, vec![(ops[0], msg)]).await {
                            Ok((done, failed)) => {
                                out.ok += done;
                                out.failed.extend(failed);
                            }
                            Err(e2) => {
                                out.fatal = Some(e2);
                                return out;
                            }
                        }
                    } else {
                        out.failed.push((ops[0], msg));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Mutex;
    use uuid::Uuid;

    /// A Nautobot that already holds some objects, as after a create whose answer was lost;
    /// bulk creates are atomic and refused per item when an id exists.
    #[derive(Default)]
    struct Held(Mutex<BTreeMap<String, Value>>);

    impl NautobotApi for Held {
        async fn list(&self, _: &str, query: &[(&str, String)]) -> Result<Vec<Value>, ApiError> {
            let held = self.0.lock().unwrap();
            Ok(query
                .iter()
                .filter(|(k, _)| *k == "id")
                .filter_map(|(_, id)| held.get(id).cloned())
                .collect())
        }
        async fn get(&self, _: &str, id: Uuid) -> Result<Option<Value>, ApiError> {
            Ok(self.0.lock().unwrap().get(&id.to_string()).cloned())
        }
        async fn create(&self, path: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
            let mut held = self.0.lock().unwrap();
            let errors: Vec<Value> = items
                .iter()
                .map(|i| match held.contains_key(i["id"].as_str().unwrap()) {
                    true => json!({"non_field_errors": ["The fields cluster, name must make a unique set."]}),
                    false => json!({}),
                })
                .collect();
            if errors.iter().any(|e| e != &json!({})) {
                return Err(ApiError::Http {
                    method: "POST".into(),
                    path: path.into(),
                    status: 400,
                    summary: super::super::error::summarize(&Value::Array(errors.clone())),
                    body: Some(Value::Array(errors)),
                });
            }
            for i in &items {
                held.insert(i["id"].as_str().unwrap().to_string(), i.clone());
            }
            Ok(items)
        }
        async fn update(&self, _: &str, items: Vec<Value>) -> Result<Vec<Value>, ApiError> {
            Ok(items)
        }
        async fn delete(&self, _: &str, _: Vec<Uuid>) -> Result<(), ApiError> {
            Ok(())
        }
    }

    fn vm(n: u128, cluster: &str) -> Op {
        let id = Uuid::from_u128(n);
        let body = json!({"id": id.to_string(), "name": format!("vm-{n}"),
                          "custom_fields": {CF_CLUSTER: cluster}});
        Op {
            id,
            kind: Kind::VirtualMachine,
            name: format!("vm-{n}"),
            body: body.as_object().unwrap().clone(),
            reason: "new".into(),
        }
    }

    #[tokio::test]
    async fn a_create_applied_earlier_whose_answer_was_lost_counts_as_created() {
        let api = Held::default();
        // vm-1 was created by an attempt whose answer never arrived; vm-3 has our id but
        // not our marker (someone else's object): that one stays a failure
        for op in [vm(1, "ocp1"), vm(3, "ocp2")] {
            api.0
                .lock()
                .unwrap()
                .insert(op.id.to_string(), Value::Object(op.body.clone()));
        }
        let plan = Plan {
            creates: vec![vm(1, "ocp1"), vm(2, "ocp1"), vm(3, "ocp1")],
            ..Plan::default()
        };
        let report = apply(&api, &plan, ApplyOptions::default()).await;
        assert!(report.aborted.is_none());
        let k = report.kinds[&Kind::VirtualMachine];
        assert_eq!((k.created, k.failed), (2, 1), "{report:?}");
        assert_eq!(report.failures[0].name, "vm-3");
        assert!(report.failures[0].message.contains("unique set"));
        assert!(
            report.failures[0].conflict,
            "someone else's object: a conflict"
        );
        assert!(
            api.0
                .lock()
                .unwrap()
                .contains_key(&Uuid::from_u128(2).to_string())
        );
    }
}
