//! One QEMU migration, start to verified end.
//!
//! 1. Measure the host's TSC rate, build the guest image with the scenario's parameters.
//! 2. Start the destination (`-incoming defer`, then `migrate-incoming tcp:127.0.0.1:0`: QEMU
//!    picks a free port and reports it in `query-migrate`'s `socket-address`) and the source,
//!    both `-accel kvm -nodefaults -no-user-config -no-reboot -bios qboot.rom -kernel guest`,
//!    QMP on Unix sockets and COM1 to a log file in a private directory.
//! 3. Wait for the guest to run its workload (its control block, read with HMP `xp`), measure
//!    its write rate and TSC rate against the wall clock.
//! 4. `migrate-set-capabilities` / `migrate-set-parameters` from the scenario ([`super::config`]),
//!    `migrate`, then `query-migrate` every 25 ms until `completed`, `failed` or `cancelled`,
//!    recording a sample each time `dirty-sync-count` changes. Post-copy: `migrate-start-postcopy`
//!    once the requested number of passes is done (`migration/ram.c`: the count is 1 after the
//!    set-up sync in `ram_init_bitmaps`, and grows by one at each sync of `ram_save_pending()`,
//!    which comes when the pages still to send fall under the threshold: the first near the
//!    end of the first pass). At the
//!    scenario's timeout: `migrate_cancel` (`on_timeout = "cancel"`) or the largest
//!    `downtime-limit` (`"force-stop"`: QEMU's switch-over test then passes at once).
//! 5. Verify like QEMU's `tests/qtest/migration-test.c`: `stop` the destination, `pmemsave` its
//!    control page and used area to the private directory, replay the guest's writes up to its
//!    counter ([`super::guest::verify`]), remove the dumps, `cont`, and check the counter keeps
//!    advancing. After a cancel the same is done on the source, which must have resumed.
//! 6. `quit` both (any QEMU still there is killed when its [`QemuProcess`] is dropped).

use super::config::{MigrationConfig, Mode, MAX_DOWNTIME_LIMIT_MS};
use super::guest::{self, Control, GuestParams, PAGE, PARAMS_ADDR};
use super::process::{PrivateDir, QemuProcess, Side};
use super::qmp::{Qmp, QmpError, QmpEvent};
use super::report::{self, Continuation, EventRecord, GuestStats, MigrationInfo, QemuDetails, QemuReport, SyncSample};
use super::{QemuError, QemuOptions, Tamper};
use livemig_core::scenario::OnTimeout;
use livemig_core::units::Quantity;
use livemig_core::Scenario;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// How long the guest's rate is measured before the migration.
const RATE_WINDOW: Duration = Duration::from_millis(500);
/// How long the guest runs between the two reads of the continuation check.
const CONTINUATION_WINDOW: Duration = Duration::from_millis(200);
/// How long a cancelled or completing migration may take to settle.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);

/// One QEMU and its QMP connection.
struct Peer {
    process: QemuProcess,
    qmp: Qmp,
    side: Side,
    events: Vec<QmpEvent>,
    command_timeout: Duration,
}

