//! The QEMU peer: a scenario's workload on a real guest in QEMU, migrated between two local QEMU
//! processes over 127.0.0.1 TCP, driven through QMP and reported in the project's
//! [`Report`](livemig_core::Report) schema — the reference the simulator and the KVM runner can
//! be measured against.
//!
//! * [`guest`]: the guest (`native-runner/qemu-guest/guest.S`, built by `build.rs`): a multiboot
//!   image that drops to CPL3 and writes and reads pages in the scenario's pattern, paced by the
//!   TSC; the host patches its parameter block and replays its writes to verify a migration;
//! * [`qmp`]: a typed QMP client with a deadline on every read;
//! * [`process`]: QEMU children that never outlive `livemig`, and a private temporary directory;
//! * [`config`]: the scenario's algorithm and parameters mapped to QEMU's migration capabilities
//!   and parameters (`qapi/migration.json`);
//! * [`run`]: one migration from start to verified end, and [`report`]: what it measured.
//!
//! From the command line: `livemig qemu run SCENARIO -a precopy-qemu|xbzrle|postcopy-qemu
//! [--memory SIZE] [--set K=V]... [--json]`.

pub mod config;
pub mod crosscheck;
pub mod guest;
pub mod matrix;
pub mod mirror;
pub mod process;
pub mod qmp;
pub mod report;
pub mod run;

use process::Side;
use std::path::PathBuf;
use std::time::Duration;

/// Debian's QEMU for x86 (package `qemu-system-x86`).
pub const DEFAULT_QEMU: &str = "/usr/bin/qemu-system-x86_64";
/// qboot, a minimal firmware (package `qemu-system-data`): boots in under a second under PVM,
/// where SeaBIOS takes about 7 s.
pub const DEFAULT_FIRMWARE: &str = "/usr/share/qemu/qboot.rom";

/// Why the QEMU peer failed.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    /// QEMU, its firmware or /dev/kvm is missing: nothing can run here.
    #[error("{0}")]
    Unavailable(String),
    /// The scenario or algorithm asks for something QEMU (or this guest) cannot do: one line
    /// naming the field and what is accepted.
    #[error("{0}")]
    Unsupported(String),
    /// A step on one side failed, e.g. `qemu: destination: connecting to QMP: no answer within 10 s`.
    #[error("qemu: {side}: {step}: {detail}")]
    Failed {
        /// "source", "destination" or "host".
        side: &'static str,
        /// What was being done.
        step: String,
        /// What went wrong.
        detail: String,
    },
}

impl QemuError {
    /// A failed step on one QEMU.
    pub fn failed(side: Side, step: &str, detail: impl Into<String>) -> QemuError {
        QemuError::Failed { side: side.name(), step: step.to_string(), detail: detail.into() }
    }
    /// A failed step in this process.
    pub fn host(step: &str, detail: impl Into<String>) -> QemuError {
        QemuError::Failed { side: "host", step: step.to_string(), detail: detail.into() }
    }
}

/// Where QEMU is and how patient to be with it. The QEMU binary is `$LIVEMIG_QEMU` when set
/// (e.g. a QEMU built from source), else [`DEFAULT_QEMU`].
#[derive(Debug, Clone)]
pub struct QemuOptions {
    /// The QEMU binary.
    pub qemu: PathBuf,
    /// The firmware (`-bios`).
    pub firmware: PathBuf,
    /// How long a QEMU may take to answer on QMP after it starts.
    pub qmp_timeout: Duration,
    /// How long one QMP command may take.
    pub command_timeout: Duration,
    /// How long the guest may take from start to running its workload.
    pub boot_timeout: Duration,
    /// `query-migrate` polling interval.
    pub poll_interval: Duration,
    /// For the negative test only: spoil the check on purpose, to show it checks something.
    pub tamper: Option<Tamper>,
    /// How the guest drops to CPL3 (to repeat the PVM experiment, see [`guest`]).
    pub drop: guest::DropMethod,
    /// Start the destination with `-mem-prealloc`, so that its RAM is allocated and touched
    /// before the migration rather than page by page as pages arrive. `livemig qemu crosscheck`
    /// and `matrix` do: the simulator does not model the destination's first touch, and on this
    /// machine (a VM whose kernel reports freed memory to its host) that first touch costs 3 to
    /// 5 times more when the host has taken the memory back, which makes back-to-back runs of
    /// the same cell differ by up to 3x.
    pub preallocate_destination: bool,
    /// Read the guest's write counter at every sync seen (one monitor command each), so that
    /// `per_sync` says how many writes the guest made between syncs. The dirty-fault probe of
    /// the calibration does; the comparisons do not, to leave QEMU's main loop alone.
    pub sample_guest_writes: bool,
}

/// A deliberate fault in the verification (tests only), which must make it fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// Flip one byte of this page of the used area in the memory dump before the check.
    FlipByte {
        /// Page index in the used area.
        page: u64,
    },
    /// Replay to the guest's counter plus this many writes.
    CounterOffset(i64),
}

impl Default for QemuOptions {
    fn default() -> Self {
        QemuOptions {
            qemu: std::env::var_os("LIVEMIG_QEMU").map_or_else(|| DEFAULT_QEMU.into(), PathBuf::from),
            firmware: DEFAULT_FIRMWARE.into(),
            qmp_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(10),
            boot_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(25),
            tamper: None,
            drop: guest::DropMethod::Iretq,
            preallocate_destination: false,
            sample_guest_writes: false,
        }
    }
}

/// Checks that QEMU, its firmware and /dev/kvm are there; the error is one line saying what is
/// missing and how to get it.
pub fn check_available(options: &QemuOptions) -> Result<(), QemuError> {
    if !options.qemu.exists() {
        return Err(QemuError::Unavailable(format!(
            "{} is missing: install QEMU (apt-get install qemu-system-x86)",
            options.qemu.display()
        )));
    }
    if !options.firmware.exists() {
        return Err(QemuError::Unavailable(format!(
            "{} is missing: install QEMU's firmware (apt-get install qemu-system-data)",
            options.firmware.display()
        )));
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| QemuError::Unavailable(format!("/dev/kvm cannot be opened: {e}")))?;
    Ok(())
}
