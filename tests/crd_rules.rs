//! The CRD's CEL rules (`x-kubernetes-validations`), evaluated as a kube-apiserver would.
//!
//! No kube-apiserver runs here, so no other test ever evaluates these rules. This one takes the
//! CRD the binary prints (`nbsync::api::crd_yaml()`; that `crds/` and the chart's copy equal it
//! is checked by tests/cli.rs and tests/chart.rs), finds every rule in its openAPIV3Schema,
//! compiles each with the `cel` crate and evaluates it the way the apiserver does
//! (k8s.io/apiextensions-apiserver pkg/apiserver/schema, k8s.io/apiserver pkg/cel):
//! - a request is pruned, its non-nullable nulls dropped and its defaults applied before any rule
//!   runs, so a rule sees the defaulted object;
//! - a rule runs only where its value is present and not null, with `self` bound to that value
//!   (and `oldSelf` to the old one, on an update, for a transition rule);
//! - in `self`, an object's null fields are absent (`has()` is false) and property names are
//!   escaped as Kubernetes escapes them;
//! - an evaluation error refuses the object, as `false` does;
//! - `duration()` parses as Go's time.ParseDuration, which cel-go and so Kubernetes uses. The
//!   crate's own parser differs (0.15: `1e1h` is 10h, `1h30` is 1h and `1hxyz` 1h, as it ignores
//!   what follows; `1µs` fails), so a macro sends `duration(x)` to a Go-faithful implementation.
//!
//! It also checks what the apiserver checks when the CRD is created or updated: a structural
//! schema without forbidden keywords, defaults valid against their own schema and its rules,
//! rules that type-check against the schema (a misspelt field or an unknown function refuses the
//! CRD), and the estimated cost of every rule under the apiserver's limits.
//!
//! A new rule is picked up by everything here except the per-rule cases: the count test fails
//! until it gets its own cases, and a function this file does not model yet fails the type check
//! until its Kubernetes semantics are added (`Estimator::call`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue, operators};
use cel::common::types::{CelDuration, CelString, DURATION_TYPE, STRING_TYPE};
use cel::common::value::CowVal;
use cel::parser::Macro;
use cel::{Context, Env, ExecutionError, Program};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// The apiserver's numbers (k8s.io/apiserver pkg/apis/cel/config.go, apiextensions validation).

/// Largest runtime cost of one evaluation of one rule (celconfig.PerCallLimit).
const PER_CALL_LIMIT: u64 = 1_000_000;
/// Largest estimated cost of one rule times how often it can run in one object.
const STATIC_ESTIMATED_COST_LIMIT: u64 = 10_000_000;
/// Largest estimated cost of all the rules of a CRD together.
const STATIC_ESTIMATED_CRD_COST_LIMIT: u64 = 100_000_000;
/// What the estimator assumes for a string, list or map without maxLength, maxItems or
/// maxProperties: as big as a request can be.
const MAX_REQUEST_SIZE_BYTES: u64 = 3 * 1024 * 1024;

/// The function `duration(x)` is rewritten to, at parse time: Go's time.ParseDuration.
const GO_DURATION: &str = "k8s_go_duration";

// ---------------------------------------------------------------------------------------------
// Loading the CRD and finding its rules.

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

/// The CRD exactly as `nautobot-sync-operator crd` prints it, as JSON.
fn crd() -> Value {
    serde_saphyr::from_str(&nbsync::api::crd_yaml()).expect("the CRD the binary prints is YAML")
}

/// The openAPIV3Schema of the CRD's only version.
fn root_schema(crd: &Value) -> &Value {
    let versions = crd["spec"]["versions"].as_array().expect("spec.versions");
    assert_eq!(
        versions.len(),
        1,
        "the CRD has more than one version: check every version's schema here"
    );
    &versions[0]["schema"]["openAPIV3Schema"]
}

fn is_true(s: &Value, key: &str) -> bool {
    s.get(key) == Some(&Value::Bool(true))
}

fn nullable(s: &Value) -> bool {
    is_true(s, "nullable")
}

fn str_of<'a>(s: &'a Value, key: &str) -> Option<&'a str> {
    s.get(key).and_then(Value::as_str)
}

fn u64_of(s: &Value, key: &str) -> Option<u64> {
    s.get(key).and_then(Value::as_u64)
}

fn props(s: &Value) -> Option<&serde_json::Map<String, Value>> {
    s.get("properties").and_then(Value::as_object)
}

/// The schema of additionalProperties, when it is one (not `true` or `false`).
fn additional(s: &Value) -> Option<&Value> {
    s.get("additionalProperties").filter(|a| a.is_object())
}

fn shown(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

/// A node of the schema outside the logical junctors, as the apiserver walks it.
struct Node<'s> {
    /// `.spec.labels.toTags[*]`: `[*]` for array items and map values.
    path: String,
    schema: &'s Value,
    /// How many times the node can occur in one object: the product of the maxItems and
    /// maxProperties above it; None under a list or map without one.
    cardinality: Option<u64>,
    /// Whether an old value can be matched to it on an update (not inside a list other than
    /// `x-kubernetes-list-type: map`), which a rule using `oldSelf` needs.
    correlatable: bool,
}

fn nodes(root: &Value) -> Vec<Node<'_>> {
    fn times(card: Option<u64>, max: Option<u64>) -> Option<u64> {
        Some(card?.saturating_mul(max?))
    }
    fn go<'s>(s: &'s Value, path: String, card: Option<u64>, corr: bool, out: &mut Vec<Node<'s>>) {
        if let Some(p) = props(s) {
            for (k, v) in p {
                go(v, format!("{path}.{k}"), card, corr, out);
            }
        }
        if let Some(items) = s.get("items").filter(|i| i.is_object()) {
            let map_list = str_of(s, "x-kubernetes-list-type") == Some("map");
            let card = times(card, u64_of(s, "maxItems"));
            go(items, format!("{path}[*]"), card, corr && map_list, out);
        }
        if let Some(ap) = additional(s) {
            let card = times(card, u64_of(s, "maxProperties"));
            go(ap, format!("{path}[*]"), card, corr, out);
        }
        out.push(Node {
            path,
            schema: s,
            cardinality: card,
            correlatable: corr,
        });
    }
    let mut out = Vec::new();
    go(root, String::new(), Some(1), true, &mut out);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// One `x-kubernetes-validations` entry, compiled.
struct Rule<'s> {
    path: String,
    schema: &'s Value,
    cardinality: Option<u64>,
    correlatable: bool,
    source: String,
    message: Option<String>,
    program: Program,
    uses_old_self: bool,
}

/// The CEL environment of a CRD rule: the standard library, with Kubernetes' `duration()`.
fn k8s_env() -> Arc<Env> {
    let mut env = Env::stdlib();
    env.add_macro(Macro::global("duration", 1, |helper, _target, args| {
        let arg = args.pop().expect("one argument");
        Ok(Some(helper.next_expr(Expr::Call(CallExpr {
            func_name: GO_DURATION.to_string(),
            target: None,
            args: vec![arg],
        }))))
    }))
    .unwrap();
    env.add_overload(
        GO_DURATION,
        "k8s_string_to_duration",
        vec![STRING_TYPE],
        go_duration_of_string,
    )
    .unwrap();
    env.add_overload(
        GO_DURATION,
        "k8s_duration_to_duration",
        vec![DURATION_TYPE],
        go_duration_of_duration,
    )
    .unwrap();
    Arc::new(env)
}

fn go_duration_of_string<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let text = args[0]
        .downcast_ref::<CelString<'_>>()
        .ok_or_else(|| ExecutionError::function_error("duration", "not a string"))?;
    let nanos = go_parse_duration(text.inner())
        .map_err(|e| ExecutionError::function_error("duration", e))?;
    Ok(CowVal::owned(CelDuration::from(
        chrono::TimeDelta::nanoseconds(nanos),
    )))
}

fn go_duration_of_duration<'b, 'v>(
    mut args: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Ok(args.remove(0))
}

/// Go's time.ParseDuration (what cel-go's `duration(string)` calls), in nanoseconds.
fn go_parse_duration(orig: &str) -> Result<i64, String> {
    const LIMIT: u64 = 1 << 63;
    let bad = || format!("time: invalid duration {orig:?}");
    let mut s = orig;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(bad());
    }
    let mut d: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(bad());
        }
        // leadingInt: [0-9]*
        let mut v: u64 = 0;
        let mut i = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            if v > LIMIT / 10 {
                return Err(bad());
            }
            v = v * 10 + u64::from(b[i] - b'0');
            if v > LIMIT {
                return Err(bad());
            }
            i += 1;
        }
        let pre = i > 0;
        s = &s[i..];
        // leadingFraction: (\.[0-9]*)?, stops gaining precision on overflow
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix('.') {
            let b = rest.as_bytes();
            let mut i = 0;
            let mut overflow = false;
            while i < b.len() && b[i].is_ascii_digit() {
                if !overflow {
                    if f > (LIMIT - 1) / 10 {
                        overflow = true;
                    } else {
                        let y = f * 10 + u64::from(b[i] - b'0');
                        if y > LIMIT {
                            overflow = true;
                        } else {
                            f = y;
                            scale *= 10.0;
                        }
                    }
                }
                i += 1;
            }
            post = i > 0;
            s = &rest[i..];
        }
        if !pre && !post {
            return Err(bad());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {orig:?}"));
        }
        let unit: u64 = match &s[..unit_len] {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3_600 * 1_000_000_000,
            u => return Err(format!("time: unknown unit {u:?} in duration {orig:?}")),
        };
        s = &s[unit_len..];
        if v > LIMIT / unit {
            return Err(bad());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(bad());
            }
        }
        d += v;
        if d > LIMIT {
            return Err(bad());
        }
    }
    if neg {
        return Ok((d as i64).wrapping_neg());
    }
    if d > LIMIT - 1 {
        return Err(bad());
    }
    Ok(d as i64)
}

// ---------------------------------------------------------------------------------------------
// The checker: rules compiled once, and the apiserver's request path.

struct Checker<'s> {
    root: &'s Value,
    env: Arc<Env>,
    rules: Vec<Rule<'s>>,
}

#[derive(Debug)]
struct Failure {
    /// The schema path of the rule.
    rule: String,
    /// Where in the object.
    at: String,
    why: String,
}

/// What the apiserver does with one create (or update) request.
#[derive(Debug, Default)]
struct Admission {
    /// The object after pruning and defaulting, as it would be stored.
    object: Value,
    pruned: Vec<String>,
    schema_errors: Vec<String>,
    failures: Vec<Failure>,
    /// `<where>: <rule path>` of every rule evaluation.
    evaluated: Vec<String>,
}

impl Admission {
    fn accepted(&self) -> bool {
        self.schema_errors.is_empty() && self.failures.is_empty()
    }
    fn refused_by(&self, rule: &str) -> bool {
        self.failures.iter().any(|f| f.rule == rule)
    }
}

