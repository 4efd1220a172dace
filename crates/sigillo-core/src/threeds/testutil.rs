//! Helpers for the message tests of this module: edit a JSON message one key at a time.

use serde_json::Value;

/// `v` with `key` set to `val`.
pub(super) fn with(mut v: Value, key: &str, val: Value) -> Value {
    v[key] = val;
    v
}

/// `v` without `key`.
pub(super) fn without(mut v: Value, key: &str) -> Value {
    if let Some(map) = v.as_object_mut() {
        map.remove(key);
    }
    v
}
