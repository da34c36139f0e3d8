//! Durable state on disk: a snapshot plus an append-only write-ahead log.
//!
//! Why this shape: every acknowledged write must survive a crash (the issue's "a crash
//! mid-write loses nothing acknowledged"), and the state is small (a sandbox holds hundreds
//! of objects, not millions). So each committed change is appended to `wal.log` as one
//! framed record and `fdatasync`ed before the store returns; the HTTP response comes after.
//! Replaying the log from the last snapshot rebuilds the state. When the log grows past a
//! few MiB (and at every start) the whole state is written to `state.json` atomically —
//! temp file, fsync, rename, fsync the directory — and the log is emptied.
//!
//! Record frame: `len: u32 LE | crc32(payload): u32 LE | payload` where the payload is JSON.
//! A crash can leave a partial last frame (or, on some file systems, garbage after the last
//! good one); replay stops at the first frame that is short or fails its checksum, and the
//! file is truncated there so later appends follow good data. Records whose
//! resourceVersion is not above the snapshot's are skipped, which makes a crash between
//! "rename snapshot" and "truncate log" harmless.
//!
//! A `LOCK` file held with an exclusive advisory lock keeps two sandboxes from writing the
//! same directory.

use std::{
    collections::BTreeMap,
    fs::{self, File, OpenOptions},
    io::{Read, Write},
    path::{Path, PathBuf},
};

use serde_json::{Value, json};

use crate::{
    error::{Result, SandboxError},
    object,
};

const WAL_FILE: &str = "wal.log";
const SNAPSHOT_FILE: &str = "state.json";
const SNAPSHOT_TMP: &str = "state.json.tmp";
const LOCK_FILE: &str = "LOCK";
const SNAPSHOT_FORMAT: u64 = 1;
/// Frames larger than this are treated as garbage (the API caps bodies at 3 MiB).
const MAX_RECORD: u32 = 64 << 20;

/// One change as logged.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Put {
        rv: u64,
        key: String,
        obj: Value,
    },
    Delete {
        rv: u64,
        key: String,
        ns: String,
        name: String,
    },
}

impl Record {
    fn rv(&self) -> u64 {
        match self {
            Record::Put { rv, .. } | Record::Delete { rv, .. } => *rv,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            Record::Put { rv, key, obj } => json!({"rv": rv, "op": "put", "key": key, "obj": obj}),
            Record::Delete { rv, key, ns, name } => {
                json!({"rv": rv, "op": "delete", "key": key, "ns": ns, "name": name})
            }
        }
    }

    fn from_json(v: &Value) -> Option<Record> {
        let rv = v.get("rv")?.as_u64()?;
        let key = v.get("key")?.as_str()?.to_string();
        match v.get("op")?.as_str()? {
            "put" => Some(Record::Put {
                rv,
                key,
                obj: v.get("obj")?.clone(),
            }),
            "delete" => Some(Record::Delete {
                rv,
                key,
                ns: v.get("ns")?.as_str()?.to_string(),
                name: v.get("name")?.as_str()?.to_string(),
            }),
            _ => None,
        }
    }
}

/// What was on disk.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The highest resourceVersion written.
    pub rv: u64,
    /// (storage key, object), in key/namespace/name order.
    pub objects: Vec<(String, Value)>,
    /// Whether a torn or corrupt tail was dropped from the log.
    pub dropped_tail: bool,
    /// Whether there was any state at all (false for a new data directory).
    pub existed: bool,
}

/// The open log.
pub struct Wal {
    dir: PathBuf,
    file: File,
    bytes: u64,
    /// Held for the lifetime of the store; the OS releases the lock when it is closed.
    _lock: File,
}

fn io_err(what: &str, path: &Path) -> impl FnOnce(std::io::Error) -> SandboxError {
    let context = format!("{what} {}", path.display());
    move |source| SandboxError::io(context, source)
}