impl<'s> Checker<'s> {
    fn new(root: &'s Value) -> Result<Self, String> {
        let env = k8s_env();
        let mut rules = Vec::new();
        let mut errors = Vec::new();
        for node in nodes(root) {
            let Some(list) = node.schema.get("x-kubernetes-validations") else {
                continue;
            };
            for entry in list.as_array().into_iter().flatten() {
                let Some(source) = str_of(entry, "rule") else {
                    errors.push(format!(
                        "{}: a validation without a rule",
                        shown(&node.path)
                    ));
                    continue;
                };
                match env.compile(source) {
                    Ok(program) => rules.push(Rule {
                        path: node.path.clone(),
                        schema: node.schema,
                        cardinality: node.cardinality,
                        correlatable: node.correlatable,
                        source: source.to_string(),
                        message: str_of(entry, "message").map(String::from),
                        uses_old_self: program.references().has_variable("oldSelf"),
                        program,
                    }),
                    Err(e) => errors.push(format!(
                        "{}: {source:?} does not compile: {e}",
                        shown(&node.path)
                    )),
                }
            }
        }
        if errors.is_empty() {
            Ok(Checker { root, env, rules })
        } else {
            Err(errors.join("\n"))
        }
    }

    /// The one rule at `path`.
    fn rule(&self, path: &str) -> &Rule<'s> {
        let found: Vec<_> = self.rules.iter().filter(|r| r.path == path).collect();
        assert_eq!(found.len(), 1, "rules at {path}");
        found[0]
    }

    /// One rule on one value: Ok if it holds, the reason it refuses otherwise. A transition
    /// rule (one using `oldSelf`) holds when there is no old value: it only runs on updates.
    fn eval(&self, rule: &Rule<'_>, value: &Value, old: Option<&Value>) -> Result<(), String> {
        if rule.uses_old_self && old.is_none() {
            return Ok(());
        }
        let resource_root = rule.path.is_empty();
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.add_variable_from_value("self", to_cel(value, rule.schema, resource_root)?);
        if let Some(old) = old.filter(|_| rule.uses_old_self) {
            ctx.add_variable_from_value("oldSelf", to_cel(old, rule.schema, resource_root)?);
        }
        let failed = || {
            rule.message
                .clone()
                .unwrap_or_else(|| format!("failed rule: {}", rule.source))
        };
        match rule.program.execute(&ctx) {
            Ok(cel::Value::Bool(true)) => Ok(()),
            Ok(cel::Value::Bool(false)) => Err(failed()),
            Ok(other) => Err(format!("the rule gave {other:?}, not a bool")),
            Err(e) => Err(format!("{e} evaluating rule: {}", rule.source)),
        }
    }

    /// Every rule at and under `value`, whose schema node is `schema` at `spath`.
    fn run_rules(
        &self,
        value: &Value,
        old: Option<&Value>,
        (schema, spath): (&Value, &str),
        vpath: &str,
        out: &mut Admission,
    ) {
        // Rules validate only non-null values; null is for the surrounding schema's rules.
        if value.is_null() {
            return;
        }
        for rule in self.rules.iter().filter(|r| r.path == spath) {
            if rule.uses_old_self && old.is_none() {
                continue;
            }
            out.evaluated
                .push(format!("{}: {}", shown(vpath), shown(&rule.path)));
            if let Err(why) = self.eval(rule, value, old) {
                out.failures.push(Failure {
                    rule: rule.path.clone(),
                    at: shown(vpath).to_string(),
                    why,
                });
            }
        }
        match value {
            Value::Object(m) => {
                for (k, child) in m {
                    let old = old.and_then(|o| o.get(k));
                    if let Some(ps) = props(schema).and_then(|p| p.get(k)) {
                        let sp = format!("{spath}.{k}");
                        self.run_rules(child, old, (ps, &sp), &format!("{vpath}.{k}"), out);
                    } else if let Some(ap) = additional(schema) {
                        let sp = format!("{spath}[*]");
                        self.run_rules(child, old, (ap, &sp), &format!("{vpath}[{k:?}]"), out);
                    }
                }
            }
            Value::Array(a) => {
                if let Some(items) = schema.get("items") {
                    let sp = format!("{spath}[*]");
                    for (i, child) in a.iter().enumerate() {
                        // items of an atomic or set list have no old value to compare with
                        self.run_rules(child, None, (items, &sp), &format!("{vpath}[{i}]"), out);
                    }
                }
            }
            _ => {}
        }
    }

    /// The request path of a create (`old` None) or update: prune unknown fields, drop the
    /// non-nullable nulls that have no default, default, validate the schema, run the rules.
    fn admit(&self, object: Value, old: Option<&Value>) -> Admission {
        let mut out = Admission {
            object,
            ..Admission::default()
        };
        let mut object = std::mem::take(&mut out.object);
        prune(&mut object, self.root, true, "", &mut out.pruned);
        prune_nulls(&mut object, Some(self.root));
        apply_defaults(&mut object, self.root);
        validate(&object, self.root, "", &mut out.schema_errors);
        self.run_rules(&object, old, (self.root, ""), "", &mut out);
        out.object = object;
        out
    }

    fn admit_spec(&self, spec: Value) -> Admission {
        self.admit(nautobot_sync(spec), None)
    }
}

fn nautobot_sync(spec: Value) -> Value {
    json!({
        "apiVersion": "nbsync.dev/v1alpha1",
        "kind": "NautobotSync",
        "metadata": {"name": "test", "namespace": "nautobot-sync"},
        "spec": spec,
    })
}

/// The smallest spec the schema admits (no placement, no sync: nodes default to true).
fn base_spec() -> Value {
    json!({
        "clusterName": "ocp-1",
        "nautobot": {"url": "https://nautobot.example.com", "tokenSecretRef": {"name": "nautobot-token"}},
    })
}

/// `base_spec` with a Location, so only the field under test decides.
fn spec_with(field: &str, value: Value) -> Value {
    let mut spec = base_spec();
    spec["placement"] = json!({"location": "dc1"});
    let mut at = &mut spec;
    let parts: Vec<&str> = field.split('.').collect();
    for p in &parts[..parts.len() - 1] {
        if at.get(*p).is_none() {
            at[*p] = json!({});
        }
        at = &mut at[*p];
    }
    at[parts[parts.len() - 1]] = value;
    spec
}

// ---------------------------------------------------------------------------------------------
// Pruning, defaulting and schema validation, as apiextensions-apiserver does them.

/// Drops the fields the schema does not know (pkg/apiserver/schema/pruning).
fn prune(v: &mut Value, s: &Value, resource_root: bool, path: &str, pruned: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            let keep_unknown = is_true(s, "x-kubernetes-preserve-unknown-fields")
                || s.get("additionalProperties") == Some(&Value::Bool(true));
            let root = resource_root || is_true(s, "x-kubernetes-embedded-resource");
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                if root && ["apiVersion", "kind", "metadata"].contains(&k.as_str()) {
                    continue;
                }
                let child = format!("{path}.{k}");
                if let Some(ps) = props(s).and_then(|p| p.get(&k)) {
                    prune(m.get_mut(&k).unwrap(), ps, false, &child, pruned);
                } else if let Some(ap) = additional(s) {
                    prune(m.get_mut(&k).unwrap(), ap, false, &child, pruned);
                } else if !keep_unknown {
                    m.remove(&k);
                    pruned.push(child);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for (i, x) in a.iter_mut().enumerate() {
                    prune(x, items, false, &format!("{path}[{i}]"), pruned);
                }
            }
        }
        _ => {}
    }
}

fn field_schema<'s>(s: &'s Value, key: &str) -> Option<&'s Value> {
    props(s).and_then(|p| p.get(key)).or_else(|| additional(s))
}

