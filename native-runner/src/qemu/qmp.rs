//! A small typed client of the QEMU Machine Protocol (QMP): JSON objects, one a line, over a
//! Unix socket (QEMU `docs/interop/qmp-spec.txt`; the commands are in `qapi/*.json`).
//!
//! * On connect QEMU sends a greeting `{"QMP": {"version": ..., "capabilities": [...]}}`; the
//!   client must send `qmp_capabilities` before any other command ([`Qmp::handshake`]).
//! * A command is `{"execute": NAME, "arguments": {...}, "id": N}`; its answer is
//!   `{"return": ..., "id": N}` or `{"error": {"class": ..., "desc": ...}, "id": N}` — the latter
//!   becomes [`QmpError::Command`], which names the command.
//! * Asynchronous events `{"event": NAME, "data": ..., "timestamp": {"seconds", "microseconds"}}`
//!   may arrive at any time, before or between answers. They are kept, with QEMU's timestamp and
//!   the time they were read, until [`Qmp::take_events`].
//!
//! Every read has a deadline: a QEMU that stops answering gives [`QmpError::Timeout`], never a
//! hang. Bytes that are not JSON give [`QmpError::Protocol`], a closed socket [`QmpError::Closed`].

use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// Nothing (or no complete answer) arrived in time.
    #[error("no answer within {}", crate::qemu::human_duration(*.after))]
    Timeout {
        /// How long the client waited.
        after: Duration,
    },
    /// The peer closed the connection.
    #[error("the QMP connection was closed")]
    Closed,
    /// The peer sent something that is not a QMP message.
    #[error("not a QMP message: {0}")]
    Protocol(String),
    /// QEMU answered a command with an error.
    #[error("QMP {command} failed: {class}: {desc}")]
    Command {
        /// The command.
        command: String,
        /// QEMU's error class, e.g. `GenericError`.
        class: String,
        /// QEMU's message.
        desc: String,
    },
    /// A socket error.
    #[error("QMP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// An asynchronous event.
#[derive(Debug, Clone, PartialEq)]
pub struct QmpEvent {
    /// Event name, e.g. `STOP`, `RESUME`, `MIGRATION`.
    pub name: String,
    /// Its data (`null` when it has none).
    pub data: Value,
    /// QEMU's timestamp (host wall clock, seconds since the epoch).
    pub qemu_time: f64,
    /// When the client read it.
    pub received: Instant,
}

/// A QMP connection.
#[derive(Debug)]
pub struct Qmp {
    stream: UnixStream,
    /// Bytes read but not yet split into lines.
    pending: Vec<u8>,
    events: Vec<QmpEvent>,
    next_id: u64,
}

/// Longest line quoted in a protocol error.
const QUOTE: usize = 80;

impl Qmp {
    /// Connects to a QMP Unix socket (no handshake yet).
    pub fn connect(path: &Path) -> Result<Qmp, QmpError> {
        Ok(Qmp::from_stream(UnixStream::connect(path)?))
    }

    /// Wraps a connected stream (for tests: one end of a socket pair).
    pub fn from_stream(stream: UnixStream) -> Qmp {
        Qmp { stream, pending: Vec::new(), events: Vec::new(), next_id: 1 }
    }

    /// Reads the greeting and negotiates capabilities (`qmp_capabilities`). Returns QEMU's
    /// version as reported in the greeting, e.g. "7.2.22".
    pub fn handshake(&mut self, timeout: Duration) -> Result<String, QmpError> {
        let deadline = Instant::now() + timeout;
        let greeting = loop {
            let msg = self.read_message(deadline)?;
            if let Some(g) = msg.get("QMP") {
                break g.clone();
            }
            if !self.stash_event(&msg) {
                return Err(QmpError::Protocol(format!("expected the QMP greeting, got {}", quote(&msg.to_string()))));
            }
        };
        let v = &greeting["version"]["qemu"];
        let version = format!("{}.{}.{}", v["major"], v["minor"], v["micro"]);
        self.execute_until("qmp_capabilities", json!({}), deadline)?;
        Ok(version)
    }

    /// Runs `command` with `arguments` and returns its `return` value; events that arrive
    /// meanwhile are kept.
    pub fn execute(&mut self, command: &str, arguments: Value, timeout: Duration) -> Result<Value, QmpError> {
        self.execute_until(command, arguments, Instant::now() + timeout)
    }

