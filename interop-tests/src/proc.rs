//! Child processes that are always stopped (by PID) and whose output lands in files, plus the
//! polling helper used for every readiness check.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::bail;
use crate::error::{Context, Error, Result};

/// How long [`Child::stop`] waits after SIGTERM before SIGKILL.
pub const TERM_GRACE: Duration = Duration::from_secs(5);

/// A spawned process, its stdout/stderr captured to `<dir>/<name>.stdout|.stderr`. Dropping it
/// sends SIGTERM, then SIGKILL after [`TERM_GRACE`], and reaps it.
#[derive(Debug)]
pub struct Child {
    name: String,
    inner: std::process::Child,
    stdout: PathBuf,
    stderr: PathBuf,
    status: Option<ExitStatus>,
}

impl Child {
    /// Spawns `cmd` (stdin null, stdout/stderr to files in `dir`).
    pub fn spawn(mut cmd: Command, name: &str, dir: &Path) -> Result<Child> {
        let stdout = dir.join(format!("{name}.stdout"));
        let stderr = dir.join(format!("{name}.stderr"));
        cmd.stdin(Stdio::null())
            .stdout(File::create(&stdout).context(format!("creating {}", stdout.display()))?)
            .stderr(File::create(&stderr).context(format!("creating {}", stderr.display()))?);
        // The harness binaries block SIGINT/SIGTERM/SIGHUP for their cleanup thread
        // (`cleanup::install_signal_cleanup`); a blocked mask survives exec, so give children
        // an empty one or they could never be stopped with SIGTERM.
        // SAFETY: between fork and exec only async-signal-safe calls: sigemptyset and
        // pthread_sigmask on a local set.
        unsafe {
            cmd.pre_exec(|| {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::pthread_sigmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                Ok(())
            });
        }
        let inner = cmd.spawn().context(format!("spawning {name}: {cmd:?}"))?;
        crate::cleanup::register_pid(inner.id());
        Ok(Child {
            name: name.to_string(),
            inner,
            stdout,
            stderr,
            status: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.inner.id()
    }

    pub fn stdout_path(&self) -> &Path {
        &self.stdout
    }

    pub fn stderr_path(&self) -> &Path {
        &self.stderr
    }

    /// Everything written to stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The exit status if the process has exited (reaping it), else `None`.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.inner.try_wait()?;
            if self.status.is_some() {
                crate::cleanup::unregister_pid(self.pid());
            }
        }
        Ok(self.status)
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Waits for the process to exit by itself; an error (process left running) on timeout.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let what = format!("{} to exit", self.name);
        wait_for_some(&what, timeout, || self.try_wait().ok().flatten())
    }

    /// Waits for the process to exit and fails unless it exited with status 0.
    pub fn wait_success(&mut self, timeout: Duration) -> Result<()> {
        let st = self.wait_timeout(timeout)?;
        if !st.success() {
            bail!(
                "{} exited with {st}; stderr: {}",
                self.name,
                self.stderr().trim()
            );
        }
        Ok(())
    }

    /// Sends `sig` to the process (by PID) if it still runs.
    pub fn signal(&mut self, sig: libc::c_int) {
        if self.is_running() {
            // SAFETY: plain syscall on our own, not yet reaped, child's PID.
            unsafe { libc::kill(self.pid() as libc::pid_t, sig) };
        }
    }

    /// SIGTERM, then SIGKILL after [`TERM_GRACE`]; returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if let Ok(Some(st)) = self.try_wait() {
            return Some(st);
        }
        self.signal(libc::SIGTERM);
        if let Ok(st) = self.wait_timeout(TERM_GRACE) {
            return Some(st);
        }
        eprintln!("interop: {} ignored SIGTERM, killing", self.name);
        self.signal(libc::SIGKILL);
        self.wait_timeout(TERM_GRACE).ok()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        self.stop();
        crate::cleanup::unregister_pid(self.pid());
    }
}

/// Polls `cond` (every 10 ms at first, backing off to 100 ms) until it holds; an error naming
/// `what` after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Result<()> {
    wait_for_some(what, timeout, || cond().then_some(()))
}

/// Polls `f` until it returns `Some`, like [`wait_for`].
pub fn wait_for_some<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(Error::new(format!(
                "timed out after {timeout:?} waiting for {what}"
            )));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Runs `cmd` to completion; its stdout on success, an error with stderr otherwise.
pub fn run_checked(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .context(format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
