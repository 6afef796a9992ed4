//! The `HEAD` checkpoint file: one line, `<seq> <64 hex digits>`, naming the last checkpointed record and
//! its hash, replaced atomically (temp file, fsync, rename, fsync of the directory). It does not decide
//! when to checkpoint; the writer does.

use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::path::Path;

use super::{Appended, JournalError, parse_hash};

/// Reads `HEAD`; `None` if there is none yet.
pub(crate) fn read(path: &Path) -> Result<Option<Appended>, JournalError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(JournalError::BadHead {
                path: path.to_path_buf(),
                message: e.to_string(),
            });
        }
    };
    parse(&text).map(Some).map_err(|message| JournalError::BadHead {
        path: path.to_path_buf(),
        message,
    })
}

fn parse(text: &str) -> Result<Appended, String> {
    let line = text
        .strip_suffix('\n')
        .filter(|line| !line.contains('\n'))
        .ok_or_else(|| "expected one line, `<seq> <sha256 hex>`".to_owned())?;
    let (seq, hash) = line
        .split_once(' ')
        .ok_or_else(|| format!("expected `<seq> <sha256 hex>`, found {line:?}"))?;
    let seq = seq
        .parse::<u64>()
        .map_err(|_| format!("the seq {seq:?} is not a number"))?;
    let hash = parse_hash(hash).ok_or_else(|| format!("the hash {hash:?} is not 64 hex digits"))?;
    Ok(Appended { seq, hash })
}

/// Replaces `HEAD` with `head`: the new content is durable before it becomes visible, and the rename is
/// durable before this returns.
pub(crate) fn write(path: &Path, head: Appended) -> Result<(), JournalError> {
    let io = |op: &'static str, at: &Path| {
        let at = at.to_path_buf();
        move |e: std::io::Error| JournalError::Io {
            path: at,
            op,
            message: e.to_string(),
        }
    };
    let tmp = path.with_extension("tmp");
    let line = format!("{} {}\n", head.seq, head.hash_hex());
    let mut file = File::create(&tmp).map_err(io("create the checkpoint", &tmp))?;
    file.write_all(line.as_bytes())
        .map_err(io("write the checkpoint", &tmp))?;
    file.sync_all().map_err(io("sync the checkpoint", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("replace the checkpoint", path))?;
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync the journal directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::test_support::TempDir;

    #[test]
    fn head_round_trips_and_replaces_atomically() {
        let dir = TempDir::new("head");
        let path = dir.path().join("HEAD");
        assert_eq!(read(&path).expect("absent"), None);
        let first = Appended {
            seq: 41,
            hash: [0xab; 32],
        };
        write(&path, first).expect("write");
        assert_eq!(read(&path).expect("read"), Some(first));
        let second = Appended {
            seq: 42,
            hash: [0x01; 32],
        };
        write(&path, second).expect("rewrite");
        assert_eq!(read(&path).expect("read"), Some(second));
        assert!(!path.with_extension("tmp").exists(), "no temp file left behind");
        let text = fs::read_to_string(&path).expect("text");
        assert_eq!(text, format!("42 {}\n", "01".repeat(32)));
    }

    #[test]
    fn a_malformed_head_is_refused_with_the_reason() {
        let good = format!("7 {}\n", "0".repeat(64));
        assert!(parse(&good).is_ok());
        for (text, reason) in [
            ("", "one line"),
            ("7 00\n", "64 hex"),
            (&format!("x {}\n", "0".repeat(64))[..], "not a number"),
            (&format!("7 {}\n", "g".repeat(64))[..], "64 hex"),
            (&format!("7 +{}\n", "0".repeat(63))[..], "64 hex"),
            (&format!("7 {}\n\n", "0".repeat(64))[..], "one line"),
            (&format!("7 {}", "0".repeat(64))[..], "one line"),
            ("7\n", "expected"),
        ] {
            let err = parse(text).expect_err(text);
            assert!(err.contains(reason), "{text:?}: {err}");
        }
    }
}