    fn execute_until(&mut self, command: &str, arguments: Value, deadline: Instant) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"execute": command, "id": id});
        if arguments.as_object().is_some_and(|a| !a.is_empty()) {
            msg["arguments"] = arguments;
        }
        let mut line = msg.to_string();
        line.push('\n');
        self.stream.set_write_timeout(Some(remaining(deadline)?))?;
        self.stream.write_all(line.as_bytes()).map_err(|e| match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut => QmpError::Timeout { after: Duration::ZERO },
            ErrorKind::BrokenPipe | ErrorKind::ConnectionReset => QmpError::Closed,
            _ => QmpError::Io(e),
        })?;
        loop {
            let reply = self.read_message(deadline)?;
            if self.stash_event(&reply) {
                continue;
            }
            // An answer to an earlier command that timed out: not ours, drop it.
            if reply.get("id").is_some_and(|i| i.as_u64() != Some(id)) {
                continue;
            }
            if let Some(ret) = reply.get("return") {
                return Ok(ret.clone());
            }
            if let Some(err) = reply.get("error") {
                return Err(QmpError::Command {
                    command: command.to_string(),
                    class: err["class"].as_str().unwrap_or("?").to_string(),
                    desc: err["desc"].as_str().unwrap_or("?").to_string(),
                });
            }
            return Err(QmpError::Protocol(format!("unexpected answer to {command}: {}", quote(&reply.to_string()))));
        }
    }

    /// Reads the events that arrive within `timeout` (returns at the first quiet moment after
    /// at least `timeout`, or at once when nothing is pending and `timeout` is zero).
    pub fn poll_events(&mut self, timeout: Duration) -> Result<(), QmpError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.read_message_until(deadline, true) {
                Ok(Some(msg)) => {
                    if !self.stash_event(&msg) {
                        // A late answer to a command that timed out: nothing waits for it.
                        if msg.get("return").is_none() && msg.get("error").is_none() {
                            return Err(QmpError::Protocol(format!("unexpected message: {}", quote(&msg.to_string()))));
                        }
                    }
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// The events received so far, oldest first; the client forgets them.
    pub fn take_events(&mut self) -> Vec<QmpEvent> {
        std::mem::take(&mut self.events)
    }

    /// Keeps `msg` if it is an event; says whether it was.
    fn stash_event(&mut self, msg: &Value) -> bool {
        let Some(name) = msg.get("event").and_then(Value::as_str) else {
            return false;
        };
        let ts = &msg["timestamp"];
        let qemu_time = ts["seconds"].as_f64().unwrap_or(0.0) + ts["microseconds"].as_f64().unwrap_or(0.0) * 1e-6;
        self.events.push(QmpEvent {
            name: name.to_string(),
            data: msg.get("data").cloned().unwrap_or(Value::Null),
            qemu_time,
            received: Instant::now(),
        });
        true
    }

    fn read_message(&mut self, deadline: Instant) -> Result<Value, QmpError> {
        match self.read_message_until(deadline, false)? {
            Some(v) => Ok(v),
            None => unreachable!("read_message_until returns a message or an error when not polling"),
        }
    }

    /// The next complete message. With `poll`, the deadline passing is not an error: None.
    fn read_message_until(&mut self, deadline: Instant, poll: bool) -> Result<Option<Value>, QmpError> {
        let started = Instant::now();
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let text = String::from_utf8_lossy(&line);
                let text = text.trim();
                if text.is_empty() {
                    continue;
                }
                let value: Value = serde_json::from_str(text).map_err(|_| QmpError::Protocol(quote(text)))?;
                if !value.is_object() {
                    return Err(QmpError::Protocol(quote(text)));
                }
                return Ok(Some(value));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                if poll {
                    return Ok(None);
                }
                return Err(QmpError::Timeout { after: started.elapsed() });
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 16 << 10];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(QmpError::Closed),
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if poll {
                        return Ok(None);
                    }
                    return Err(QmpError::Timeout { after: started.elapsed() });
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Err(QmpError::Closed),
                Err(e) => return Err(QmpError::Io(e)),
            }
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, QmpError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(QmpError::Timeout { after: Duration::ZERO });
    }
    Ok(left)
}

fn quote(text: &str) -> String {
    let mut q: String = text.chars().take(QUOTE).collect();
    if text.chars().count() > QUOTE {
        q.push_str("...");
    }
    format!("'{q}'")
}

// The client's tests (against a fake QEMU on a socket pair) are in native-runner/tests/qemu.rs.
