//! `meta.k8s.io/v1` `Table` responses, which `kubectl get` asks for with
//! `Accept: application/json;as=Table;g=meta.k8s.io;v=v1`.
//!
//! Columns come from a CRD's `additionalPrinterColumns` (evaluated with a small JSONPath subset: `.a.b`,
//! `.a[0]`, `.a[*]`, `.a[?(@.type=="Ready")].status`), else `Name` and `Age`.

use serde_json::{Value, json};

use crate::object::name_of;
use crate::registry::{PrinterColumn, ResourceType};
use crate::time::{human_age, parse_rfc3339, unix_now};

/// Whether the `Accept` header asks for a Table.
pub(crate) fn wants_table(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// A Table of `objects` with the list metadata (resourceVersion, continue) given; `include_object` is the
/// `includeObject` query value (`None`, `Object`, or the default `Metadata`).
pub(crate) fn table(
    rt: &ResourceType,
    objects: &[&Value],
    metadata: Value,
    include_object: &str,
) -> Value {
    let age = PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        json_path: ".metadata.creationTimestamp".into(),
        priority: 0,
        description: "CreationTimestamp is a timestamp representing the server time when this object was created."
            .into(),
    };
    let columns: Vec<PrinterColumn> = if rt.printer_columns.is_empty() {
        vec![age]
    } else {
        rt.printer_columns.clone()
    };
    let mut definitions = vec![json!({
        "name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace.",
    })];
    definitions.extend(columns.iter().map(|c| {
        let type_ = if c.type_ == "date" { "string" } else { c.type_.as_str() };
        json!({"name": c.name, "type": type_, "format": "", "priority": c.priority, "description": c.description})
    }));
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut cells = vec![Value::from(name_of(obj))];
            cells.extend(columns.iter().map(|c| cell(c, obj)));
            let mut row = json!({"cells": cells});
            match include_object {
                "None" => {}
                "Object" => row["object"] = (*obj).clone(),
                _ => {
                    row["object"] = json!({
                        "kind": "PartialObjectMetadata",
                        "apiVersion": "meta.k8s.io/v1",
                        "metadata": obj.get("metadata").cloned().unwrap_or_default(),
                    });
                }
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

/// One cell: dates become ages, strings are printed, other types keep their JSON value.
fn cell(column: &PrinterColumn, obj: &Value) -> Value {
    let Some(value) = json_path(obj, &column.json_path).into_iter().next() else {
        return Value::Null;
    };
    match (column.type_.as_str(), value) {
        ("date", Value::String(text)) => parse_rfc3339(text)
            .map_or_else(|| "<invalid>".into(), |at| human_age(unix_now() - at))
            .into(),
        ("string", Value::String(_)) => value.clone(),
        ("string", other) => other.to_string().into(),
        _ => value.clone(),
    }
}

/// Evaluates a simple JSONPath (with or without surrounding `{}`) and returns every match.
pub(crate) fn json_path<'a>(root: &'a Value, path: &str) -> Vec<&'a Value> {
    let path = path.trim().trim_start_matches('{').trim_end_matches('}');
    let mut current = vec![root];
    let mut rest = path.trim_start_matches('$');
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let Some(end) = bracket_end(after) else {
                return Vec::new();
            };
            current = current
                .into_iter()
                .flat_map(|v| select(v, &after[..end]))
                .collect();
            rest = &after[end + 1..];
        } else {
            let after = rest.strip_prefix('.').unwrap_or(rest);
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let field = &after[..end];
            if !field.is_empty() {
                current = current.into_iter().filter_map(|v| v.get(field)).collect();
            }
            rest = &after[end..];
        }
    }
    current
}

/// The index of the `]` closing a bracket whose content starts `text`, skipping quoted strings.
fn bracket_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in text.char_indices() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

/// Applies one bracket expression: an index, `*`, a quoted field name or a `?(@.path==value)` filter.
fn select<'a>(value: &'a Value, expr: &str) -> Vec<&'a Value> {
    let expr = expr.trim();
    let items = || value.as_array().into_iter().flatten();
    if expr == "*" {
        return match value {
            Value::Array(list) => list.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => Vec::new(),
        };
    }
    if let Ok(index) = expr.parse::<i64>() {
        let list = value.as_array().map_or(&[][..], Vec::as_slice);
        let index = if index < 0 {
            list.len() as i64 + index
        } else {
            index
        };
        return usize::try_from(index)
            .ok()
            .and_then(|i| list.get(i))
            .into_iter()
            .collect();
    }
    if let Some(filter) = expr.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        let (lhs, want, equal) = match filter.split_once("!=") {
            Some((l, r)) => (l, r, false),
            None => match filter.split_once("==") {
                Some((l, r)) => (l, r, true),
                None => {
                    return items()
                        .filter(|item| !json_path(item, filter.trim_start_matches('@')).is_empty())
                        .collect();
                }
            },
        };
        let want = want.trim();
        let want: Value = serde_json::from_str(want)
            .unwrap_or_else(|_| want.trim_matches(|c| c == '\'' || c == '"').into());
        let lhs = lhs.trim().trim_start_matches('@');
        return items()
            .filter(|item| json_path(item, lhs).first().is_some_and(|v| **v == want) == equal)
            .collect();
    }
    let field = expr.trim_matches(|c| c == '\'' || c == '"');
    value.get(field).into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_printer_column_paths() {
        let obj = json!({
            "spec": {"replicas": 3},
            "status": {"conditions": [
                {"type": "Synced", "status": "False"},
                {"type": "Ready", "status": "True", "reason": "Done"},
            ]},
        });
        assert_eq!(json_path(&obj, ".spec.replicas"), vec![&json!(3)]);
        assert_eq!(
            json_path(&obj, r#".status.conditions[?(@.type=="Ready")].status"#),
            vec![&json!("True")]
        );
        assert_eq!(
            json_path(&obj, ".status.conditions[?(@.type=='Synced')].status"),
            vec![&json!("False")]
        );
        assert_eq!(
            json_path(&obj, "{.status.conditions[-1].reason}"),
            vec![&json!("Done")]
        );
        assert_eq!(json_path(&obj, ".status.conditions[*].type").len(), 2);
        assert!(json_path(&obj, ".spec.missing").is_empty());
    }
}