impl Wal {
    /// Opens (creating) the state directory, takes its lock and loads the state.
    pub fn open(dir: &Path) -> Result<(Wal, Loaded)> {
        fs::create_dir_all(dir).map_err(io_err("cannot create", dir))?;
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err("cannot open", &lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(SandboxError::Locked(dir.into())),
            Err(fs::TryLockError::Error(e)) => return Err(io_err("cannot lock", &lock_path)(e)),
        }

        let mut objects: BTreeMap<(String, String, String), Value> = BTreeMap::new();
        let mut rv = 0;
        let mut existed = false;
        let snapshot_path = dir.join(SNAPSHOT_FILE);
        if snapshot_path.exists() {
            existed = true;
            let text = fs::read(&snapshot_path).map_err(io_err("cannot read", &snapshot_path))?;
            let corrupt = |message: String| SandboxError::CorruptState {
                path: snapshot_path.clone(),
                message,
            };
            let snapshot: Value =
                serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
            if snapshot.get("format").and_then(Value::as_u64) != Some(SNAPSHOT_FORMAT) {
                return Err(corrupt("unknown snapshot format".into()));
            }
            rv = snapshot
                .get("resourceVersion")
                .and_then(Value::as_u64)
                .ok_or_else(|| corrupt("no resourceVersion".into()))?;
            for entry in snapshot
                .get("objects")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let (Some(key), Some(obj)) = (
                    entry.get("key").and_then(Value::as_str),
                    entry.get("object"),
                ) else {
                    return Err(corrupt("an object entry lacks key or object".into()));
                };
                objects.insert(
                    (
                        key.to_string(),
                        object::namespace(obj).to_string(),
                        object::name(obj).to_string(),
                    ),
                    obj.clone(),
                );
            }
        }

        let wal_path = dir.join(WAL_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&wal_path)
            .map_err(io_err("cannot open", &wal_path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_err("cannot read", &wal_path))?;
        if !bytes.is_empty() {
            existed = true;
        }
        let (records, good_len) = decode_frames(&bytes);
        let dropped_tail = good_len < bytes.len();
        if dropped_tail {
            tracing::warn!(
                "{}: ignoring {} bytes of torn or corrupt log tail after the last complete record",
                wal_path.display(),
                bytes.len() - good_len
            );
            file.set_len(good_len as u64)
                .map_err(io_err("cannot truncate", &wal_path))?;
            file.sync_all().map_err(io_err("cannot sync", &wal_path))?;
        }
        for record in records {
            if record.rv() <= rv {
                continue;
            }
            rv = rv.max(record.rv());
            match record {
                Record::Put { key, obj, .. } => {
                    let id = (
                        key,
                        object::namespace(&obj).to_string(),
                        object::name(&obj).to_string(),
                    );
                    objects.insert(id, obj);
                }
                Record::Delete { key, ns, name, .. } => {
                    objects.remove(&(key, ns, name));
                }
            }
        }

        let wal = Wal {
            dir: dir.to_path_buf(),
            file,
            bytes: good_len as u64,
            _lock: lock,
        };
        let loaded = Loaded {
            rv,
            objects: objects
                .into_iter()
                .map(|((key, _, _), obj)| (key, obj))
                .collect(),
            dropped_tail,
            existed,
        };
        Ok((wal, loaded))
    }

    /// Appends records and waits until they are on disk.
    pub fn append(&mut self, records: &[Record]) -> Result<()> {
        let mut buf = Vec::new();
        for record in records {
            encode_frame(&record.to_json(), &mut buf);
        }
        let path = self.dir.join(WAL_FILE);
        self.file
            .write_all(&buf)
            .map_err(io_err("cannot append to", &path))?;
        self.file
            .sync_data()
            .map_err(io_err("cannot sync", &path))?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    /// Bytes in the log since the last snapshot.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Writes the whole state atomically, then empties the log.
    pub fn snapshot<'a>(
        &mut self,
        rv: u64,
        objects: impl Iterator<Item = (&'a str, &'a Value)>,
    ) -> Result<()> {
        let entries: Vec<Value> = objects
            .map(|(key, obj)| json!({"key": key, "object": obj}))
            .collect();
        let doc = json!({"format": SNAPSHOT_FORMAT, "resourceVersion": rv, "objects": entries});
        let text = serde_json::to_vec(&doc)
            .map_err(|e| SandboxError::io("cannot encode snapshot", std::io::Error::other(e)))?;
        let tmp = self.dir.join(SNAPSHOT_TMP);
        let target = self.dir.join(SNAPSHOT_FILE);
        {
            let mut f = File::create(&tmp).map_err(io_err("cannot create", &tmp))?;
            f.write_all(&text).map_err(io_err("cannot write", &tmp))?;
            f.sync_all().map_err(io_err("cannot sync", &tmp))?;
        }
        fs::rename(&tmp, &target).map_err(io_err("cannot rename to", &target))?;
        // The rename is only durable once the directory entry is.
        if let Ok(d) = File::open(&self.dir) {
            let _ = d.sync_all();
        }
        let wal_path = self.dir.join(WAL_FILE);
        self.file
            .set_len(0)
            .map_err(io_err("cannot truncate", &wal_path))?;
        self.file
            .sync_all()
            .map_err(io_err("cannot sync", &wal_path))?;
        self.bytes = 0;
        Ok(())
    }

