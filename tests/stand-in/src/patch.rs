//! Patch bodies: JSON merge patch (RFC 7386), which also stands in for strategic merge and server-side apply,
//! and JSON patch (RFC 6902), which kube-runtime's finalizer helper sends.

use serde_json::Value;

use crate::error::ApiError;

/// How a PATCH body is to be applied, from its `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchKind {
    /// `application/merge-patch+json`, and `application/strategic-merge-patch+json` approximated as a merge patch.
    Merge,
    /// `application/json-patch+json`.
    Json,
    /// `application/apply-patch+yaml` with a JSON body, approximated as a merge patch that may create the object.
    Apply,
}

impl PatchKind {
    /// The kind for a `Content-Type` header value, or 415.
    pub(crate) fn from_content_type(content_type: &str) -> Result<Self, ApiError> {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        match essence {
            "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
                Ok(Self::Merge)
            }
            "application/json-patch+json" => Ok(Self::Json),
            "application/apply-patch+yaml" => Ok(Self::Apply),
            other => Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!("the body of the request was in an unknown format: {other}"),
            )),
        }
    }

    /// Applies a parsed patch body to `target`.
    pub(crate) fn apply(self, target: &mut Value, patch: &Value) -> Result<(), ApiError> {
        match self {
            Self::Merge | Self::Apply => {
                merge(target, patch);
                Ok(())
            }
            Self::Json => json_patch(target, patch),
        }
    }
}

/// RFC 7386 JSON merge patch: objects merge key by key, `null` removes a key, anything else replaces.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if value.is_null() {
            target_map.remove(key);
        } else {
            merge(target_map.entry(key.as_str()).or_insert(Value::Null), value);
        }
    }
}

fn patch_error(message: impl Into<String>) -> ApiError {
    ApiError::invalid(message)
}

/// RFC 6902 JSON patch with the operations add, remove, replace, test, move and copy.
fn json_patch(target: &mut Value, patch: &Value) -> Result<(), ApiError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("a JSON patch must be an array"))?;
    for op in ops {
        let field = |name: &str| op.get(name).and_then(Value::as_str);
        let path =
            field("path").ok_or_else(|| patch_error("JSON patch operation without a path"))?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| patch_error("JSON patch operation without a value"))
        };
        match field("op").unwrap_or_default() {
            "add" => add(target, path, value()?)?,
            "remove" => {
                remove(target, path)?;
            }
            "replace" => {
                remove(target, path)?;
                add(target, path, value()?)?;
            }
            "test" => {
                // like the API server's json-patch: a missing path tests equal to null
                let want = value()?;
                let have = target.pointer(path).unwrap_or(&Value::Null);
                if have != &want {
                    return Err(patch_error(format!("test operation failed at {path}")));
                }
            }
            "move" | "copy" => {
                let from = field("from").ok_or_else(|| patch_error("move/copy without from"))?;
                let moved = if field("op") == Some("move") {
                    remove(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| patch_error(format!("no value at {from}")))?
                };
                add(target, path, moved)?;
            }
            other => {
                return Err(patch_error(format!(
                    "unknown JSON patch operation {other:?}"
                )));
            }
        }
    }
    Ok(())
}

/// Splits a JSON pointer into its parent pointer and its unescaped last token.
fn split_pointer(path: &str) -> Result<(&str, String), ApiError> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| patch_error(format!("invalid JSON pointer {path:?}")))?;
    Ok((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, token) = split_pointer(path)?;
    match target.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.insert(token, value);
            Ok(())
        }
        Some(Value::Array(list)) => {
            let index = if token == "-" {
                list.len()
            } else {
                token.parse().unwrap_or(usize::MAX)
            };
            if index > list.len() {
                return Err(patch_error(format!("array index out of range at {path}")));
            }
            list.insert(index, value);
            Ok(())
        }
        _ => Err(patch_error(format!(
            "no container at {parent:?} to add {path:?}"
        ))),
    }
}

fn remove(target: &mut Value, path: &str) -> Result<Value, ApiError> {
    let (parent, token) = split_pointer(path)?;
    let removed = match target.pointer_mut(parent) {
        Some(Value::Object(map)) => map.remove(&token),
        Some(Value::Array(list)) => token
            .parse::<usize>()
            .ok()
            .filter(|i| *i < list.len())
            .map(|i| list.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| patch_error(format!("no value at {path:?} to remove")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_merges_and_removes() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        merge(&mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]}));
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_finalizer_style() {
        let mut doc = json!({"metadata": {"finalizers": ["x", "y"]}});
        let patch = json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "x"},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "z"},
            {"op": "replace", "path": "/metadata/finalizers/0", "value": "w"},
            {"op": "copy", "from": "/metadata/finalizers", "path": "/spec"},
        ]);
        PatchKind::Json.apply(&mut doc, &patch).unwrap();
        assert_eq!(
            doc,
            json!({"metadata": {"finalizers": ["w", "z"]}, "spec": ["w", "z"]})
        );
        let failing = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "nope"}]);
        assert_eq!(
            PatchKind::Json.apply(&mut doc, &failing).unwrap_err().code,
            422
        );
    }
}
