//! Small helpers for Kubernetes objects held as `serde_json::Value`.
//!
//! The sandbox stores every kind generically (the API server must serve CRDs it has never
//! seen at compile time), so instead of typed structs it reads and writes metadata through
//! these accessors. They never panic on malformed input: a missing field reads as empty.

use serde_json::{Map, Value, json};

/// `metadata.name`, or "".
pub fn name(obj: &Value) -> &str {
    str_at(obj, &["metadata", "name"])
}

/// `metadata.namespace`, or "" (cluster-scoped objects).
pub fn namespace(obj: &Value) -> &str {
    str_at(obj, &["metadata", "namespace"])
}

pub fn uid(obj: &Value) -> &str {
    str_at(obj, &["metadata", "uid"])
}

pub fn resource_version(obj: &Value) -> &str {
    str_at(obj, &["metadata", "resourceVersion"])
}

/// The string at a path of object keys, or "".
pub fn str_at<'a>(obj: &'a Value, path: &[&str]) -> &'a str {
    get_path(obj, path).and_then(Value::as_str).unwrap_or("")
}

pub fn get_path<'a>(obj: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut cur = obj;
    for key in path {
        cur = cur.get(key)?;
    }
    Some(cur)
}

/// A mutable reference to the object at `path`, creating empty objects on the way (and
/// replacing non-objects, which only malformed input has).
pub fn ensure_object<'a>(obj: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = obj;
    for key in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = match cur {
            Value::Object(map) => map,
            _ => unreachable!("made an object just above"),
        };
        cur = map
            .entry((*key).to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    match cur {
        Value::Object(map) => map,
        _ => unreachable!("made an object just above"),
    }
}

/// `metadata` as a mutable map (created when absent).
pub fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    ensure_object(obj, &["metadata"])
}

/// `metadata.labels` (empty when absent).
pub fn labels(obj: &Value) -> Map<String, Value> {
    get_path(obj, &["metadata", "labels"])
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// `metadata.finalizers` as strings.
pub fn finalizers(obj: &Value) -> Vec<String> {
    string_list(get_path(obj, &["metadata", "finalizers"]))
}

pub fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the object is being deleted (has `metadata.deletionTimestamp`).
pub fn is_terminating(obj: &Value) -> bool {
    get_path(obj, &["metadata", "deletionTimestamp"]).is_some_and(|v| !v.is_null())
}

/// The uids named in `metadata.ownerReferences`.
pub fn owner_uids(obj: &Value) -> Vec<String> {
    get_path(obj, &["metadata", "ownerReferences"])
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The controller owner reference's uid, if any.
pub fn controller_uid(obj: &Value) -> Option<&str> {
    get_path(obj, &["metadata", "ownerReferences"])?
        .as_array()?
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))
        .and_then(|r| r.get("uid"))
        .and_then(Value::as_str)
}

/// An owner reference to `owner` marking it as the controller, as the built-in controllers
/// write them.
pub fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": name(owner),
        "uid": uid(owner),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}

/// A random RFC 4122 version-4 UUID, the format kube-apiserver uses for `metadata.uid`.
pub fn new_uid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The alphabet Kubernetes uses for generated name suffixes and hashes: no vowels (so no
/// words) and no look-alike characters.
pub const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `n` random characters from [`SAFE_ALPHABET`], like the suffix of `generateName`.
pub fn random_suffix(n: usize) -> String {
    (0..n)
        .map(|_| SAFE_ALPHABET[rand::random_range(0..SAFE_ALPHABET.len())] as char)
        .collect()
}

/// Encodes a hash in [`SAFE_ALPHABET`], `len` characters long (the pod-template-hash shape).
pub fn safe_encode(mut hash: u64, len: usize) -> String {
    let base = SAFE_ALPHABET.len() as u64;
    (0..len)
        .map(|_| {
            let c = SAFE_ALPHABET[(hash % base) as usize] as char;
            hash /= base;
            c
        })
        .collect()
}

/// 64-bit FNV-1a: a stable hash (unlike `DefaultHasher`, it does not change between builds),
/// so names derived from it survive restarts and upgrades.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    hash
}