    /// The log's path (tests truncate it to simulate a crash mid-write).
    pub fn log_path(dir: &Path) -> PathBuf {
        dir.join(WAL_FILE)
    }
}

fn encode_frame(payload: &Value, out: &mut Vec<u8>) {
    let bytes = payload.to_string().into_bytes();
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32(&bytes).to_le_bytes());
    out.extend_from_slice(&bytes);
}

/// The complete, intact records at the start of `bytes` and how many bytes they span.
fn decode_frames(bytes: &[u8]) -> (Vec<Record>, usize) {
    let mut records = Vec::new();
    let mut pos = 0;
    while bytes.len() - pos >= 8 {
        let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        let crc = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]);
        if len > MAX_RECORD || bytes.len() - pos - 8 < len as usize {
            break;
        }
        let payload = &bytes[pos + 8..pos + 8 + len as usize];
        if crc32(payload) != crc {
            break;
        }
        let Some(record) = serde_json::from_slice::<Value>(payload)
            .ok()
            .as_ref()
            .and_then(Record::from_json)
        else {
            break;
        };
        records.push(record);
        pos += 8 + len as usize;
    }
    (records, pos)
}

/// CRC-32 (IEEE), table-driven; small enough not to warrant a dependency.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = !0u32;
    for b in bytes {
        crc = TABLE[((crc ^ u32::from(*b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(rv: u64, name: &str) -> Record {
        Record::Put {
            rv,
            key: "configmaps".into(),
            obj: json!({"metadata": {"name": name, "namespace": "default",
                                     "resourceVersion": rv.to_string()}}),
        }
    }

    #[test]
    fn crc_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn replays_the_log_and_drops_a_torn_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut wal, loaded) = Wal::open(dir.path()).expect("open");
            assert!(!loaded.existed);
            wal.append(&[put(1, "a"), put(2, "b")]).expect("append");
            wal.append(&[put(3, "c")]).expect("append");
        }
        // Cut the last record in half, as a crash during write() would.
        let path = Wal::log_path(dir.path());
        let len = fs::metadata(&path).expect("meta").len();
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        f.set_len(len - 10).expect("truncate");
        drop(f);

        let (mut wal, loaded) = Wal::open(dir.path()).expect("reopen");
        assert!(loaded.dropped_tail);
        assert_eq!(loaded.rv, 2);
        let names: Vec<&str> = loaded
            .objects
            .iter()
            .map(|(_, o)| object::name(o))
            .collect();
        assert_eq!(names, ["a", "b"]);
        // Appending after recovery yields a readable log again.
        wal.append(&[put(3, "d")]).expect("append");
        drop(wal);
        let (_, loaded) = Wal::open(dir.path()).expect("reopen");
        assert!(!loaded.dropped_tail);
        assert_eq!(loaded.objects.len(), 3);
    }

    #[test]
    fn snapshot_replaces_the_log_and_later_records_apply_on_top() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let (mut wal, _) = Wal::open(dir.path()).expect("open");
            wal.append(&[put(1, "a"), put(2, "b")]).expect("append");
            let a = json!({"metadata": {"name": "a", "namespace": "default"}});
            wal.snapshot(2, [("configmaps", &a)].into_iter())
                .expect("snapshot");
            assert_eq!(wal.bytes(), 0);
            wal.append(&[Record::Delete {
                rv: 3,
                key: "configmaps".into(),
                ns: "default".into(),
                name: "a".into(),
            }])
            .expect("append");
            wal.append(&[put(4, "e")]).expect("append");
        }
        let (_, loaded) = Wal::open(dir.path()).expect("reopen");
        assert_eq!(loaded.rv, 4);
        let names: Vec<&str> = loaded
            .objects
            .iter()
            .map(|(_, o)| object::name(o))
            .collect();
        assert_eq!(names, ["e"]);
    }

    #[test]
    fn a_second_opener_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let _first = Wal::open(dir.path()).expect("open");
        assert!(matches!(
            Wal::open(dir.path()),
            Err(SandboxError::Locked(_))
        ));
    }
}
