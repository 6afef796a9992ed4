//! Helpers for the journal's unit tests: sample entries and self-removing temp state dirs.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Durability, Entry, Envelope};

/// A batch-durability entry of `kind` whose data carries `n`.
pub(crate) fn entry(kind: &str, n: i64) -> Entry {
    Entry {
        at: DateTime::from_timestamp_nanos(1_795_000_000_000_000_000 + n),
        envelope: Envelope {
            profile: "paper".to_owned(),
            gateway: "127.0.0.1:4002".to_owned(),
            account: "DU1234567".to_owned(),
            client_id: 7,
        },
        kind: kind.to_owned(),
        data: json!({ "n": n, "note": "résumé ✓" }),
        durability: Durability::Batch,
    }
}

/// `count` entries numbered from `from`.
pub(crate) fn entries(from: i64, count: i64) -> Vec<Entry> {
    (from..from + count).map(|n| entry("tool_call", n)).collect()
}

/// A unique, empty directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = NEXT.fetch_add(1, Ordering::Relaxed);
        let at = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let path = std::env::temp_dir().join(format!(
            "cockpit-journal-unit-{name}-{}-{unique}-{at}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
