//! Opening untrusted HDF5 files without risking the process. HDF5's C library can crash on a
//! damaged file (seen: Debian's libhdf5 1.10.8 dereferencing a bad pointer in `H5HG_read` while
//! reading variable-length strings), which no Rust code can catch, and the process is the
//! user's R session. So a file is first opened (names, annotation, matrix layout: every
//! variable-length read) in a forked child process that then exits; only if that child ends
//! normally is the file opened in this process. The child runs on one thread: the work it is
//! given must not use rayon (its worker threads do not exist after a fork) nor locks another
//! thread may hold at the fork (the HDF5 lock is taken for the fork itself).

use crate::error::{Error, Result};
use std::path::Path;
use std::time::Duration;

/// Runs `open` in a child process first; an error when the child is killed by a signal.
pub fn survives(path: &Path, open: impl FnOnce()) -> Result<()> {
    // SAFETY: the child only runs `open` (HDF5 reads, allocation) and leaves by `_exit`, never
    // returning into the parent's code, running its exit handlers or touching R. The fork
    // happens holding the HDF5 crate's lock, so that no other thread holds it then: a child
    // would wait for it forever.
    let pid = hdf5::sync::sync(|| unsafe { libc::fork() });
    if pid == 0 {
        // The parent's handlers (R's prints a traceback and asks what to do) must not run here.
        for signal in [
            libc::SIGSEGV,
            libc::SIGBUS,
            libc::SIGILL,
            libc::SIGFPE,
            libc::SIGABRT,
        ] {
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
        let clean = std::panic::catch_unwind(std::panic::AssertUnwindSafe(open)).is_ok();
        unsafe { libc::_exit(if clean { 0 } else { 1 }) }
    }
    if pid < 0 {
        return Err(Error::io(
            format!("cannot start a process to check '{}'", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    // Opening reads names and annotation, not counts: far less than a second per million
    // cells. A child still running after this budget is looping on a damaged file.
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let budget = Duration::from_secs(20 + size / (20 << 20));
    let started = std::time::Instant::now();
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if done == pid {
            break;
        }
        if done < 0 {
            return Err(Error::io(
                "cannot wait for the check of an HDF5 file",
                std::io::Error::last_os_error(),
            ));
        }
        if started.elapsed() > budget {
            // SAFETY: ends and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(Error::Input(format!(
                "'{}' is damaged: opening it did not finish within {} s (it ran in a separate process, \
                    which was stopped). Download or export the file again",
                path.display(),
                budget.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if libc::WIFSIGNALED(status) {
        return Err(Error::Input(format!(
            "'{}' is damaged: the HDF5 library crashed while reading it (signal {}; this happened in a \
                separate process, so your R session is safe). Download or export the file again",
            path.display(),
            libc::WTERMSIG(status)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_in_the_child_is_an_error_and_a_clean_exit_is_not() {
        let path = Path::new("x.h5ad");
        survives(path, || {}).unwrap();
        survives(path, || panic!("a Rust error is the parent's to report")).unwrap();
        let err = survives(path, || unsafe {
            libc::raise(libc::SIGSEGV);
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("crashed while reading it (signal 11"), "{err}");
    }
}
