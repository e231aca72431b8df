//! Who may change a store: one writer at a time, by an advisory lock on `write.lock` in the
//! store's folder (or in a store still being staged). The operating system drops the lock
//! when its process ends, however it ends, so a lock that can be taken means that nobody is
//! writing and that anything half-written there belongs to a process that is gone.

use crate::error::{Error, IoContext, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

pub const LOCK_FILE: &str = "write.lock";

/// Held while a process writes to a store; released when dropped.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
}

impl WriteLock {
    /// Takes the write lock of the store folder `dir`, waiting up to `wait` for a writer that
    /// holds it; after that, an error that names the store and the process writing to it.
    pub fn acquire(dir: &Path, wait: Duration) -> Result<Self> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .ctx("cannot open", &path)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Err(TryLockError::WouldBlock) => {
                    let mut holder = String::new();
                    let _ = file.read_to_string(&mut holder);
                    return Err(Error::Request(format!(
                        "another session (process {}) is writing to the store '{}'; wait for its step to \
                            finish and run this again (reading the store meanwhile is fine)",
                        holder.trim(),
                        dir.display()
                    )));
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Error::io(format!("cannot lock '{}'", path.display()), e))
                }
            }
        }
        file.set_len(0).ctx("cannot write", &path)?;
        file.rewind().ctx("cannot write", &path)?;
        write!(file, "{}", std::process::id()).ctx("cannot write", &path)?;
        Ok(WriteLock { _file: file })
    }
}

/// Whether the folder `dir` is abandoned: its lock can be taken (its writer is gone), or it
/// has no lock file and has not changed for `grace` (a writer killed before it made one).
pub fn abandoned(dir: &Path, grace: Duration) -> bool {
    match File::open(dir.join(LOCK_FILE)) {
        Ok(file) => file.try_lock().is_ok(),
        Err(_) => std::fs::metadata(dir)
            .and_then(|m| m.modified())
            .map(|t| SystemTime::now().duration_since(t).unwrap_or_default() > grace)
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_gets_an_error_naming_the_store_and_the_lock_frees_on_drop() {
        let dir = crate::testdir::TestDir::new();
        let first = WriteLock::acquire(dir.path(), Duration::ZERO).unwrap();
        assert!(!abandoned(dir.path(), Duration::ZERO));
        let started = Instant::now();
        let err = WriteLock::acquire(dir.path(), Duration::from_millis(200))
            .unwrap_err()
            .to_string();
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert!(
            err.contains(&format!("process {}", std::process::id())) && err.contains("is writing"),
            "{err}"
        );
        drop(first);
        assert!(abandoned(dir.path(), Duration::ZERO));
        WriteLock::acquire(dir.path(), Duration::ZERO).unwrap();
    }
}
