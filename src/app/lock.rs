//! One cockpit per state dir: an exclusive advisory lock on `STATE/lock` holding the owner's pid. A second
//! cockpit is refused with the holder's pid; `report` and `journal verify` read without taking it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use thiserror::Error;

/// The lock file's name in the state dir.
pub const LOCK_FILE: &str = "lock";

/// Exit code when another cockpit holds the state dir.
pub const EXIT_LOCKED: u8 = 2;

/// How long a lock held under this process's own pid is waited for (see [`StateLock::acquire`]).
const OWN_RELEASE_WAIT: Duration = Duration::from_millis(500);

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
    /// Takes `STATE/lock` and writes this process's pid into it. A lock held under this process's own pid is
    /// waited for up to half a second (a child being spawned holds it until its exec), then refused like any
    /// other holder.
    pub async fn acquire(state_dir: &Path) -> Result<Self, LockError> {
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
        // A lock this process let go of can still be held for a moment by a child it is spawning: between
        // fork and exec the child shares the open file (and so the lock). Only then is it worth waiting.
        let deadline = Instant::now() + OWN_RELEASE_WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let mut pid = String::new();
                    file.seek(SeekFrom::Start(0)).map_err(io)?;
                    let _ = file.read_to_string(&mut pid);
                    let pid = pid.trim().to_string();
                    if pid == std::process::id().to_string() && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    return Err(LockError::Held {
                        path,
                        pid: if pid.is_empty() { "unknown".into() } else { pid },
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
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

    #[tokio::test]
    async fn a_second_holder_is_refused_with_the_first_ones_pid_until_it_lets_go() {
        let dir = std::env::temp_dir().join(format!("cockpit-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = StateLock::acquire(&dir).await.unwrap();
        let err = StateLock::acquire(&dir).await.unwrap_err();
        let LockError::Held { pid, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(pid, &std::process::id().to_string());
        assert!(err.to_string().contains("another cockpit (pid "), "{err}");
        drop(first);
        let again = StateLock::acquire(&dir).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(again.path()).unwrap().trim(),
            std::process::id().to_string()
        );
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn a_lock_this_process_lets_go_of_a_moment_later_is_taken() {
        let dir = std::env::temp_dir().join(format!("cockpit-lock-late-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = StateLock::acquire(&dir).await.unwrap();
        // What a spawning child does to the lock: keeps it a moment after the owner dropped it.
        let child = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(first);
        });
        let second = StateLock::acquire(&dir).await.expect("taken once released");
        child.await.unwrap();
        drop(second);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