/// JSON text with object keys sorted at every level, so hashes of it do not depend on key
/// order (serde_json keeps insertion order when another crate in the build enables its
/// `preserve_order` feature).
pub fn canonical_string(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push(':');
                write_canonical(&map[*k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Timestamps in the two formats Kubernetes uses.
pub mod time {
    use jiff::Timestamp;

    /// `metav1.Time`: RFC 3339 with second precision, always UTC.
    pub fn now() -> String {
        format(Timestamp::now())
    }

    pub fn format(ts: Timestamp) -> String {
        ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    /// `metav1.MicroTime`, used by `events.k8s.io` and leases.
    pub fn now_micro() -> String {
        format_micro(Timestamp::now())
    }

    /// `metav1.MicroTime`: RFC 3339, UTC, exactly six fractional digits.
    pub fn format_micro(ts: Timestamp) -> String {
        ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    }

    pub fn parse(s: &str) -> Option<Timestamp> {
        s.parse().ok()
    }

    /// Seconds since `s` (0 when unparsable or in the future).
    pub fn age_seconds(s: &str) -> i64 {
        parse(s)
            .map(|ts| (Timestamp::now().as_second() - ts.as_second()).max(0))
            .unwrap_or(0)
    }

    /// kubectl's `duration.HumanDuration`: `5s`, `2m3s`, `15m`, `3h12m`, `2d5h`, `45d`.
    pub fn human(seconds: i64) -> String {
        if seconds < 0 {
            return "<invalid>".into();
        }
        let s = seconds;
        let minutes = s / 60;
        let hours = s / 3600;
        let days = hours / 24;
        let years = days / 365;
        if s < 120 {
            format!("{s}s")
        } else if minutes < 10 {
            if s % 60 == 0 {
                format!("{minutes}m")
            } else {
                format!("{minutes}m{}s", s % 60)
            }
        } else if minutes < 180 {
            format!("{minutes}m")
        } else if hours < 8 {
            if minutes % 60 == 0 {
                format!("{hours}h")
            } else {
                format!("{hours}h{}m", minutes % 60)
            }
        } else if hours < 48 {
            format!("{hours}h")
        } else if hours < 192 {
            if hours % 24 == 0 {
                format!("{days}d")
            } else {
                format!("{days}d{}h", hours % 24)
            }
        } else if years < 2 {
            format!("{days}d")
        } else if years < 8 {
            format!("{years}y{}d", days % 365)
        } else {
            format!("{years}y")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_v4_shaped_and_distinct() {
        let a = new_uid();
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_ne!(a, new_uid());
    }

    #[test]
    fn human_durations_match_kubectl() {
        assert_eq!(time::human(5), "5s");
        assert_eq!(time::human(119), "119s");
        assert_eq!(time::human(125), "2m5s");
        assert_eq!(time::human(900), "15m");
        assert_eq!(time::human(3 * 3600 + 12 * 60), "3h12m");
        assert_eq!(time::human(30 * 3600), "30h");
        assert_eq!(time::human(53 * 3600), "2d5h");
        assert_eq!(time::human(45 * 86400), "45d");
    }

    #[test]
    fn safe_encoding_is_stable() {
        assert_eq!(safe_encode(fnv1a(b"x"), 10), safe_encode(fnv1a(b"x"), 10));
        assert_eq!(safe_encode(fnv1a(b"x"), 10).len(), 10);
        assert!(random_suffix(5).bytes().all(|b| SAFE_ALPHABET.contains(&b)));
    }

    #[test]
    fn ensure_object_builds_paths() {
        let mut v = json!({"metadata": 3});
        ensure_object(&mut v, &["metadata", "labels"]).insert("a".into(), json!("b"));
        assert_eq!(v, json!({"metadata": {"labels": {"a": "b"}}}));
    }
}