impl Peer {
    /// Starts QEMU and waits (up to `options.qmp_timeout`) for its QMP greeting.
    fn launch(side: Side, options: &QemuOptions, dir: &PrivateDir, memory: u64, image: &Path) -> Result<(Peer, String), QemuError> {
        let socket = dir.join(&format!("{side}-qmp.sock"));
        let serial = dir.join(&format!("{side}-serial.log"));
        let mut args: Vec<String> = [
            "-name",
            &format!("livemig-{side}"),
            "-accel",
            "kvm",
            // The default CPU model minus SSE3 (`pni`), which PVM does not offer; `-cpu host`
            // fails under PVM (QEMU cannot set MSR 0x10a, IA32_ARCH_CAPABILITIES).
            "-cpu",
            "qemu64,pni=off",
            "-m",
            &format!("{}M", memory >> 20),
            "-nographic",
            "-nodefaults",
            "-no-user-config",
            "-no-reboot",
            "-bios",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.push(options.firmware.display().to_string());
        args.extend(["-kernel".into(), image.display().to_string()]);
        args.extend(["-chardev".into(), format!("file,id=com1,path={}", serial.display()), "-serial".into(), "chardev:com1".into()]);
        args.extend(["-qmp".into(), format!("unix:{},server=on,wait=off", socket.display())]);
        if side == Side::Destination {
            args.extend(["-incoming".into(), "defer".into()]);
            if options.preallocate_destination {
                args.push("-mem-prealloc".into());
            }
        }
        let mut process = QemuProcess::spawn(side, &options.qemu, &args, dir)?;
        let deadline = Instant::now() + options.qmp_timeout;
        loop {
            process.check_running("starting")?;
            if socket.exists() {
                if let Ok(mut qmp) = Qmp::connect(&socket) {
                    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(100));
                    match qmp.handshake(left) {
                        Ok(version) => {
                            let peer = Peer { process, qmp, side, events: Vec::new(), command_timeout: options.command_timeout };
                            return Ok((peer, version));
                        }
                        Err(e) => {
                            process.check_running("starting")?;
                            let detail = match e {
                                QmpError::Timeout { .. } => {
                                    format!("QMP did not answer within {}", Quantity::Duration.show(options.qmp_timeout.as_secs_f64()))
                                }
                                other => format!("QMP handshake: {other}"),
                            };
                            return Err(QemuError::failed(side, "starting", detail));
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(QemuError::failed(
                    side,
                    "starting",
                    format!("QMP did not answer within {}", Quantity::Duration.show(options.qmp_timeout.as_secs_f64())),
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Runs a QMP command; a failure names the step, and says so if QEMU has exited.
    fn cmd(&mut self, step: &str, command: &str, args: Value) -> Result<Value, QemuError> {
        self.cmd_within(step, command, args, self.command_timeout)
    }

    /// [`Peer::cmd`] with its own deadline.
    fn cmd_within(&mut self, step: &str, command: &str, args: Value, timeout: Duration) -> Result<Value, QemuError> {
        let result = self.qmp.execute(command, args, timeout);
        self.events.extend(self.qmp.take_events());
        result.map_err(|e| self.qmp_failure(step, e))
    }

    fn qmp_failure(&mut self, step: &str, e: QmpError) -> QemuError {
        // A dead QEMU explains a closed socket or a silence better than the socket does.
        if let Some(status) = self.process.wait_exit(Duration::from_millis(200)) {
            return QemuError::failed(self.side, step, self.process.exit_description(status));
        }
        QemuError::failed(self.side, step, e.to_string())
    }

    /// Reads pending events without waiting.
    fn poll_events(&mut self, step: &str) -> Result<(), QemuError> {
        let result = self.qmp.poll_events(Duration::ZERO);
        self.events.extend(self.qmp.take_events());
        result.map_err(|e| self.qmp_failure(step, e))
    }

    fn query_migrate(&mut self, step: &str) -> Result<MigrationInfo, QemuError> {
        let v = self.cmd(step, "query-migrate", json!({}))?;
        serde_json::from_value(v).map_err(|e| QemuError::failed(self.side, step, format!("query-migrate: unexpected answer: {e}")))
    }

    /// The guest's control block, read with HMP `xp` (guest-physical memory) while it runs.
    fn control(&mut self, step: &str) -> Result<Control, QemuError> {
        self.try_control(step)?.ok_or_else(|| QemuError::failed(self.side, step, "the guest's control block is not in memory"))
    }

    /// The control block, or None while the image is not loaded yet (the firmware runs first).
    fn try_control(&mut self, step: &str) -> Result<Option<Control>, QemuError> {
        let quads = (guest::sym::C_NEXT_PRINT / 8 + 1) as usize;
        let out = self.cmd(step, "human-monitor-command", json!({"command-line": format!("xp /{quads}gx {PARAMS_ADDR:#x}")}))?;
        let text = out.as_str().unwrap_or_default();
        let words: Vec<u64> = text
            .lines()
            .filter_map(|l| l.split_once(':').map(|(_, rest)| rest))
            .flat_map(|rest| rest.split_whitespace().filter_map(|w| u64::from_str_radix(w.trim_start_matches("0x"), 16).ok()))
            .collect();
        let mut page = vec![0u8; PAGE as usize];
        for (i, w) in words.iter().take(quads).enumerate() {
            page[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        Ok(Control::parse(&page))
    }

    /// The control block and the middle of the round trip that read it.
    fn timed_control(&mut self, step: &str) -> Result<(Control, Instant), QemuError> {
        let before = Instant::now();
        let c = self.control(step)?;
        Ok((c, before + before.elapsed() / 2))
    }

    /// Waits for the runstate `state` (`query-status`).
    fn wait_status(&mut self, step: &str, state: &str, timeout: Duration) -> Result<(), QemuError> {
        let deadline = Instant::now() + timeout;
        loop {
            let s = self.cmd(step, "query-status", json!({}))?;
            if s["status"] == state {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(QemuError::failed(
                    self.side,
                    step,
                    format!(
                        "still '{}' after {}, expected '{state}'",
                        s["status"].as_str().unwrap_or("?"),
                        Quantity::Duration.show(timeout.as_secs_f64())
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asks QEMU to quit, waits a moment, and kills it if it is still there.
    fn quit(mut self) {
        let _ = self.qmp.execute("quit", json!({}), Duration::from_secs(1));
        if self.process.wait_exit(Duration::from_secs(2)).is_none() {
            self.process.kill();
        }
    }
}

/// The page-by-page check of a stopped guest, then `cont` and the continuation check.
fn check_guest(
    peer: &mut Peer,
    params: &GuestParams,
    dir: &PrivateDir,
    tamper: Option<Tamper>,
) -> Result<(guest::Verification, Control, Continuation), QemuError> {
    let step = "verifying the guest's memory";
    peer.cmd(step, "stop", json!({}))?;
    let control_path = dir.join(&format!("{}-control.bin", peer.side));
    let area_path = dir.join(&format!("{}-area.bin", peer.side));
    let dumped = (|| {
        peer.cmd(step, "pmemsave", json!({"val": PARAMS_ADDR, "size": PAGE, "filename": control_path.display().to_string()}))?;
        // QEMU writes the dump synchronously: allow 1 s per 100 MiB on top of the usual deadline.
        let bytes = params.used_pages * PAGE;
        peer.cmd_within(
            step,
            "pmemsave",
            json!({"val": guest::AREA_BASE, "size": bytes, "filename": area_path.display().to_string()}),
            peer.command_timeout + Duration::from_secs(bytes / (100 << 20)),
        )?;
        let page = std::fs::read(&control_path).map_err(|e| QemuError::host("reading the control page dump", e.to_string()))?;
        let control =
            Control::parse(&page).ok_or_else(|| QemuError::failed(peer.side, step, "the dumped control page has no LMQGUEST magic"))?;
        let mut writes = control.writes;
        match tamper {
            Some(Tamper::FlipByte { page }) => {
                let mut dump = std::fs::read(&area_path).map_err(|e| QemuError::host("reading the memory dump", e.to_string()))?;
                dump[(page * PAGE + 123) as usize] ^= 0x40;
                std::fs::write(&area_path, dump).map_err(|e| QemuError::host("writing the memory dump", e.to_string()))?;
            }
            Some(Tamper::CounterOffset(d)) => writes = writes.saturating_add_signed(d),
            None => {}
        }
        let file = std::fs::File::open(&area_path).map_err(|e| QemuError::host("opening the memory dump", e.to_string()))?;
        let v = guest::verify(params, &control, writes, &mut std::io::BufReader::with_capacity(1 << 20, file))?;
        Ok((v, control))
    })();
    let _ = std::fs::remove_file(&control_path);
    let _ = std::fs::remove_file(&area_path);
    let (verification, control) = dumped?;
    peer.cmd(step, "cont", json!({}))?;
    let step = "checking that the guest keeps running";
    let c0 = peer.control(step)?;
    let t0 = Instant::now();
    std::thread::sleep(CONTINUATION_WINDOW);
    let c1 = peer.control(step)?;
    let writes = params.write_rate_milli > 0;
    let continuation = Continuation {
        writes_before: c0.writes,
        writes_after: c1.writes,
        heartbeat_before: c0.heartbeat,
        heartbeat_after: c1.heartbeat,
        interval_s: t0.elapsed().as_secs_f64(),
        ok: c1.heartbeat > c0.heartbeat && (!writes || c1.writes > c0.writes),
    };
    Ok((verification, control, continuation))
}

/// Migrates `scenario`'s guest (its `vm.memory` is the guest's RAM) with `config` between two
/// QEMUs. A migration that fails inside QEMU (status `failed`) or is cancelled is reported
/// (`completed: false`); a QEMU that cannot start, crashes or stops answering is an error naming
/// the side and the step. No QEMU outlives this function.
pub fn migrate(scenario: &Scenario, config: &MigrationConfig, options: &QemuOptions) -> Result<QemuReport, QemuError> {
    // Input the guest cannot run is refused before anything else.
    GuestParams::from_scenario(scenario, 1)?;
    super::check_available(options)?;
    let tsc_hz = guest::measure_tsc_hz();
    let params = GuestParams { drop: options.drop, ..GuestParams::from_scenario(scenario, tsc_hz)? };
    let dir = PrivateDir::new()?;
    let image = dir.join("guest.bin");
    std::fs::write(&image, params.image()).map_err(|e| QemuError::host("writing the guest image", e.to_string()))?;

    let booted = Instant::now();
    let (mut dst, version) = Peer::launch(Side::Destination, options, &dir, params.memory, &image)?;
    let (mut src, _) = Peer::launch(Side::Source, options, &dir, params.memory, &image)?;
    let caps: Vec<Value> = config.capabilities().iter().map(|c| json!({"capability": c, "state": true})).collect();
    let step = "preparing the incoming migration";
    dst.cmd(step, "migrate-set-capabilities", json!({"capabilities": caps}))?;
    if let Some(n) = config.multifd_channels {
        dst.cmd(step, "migrate-set-parameters", json!({"multifd-channels": n}))?;
    }
    dst.cmd(step, "migrate-incoming", json!({"uri": "tcp:127.0.0.1:0"}))?;
    let port = dst
        .query_migrate(step)?
        .socket_address
        .unwrap_or_default()
        .iter()
        .find_map(|a| a["port"].as_str().and_then(|p| p.parse::<u16>().ok()).or_else(|| a["port"].as_u64().map(|p| p as u16)))
        .ok_or_else(|| QemuError::failed(Side::Destination, step, "query-migrate reports no listening port"))?;

    // The guest must be running its workload before the migration starts.
    let step = "waiting for the guest to boot";
    let boot_deadline = Instant::now() + options.boot_timeout;
    loop {
        if src.try_control(step)?.is_some_and(|c| c.ready == 1) {
            break;
        }
        // A guest that faults stops its vCPU for good (QEMU stays up after a KVM internal
        // error; with -no-reboot a triple fault ends QEMU, which the QMP call above reports).
        let status = src.cmd(step, "query-status", json!({}))?;
        if let Some(s @ ("internal-error" | "shutdown" | "guest-panicked" | "io-error")) = status["status"].as_str() {
            return Err(QemuError::failed(Side::Source, step, format!("the guest stopped: {s} ({})", src.process.stderr_error())));
        }
        if Instant::now() >= boot_deadline {
            // What the guest said on COM1, if anything, tells how far it got.
            let serial = std::fs::read_to_string(dir.join("source-serial.log")).unwrap_or_default();
            let said = serial.lines().last().map_or("nothing on its serial port".to_string(), |l| format!("its last serial line: {l:?}"));
            return Err(QemuError::failed(
                Side::Source,
                step,
                format!(
                    "the guest did not start its workload within {} ({said})",
                    Quantity::Duration.show(options.boot_timeout.as_secs_f64())
                ),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let boot_s = booted.elapsed().as_secs_f64();
    // Rates against the wall clock: each read is timed at the middle of its QMP round trip.
    let step = "measuring the guest's rate";
    let (c0, m0) = src.timed_control(step)?;
    std::thread::sleep(RATE_WINDOW);
    let (c1, m1) = src.timed_control(step)?;
    let dt = (m1 - m0).as_secs_f64();
    let mut guest_stats = GuestStats {
        tsc_hz,
        guest_tsc_hz: c1.tsc.wrapping_sub(c0.tsc) as f64 / dt,
        write_rate: params.write_rate(),
        achieved_write_rate: (c1.writes - c0.writes) as f64 / dt,
        read_rate: params.read_rate(),
        achieved_read_rate: (c1.reads - c0.reads) as f64 / dt,
        boot_s,
        writes_at_start: 0,
        late: 0,
        filled_pages: params.filled_pages(),
        used_pages: params.used_pages,
    };

    let step = "setting up the migration";
    src.cmd(step, "migrate-set-capabilities", json!({"capabilities": caps}))?;
    src.cmd(step, "migrate-set-parameters", config.parameters())?;
    let writes_at_start = src.control(step)?.writes;
    guest_stats.writes_at_start = writes_at_start;
    let wall_start = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let started = Instant::now();
    src.cmd("starting the migration", "migrate", json!({"uri": format!("tcp:127.0.0.1:{port}")}))?;

    let mut per_sync: Vec<SyncSample> = Vec::new();
    let mut last_stats = (None, None);
    let mut last_sync = 0;
    let mut max_throttle = 0;
    let mut postcopy_started_s = None;
    let mut timed_out = false;
    let mut settle_deadline = None;
    let step = "migrating (query-migrate)";
    let info = loop {
        std::thread::sleep(options.poll_interval);
        // After migrate_cancel the destination exits by design ("load of migration failed":
        // its incoming stream was cut); it is no longer needed.
        let cancelling = timed_out && config.on_timeout == OnTimeout::Cancel;
        if src.process.exit_status().is_some() || (!cancelling && dst.process.exit_status().is_some()) {
            // When one side dies the other may follow (a destination exits when its incoming
            // stream breaks): give it a moment, then blame the source first.
            std::thread::sleep(Duration::from_millis(100));
            src.process.check_running(step)?;
            dst.process.check_running(step)?;
        }
        if !cancelling {
            dst.poll_events(step)?;
        }
        let mut info = src.query_migrate(step)?;
        let t = started.elapsed().as_secs_f64();
        // A cancelled migration's query-migrate has no statistics: keep the last ones seen, and
        // the time until it was abandoned.
        if info.ram.is_some() {
            last_stats = (info.ram.clone(), info.xbzrle_cache.clone());
        } else if info.status == "cancelled" {
            (info.ram, info.xbzrle_cache) = last_stats.clone();
            info.total_time = Some(started.elapsed().as_millis() as u64);
        }
        let ram = info.ram.clone().unwrap_or_default();
        max_throttle = max_throttle.max(info.cpu_throttle_percentage.unwrap_or(0));
        let terminal = matches!(info.status.as_str(), "completed" | "failed" | "cancelled");
        // Samples of the live phase only: what follows the last one is the final round.
        if !terminal && ram.dirty_sync_count != last_sync && ram.dirty_sync_count > 0 {
            last_sync = ram.dirty_sync_count;
            let guest_writes = if options.sample_guest_writes {
                let (c, at) = src.timed_control(step)?;
                Some((c.writes, at.duration_since(started).as_secs_f64()))
            } else {
                None
            };
            per_sync.push(SyncSample {
                t_s: t,
                dirty_sync_count: ram.dirty_sync_count,
                transferred: ram.transferred,
                remaining: ram.remaining,
                dirty_pages_rate: ram.dirty_pages_rate,
                pages: report::pages_sent(&ram, info.xbzrle_cache.as_ref()),
                status: info.status.clone(),
                guest_writes,
            });
        }
        if terminal {
            break info;
        }
        if let (Some(passes), None, "active") = (config.precopy_passes, postcopy_started_s, info.status.as_str()) {
            // dirty-sync-count is 1 after set-up; each sync of the convergence test adds one.
            if ram.dirty_sync_count > passes {
                src.cmd("starting post-copy", "migrate-start-postcopy", json!({}))?;
                postcopy_started_s = Some(started.elapsed().as_secs_f64());
            }
        }
        if !timed_out && started.elapsed() >= config.timeout && info.status != "postcopy-active" {
            timed_out = true;
            match config.on_timeout {
                OnTimeout::Cancel => {
                    src.cmd("cancelling at the timeout", "migrate_cancel", json!({}))?;
                }
                OnTimeout::ForceStop => {
                    src.cmd(
                        "forcing the switch-over at the timeout",
                        "migrate-set-parameters",
                        json!({"downtime-limit": MAX_DOWNTIME_LIMIT_MS}),
                    )?;
                }
            }
            settle_deadline = Some(Instant::now() + SETTLE_TIMEOUT);
        }
        if settle_deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(QemuError::failed(
                Side::Source,
                step,
                format!(
                    "the migration was still '{}' {} after the timeout",
                    info.status,
                    Quantity::Duration.show(SETTLE_TIMEOUT.as_secs_f64())
                ),
            ));
        }
    };

    let completed = info.status == "completed";
    // QEMU 7.2 sets the status to completed (migration/migration.c `migration_completion`)
    // before `migration_calculate_complete` fills in total-time and downtime, so a poll can see
    // "completed" with both still 0: ask again until they are there.
    let mut info = info;
    let deadline = Instant::now() + Duration::from_secs(2);
    while completed && info.total_time.unwrap_or(0) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        info = src.query_migrate("reading the final statistics")?;
    }
    let mut dst_info = None;
    if completed {
        dst.wait_status("resuming on the destination", "running", SETTLE_TIMEOUT)?;
        dst_info = Some(dst.query_migrate("reading the destination's statistics")?);
    }
    // Let the last events arrive.
    std::thread::sleep(Duration::from_millis(50));
    src.poll_events("collecting events")?;
    if info.status == "cancelled" {
        let _ = dst.poll_events("collecting events");
    } else {
        dst.poll_events("collecting events")?;
    }

    // Verify where the guest now runs: the destination, or the source after a cancel.
    let checked = match info.status.as_str() {
        "completed" => Some(check_guest(&mut dst, &params, &dir, options.tamper)?),
        "cancelled" => {
            src.wait_status("resuming the source after the cancel", "running", SETTLE_TIMEOUT)?;
            Some(check_guest(&mut src, &params, &dir, options.tamper)?)
        }
        _ => None,
    };
    let (verification, continuation) = match checked {
        Some((v, control, c)) => {
            // The check's own stop and cont make the guest's TSC jump; count only what came before.
            guest_stats.late = control.late;
            (Some(v), Some(c))
        }
        None => (None, None),
    };
    let writes_at_check = verification.as_ref().map_or(writes_at_start, |v| v.writes);

    let events: Vec<EventRecord> = [(&src, "source"), (&dst, "destination")]
        .iter()
        .flat_map(|(p, side)| {
            p.events.iter().map(move |e| EventRecord { side, name: e.name.clone(), t_s: e.qemu_time - wall_start, data: e.data.clone() })
        })
        .collect();
    let mut events = events;
    events.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    let stop_s = events.iter().find(|e| e.side == "source" && e.name == "STOP" && e.t_s >= 0.0).map(|e| e.t_s);
    let resume_s = stop_s.and_then(|s| events.iter().find(|e| e.side == "destination" && e.name == "RESUME" && e.t_s >= s)).map(|e| e.t_s);
    let ram = info.ram.clone().unwrap_or_default();
    let details = QemuDetails {
        qemu_version: version,
        config: config.clone(),
        memory: params.memory,
        status: info.status.clone(),
        total_time_s: info.total_time.map(|ms| ms as f64 / 1000.0),
        downtime_s: info.downtime.map(|ms| ms as f64 / 1000.0),
        guest_seen_downtime_s: stop_s.zip(resume_s).map(|(s, r)| r - s),
        setup_time_s: info.setup_time.map(|ms| ms as f64 / 1000.0),
        ram,
        xbzrle: if config.mode == Mode::Xbzrle { info.xbzrle_cache.clone() } else { None },
        postcopy_started_s,
        postcopy_blocktime_s: dst_info.as_ref().and_then(|i| i.postcopy_blocktime).map(|ms| ms as f64 / 1000.0),
        max_throttle_pct: max_throttle,
        timed_out,
        error: info.error_desc.clone(),
        per_sync,
        events,
        guest: guest_stats,
        verification: verification.clone(),
        continuation: continuation.clone(),
    };
    let verified = verification.as_ref().is_some_and(|v| v.ok) && continuation.as_ref().is_some_and(|c| c.ok);
    let stop_reason = match info.status.as_str() {
        "completed" if timed_out => "QEMU completed after the timeout forced the switch-over".to_string(),
        "completed" if config.mode == Mode::Postcopy && postcopy_started_s.is_none() => {
            "QEMU completed in pre-copy before post-copy started (pending data fell under the downtime limit)".to_string()
        }
        "completed" => "QEMU completed".to_string(),
        "cancelled" => {
            format!("cancelled at the timeout ({}); the guest runs on the source", Quantity::Duration.show(config.timeout.as_secs_f64()))
        }
        other => format!("QEMU {other}: {}", info.error_desc.as_deref().unwrap_or("no reason given")),
    };
    let core =
        report::core_report(scenario, &details, stop_s, completed, verified, stop_reason, writes_at_check.saturating_sub(writes_at_start));
    src.quit();
    dst.quit();
    Ok(QemuReport { report: core, qemu: details })
}