/// PruneNonNullableNullsWithoutDefaults (pkg/apiserver/schema/defaulting/prunenulls.go).
fn prune_nulls(v: &mut Value, s: Option<&Value>) {
    match v {
        Value::Object(m) => {
            let keys: Vec<String> = m.keys().cloned().collect();
            for k in keys {
                let child = s.and_then(|s| field_schema(s, &k));
                let drop = m[&k].is_null()
                    && child.is_some_and(|c| !nullable(c) && c.get("default").is_none());
                if drop {
                    m.remove(&k);
                } else {
                    prune_nulls(m.get_mut(&k).unwrap(), child);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                prune_nulls(x, s.and_then(|s| s.get("items")));
            }
        }
        _ => {}
    }
}

fn non_nullable_null(x: &Value, s: &Value) -> bool {
    x.is_null() && !nullable(s)
}

/// Default (pkg/apiserver/schema/defaulting/algorithm.go): an absent field, or a null one that
/// is not nullable, gets its default; then everything below is defaulted, defaults included.
fn apply_defaults(v: &mut Value, s: &Value) {
    match v {
        Value::Object(m) => {
            for (k, ps) in props(s).into_iter().flatten() {
                let Some(d) = ps.get("default").filter(|d| !d.is_null()) else {
                    continue;
                };
                if m.get(k).is_none_or(|x| non_nullable_null(x, ps)) {
                    m.insert(k.clone(), d.clone());
                }
            }
            for (k, x) in m.iter_mut() {
                if let Some(ps) = props(s).and_then(|p| p.get(k)) {
                    apply_defaults(x, ps);
                } else if let Some(ap) = additional(s) {
                    if non_nullable_null(x, ap)
                        && let Some(d) = ap.get("default")
                    {
                        *x = d.clone();
                    }
                    apply_defaults(x, ap);
                }
            }
        }
        Value::Array(a) => {
            if let Some(items) = s.get("items") {
                for x in a {
                    if non_nullable_null(x, items)
                        && let Some(d) = items.get("default")
                    {
                        *x = d.clone();
                    }
                    apply_defaults(x, items);
                }
            }
        }
        _ => {}
    }
}

/// The OpenAPI value validation the apiserver runs besides the rules (the keywords this CRD
/// can use; a junctor is reported as not modelled rather than ignored).
fn validate(v: &Value, s: &Value, path: &str, errs: &mut Vec<String>) {
    let at = shown(path);
    if v.is_null() {
        if !nullable(s) {
            errs.push(format!("{at}: must not be null"));
        }
        return;
    }
    for junctor in ["allOf", "anyOf", "oneOf", "not"] {
        if s.get(junctor).is_some() {
            errs.push(format!("{at}: {junctor} is not modelled by this test"));
        }
    }
    if is_true(s, "x-kubernetes-int-or-string") {
        if !(v.is_i64() || v.is_u64() || v.is_string()) {
            errs.push(format!("{at}: must be an integer or a string"));
        }
        return;
    }
    let ty = str_of(s, "type");
    let type_ok = match ty {
        None => true,
        Some("object") => v.is_object(),
        Some("array") => v.is_array(),
        Some("string") => v.is_string(),
        Some("integer") => v.is_i64() || v.is_u64(),
        Some("number") => v.is_number(),
        Some("boolean") => v.is_boolean(),
        Some(_) => false,
    };
    if !type_ok {
        errs.push(format!("{at}: must be of type {}", ty.unwrap_or("?")));
        return;
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        errs.push(format!("{at}: {v} is not one of {e:?}"));
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if u64_of(s, "minLength").is_some_and(|m| n < m) {
            errs.push(format!("{at}: shorter than minLength"));
        }
        if u64_of(s, "maxLength").is_some_and(|m| n > m) {
            errs.push(format!("{at}: longer than maxLength"));
        }
        if let Some(p) = str_of(s, "pattern") {
            match regex::Regex::new(p) {
                Ok(re) if re.is_match(text) => {}
                Ok(_) => errs.push(format!("{at}: {text:?} does not match {p:?}")),
                Err(e) => errs.push(format!("{at}: pattern {p:?} does not compile: {e}")),
            }
        }
    }
    if let Some(x) = v.as_f64().filter(|_| v.is_number()) {
        let bound = |k: &str| s.get(k).and_then(Value::as_f64);
        let exclusive = |k: &str| is_true(s, k);
        if let Some(m) = bound("minimum")
            && (x < m || (exclusive("exclusiveMinimum") && x == m))
        {
            errs.push(format!("{at}: {x} is below the minimum {m}"));
        }
        if let Some(m) = bound("maximum")
            && (x > m || (exclusive("exclusiveMaximum") && x == m))
        {
            errs.push(format!("{at}: {x} is above the maximum {m}"));
        }
        if let Some(m) = bound("multipleOf")
            && (x / m).fract() != 0.0
        {
            errs.push(format!("{at}: {x} is not a multiple of {m}"));
        }
    }
    if let Some(a) = v.as_array() {
        let n = a.len() as u64;
        if u64_of(s, "minItems").is_some_and(|m| n < m) {
            errs.push(format!("{at}: fewer items than minItems"));
        }
        if u64_of(s, "maxItems").is_some_and(|m| n > m) {
            errs.push(format!("{at}: more items than maxItems"));
        }
        if let Some(items) = s.get("items") {
            for (i, x) in a.iter().enumerate() {
                validate(x, items, &format!("{path}[{i}]"), errs);
            }
        }
    }
    if let Some(m) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap_or_default();
            if !m.contains_key(r) {
                errs.push(format!("{at}: {r} is required"));
            }
        }
        let n = m.len() as u64;
        if u64_of(s, "minProperties").is_some_and(|x| n < x) {
            errs.push(format!("{at}: fewer properties than minProperties"));
        }
        if u64_of(s, "maxProperties").is_some_and(|x| n > x) {
            errs.push(format!("{at}: more properties than maxProperties"));
        }
        for (k, x) in m {
            if let Some(ps) = props(s).and_then(|p| p.get(k)) {
                validate(x, ps, &format!("{path}.{k}"), errs);
            } else if let Some(ap) = additional(s) {
                validate(x, ap, &format!("{path}[{k:?}]"), errs);
            } else if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                errs.push(format!("{at}: unknown field {k}"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Values as the rules see them (k8s.io/apiserver pkg/cel/common, UnstructuredToVal).

/// A property name as CEL spells it (k8s.io/apiserver pkg/cel/escaping.go); None where it
/// cannot be spelt and so is not accessible.
fn escape(name: &str) -> Option<String> {
    #[rustfmt::skip]
    const RESERVED: [&str; 21] = [
        "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
        "function", "if", "import", "let", "loop", "package", "namespace", "return", "var", "void",
        "while",
    ];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut out = String::new();
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("__") {
            out.push_str("__underscores__");
            rest = r;
            continue;
        }
        match c {
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => out.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(out)
}

fn to_cel(v: &Value, s: &Value, resource_root: bool) -> Result<cel::Value, String> {
    if v.is_null() {
        return if nullable(s) {
            Ok(cel::Value::Null)
        } else {
            Err("invalid data, got null for schema with nullable=false".into())
        };
    }
    if is_true(s, "x-kubernetes-int-or-string") {
        return match v {
            Value::String(t) => Ok(t.as_str().into()),
            Value::Number(n) if n.is_i64() => Ok(cel::Value::Int(n.as_i64().unwrap())),
            _ => Err("expected an integer or a string".into()),
        };
    }
    let wrong = |want: &str| format!("invalid data, expected {want}, got {v}");
    match str_of(s, "type") {
        Some("object") => {
            let m = v.as_object().ok_or_else(|| wrong("an object"))?;
            let mut out: HashMap<String, cel::Value> = HashMap::new();
            let root = resource_root || is_true(s, "x-kubernetes-embedded-resource");
            if let Some(p) = props(s) {
                for (k, x) in m {
                    // null fields of an object are absent fields
                    if x.is_null() {
                        continue;
                    }
                    if let (Some(ps), Some(name)) = (p.get(k), escape(k)) {
                        let embedded = is_true(ps, "x-kubernetes-embedded-resource");
                        out.insert(name, to_cel(x, ps, embedded)?);
                    }
                }
            } else if let Some(ap) = additional(s) {
                for (k, x) in m {
                    out.insert(k.clone(), to_cel(x, ap, false)?);
                }
            } else if !is_true(s, "x-kubernetes-preserve-unknown-fields") {
                return Err("an object with neither properties nor additionalProperties".into());
            }
            if root {
                // apiVersion, kind, metadata.name and metadata.generateName are always visible
                for k in ["apiVersion", "kind"] {
                    if let Some(x) = m.get(k).and_then(Value::as_str) {
                        out.insert(k.into(), x.into());
                    }
                }
                let mut meta: HashMap<String, cel::Value> = HashMap::new();
                for k in ["name", "generateName"] {
                    if let Some(x) = m.get("metadata").and_then(|md| str_of(md, k)) {
                        meta.insert(k.into(), x.into());
                    }
                }
                out.insert("metadata".into(), meta.into());
            }
            Ok(out.into())
        }
        Some("array") => {
            let a = v.as_array().ok_or_else(|| wrong("an array"))?;
            let items = s.get("items").ok_or("an array without items")?;
            let list = a
                .iter()
                .map(|x| to_cel(x, items, is_true(items, "x-kubernetes-embedded-resource")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(cel::Value::List(Arc::new(list)))
        }
        Some("string") => {
            let text = v.as_str().ok_or_else(|| wrong("a string"))?;
            match str_of(s, "format") {
                Some("date-time" | "datetime") => chrono::DateTime::parse_from_rfc3339(text)
                    .map(cel::Value::Timestamp)
                    .map_err(|e| format!("Invalid date-time formatted string {text}: {e}")),
                Some(f @ ("duration" | "date" | "byte")) => Err(format!(
                    "a string of format {f} is not modelled by this test (Kubernetes gives CEL \
                     a duration, timestamp or bytes value)"
                )),
                _ => Ok(text.into()),
            }
        }
        Some("integer") => v
            .as_i64()
            .map(cel::Value::Int)
            .ok_or_else(|| wrong("an integer")),
        Some("number") => v
            .as_f64()
            .map(cel::Value::Float)
            .ok_or_else(|| wrong("a number")),
        Some("boolean") => v
            .as_bool()
            .map(cel::Value::Bool)
            .ok_or_else(|| wrong("a boolean")),
        _ => Err(
            "a value without a type (x-kubernetes-preserve-unknown-fields) is not modelled \
                  by this test"
                .into(),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Type check and cost estimate, as the apiserver compiles a rule (cel-go checker/cost.go).

/// The CEL type of a value the schema declares (k8s.io/apiserver pkg/cel/common/schemas.go).
#[derive(Clone, Debug)]
enum Ty<'s> {
    Bool,
    Int,
    Uint,
    Double,
    Null,
    Duration,
    Timestamp,
    /// the largest length, None without maxLength
    Str(Option<u64>),
    Bytes(Option<u64>),
    List(Box<Ty<'s>>, Option<u64>),
    Map(Box<Ty<'s>>, Option<u64>),
    Object(&'s Value),
    Dyn,
}

impl Ty<'_> {
    fn name(&self) -> &'static str {
        match self {
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Uint => "uint",
            Ty::Double => "double",
            Ty::Null => "null_type",
            Ty::Duration => "duration",
            Ty::Timestamp => "timestamp",
            Ty::Str(_) => "string",
            Ty::Bytes(_) => "bytes",
            Ty::List(..) => "list",
            Ty::Map(..) => "map",
            Ty::Object(_) => "object",
            Ty::Dyn => "dyn",
        }
    }
    fn numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }
}

fn ty_of(s: &Value) -> Ty<'_> {
    if is_true(s, "x-kubernetes-int-or-string") {
        return Ty::Dyn;
    }
    match str_of(s, "type") {
        Some("string") => match str_of(s, "format") {
            Some("date-time" | "datetime" | "date") => Ty::Timestamp,
            Some("duration") => Ty::Duration,
            Some("byte") => Ty::Bytes(u64_of(s, "maxLength")),
            _ => Ty::Str(u64_of(s, "maxLength")),
        },
        Some("integer") => Ty::Int,
        Some("number") => Ty::Double,
        Some("boolean") => Ty::Bool,
        Some("array") => match s.get("items") {
            Some(items) => Ty::List(Box::new(ty_of(items)), u64_of(s, "maxItems")),
            None => Ty::Dyn,
        },
        Some("object") => match (props(s), additional(s)) {
            (None, Some(ap)) => Ty::Map(Box::new(ty_of(ap)), u64_of(s, "maxProperties")),
            _ => Ty::Object(s),
        },
        _ => Ty::Dyn,
    }
}

/// A checked subexpression: its type, its largest estimated cost, and how to name it.
struct Typed<'s> {
    ty: Ty<'s>,
    cost: u64,
    what: String,
}

/// cel-go's multiplyByCostFactor: the cost of traversing `size` units at `factor` a unit.
fn factor(size: u64, factor: f64) -> u64 {
    (size as f64 * factor).ceil() as u64
}

struct Estimator<'a, 's> {
    rule: &'a Rule<'s>,
    /// comprehension variables, innermost last
    scopes: Vec<(String, Ty<'s>)>,
    errors: Vec<String>,
    /// values without a bound that the rule only uses at a constant cost
    notes: Vec<String>,
}

/// What the apiserver's compiler says of one rule.
struct Report {
    cost: u64,
    cardinality: u64,
    notes: Vec<String>,
}

impl<'s> Estimator<'_, 's> {
    fn err(&mut self, msg: String) -> Typed<'s> {
        self.errors.push(msg);
        Typed {
            ty: Ty::Dyn,
            cost: 0,
            what: "?".into(),
        }
    }

    /// The largest size of a string, bytes, list or map, for an operation whose cost grows
    /// with it; `why` names the operation.
    fn size(&mut self, t: &Typed<'s>, why: &str) -> u64 {
        let (max, keyword) = match &t.ty {
            Ty::Str(m) | Ty::Bytes(m) => (*m, "maxLength"),
            Ty::List(_, m) => (*m, "maxItems"),
            Ty::Map(_, m) => (*m, "maxProperties"),
            _ => return 1,
        };
        max.unwrap_or_else(|| {
            self.errors.push(format!(
                "{}: {} has no {keyword}, and {why} costs in proportion to its size: add \
                 {keyword} (the apiserver assumes {MAX_REQUEST_SIZE_BYTES} bytes)",
                shown(&self.rule.path),
                t.what
            ));
            MAX_REQUEST_SIZE_BYTES
        })
    }

    fn bounded(t: &Typed<'_>) -> Option<u64> {
        match &t.ty {
            Ty::Str(m) | Ty::Bytes(m) | Ty::List(_, m) | Ty::Map(_, m) => *m,
            _ => Some(1),
        }
    }

    fn expect(&mut self, t: &Typed<'s>, want: &str, ok: bool) {
        if !ok && !matches!(t.ty, Ty::Dyn) {
            self.errors.push(format!(
                "{}: {} is a {}, not {want}",
                shown(&self.rule.path),
                t.what,
                t.ty.name()
            ));
        }
    }

    fn comparable(&mut self, op: &str, a: &Typed<'s>, b: &Typed<'s>) {
        let ok = matches!(a.ty, Ty::Dyn)
            || matches!(b.ty, Ty::Dyn)
            || (a.ty.numeric() && b.ty.numeric())
            || a.ty.name() == b.ty.name();
        if !ok {
            self.errors.push(format!(
                "{}: found no matching overload for '{op}' applied to '({}, {})'",
                shown(&self.rule.path),
                a.ty.name(),
                b.ty.name()
            ));
        }
    }

    fn field(&mut self, operand: &Typed<'s>, field: &str) -> Result<Ty<'s>, String> {
        match &operand.ty {
            Ty::Object(s) => props(s)
                .into_iter()
                .flatten()
                .find(|(k, _)| escape(k).as_deref() == Some(field))
                .map(|(_, ps)| ty_of(ps))
                .ok_or_else(|| format!("undefined field '{field}' of {}", operand.what)),
            Ty::Map(v, _) => Ok((**v).clone()),
            Ty::Dyn => Ok(Ty::Dyn),
            other => Err(format!(
                "{} is a {}, which has no field '{field}'",
                operand.what,
                other.name()
            )),
        }
    }

    fn expr(&mut self, e: &IdedExpr) -> Typed<'s> {
        let path = shown(&self.rule.path).to_string();
        match &e.expr {
            Expr::Literal(l) => {
                let (ty, what) = match l {
                    LiteralValue::Boolean(b) => (Ty::Bool, format!("{b:?}")),
                    LiteralValue::Int(i) => (Ty::Int, format!("{i:?}")),
                    LiteralValue::UInt(u) => (Ty::Uint, format!("{u:?}")),
                    LiteralValue::Double(d) => (Ty::Double, format!("{d:?}")),
                    LiteralValue::Null => (Ty::Null, "null".into()),
                    LiteralValue::String(s) => (
                        Ty::Str(Some(s.inner().chars().count() as u64)),
                        format!("{:?}", s.inner()),
                    ),
                    LiteralValue::Bytes(b) => {
                        (Ty::Bytes(Some(b.inner().len() as u64)), "b'...'".into())
                    }
                };
                Typed { ty, cost: 0, what }
            }
            Expr::Ident(name) => {
                let ty = if let Some((_, t)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
                    t.clone()
                } else if name == "self" {
                    ty_of(self.rule.schema)
                } else if name == "oldSelf" {
                    if !self.rule.correlatable {
                        return self.err(format!(
                            "{path}: oldSelf cannot be used on the uncorrelatable portion of the \
                             schema (inside a list that is not x-kubernetes-list-type: map)"
                        ));
                    }
                    ty_of(self.rule.schema)
                } else {
                    return self.err(format!("{path}: undeclared reference to '{name}'"));
                };
                Typed {
                    ty,
                    cost: 1,
                    what: name.clone(),
                }
            }
            Expr::Select(sel) => {
                let operand = self.expr(&sel.operand);
                let what = format!("{}.{}", operand.what, sel.field);
                match self.field(&operand, &sel.field) {
                    Err(msg) => self.err(format!("{path}: {msg}")),
                    // has(): the presence test costs nothing in Kubernetes
                    Ok(_) if sel.test => Typed {
                        ty: Ty::Bool,
                        cost: operand.cost,
                        what: format!("has({what})"),
                    },
                    Ok(ty) => Typed {
                        ty,
                        cost: operand.cost + 1,
                        what,
                    },
                }
            }
            Expr::Call(call) => self.call(call),
            Expr::List(list) => {
                let elems: Vec<Typed<'s>> = list.elements.iter().map(|x| self.expr(x)).collect();
                let first = elems.first().map_or(Ty::Dyn, |t| t.ty.clone());
                if elems.iter().any(|t| t.ty.name() != first.name()) {
                    self.errors.push(format!(
                        "{path}: a list literal mixes types (Kubernetes requires homogeneous \
                         aggregate literals)"
                    ));
                }
                Typed {
                    ty: Ty::List(Box::new(first), Some(elems.len() as u64)),
                    cost: 10 + elems.iter().map(|t| t.cost).sum::<u64>(),
                    what: "[...]".into(),
                }
            }
            Expr::Map(map) => {
                let mut cost = 30;
                let mut val = Ty::Dyn;
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(me) = &entry.expr {
                        cost += self.expr(&me.key).cost;
                        let v = self.expr(&me.value);
                        cost += v.cost;
                        val = v.ty;
                    }
                }
                Typed {
                    ty: Ty::Map(Box::new(val), Some(map.entries.len() as u64)),
                    cost,
                    what: "{...}".into(),
                }
            }
            Expr::Comprehension(c) => {
                let range = self.expr(&c.iter_range);
                let (var_ty, var2_ty) = match &range.ty {
                    Ty::List(t, _) => (Ty::Int, (**t).clone()),
                    Ty::Map(t, _) => (Ty::Str(None), (**t).clone()),
                    Ty::Dyn => (Ty::Dyn, Ty::Dyn),
                    other => {
                        let msg = format!("{path}: cannot iterate over a {}", other.name());
                        return self.err(msg);
                    }
                };
                let n = self.size(&range, "iterating over it");
                let init = self.expr(&c.accu_init);
                self.scopes.push((c.accu_var.clone(), init.ty.clone()));
                match &c.iter_var2 {
                    Some(v2) => {
                        self.scopes.push((c.iter_var.clone(), var_ty));
                        self.scopes.push((v2.clone(), var2_ty));
                    }
                    None => {
                        let single = if matches!(range.ty, Ty::List(..)) {
                            var2_ty
                        } else {
                            var_ty
                        };
                        self.scopes.push((c.iter_var.clone(), single));
                    }
                }
                let cond = self.expr(&c.loop_cond);
                let step = self.expr(&c.loop_step);
                self.scopes.pop();
                if c.iter_var2.is_some() {
                    self.scopes.pop();
                }
                let result = self.expr(&c.result);
                self.scopes.pop();
                Typed {
                    ty: result.ty,
                    cost: range.cost
                        + init.cost
                        + result.cost
                        + n.saturating_mul(cond.cost + step.cost),
                    what: format!("a comprehension over {}", range.what),
                }
            }
            Expr::Struct(_) | Expr::Unspecified => {
                self.err(format!("{path}: an expression this test does not model"))
            }
        }
    }

    fn call(&mut self, call: &CallExpr) -> Typed<'s> {
        use operators as op;
        let path = shown(&self.rule.path).to_string();
        let target = call.target.as_ref().map(|t| self.expr(t));
        let args: Vec<Typed<'s>> = call.args.iter().map(|a| self.expr(a)).collect();
        let arg_cost =
            args.iter().map(|a| a.cost).sum::<u64>() + target.as_ref().map_or(0, |t| t.cost);
        let name = call.func_name.as_str();
        let what = format!("{name}(...)");
        let typed = |ty: Ty<'s>, cost: u64| Typed {
            ty,
            cost,
            what: what.clone(),
        };
        match (name, &target, args.as_slice()) {
            (op::LOGICAL_AND | op::LOGICAL_OR, None, [a, b]) => {
                self.expect(a, "a bool", matches!(a.ty, Ty::Bool));
                self.expect(b, "a bool", matches!(b.ty, Ty::Bool));
                typed(Ty::Bool, arg_cost)
            }
            (op::LOGICAL_NOT | op::NOT_STRICTLY_FALSE, None, [a]) => {
                self.expect(a, "a bool", matches!(a.ty, Ty::Bool));
                typed(Ty::Bool, 1 + arg_cost)
            }
            (op::CONDITIONAL, None, [c, t, f]) => {
                self.expect(c, "a bool", matches!(c.ty, Ty::Bool));
                self.comparable("_?_:_", t, f);
                typed(t.ty.clone(), c.cost + t.cost.max(f.cost))
            }
            (
                op::EQUALS
                | op::NOT_EQUALS
                | op::LESS
                | op::LESS_EQUALS
                | op::GREATER
                | op::GREATER_EQUALS,
                None,
                [a, b],
            ) => {
                self.comparable(name, a, b);
                let ordered = name != op::EQUALS && name != op::NOT_EQUALS;
                if ordered {
                    let ok = |t: &Ty<'_>| {
                        t.numeric()
                            || matches!(
                                t,
                                Ty::Str(_)
                                    | Ty::Bytes(_)
                                    | Ty::Bool
                                    | Ty::Duration
                                    | Ty::Timestamp
                                    | Ty::Dyn
                            )
                    };
                    self.expect(a, "an ordered type", ok(&a.ty));
                }
                let sized = |t: &Ty<'_>| matches!(t, Ty::Str(_) | Ty::Bytes(_));
                let cost = if !ordered || sized(&a.ty) || sized(&b.ty) {
                    // as long as the shorter side: one unbounded side compared with a
                    // literal costs little
                    let smaller = match (Self::bounded(a), Self::bounded(b)) {
                        (Some(x), Some(y)) => x.min(y),
                        (Some(x), None) | (None, Some(x)) => x,
                        (None, None) => self.size(a, "comparing it"),
                    };
                    factor(smaller, 0.1)
                } else {
                    1
                };
                typed(Ty::Bool, cost + arg_cost)
            }
            (op::IN, None, [_, coll]) => {
                self.expect(
                    coll,
                    "a list or map",
                    matches!(coll.ty, Ty::List(..) | Ty::Map(..)),
                );
                let n = self.size(coll, "searching it");
                typed(Ty::Bool, n + arg_cost)
            }
            (op::ADD, None, [a, b]) => match (&a.ty, &b.ty) {
                (Ty::Str(_), Ty::Str(_)) | (Ty::Bytes(_), Ty::Bytes(_)) => {
                    let n = self.size(a, "concatenating it") + self.size(b, "concatenating it");
                    let ty = if matches!(a.ty, Ty::Str(_)) {
                        Ty::Str(Some(n))
                    } else {
                        Ty::Bytes(Some(n))
                    };
                    typed(ty, factor(n, 0.1) + arg_cost)
                }
                (Ty::List(t, x), Ty::List(_, y)) => {
                    let n = x.zip(*y).map(|(x, y)| x + y);
                    typed(Ty::List(t.clone(), n), 1 + arg_cost)
                }
                (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) => {
                    typed(Ty::Timestamp, 1 + arg_cost)
                }
                (x, y) if x.name() == y.name() && (x.numeric() || matches!(x, Ty::Duration)) => {
                    typed(x.clone(), 1 + arg_cost)
                }
                _ => self.err(format!(
                    "{path}: no '+' for {} and {}",
                    a.ty.name(),
                    b.ty.name()
                )),
            },
            (op::SUBSTRACT, None, [a, b]) => match (&a.ty, &b.ty) {
                (Ty::Timestamp, Ty::Timestamp) => typed(Ty::Duration, 1 + arg_cost),
                (Ty::Timestamp, Ty::Duration) => typed(Ty::Timestamp, 1 + arg_cost),
                (x, y) if x.name() == y.name() && (x.numeric() || matches!(x, Ty::Duration)) => {
                    typed(x.clone(), 1 + arg_cost)
                }
                _ => self.err(format!(
                    "{path}: no '-' for {} and {}",
                    a.ty.name(),
                    b.ty.name()
                )),
            },
            (op::MULTIPLY | op::DIVIDE | op::MODULO, None, [a, b]) => {
                self.comparable(name, a, b);
                self.expect(a, "a number", a.ty.numeric());
                typed(a.ty.clone(), 1 + arg_cost)
            }
            (op::NEGATE, None, [a]) => {
                self.expect(
                    a,
                    "a number or duration",
                    a.ty.numeric() || matches!(a.ty, Ty::Duration),
                );
                typed(a.ty.clone(), 1 + arg_cost)
            }
            (op::INDEX, None, [coll, _]) => match &coll.ty {
                Ty::List(t, _) | Ty::Map(t, _) => typed((**t).clone(), 1 + arg_cost),
                Ty::Dyn => typed(Ty::Dyn, 1 + arg_cost),
                other => self.err(format!("{path}: cannot index a {}", other.name())),
            },
            ("size", None, [x]) | ("size", Some(x), []) => {
                let ok = matches!(x.ty, Ty::Str(_) | Ty::Bytes(_) | Ty::List(..) | Ty::Map(..));
                self.expect(x, "a string, bytes, list or map", ok);
                typed(Ty::Int, 1 + arg_cost)
            }
            ("matches", Some(t), [re]) => {
                self.expect(t, "a string", matches!(t.ty, Ty::Str(_)));
                if let Some(IdedExpr {
                    expr: Expr::Literal(LiteralValue::String(p)),
                    ..
                }) = call.args.first()
                    && let Err(e) = regex::Regex::new(p.inner())
                {
                    self.errors
                        .push(format!("{path}: invalid regex literal: {e}"));
                }
                let text = factor(self.size(t, "matching it") + 1, 0.1);
                let pattern = factor(self.size(re, "matching with it"), 0.25);
                typed(Ty::Bool, text.saturating_mul(pattern) + arg_cost)
            }
            ("startsWith" | "endsWith", Some(t), [p]) => {
                self.expect(t, "a string", matches!(t.ty, Ty::Str(_)));
                let n = self.size(p, "looking for it");
                typed(Ty::Bool, factor(n, 0.1) + arg_cost)
            }
            ("contains", Some(t), [p]) => {
                self.expect(t, "a string", matches!(t.ty, Ty::Str(_)));
                let n = factor(self.size(t, "searching it"), 0.1);
                let m = factor(self.size(p, "looking for it"), 0.1);
                typed(Ty::Bool, n.saturating_mul(m) + arg_cost)
            }
            (GO_DURATION, None, [x]) => {
                self.expect(
                    x,
                    "a string or duration",
                    matches!(x.ty, Ty::Str(_) | Ty::Duration),
                );
                // cel.ValidateDurationLiterals (Kubernetes 1.29+)
                if let Some(IdedExpr {
                    expr: Expr::Literal(LiteralValue::String(lit)),
                    ..
                }) = call.args.first()
                    && let Err(e) = go_parse_duration(lit.inner())
                {
                    self.errors
                        .push(format!("{path}: invalid duration literal: {e}"));
                }
                if matches!(x.ty, Ty::Str(None)) {
                    self.notes.push(format!(
                        "duration({}) parses a string without maxLength, at a constant \
                         estimated cost",
                        x.what
                    ));
                }
                Typed {
                    ty: Ty::Duration,
                    cost: 1 + arg_cost,
                    what: format!("duration({})", x.what),
                }
            }
            ("int" | "uint" | "double" | "string" | "bool", None, [_]) => {
                let ty = match name {
                    "int" => Ty::Int,
                    "uint" => Ty::Uint,
                    "double" => Ty::Double,
                    "bool" => Ty::Bool,
                    _ => Ty::Str(None),
                };
                typed(ty, 1 + arg_cost)
            }
            _ => self.err(format!(
                "{path}: `{name}` (with {} arguments{}) is not modelled by this test: add its \
                 Kubernetes semantics and cost to Estimator::call, and to k8s_env() what the cel \
                 crate lacks of it",
                args.len(),
                if target.is_some() {
                    ", on a target"
                } else {
                    ""
                }
            )),
        }
    }
}

impl Checker<'_> {
    /// Type-checks a rule against the schema and estimates its cost, as the apiserver does
    /// when the CRD is written.
    fn analyse(&self, rule: &Rule<'_>) -> Result<Report, Vec<String>> {
        let mut est = Estimator {
            rule,
            scopes: Vec::new(),
            errors: Vec::new(),
            notes: Vec::new(),
        };
        let result = est.expr(rule.program.expression());
        est.expect(
            &result,
            "a bool (a rule must evaluate to a bool)",
            matches!(result.ty, Ty::Bool),
        );
        let path = shown(&rule.path);
        let cardinality = rule.cardinality.unwrap_or_else(|| {
            est.errors.push(format!(
                "{path}: the rule lies under a list or map without maxItems or maxProperties, \
                 so it can run without bound: add them"
            ));
            MAX_REQUEST_SIZE_BYTES
        });
        if result.cost > PER_CALL_LIMIT {
            est.errors.push(format!(
                "{path}: estimated cost {} of one evaluation exceeds {PER_CALL_LIMIT}",
                result.cost
            ));
        }
        if result.cost.saturating_mul(cardinality) > STATIC_ESTIMATED_COST_LIMIT {
            est.errors.push(format!(
                "{path}: estimated rule cost {} x {cardinality} exceeds {STATIC_ESTIMATED_COST_LIMIT}",
                result.cost
            ));
        }
        est.notes.sort();
        est.notes.dedup();
        if est.errors.is_empty() {
            Ok(Report {
                cost: result.cost,
                cardinality,
                notes: est.notes,
            })
        } else {
            Err(est.errors)
        }
    }

    fn analyse_all(&self) -> Result<Vec<(String, Report)>, String> {
        let mut reports = Vec::new();
        let mut errors = Vec::new();
        for rule in &self.rules {
            match self.analyse(rule) {
                Ok(r) => reports.push((rule.path.clone(), r)),
                Err(e) => errors.extend(e),
            }
        }
        let total: u64 = reports
            .iter()
            .map(|(_, r)| r.cost.saturating_mul(r.cardinality))
            .sum();
        if total > STATIC_ESTIMATED_CRD_COST_LIMIT {
            errors.push(format!(
                "the estimated cost of all rules, {total}, exceeds {STATIC_ESTIMATED_CRD_COST_LIMIT}"
            ));
        }
        if errors.is_empty() {
            Ok(reports)
        } else {
            Err(errors.join("\n"))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What each rule must do. Each check returns every case that went wrong, so a broken rule
// (see `broken_rules_are_caught`) fails it.

/// A case of one rule: the value at the rule's node, and whether it must hold.
fn rule_cases(
    c: &Checker<'_>,
    path: &str,
    pass: &[&str],
    refuse: &[&str],
    problems: &mut Vec<String>,
) {
    let rule = c.rule(path);
    for (values, want) in [(pass, true), (refuse, false)] {
        for v in values {
            let got = c.eval(rule, &json!(v), None);
            if got.is_ok() != want {
                problems.push(format!(
                    "{path} on {v:?}: expected {}, got {got:?}",
                    if want { "to pass" } else { "a refusal" }
                ));
            }
        }
    }
}

enum Expect {
    Accepted,
    RefusedBy(&'static str),
    /// refused by the schema (pattern, minLength...), every rule holding
    SchemaOnly,
}

fn admission_case(
    c: &Checker<'_>,
    what: &str,
    spec: Value,
    expect: Expect,
    problems: &mut Vec<String>,
) -> Admission {
    let a = c.admit_spec(spec);
    let ok = match expect {
        Expect::Accepted => a.accepted(),
        Expect::RefusedBy(rule) => a.refused_by(rule),
        Expect::SchemaOnly => !a.schema_errors.is_empty() && a.failures.is_empty(),
    };
    if !ok {
        problems.push(format!(
            "{what}: schema errors {:?}, rule failures {:?}",
            a.schema_errors, a.failures
        ));
    }
    a
}

fn result(problems: Vec<String>) -> Result<(), String> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

const FULL_RESYNC: &str = ".spec.fullResyncInterval";
const GRACE_PERIOD: &str = ".spec.deletion.gracePeriod";
const LOCATION: &str = ".spec";

fn check_full_resync_interval(c: &Checker<'_>) -> Result<(), String> {
    let mut problems = Vec::new();
    #[rustfmt::skip]
    let pass = [
        "1m", "60s", "60000ms", "1m0s", "0.5h", "1h", "1h30m", "1.5h", "2h45m30.5s", "167h59m59s",
        "168h", "168h0m0s", "10080m", "604800s", "1m0.000000001s",
        // Go drops what is below a nanosecond: exactly 168h
        "168h0.0000000001s",
    ];
    #[rustfmt::skip]
    let refuse = [
        "59s", "59.999999999s", "59999ms", "0s", "0", "1ms", "-1h", "169h", "168h1ms",
        "168h0.000000001s", "10081m", "604801s",
        // not Go durations: evaluation errors (the cel crate's own parser reads 10h and 1h)
        "", "1e1h", "1h30", "1h ", "7d", "2562048h", "99999999999999999999h",
    ];
    rule_cases(c, FULL_RESYNC, &pass, &refuse, &mut problems);
    let a = admission_case(
        c,
        "fullResyncInterval absent",
        spec_with("clusterName", json!("ocp-1")),
        Expect::Accepted,
        &mut problems,
    );
    if a.object["spec"]["fullResyncInterval"] != json!("1h")
        || !a.evaluated.iter().any(|e| e.ends_with(FULL_RESYNC))
    {
        problems.push(format!("the rule must run on the default 1h: {a:?}"));
    }
    admission_case(
        c,
        "fullResyncInterval null (defaulted)",
        spec_with("fullResyncInterval", Value::Null),
        Expect::Accepted,
        &mut problems,
    );
    admission_case(
        c,
        "fullResyncInterval 59s",
        spec_with("fullResyncInterval", json!("59s")),
        Expect::RefusedBy(FULL_RESYNC),
        &mut problems,
    );
    admission_case(
        c,
        "fullResyncInterval 169h",
        spec_with("fullResyncInterval", json!("169h")),
        Expect::RefusedBy(FULL_RESYNC),
        &mut problems,
    );
    // Go reads .5h as 30m: only the pattern refuses it
    admission_case(
        c,
        "fullResyncInterval .5h",
        spec_with("fullResyncInterval", json!(".5h")),
        Expect::SchemaOnly,
        &mut problems,
    );
    result(problems)
}

fn check_grace_period(c: &Checker<'_>) -> Result<(), String> {
    let mut problems = Vec::new();
    #[rustfmt::skip]
    let pass = [
        "0s", "0", "0ms", "1ns", "1s", "24h", "720h", "8760h", "8759h59m59.999999999s", "525600m",
        "31536000s", "365.25h",
    ];
    #[rustfmt::skip]
    let refuse = [
        "8761h", "8760h1ms", "8760h0.000000001s", "525601m", "31536001s", "-1s", "-1ns", "", "1y",
        "1e3h", "24h junk",
    ];
    rule_cases(c, GRACE_PERIOD, &pass, &refuse, &mut problems);
    for (what, spec) in [
        ("deletion absent", spec_with("clusterName", json!("ocp-1"))),
        ("deletion {}", spec_with("deletion", json!({}))),
        (
            "gracePeriod null",
            spec_with("deletion.gracePeriod", Value::Null),
        ),
    ] {
        let a = admission_case(c, what, spec, Expect::Accepted, &mut problems);
        if a.object["spec"]["deletion"]["gracePeriod"] != json!("24h")
            || !a.evaluated.iter().any(|e| e.ends_with(GRACE_PERIOD))
        {
            problems.push(format!(
                "{what}: the rule must run on the default 24h: {a:?}"
            ));
        }
    }
    admission_case(
        c,
        "gracePeriod 8761h",
        spec_with("deletion.gracePeriod", json!("8761h")),
        Expect::RefusedBy(GRACE_PERIOD),
        &mut problems,
    );
    admission_case(
        c,
        "gracePeriod 0s",
        spec_with("deletion.gracePeriod", json!("0s")),
        Expect::Accepted,
        &mut problems,
    );
    result(problems)
}

fn check_location(c: &Checker<'_>) -> Result<(), String> {
    let mut problems = Vec::new();
    let with = |sync: Option<Value>, placement: Option<Value>| {
        let mut spec = base_spec();
        if let Some(s) = sync {
            spec["sync"] = s;
        }
        if let Some(p) = placement {
            spec["placement"] = p;
        }
        spec
    };
    use Expect::{Accepted, RefusedBy};
    let cases = [
        // sync.nodes defaults to true: the smallest spec needs a Location
        (
            "no sync, no placement",
            with(None, None),
            RefusedBy(LOCATION),
        ),
        (
            "no sync, a location",
            with(None, Some(json!({"location": "dc1"}))),
            Accepted,
        ),
        (
            "sync {} (nodes defaulted)",
            with(Some(json!({})), None),
            RefusedBy(LOCATION),
        ),
        (
            "sync null (defaulted)",
            with(Some(Value::Null), None),
            RefusedBy(LOCATION),
        ),
        (
            "nodes null (defaulted)",
            with(Some(json!({"nodes": null})), Some(json!({}))),
            RefusedBy(LOCATION),
        ),
        (
            "nodes true, placement {}",
            with(Some(json!({"nodes": true})), Some(json!({}))),
            RefusedBy(LOCATION),
        ),
        // a null field is an absent one: has() is false
        (
            "nodes true, location null",
            with(
                Some(json!({"nodes": true})),
                Some(json!({"location": null})),
            ),
            RefusedBy(LOCATION),
        ),
        (
            "nodes true, location ''",
            with(Some(json!({"nodes": true})), Some(json!({"location": ""}))),
            RefusedBy(LOCATION),
        ),
        (
            "nodes true, a location",
            with(
                Some(json!({"nodes": true, "namespaces": false})),
                Some(json!({"location": "dc1"})),
            ),
            Accepted,
        ),
        (
            "nodes defaulted, a location",
            with(
                Some(json!({"nodes": null})),
                Some(json!({"location": "dc1"})),
            ),
            Accepted,
        ),
        (
            "nodes false, no placement",
            with(Some(json!({"nodes": false})), None),
            Accepted,
        ),
        (
            "nodes false, placement {}",
            with(Some(json!({"nodes": false})), Some(json!({}))),
            Accepted,
        ),
        (
            "nodes false, location null",
            with(
                Some(json!({"nodes": false})),
                Some(json!({"location": null})),
            ),
            Accepted,
        ),
        (
            "nodes false, a location",
            with(
                Some(json!({"nodes": false})),
                Some(json!({"location": "dc1"})),
            ),
            Accepted,
        ),
    ];
    for (what, spec, expect) in cases {
        admission_case(c, what, spec, expect, &mut problems);
    }
    result(problems)
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn every_rule_is_found_and_compiles() {
    let crd = crd();
    let c = Checker::new(root_schema(&crd)).unwrap_or_else(|e| panic!("{e}"));
    let found: Vec<(&str, &str)> = c
        .rules
        .iter()
        .map(|r| (r.path.as_str(), r.source.as_str()))
        .collect();
    assert_eq!(
        found.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        [LOCATION, GRACE_PERIOD, FULL_RESYNC],
        "the rules changed: give a new rule its cases here (check_*), then update this list; \
         found {found:#?}"
    );
    assert!(
        c.rules.iter().all(|r| !r.uses_old_self),
        "a transition rule needs update cases"
    );
}

#[test]
fn rules_type_check_against_the_schema_and_their_cost_is_bounded() {
    let crd = crd();
    let c = Checker::new(root_schema(&crd)).unwrap();
    let reports = c.analyse_all().unwrap_or_else(|e| panic!("{e}"));
    for (path, r) in &reports {
        eprintln!(
            "{}: estimated cost {} x {} (limits: {PER_CALL_LIMIT} a call, \
             {STATIC_ESTIMATED_COST_LIMIT} a rule){}",
            shown(path),
            r.cost,
            r.cardinality,
            r.notes
                .iter()
                .map(|n| format!("\n  note: {n}"))
                .collect::<String>()
        );
    }
    assert_eq!(reports.len(), c.rules.len());
}

#[test]
fn full_resync_interval_is_1m_to_168h() {
    let crd = crd();
    check_full_resync_interval(&Checker::new(root_schema(&crd)).unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn grace_period_is_0s_to_8760h() {
    let crd = crd();
    check_grace_period(&Checker::new(root_schema(&crd)).unwrap()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn synced_nodes_need_a_location() {
    let crd = crd();
    check_location(&Checker::new(root_schema(&crd)).unwrap()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn rules_run_where_their_value_is_present_and_not_null() {
    let crd = crd();
    let c = Checker::new(root_schema(&crd)).unwrap();
    let root = root_schema(&crd);
    let spec = spec_with("clusterName", json!("ocp-1"));
    // Without defaulting, the absent fields' rules do not run.
    let mut raw = Admission::default();
    c.run_rules(&nautobot_sync(spec.clone()), None, (root, ""), "", &mut raw);
    assert_eq!(raw.evaluated, [".spec: .spec"]);
    // On the request path, their defaults are there, and checked.
    let a = c.admit_spec(spec);
    assert!(a.accepted(), "{a:?}");
    let mut evaluated = a.evaluated.clone();
    evaluated.sort();
    assert_eq!(
        evaluated,
        [
            ".spec.deletion.gracePeriod: .spec.deletion.gracePeriod",
            ".spec.fullResyncInterval: .spec.fullResyncInterval",
            ".spec: .spec",
        ]
    );
    // Unknown fields are pruned before anything runs.
    let mut spec = spec_with("sync.nodes", json!(false));
    spec["unknownField"] = json!("x");
    let a = c.admit_spec(spec);
    assert_eq!(a.pruned, [".spec.unknownField"]);
    assert!(a.accepted(), "{a:?}");
}

#[test]
fn the_rules_agree_with_the_operator() {
    // What admission accepts, the operator must accept too (else the user gets InvalidSpec
    // after the object was stored); within the schema's duration pattern, what the operator
    // accepts admission must accept too.
    let crd = crd();
    let c = Checker::new(root_schema(&crd)).unwrap();
    let operator = |a: &Admission| {
        serde_json::from_value::<nbsync::api::NautobotSyncSpec>(a.object["spec"].clone())
            .map_err(|e| e.to_string())
            .and_then(|s| {
                nbsync::config::SyncConfig::from_spec(&s)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
    };
    let pattern = regex::Regex::new(r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$").unwrap();
    let mut values: Vec<String> = Vec::new();
    #[rustfmt::skip]
    let numbers = [
        "0", "1", "59", "60", "61", "0.5", "1.5", "59.999", "60.001", "167", "168", "169", "8759",
        "8760", "8761", "10080", "10081", "525600", "525601", "604800", "604801", "31536000",
        "31536001", "9999999999",
    ];
    for n in numbers {
        for u in ["ms", "s", "m", "h"] {
            values.push(format!("{n}{u}"));
        }
    }
    #[rustfmt::skip]
    let compound = [
        "167h59m59s", "168h0m0s", "168h0m1s", "1m0s", "0m59s", "8760h0m0s", "8759h59m59.999s",
        "8760h0.001s", "1h30m", "2h45m30.5s", ".5h", "1.h", "-1h", "1d",
    ];
    values.extend(compound.map(String::from));
    let mut problems = Vec::new();
    for v in &values {
        for field in ["fullResyncInterval", "deletion.gracePeriod"] {
            let a = c.admit_spec(spec_with(field, json!(v)));
            let op = operator(&a);
            if a.accepted() && op.is_err() {
                problems.push(format!(
                    "{field}={v}: admission accepts, the operator refuses: {op:?}"
                ));
            }
            if pattern.is_match(v) && op.is_ok() && !a.accepted() {
                problems.push(format!(
                    "{field}={v}: the operator accepts, admission refuses: {a:?}"
                ));
            }
        }
    }
    // A whitespace-only location: the schema's pattern (\S) refuses it as the operator does
    // (trim().is_empty()).
    for nodes in [None, Some(true), Some(false)] {
        for location in [
            None,
            Some(Value::Null),
            Some(json!("")),
            Some(json!("  \t")),
            Some(json!("dc1")),
        ] {
            let mut spec = base_spec();
            if let Some(n) = nodes {
                spec["sync"] = json!({ "nodes": n });
            }
            if let Some(l) = &location {
                spec["placement"] = json!({ "location": l });
            }
            let a = c.admit_spec(spec);
            let op = operator(&a);
            // (with nodes false the operator ignores an empty location the schema refuses)
            if a.accepted() && op.is_err()
                || a.schema_errors.is_empty() && op.is_ok() && !a.accepted()
            {
                problems.push(format!(
                    "nodes {nodes:?}, location {location:?}: admission {:?}, operator {op:?}",
                    a.failures
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The NautobotSync objects of a YAML text (several documents).
fn nautobot_syncs(text: &str, source: &str) -> Vec<Value> {
    let docs: Vec<Value> =
        serde_saphyr::from_str_multiple(text).unwrap_or_else(|e| panic!("{source}: {e}"));
    docs.into_iter()
        .filter(|d| d.get("kind") == Some(&json!("NautobotSync")))
        .collect()
}

/// The ```yaml blocks of a Markdown text, unindented.
fn yaml_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        match &mut current {
            None if trimmed.starts_with("```yaml") || trimmed.starts_with("```yml") => {
                current = Some((indent, String::new()));
            }
            Some(_) if trimmed.starts_with("```") => {
                blocks.push(current.take().unwrap().1);
            }
            Some((indent, block)) => {
                block.push_str(line.get(*indent..).unwrap_or(line.trim_start()));
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_examples_pass_every_rule() {
    let crd = crd();
    let c = Checker::new(root_schema(&crd)).unwrap();
    let mut examples: Vec<(String, Value)> = Vec::new();
    for dir in ["deploy/examples", "examples"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for f in files {
            let name = f.strip_prefix(repo("")).unwrap().display().to_string();
            let text = std::fs::read_to_string(&f).unwrap();
            examples.extend(
                nautobot_syncs(&text, &name)
                    .into_iter()
                    .map(|o| (name.clone(), o)),
            );
        }
    }
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .chain([repo("README.md"), repo("examples/README.md")])
        .collect();
    docs.sort();
    for f in docs {
        let name = f.strip_prefix(repo("")).unwrap().display().to_string();
        for (i, block) in yaml_blocks(&std::fs::read_to_string(&f).unwrap())
            .iter()
            .enumerate()
        {
            let source = format!("{name} yaml block {}", i + 1);
            examples.extend(
                nautobot_syncs(block, &source)
                    .into_iter()
                    .map(|o| (source.clone(), o)),
            );
        }
    }
    for must in [
        "deploy/examples/nautobotsync-all.yaml",
        "deploy/examples/nautobotsync-containers-only.yaml",
        "deploy/examples/nautobotsync-dry-run.yaml",
        "deploy/examples/nautobotsync-vms-only.yaml",
        "examples/nautobotsync.yaml",
        "docs/install-openshift.md",
    ] {
        assert!(
            examples.iter().any(|(s, _)| s.starts_with(must)),
            "no NautobotSync found in {must}"
        );
    }
    for (source, object) in examples {
        let a = c.admit(object, None);
        assert!(
            a.pruned.is_empty(),
            "{source}: unknown fields {:?}",
            a.pruned
        );
        assert!(
            a.accepted(),
            "{source}: schema errors {:?}, rule failures {:?}",
            a.schema_errors,
            a.failures
        );
        assert_eq!(
            a.evaluated.len(),
            c.rules.len(),
            "{source}: {:?}",
            a.evaluated
        );
    }
}

/// The keywords of JSONSchemaProps (apiextensions.k8s.io/v1): anything else is not part of a
/// CRD schema.
#[rustfmt::skip]
const SCHEMA_KEYWORDS: &[&str] = &[
    "id", "$schema", "$ref", "description", "type", "format", "title", "default", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "maxItems", "minItems", "uniqueItems", "multipleOf", "enum", "maxProperties", "minProperties",
    "required", "items", "allOf", "oneOf", "anyOf", "not", "properties", "additionalProperties",
    "patternProperties", "dependencies", "additionalItems", "definitions", "externalDocs",
    "example", "nullable", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string", "x-kubernetes-list-map-keys", "x-kubernetes-list-type",
    "x-kubernetes-map-type", "x-kubernetes-validations",
];

#[derive(Clone, Copy, PartialEq)]
enum Level {
    Root,
    Item,
    Field,
}

/// The checks of apiextensions' ValidateCustomResourceDefinitionOpenAPISchema and
/// ValidateStructural on a node outside the junctors.
fn structural(s: &Value, path: &str, level: Level, errs: &mut Vec<String>) {
    let at = shown(path);
    let Some(m) = s.as_object() else {
        errs.push(format!("{at}: a schema must be an object"));
        return;
    };
    for k in m.keys() {
        if !SCHEMA_KEYWORDS.contains(&k.as_str()) {
            errs.push(format!("{at}: unknown keyword {k}"));
        }
    }
    for k in [
        "id",
        "$ref",
        "definitions",
        "dependencies",
        "additionalItems",
        "patternProperties",
    ] {
        if m.contains_key(k) {
            errs.push(format!("{at}: {k} is not supported"));
        }
    }
    if is_true(s, "uniqueItems") {
        errs.push(format!("{at}: uniqueItems cannot be set to true"));
    }
    let ty = str_of(s, "type");
    let int_or_string = is_true(s, "x-kubernetes-int-or-string");
    let preserve = is_true(s, "x-kubernetes-preserve-unknown-fields");
    let embedded = is_true(s, "x-kubernetes-embedded-resource");
    match ty {
        Some("array" | "boolean" | "integer" | "number" | "object" | "string") => {}
        Some("null") => errs.push(format!("{at}: type cannot be null, use nullable")),
        Some(t) => errs.push(format!("{at}: unsupported type {t}")),
        None if !int_or_string && !preserve => {
            errs.push(format!("{at}: type must not be empty"));
        }
        None => {}
    }
    if m.get("type").is_some_and(|t| !t.is_string()) {
        errs.push(format!("{at}: type must be one string"));
    }
    if nullable(s) && ty.is_none() && !int_or_string {
        errs.push(format!("{at}: nullable without a type"));
    }
    if level == Level::Root {
        if ty != Some("object") {
            errs.push(format!("{at}: must be of type object at the root"));
        }
        if nullable(s) {
            errs.push(format!("{at}: nullable cannot be true at the root"));
        }
        if m.contains_key("additionalProperties") {
            errs.push(format!(
                "{at}: additionalProperties must not be used at the root"
            ));
        }
        // with the status subresource, only these may be set at the root
        #[rustfmt::skip]
        const ROOT: &[&str] = &[
            "description", "type", "format", "title", "maximum", "exclusiveMaximum", "minimum",
            "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
            "uniqueItems", "multipleOf", "required", "items", "properties", "externalDocs",
            "example", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations",
        ];
        for k in m.keys().filter(|k| !ROOT.contains(&k.as_str())) {
            errs.push(format!(
                "{at}: {k} is not allowed at the root with the status subresource"
            ));
        }
    }
    if (level == Level::Root || embedded)
        && let Some(meta) = props(s).and_then(|p| p.get("metadata"))
    {
        let only_names = props(meta)
            .into_iter()
            .flatten()
            .all(|(k, _)| k == "name" || k == "generateName");
        let allowed = ["type", "properties", "description"];
        if str_of(meta, "type") != Some("object")
            || !only_names
            || meta
                .as_object()
                .unwrap()
                .keys()
                .any(|k| !allowed.contains(&k.as_str()))
        {
            errs.push(format!(
                "{at}.metadata: may only restrict name and generateName"
            ));
        }
    }
    if let Some(ap) = s.get("additionalProperties") {
        let schema_or_false = ap.is_object() || ap == &Value::Bool(false);
        if props(s).is_some_and(|p| !p.is_empty()) && schema_or_false {
            errs.push(format!(
                "{at}: additionalProperties and properties are mutually exclusive"
            ));
        }
    }
    if m.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        errs.push(format!(
            "{at}: x-kubernetes-preserve-unknown-fields must be true or undefined"
        ));
    }
    if int_or_string && (preserve || embedded) {
        errs.push(format!(
            "{at}: x-kubernetes-int-or-string excludes the other extensions"
        ));
    }
    if embedded && (ty != Some("object") || (!preserve && props(s).is_none())) {
        errs.push(format!(
            "{at}: x-kubernetes-embedded-resource needs type object and properties"
        ));
    }
    if let Some(lt) = m.get("x-kubernetes-list-type") {
        if ty != Some("array") {
            errs.push(format!("{at}: x-kubernetes-list-type needs type array"));
        }
        let keys: Vec<&str> = s
            .get("x-kubernetes-list-map-keys")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        match lt.as_str() {
            Some("atomic" | "set") => {}
            Some("map") => {
                let item = s.get("items");
                if keys.is_empty() || item.and_then(|i| str_of(i, "type")) != Some("object") {
                    errs.push(format!(
                        "{at}: a map list needs x-kubernetes-list-map-keys and object items"
                    ));
                }
                for k in keys {
                    let p = item.and_then(props).and_then(|p| p.get(k));
                    let required = item
                        .and_then(|i| i.get("required"))
                        .and_then(Value::as_array)
                        .is_some_and(|r| r.contains(&json!(k)));
                    match p {
                        None => {
                            errs.push(format!("{at}: list map key {k} is not an item property"))
                        }
                        Some(p) if p.get("default").is_none() && !required => {
                            errs.push(format!(
                                "{at}: list map key {k} must be required or defaulted"
                            ));
                        }
                        Some(p) if nullable(p) => {
                            errs.push(format!("{at}: list map key {k} cannot be nullable"))
                        }
                        Some(_) => {}
                    }
                }
            }
            _ => errs.push(format!(
                "{at}: x-kubernetes-list-type must be atomic, set or map"
            )),
        }
    } else if m.contains_key("x-kubernetes-list-map-keys") {
        errs.push(format!(
            "{at}: x-kubernetes-list-map-keys needs x-kubernetes-list-type: map"
        ));
    }
    if let Some(mt) = m.get("x-kubernetes-map-type") {
        if ty != Some("object") {
            errs.push(format!("{at}: x-kubernetes-map-type needs type object"));
        }
        if !matches!(mt.as_str(), Some("atomic" | "granular")) {
            errs.push(format!(
                "{at}: x-kubernetes-map-type must be atomic or granular"
            ));
        }
    }
    if let Some(p) = str_of(s, "pattern")
        && let Err(e) = regex::Regex::new(p)
    {
        errs.push(format!("{at}: pattern does not compile: {e}"));
    }
    for (i, v) in s
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let at = format!("{at} x-kubernetes-validations[{i}]");
        let known = [
            "rule",
            "message",
            "messageExpression",
            "reason",
            "fieldPath",
            "optionalOldSelf",
        ];
        for k in v.as_object().into_iter().flat_map(|o| o.keys()) {
            if !known.contains(&k.as_str()) {
                errs.push(format!("{at}: unknown key {k}"));
            }
        }
        let rule = str_of(v, "rule").unwrap_or_default().trim();
        let message = str_of(v, "message");
        if rule.is_empty() {
            errs.push(format!("{at}: rule is not specified"));
        }
        if message.is_some_and(|m| m.trim().is_empty()) {
            errs.push(format!("{at}: message must be non-empty if specified"));
        }
        if message.is_some_and(|m| m.trim().contains(['\n', '\r'])) {
            errs.push(format!("{at}: message must not contain line breaks"));
        }
        if rule.contains(['\n', '\r']) && message.is_none_or(|m| m.trim().is_empty()) {
            errs.push(format!(
                "{at}: message must be specified if the rule contains line breaks"
            ));
        }
        if str_of(v, "messageExpression").is_some_and(|m| m.trim().is_empty()) {
            errs.push(format!(
                "{at}: messageExpression must be non-empty if specified"
            ));
        }
        if let Some(r) = v.get("reason") {
            let reasons = [
                "FieldValueInvalid",
                "FieldValueForbidden",
                "FieldValueRequired",
                "FieldValueDuplicate",
            ];
            if !r.as_str().is_some_and(|r| reasons.contains(&r)) {
                errs.push(format!("{at}: reason must be one of {reasons:?}"));
            }
        }
        if let Some(fp) = v.get("fieldPath") {
            let valid = fp.as_str().is_some_and(|fp| {
                let mut node = s;
                !fp.trim().is_empty()
                    && fp.starts_with('.')
                    && fp[1..]
                        .split('.')
                        .all(|k| match props(node).and_then(|p| p.get(k)) {
                            Some(next) => {
                                node = next;
                                true
                            }
                            None => false,
                        })
            });
            if !valid {
                errs.push(format!("{at}: fieldPath must be a valid path"));
            }
        }
    }
    if ty == Some("array") && s.get("items").is_none() {
        errs.push(format!("{at}: items must be specified"));
    }
    match s.get("items") {
        Some(Value::Array(_)) => errs.push(format!(
            "{at}: items must be a schema object and not an array"
        )),
        Some(items) => structural(items, &format!("{path}[*]"), Level::Item, errs),
        None => {}
    }
    for (k, v) in props(s).into_iter().flatten() {
        structural(v, &format!("{path}.{k}"), Level::Field, errs);
    }
    if let Some(ap) = additional(s) {
        structural(ap, &format!("{path}[*]"), Level::Field, errs);
    }
    for j in ["allOf", "anyOf", "oneOf"] {
        for (i, n) in s
            .get(j)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            nested(n, s, &format!("{path}<{j}[{i}]>"), errs);
        }
    }
    if let Some(n) = s.get("not") {
        nested(n, s, &format!("{path}<not>"), errs);
    }
}

/// A value validation inside a junctor: it may only restrict what is specified outside.
fn nested(n: &Value, outside: &Value, path: &str, errs: &mut Vec<String>) {
    let int_or_string_branch = is_true(outside, "x-kubernetes-int-or-string")
        && n.as_object().is_some_and(|o| o.len() == 1)
        && matches!(str_of(n, "type"), Some("integer" | "string"));
    for k in [
        "type",
        "description",
        "title",
        "default",
        "nullable",
        "additionalProperties",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-int-or-string",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-list-type",
        "x-kubernetes-map-type",
        "x-kubernetes-validations",
    ] {
        if n.get(k).is_some() && !(k == "type" && int_or_string_branch) {
            errs.push(format!(
                "{path}: {k} must not be set inside a junctor to be structural"
            ));
        }
    }
    for (k, v) in props(n).into_iter().flatten() {
        if k == "metadata" {
            errs.push(format!(
                "{path}: metadata must not be specified in a nested context"
            ));
        }
        match props(outside).and_then(|p| p.get(k)) {
            Some(o) => nested(v, o, &format!("{path}.{k}"), errs),
            None => errs.push(format!("{path}.{k}: not specified outside the junctor")),
        }
    }
    if let Some(items) = n.get("items") {
        match outside.get("items") {
            Some(o) => nested(items, o, &format!("{path}[*]"), errs),
            None => errs.push(format!(
                "{path}[*]: items not specified outside the junctor"
            )),
        }
    }
    for j in ["allOf", "anyOf", "oneOf"] {
        for (i, m) in n
            .get(j)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            nested(m, outside, &format!("{path}<{j}[{i}]>"), errs);
        }
    }
    if let Some(m) = n.get("not") {
        nested(m, outside, &format!("{path}<not>"), errs);
    }
}

#[test]
fn the_schema_is_structural() {
    let crd = crd();
    let root = root_schema(&crd);
    let mut errs = Vec::new();
    structural(root, "", Level::Root, &mut errs);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    assert!(
        crd["spec"]["versions"][0]["subresources"]["status"].is_object(),
        "the root restrictions above assume the status subresource"
    );
}

/// Every default, checked as the apiserver checks it when the CRD is written
/// (pkg/apiserver/schema/defaulting/validation.go): pruned, valid against its own node's
/// schema, and passing that node's rules and those under it. Defaults are validated as they
/// are, without the nested defaults applied.
fn default_errors(c: &Checker<'_>) -> (usize, Vec<String>) {
    let mut errs = Vec::new();
    let mut checked = 0;
    for node in nodes(c.root) {
        let Some(d) = node.schema.get("default") else {
            continue;
        };
        checked += 1;
        let at = format!("{}.default", shown(&node.path));
        if node.path == ".metadata" || node.path.starts_with(".metadata.") {
            errs.push(format!("{at}: defaults are forbidden in metadata"));
        }
        let mut pruned = d.clone();
        let mut unknown = Vec::new();
        prune(&mut pruned, node.schema, false, &at, &mut unknown);
        if !unknown.is_empty() {
            errs.push(format!("{at}: must not have unknown fields {unknown:?}"));
        }
        validate(d, node.schema, &at, &mut errs);
        let mut out = Admission::default();
        c.run_rules(d, None, (node.schema, &node.path), &at, &mut out);
        errs.extend(out.failures.iter().map(|f| format!("{}: {}", f.at, f.why)));
    }
    (checked, errs)
}

#[test]
fn defaults_are_valid_against_their_own_schema() {
    let crd = crd();
    let c = Checker::new(root_schema(&crd)).unwrap();
    let (checked, errs) = default_errors(&c);
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    assert!(checked > 40, "only {checked} defaults found");
}

#[test]
fn formats_the_apiserver_does_not_recognise_lose_nothing() {
    // Since Kubernetes 1.34 the apiserver warns on an unrecognised format ("unrecognized format
    // \"uint32\"", GetUnrecognizedFormats) and drops it when validating. schemars writes uint32
    // for u32 fields; that costs nothing only while each such field has its own bounds.
    #[rustfmt::skip]
    const STRING_FORMATS: &[&str] = &[
        "bsonobjectid", "uri", "email", "hostname", "ipv4", "ipv6", "cidr", "mac", "uuid", "uuid3",
        "uuid4", "uuid5", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "hexcolor", "rgbcolor",
        "byte", "password", "date", "duration", "datetime", "k8s-short-name", "k8s-long-name",
    ];
    let crd = crd();
    let mut problems = Vec::new();
    for node in nodes(root_schema(&crd)) {
        let Some(format) = str_of(node.schema, "format") else {
            continue;
        };
        let recognised = match str_of(node.schema, "type") {
            None | Some("string") => STRING_FORMATS.contains(&format.replace('-', "").as_str()),
            Some("integer") => ["int32", "int64"].contains(&format),
            Some("number") => ["float", "double"].contains(&format),
            Some(_) => false,
        };
        if recognised {
            continue;
        }
        let bounded = format == "uint32"
            && node
                .schema
                .get("minimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| m >= 0.0)
            && node
                .schema
                .get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| m <= f64::from(u32::MAX));
        eprintln!(
            "note: {}: format {format} is not recognised by the apiserver",
            node.path
        );
        if !bounded {
            problems.push(format!(
                "{}: unrecognised format {format} without bounds that keep its meaning",
                node.path
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn duration_parses_as_go_does() {
    let h = 3_600_000_000_000i64;
    for (text, want) in [
        ("0", Some(0)),
        ("0s", Some(0)),
        ("1h", Some(h)),
        ("1.5h", Some(h * 3 / 2)),
        (".5h", Some(h / 2)),
        ("1.h", Some(h)),
        ("+1h", Some(h)),
        ("-1h", Some(-h)),
        ("1h30m", Some(h * 3 / 2)),
        ("500ms", Some(500_000_000)),
        ("1us", Some(1_000)),
        ("1\u{b5}s", Some(1_000)),
        ("1\u{3bc}s", Some(1_000)),
        ("1ns", Some(1)),
        ("2562047h47m16.854775807s", Some(i64::MAX)),
        ("-2562047h47m16.854775808s", Some(i64::MIN)),
        ("2562047h47m16.854775808s", None),
        ("2562048h", None),
        ("", None),
        ("-", None),
        ("h", None),
        (".h", None),
        ("1", None),
        ("1h30", None),
        ("1e1h", None),
        ("1hxyz", None),
        ("1 h", None),
        ("1d", None),
        ("99999999999999999999h", None),
    ] {
        assert_eq!(go_parse_duration(text).ok(), want, "{text:?}");
    }
    // and CEL's duration() is it, literals and comparisons included
    let env = k8s_env();
    let ctx = Context::with_env(Arc::clone(&env));
    let eval = |src: &str| env.compile(src).unwrap().execute(&ctx);
    assert_eq!(eval("duration('1h30') == duration('1h')").ok(), None);
    assert_eq!(eval("duration('1e1h') == duration('10h')").ok(), None);
    assert_eq!(
        eval("duration('.5h') == duration('30m')"),
        Ok(cel::Value::Bool(true))
    );
    assert_eq!(
        eval("duration('1\u{b5}s') == duration('1000ns')"),
        Ok(cel::Value::Bool(true))
    );
    assert_eq!(
        eval("duration(duration('1m')) <= duration('60s')"),
        Ok(cel::Value::Bool(true))
    );
    assert_eq!(
        eval("duration('168h0.000000001s') > duration('168h')"),
        Ok(cel::Value::Bool(true))
    );
}

#[test]
fn property_names_are_escaped_as_kubernetes_escapes_them() {
    for (name, want) in [
        ("clusterName", Some("clusterName")),
        ("namespace", Some("__namespace__")),
        ("a-b", Some("a__dash__b")),
        ("a.b/c", Some("a__dot__b__slash__c")),
        ("a__b", Some("a__underscores__b")),
        ("1a", None),
        ("a b", None),
    ] {
        assert_eq!(escape(name).as_deref(), want, "{name}");
    }
}

/// Replaces `from` by `to` in the rule at `path`.
fn mutated(crd: &Value, path: &str, from: &str, to: &str) -> Value {
    let mut crd = crd.clone();
    let root = &mut crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    let mut node = root;
    for p in path.split('.').skip(1) {
        node = &mut node["properties"][p];
    }
    let rule = &mut node["x-kubernetes-validations"][0]["rule"];
    let text = rule.as_str().unwrap().to_string();
    assert!(text.contains(from), "{path}: {text:?} has no {from:?}");
    *rule = json!(text.replacen(from, to, 1));
    crd
}

#[test]
fn broken_rules_are_caught() {
    type Check = fn(&Checker<'_>) -> Result<(), String>;
    fn static_check(c: &Checker<'_>) -> Result<(), String> {
        c.analyse_all().map(|_| ())
    }
    let crd = crd();
    let mutations: &[(&str, &str, &str, Check)] = &[
        (
            FULL_RESYNC,
            "duration('168h')",
            "duration('169h')",
            check_full_resync_interval,
        ),
        (
            FULL_RESYNC,
            "duration('1m')",
            "duration('59s')",
            check_full_resync_interval,
        ),
        (FULL_RESYNC, "<=", "<", check_full_resync_interval),
        (FULL_RESYNC, ">=", ">", check_full_resync_interval),
        (
            FULL_RESYNC,
            "duration(self) >=",
            "durration(self) >=",
            static_check,
        ),
        (
            GRACE_PERIOD,
            "duration('8760h')",
            "duration('8761h')",
            check_grace_period,
        ),
        (
            GRACE_PERIOD,
            "duration(self) >= duration('0s') && ",
            "",
            check_grace_period,
        ),
        (
            GRACE_PERIOD,
            "duration('0s')",
            "duration('0x')",
            static_check,
        ),
        (
            GRACE_PERIOD,
            "duration(self) <= duration('8760h')",
            "self <= '8760h'",
            check_grace_period,
        ),
        (LOCATION, "!self.sync.nodes || ", "", check_location),
        (
            LOCATION,
            "!self.sync.nodes",
            "self.sync.nodes",
            check_location,
        ),
        (
            LOCATION,
            " && self.placement.location != ''",
            "",
            check_location,
        ),
        (LOCATION, "self.sync.nodes", "self.sync.node", static_check),
        (LOCATION, "!= ''", "!= 1", static_check),
    ];
    for (path, from, to, check) in mutations {
        let broken = mutated(&crd, path, from, to);
        let caught = match Checker::new(root_schema(&broken)) {
            Err(_) => true,
            Ok(c) => check(&c).is_err(),
        };
        assert!(caught, "{path}: {from:?} -> {to:?} went unnoticed");
    }
    // and the unbroken rules pass the same checks
    let c = Checker::new(root_schema(&crd)).unwrap();
    for (_, _, _, check) in mutations {
        check(&c).unwrap_or_else(|e| panic!("{e}"));
    }
}
