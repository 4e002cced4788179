//! A per-run temporary directory for configs, logs and captures.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Context, Result};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh directory under `$INTEROP_DIR` (default: the system temp dir). Removed on drop unless
/// the thread is panicking (a failed test) or `INTEROP_KEEP` is set: then its path is printed so
/// the logs can be read.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    keep: bool,
}

impl RunDir {
    pub fn new(label: &str) -> Result<RunDir> {
        let base = std::env::var_os("INTEROP_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = base.join(format!("interop-{label}-{}-{n}-{secs}", std::process::id()));
        std::fs::create_dir_all(&path).context(format!("creating {}", path.display()))?;
        let keep = std::env::var_os("INTEROP_KEEP").is_some();
        crate::cleanup::register_dir(&path, keep);
        Ok(RunDir { path, keep })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path/name`, created as a directory.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let p = self.path.join(name);
        std::fs::create_dir_all(&p).context(format!("creating {}", p.display()))?;
        Ok(p)
    }

    /// Keep the directory after drop (e.g. a demo that wants its logs inspected).
    pub fn keep(&mut self) {
        self.keep = true;
        crate::cleanup::register_dir(&self.path, true);
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        crate::cleanup::unregister_dir(&self.path);
        if self.keep || std::thread::panicking() {
            eprintln!("interop: kept run directory {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
