//! Label and field selectors, and the [`Selection`] a list or watch request asks for.

use serde_json::Value;

use crate::error::ApiError;
use crate::object::namespace_of;

/// One label requirement's operator.
#[derive(Clone, Debug, PartialEq)]
enum Op {
    Eq(String),
    NotEq(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

/// A parsed `labelSelector`: every requirement must hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct LabelSelector(Vec<(String, Op)>);

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h` (`==` is the same as `=`).
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        split_top_level(text)
            .into_iter()
            .filter(|part| !part.trim().is_empty())
            .map(|part| parse_requirement(part.trim()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether an object with these `metadata.labels` is selected.
    pub(crate) fn matches(&self, labels: Option<&Value>) -> bool {
        self.0.iter().all(|(key, op)| {
            let value = labels.and_then(|l| l.get(key)).and_then(Value::as_str);
            match (op, value) {
                (Op::Eq(want), Some(v)) => v == want,
                (Op::NotEq(want), v) => v != Some(want.as_str()),
                (Op::In(set), Some(v)) => set.iter().any(|s| s == v),
                (Op::NotIn(set), v) => v.is_none_or(|v| !set.iter().any(|s| s == v)),
                (Op::Exists, v) => v.is_some(),
                (Op::NotExists, v) => v.is_none(),
                (Op::Eq(_) | Op::In(_), None) => false,
            }
        })
    }
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0_i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(req: &str) -> Result<(String, Op), ApiError> {
    let invalid = || ApiError::bad_request(format!("unable to parse requirement: {req:?}"));
    if let Some(key) = req.strip_prefix('!') {
        return Ok((key.trim().to_string(), Op::NotExists));
    }
    for (word, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((key, rest)) = req.split_once(word) {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'));
            let values = inner
                .ok_or_else(invalid)?
                .split(',')
                .map(|v| v.trim().to_string())
                .collect();
            let op = if negated {
                Op::NotIn(values)
            } else {
                Op::In(values)
            };
            return Ok((key.trim().to_string(), op));
        }
    }
    if let Some((key, value)) = req.split_once("!=") {
        return Ok((key.trim().to_string(), Op::NotEq(value.trim().to_string())));
    }
    if let Some((key, value)) = req.split_once("==").or_else(|| req.split_once('=')) {
        return Ok((key.trim().to_string(), Op::Eq(value.trim().to_string())));
    }
    if req.contains(char::is_whitespace) {
        return Err(invalid());
    }
    Ok((req.to_string(), Op::Exists))
}

/// A parsed `fieldSelector`: `path=value`, `path==value` or `path!=value` on dotted paths such as `metadata.name`.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parses a comma-separated list of field requirements.
    pub(crate) fn parse(text: &str) -> Result<Self, ApiError> {
        text.split(',')
            .filter(|part| !part.trim().is_empty())
            .map(|part| {
                let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                    (p, false, v)
                } else if let Some((p, v)) = part.split_once("==").or_else(|| part.split_once('='))
                {
                    (p, true, v)
                } else {
                    return Err(ApiError::bad_request(format!(
                        "invalid field selector: {part:?}"
                    )));
                };
                Ok((path.trim().to_string(), equal, value.trim().to_string()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether the object is selected; a missing field compares as the empty string.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, equal, want)| {
            let found = path.split('.').try_fold(obj, |v, part| v.get(part));
            let text = match found {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            (text == *want) == *equal
        })
    }
}

/// What a list or watch request selects: an optional namespace plus label and field selectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Selection {
    pub(crate) namespace: Option<String>,
    pub(crate) labels: LabelSelector,
    pub(crate) fields: FieldSelector,
}

impl Selection {
    /// Whether the object is selected.
    pub(crate) fn matches(&self, obj: &Value) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| namespace_of(obj) == ns)
            && self.labels.matches(obj.pointer("/metadata/labels"))
            && self.fields.matches(obj)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(sel: &str, labels: Value) -> bool {
        LabelSelector::parse(sel).unwrap().matches(Some(&labels))
    }

    #[test]
    fn label_operators() {
        let l = json!({"app": "web", "tier": "front"});
        assert!(labels("app=web", l.clone()));
        assert!(labels("app==web,tier", l.clone()));
        assert!(labels("app!=db,!missing", l.clone()));
        assert!(labels("app in (db, web),tier notin (back)", l.clone()));
        assert!(!labels("app in (db)", l.clone()));
        assert!(!labels("tier notin (front,back)", l.clone()));
        assert!(!labels("!app", l.clone()));
        assert!(labels("missing notin (x)", l));
        assert!(LabelSelector::parse("app in x").is_err());
    }

    #[test]
    fn field_selectors() {
        let obj =
            json!({"metadata": {"name": "a", "namespace": "ns"}, "status": {"phase": "Running"}});
        let sel =
            FieldSelector::parse("metadata.name=a,metadata.namespace==ns,status.phase!=Failed")
                .unwrap();
        assert!(sel.matches(&obj));
        assert!(
            !FieldSelector::parse("metadata.name=b")
                .unwrap()
                .matches(&obj)
        );
    }
}
