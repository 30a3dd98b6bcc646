//! QEMU processes and their private files: a child that cannot outlive us, and a temporary
//! directory that is removed afterwards.
//!
//! * Every QEMU is started with `PR_SET_PDEATHSIG = SIGKILL` (set in the child between fork and
//!   exec), so the kernel kills it if the thread that started it dies — also when `livemig` itself
//!   is killed with SIGKILL and no destructor runs. [`QemuProcess`]'s `Drop` kills and reaps it on
//!   every other path (errors, panics, early returns).
//! * Its QMP socket, serial log, stderr, guest image and memory dumps live in a [`PrivateDir`]
//!   (mode 0700 under the system's temporary directory), removed on drop.

use super::QemuError;
use std::fs::File;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A private temporary directory (mode 0700, `tempfile`'s), removed with its contents on drop.
#[derive(Debug)]
pub struct PrivateDir {
    dir: tempfile::TempDir,
}

impl PrivateDir {
    /// Creates `livemig-qemu-PID-*` in the temporary directory, after removing the directories
    /// of earlier runs whose process is gone (a `livemig` killed with SIGKILL runs no destructor).
    pub fn new() -> Result<PrivateDir, QemuError> {
        let base = std::env::temp_dir();
        Self::sweep(&base);
        let dir = tempfile::Builder::new()
            .prefix(&format!("livemig-qemu-{}-", std::process::id()))
            .tempdir_in(&base)
            .map_err(|e| QemuError::host("creating a temporary directory", format!("in {}: {e}", base.display())))?;
        Ok(PrivateDir { dir })
    }

    /// Removes `livemig-qemu-PID-*` directories of processes that no longer exist.
    fn sweep(base: &Path) {
        let Ok(entries) = std::fs::read_dir(base) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(pid) = name.strip_prefix("livemig-qemu-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A file in it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Which of the two QEMUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The one the guest starts on.
    Source,
    /// The one started with `-incoming defer`.
    Destination,
}

impl Side {
    /// "source" or "destination".
    pub fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A running QEMU, killed and reaped on drop.
#[derive(Debug)]
pub struct QemuProcess {
    child: Child,
    side: Side,
    stderr_path: PathBuf,
    exited: Option<ExitStatus>,
}

impl QemuProcess {
    /// Starts `program` with `args`; its stderr goes to `SIDE-stderr.log` in `dir`.
    pub fn spawn(side: Side, program: &Path, args: &[String], dir: &PrivateDir) -> Result<QemuProcess, QemuError> {
        let stderr_path = dir.join(&format!("{side}-stderr.log"));
        let stderr = File::create(&stderr_path).map_err(|e| QemuError::host("creating QEMU's log", e.to_string()))?;
        let mut cmd = Command::new(program);
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        // The parent's pid, seen from the child: if it has already changed when the child runs,
        // the parent died before the death signal was armed.
        let parent = std::process::id() as libc::pid_t;
        #[allow(unsafe_code)]
        // SAFETY: the closure runs in the forked child before exec and only makes two
        // async-signal-safe system calls (prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("parent exited before QEMU started"));
                }
                Ok(())
            });
        }
        let child = cmd.spawn().map_err(|e| QemuError::failed(side, "starting QEMU", format!("cannot run {}: {e}", program.display())))?;
        Ok(QemuProcess { child, side, stderr_path, exited: None })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Which side it is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Its exit status if it has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// An error if it has exited: `exited with status 1: <its last stderr line>`.
    pub fn check_running(&mut self, step: &str) -> Result<(), QemuError> {
        match self.exit_status() {
            None => Ok(()),
            Some(status) => Err(QemuError::failed(self.side, step, self.exit_description(status))),
        }
    }

    /// How it exited, with the end of its stderr.
    pub fn exit_description(&self, status: ExitStatus) -> String {
        let how = match (status.code(), status.signal()) {
            (Some(c), _) => format!("QEMU exited with status {c}"),
            (None, Some(s)) => format!("QEMU was killed by signal {s}"),
            _ => format!("QEMU exited ({status})"),
        };
        let tail = self.stderr_tail();
        if tail.is_empty() {
            how
        } else {
            format!("{how}: {tail}")
        }
    }

    /// The last meaningful line of its stderr (QEMU's error message), if any.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.contains("host doesn't support requested feature"))
            .unwrap_or("")
            .chars()
            .take(300)
            .collect()
    }

    /// The first line of its stderr that reports an error (QEMU prints a register dump after
    /// "KVM internal error"), else its last line.
    pub fn stderr_error(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        match text.lines().find(|l| l.to_ascii_lowercase().contains("error")) {
            Some(l) => l.trim().chars().take(300).collect(),
            None => self.stderr_tail(),
        }
    }

    /// Waits up to `timeout` for it to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.exit_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Kills it (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if self.exit_status().is_none() {
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }
}

impl Drop for QemuProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
