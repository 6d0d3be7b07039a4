//! What the operator's watch cache keeps of each object: the operator's own stripping
//! (`nbsync::controller::cluster::strip_json`), applied to snapshot items. Used by
//! `project --strip` to size the index as the running operator holds it; `cache` measures the
//! real operator.

use serde_json::Value;

/// Strips one object as the operator's cache does.
pub fn strip(v: &mut Value) {
    nbsync::controller::cluster::strip_json(v);
}
