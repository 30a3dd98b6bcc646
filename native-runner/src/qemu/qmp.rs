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
//! What a peer can make the client hold is bounded: a line of at most [`MAX_LINE`] bytes
//! ([`QmpError::LineTooLong`]) and at most [`MAX_EVENTS`] unread events
//! ([`QmpError::TooManyEvents`]). A JSON object that lacks what QMP promises (a greeting without
//! its version, an error without its class and description, an event without its timestamp)
//! is [`QmpError::Malformed`], naming the field.

use serde_json::{json, Value};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    /// Nothing (or no complete answer) arrived in time.
    #[error("no answer within {}", livemig_core::units::Quantity::Duration.show(.after.as_secs_f64()))]
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
    /// A line longer than [`MAX_LINE`] bytes (no newline within it).
    #[error("a QMP line longer than {MAX_LINE} bytes: accepted up to {MAX_LINE}")]
    LineTooLong,
    /// More than [`MAX_EVENTS`] events arrived without being taken.
    #[error("more than {MAX_EVENTS} unread QMP events: accepted up to {MAX_EVENTS}")]
    TooManyEvents,
    /// A QMP message without a field QMP promises, or with one of the wrong type.
    #[error("malformed QMP message: {field}: {found}: accepted {accepted}")]
    Malformed {
        /// The field, e.g. `QMP.version.qemu.major`.
        field: &'static str,
        /// What was there, shortly quoted.
        found: String,
        /// What is accepted.
        accepted: &'static str,
    },
    /// A socket error.
    #[error("QMP socket: {0}")]
    Io(#[from] std::io::Error),
}

/// Longest QMP line read (QEMU's answers are a few KiB; `query-migrate` under 2 KiB).
pub const MAX_LINE: usize = 1 << 20;
/// Most events kept unread (a migration raises a few dozen).
pub const MAX_EVENTS: usize = 10_000;

/// `value[field]` as a u64, or [`QmpError::Malformed`] naming `name`.
fn field_u64(value: &Value, name: &'static str, accepted: &'static str) -> Result<u64, QmpError> {
    value.as_u64().ok_or_else(|| QmpError::Malformed { field: name, found: quote(&value.to_string()), accepted })
}

/// `value` as a number, or [`QmpError::Malformed`] naming `name`.
fn field_f64(value: &Value, name: &'static str, accepted: &'static str) -> Result<f64, QmpError> {
    value.as_f64().ok_or_else(|| QmpError::Malformed { field: name, found: quote(&value.to_string()), accepted })
}

/// `value` as a string, or [`QmpError::Malformed`] naming `name`.
fn field_str<'a>(value: &'a Value, name: &'static str) -> Result<&'a str, QmpError> {
    value.as_str().ok_or_else(|| QmpError::Malformed { field: name, found: quote(&value.to_string()), accepted: "a string" })
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
            if !self.stash_event(&msg)? {
                return Err(QmpError::Protocol(format!("expected the QMP greeting, got {}", quote(&msg.to_string()))));
            }
        };
        let v = &greeting["version"]["qemu"];
        let number = "a whole number";
        let version = format!(
            "{}.{}.{}",
            field_u64(&v["major"], "QMP.version.qemu.major", number)?,
            field_u64(&v["minor"], "QMP.version.qemu.minor", number)?,
            field_u64(&v["micro"], "QMP.version.qemu.micro", number)?
        );
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
            if self.stash_event(&reply)? {
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
                    class: field_str(&err["class"], "error.class")?.to_string(),
                    desc: field_str(&err["desc"], "error.desc")?.to_string(),
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
                    if !self.stash_event(&msg)? {
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

    /// Keeps `msg` if it is an event; says whether it was. An event without a numeric
    /// timestamp, or one beyond [`MAX_EVENTS`] unread, is an error.
    fn stash_event(&mut self, msg: &Value) -> Result<bool, QmpError> {
        let Some(name) = msg.get("event") else {
            return Ok(false);
        };
        let name = field_str(name, "event")?;
        let ts = &msg["timestamp"];
        let seconds = "a number of seconds";
        let qemu_time = field_f64(&ts["seconds"], "timestamp.seconds", seconds)?
            + field_f64(&ts["microseconds"], "timestamp.microseconds", "a number of microseconds")? * 1e-6;
        if self.events.len() >= MAX_EVENTS {
            return Err(QmpError::TooManyEvents);
        }
        self.events.push(QmpEvent {
            name: name.to_string(),
            data: msg.get("data").cloned().unwrap_or(Value::Null),
            qemu_time,
            received: Instant::now(),
        });
        Ok(true)
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
            if self.pending.len() > MAX_LINE {
                return Err(QmpError::LineTooLong);
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

// The client's tests against a fake QEMU are in native-runner/tests/qemu.rs; those of its
// bounds and malformed messages are here.
#[cfg(test)]
mod tests {
    use super::*;

    /// A client whose peer has already written `bytes` (and stays connected).
    fn peer_wrote(bytes: &[u8]) -> (Qmp, UnixStream) {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        theirs.write_all(bytes).unwrap();
        (Qmp::from_stream(ours), theirs)
    }

    const GREETING: &str = r#"{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}}, "capabilities": []}}"#;

    #[test]
    fn a_line_without_end_is_refused_at_the_bound_not_buffered_on() {
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let chunk = vec![b' '; 64 << 10];
            // Until the client hangs up; at most 4 MiB.
            for _ in 0..64 {
                if theirs.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let t = Instant::now();
        let e = Qmp::from_stream(ours).handshake(Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, QmpError::LineTooLong), "{e:?}");
        assert_eq!(e.to_string(), format!("a QMP line longer than {MAX_LINE} bytes: accepted up to {MAX_LINE}"));
        assert!(t.elapsed() < Duration::from_secs(2));
        writer.join().unwrap();
    }

    #[test]
    fn malformed_greetings_errors_and_events_name_the_field() {
        let (mut q, _peer) = peer_wrote(b"{\"QMP\": {\"capabilities\": []}}\n");
        let e = q.handshake(Duration::from_secs(1)).unwrap_err().to_string();
        assert_eq!(e, "malformed QMP message: QMP.version.qemu.major: 'null': accepted a whole number");
        let (mut q, _peer) = peer_wrote(format!("{GREETING}\n{{\"error\": {{\"class\": 7}}, \"id\": 1}}\n").as_bytes());
        let e = q.handshake(Duration::from_secs(1)).unwrap_err().to_string();
        assert_eq!(e, "malformed QMP message: error.class: '7': accepted a string");
        let (mut q, _peer) = peer_wrote(format!("{GREETING}\n{{\"event\": \"STOP\"}}\n").as_bytes());
        let e = q.handshake(Duration::from_secs(1)).unwrap_err().to_string();
        assert_eq!(e, "malformed QMP message: timestamp.seconds: 'null': accepted a number of seconds");
    }

    #[test]
    fn unread_events_are_bounded() {
        let event = r#"{"event": "X", "timestamp": {"seconds": 1, "microseconds": 0}}"#;
        let (ours, mut theirs) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            for _ in 0..=MAX_EVENTS {
                if writeln!(theirs, "{event}").is_err() {
                    break;
                }
            }
            theirs
        });
        let mut q = Qmp::from_stream(ours);
        let e = q.poll_events(Duration::from_secs(5)).unwrap_err();
        assert!(matches!(e, QmpError::TooManyEvents), "{e:?}");
        assert_eq!(q.take_events().len(), MAX_EVENTS);
        drop(writer.join().unwrap());
    }
}
