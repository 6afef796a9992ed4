//! One cockpit per state dir: an exclusive advisory lock on `STATE/lock` holding the owner's pid. A second
//! cockpit is refused with the holder's pid; `report` and `journal verify` read without taking it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

/// The lock file's name in the state dir.
pub const LOCK_FILE: &str = "lock";

/// Exit code when another cockpit holds the state dir.
pub const EXIT_LOCKED: u8 = 2;

/// The held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock could not be taken.
#[derive(Debug, Error)]
pub enum LockError {
    /// Another process holds it.
    #[error("{}: another cockpit (pid {pid}) is using this state dir; stop it or choose another --state-dir", path.display())]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's pid as it wrote it ("unknown" if unreadable).
        pid: String,
    },
    /// The lock file could not be opened or written.
    #[error("{}: cannot take the state dir lock: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl StateLock {
    /// Takes `STATE/lock` and writes this process's pid into it.
    pub fn acquire(state_dir: &Path) -> Result<Self, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(state_dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                let pid = pid.trim().to_string();
                return Err(LockError::Held {
                    path,
                    pid: if pid.is_empty() { "unknown".into() } else { pid },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = std::env::temp_dir().join(format!("cockpit-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = StateLock::acquire(&dir).unwrap();
        let err = StateLock::acquire(&dir).unwrap_err();
        let LockError::Held { pid, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(pid, &std::process::id().to_string());
        assert!(err.to_string().contains("another cockpit (pid "), "{err}");
        drop(first);
        let again = StateLock::acquire(&dir).unwrap();
        assert_eq!(
            std::fs::read_to_string(again.path()).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
