//! Argument errors in the one-line style of every other `livemig` error (issue 13): the flag or
//! argument, the value as written, what is accepted. Clap's own messages span several lines
//! (usage, tips); [`one_line`] renders the same error from clap's context instead. Help and
//! version requests are not errors and are left to clap. The value parsers of `livemig`'s own
//! arguments are here too.

use clap::error::{ContextKind, ContextValue, ErrorKind};
use std::ffi::OsString;

/// Whether `e` is a request for help or the version (printed by clap, exit 0) rather than a
/// mistake.
pub fn is_help_or_version(e: &clap::Error) -> bool {
    matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
}

/// The subcommands named in `args` (after the program name), as clap would descend them: a
/// word that names a subcommand of the command reached so far.
fn command_path(root: &clap::Command, args: &[OsString]) -> (Vec<String>, clap::Command) {
    let mut path = Vec::new();
    let mut cmd = root.clone();
    for arg in args.iter().skip(1).filter_map(|a| a.to_str()) {
        if arg.starts_with('-') {
            continue;
        }
        let Some(sub) = cmd.find_subcommand(arg).cloned() else { continue };
        path.push(sub.get_name().to_string());
        cmd = sub;
    }
    (path, cmd)
}

/// A context value as text (lists joined with ", ").
fn text(v: &ContextValue) -> String {
    match v {
        ContextValue::String(s) => s.clone(),
        ContextValue::Strings(list) => list.join(", "),
        ContextValue::StyledStr(s) => s.to_string(),
        ContextValue::StyledStrs(list) => list.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        ContextValue::Number(n) => n.to_string(),
        ContextValue::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// An argument as clap names it (`--detail <DETAIL>`, `<SCENARIO>`), shortly: `--detail`,
/// `SCENARIO`.
fn arg_name(name: &str) -> String {
    let name = name.trim();
    if name.starts_with('<') {
        name.trim_end_matches("...").trim_start_matches('<').trim_end_matches('>').to_string()
    } else {
        name.split_whitespace().next().unwrap_or(name).to_string()
    }
}

/// The names of `cmd`'s visible subcommands, comma-separated.
fn subcommands(cmd: &clap::Command) -> String {
    cmd.get_subcommands().filter(|c| !c.is_hide_set()).map(|c| c.get_name().to_string()).collect::<Vec<_>>().join(", ")
}

/// A whole number from `min` to `max`, for clap's value parsers (messages in the style
/// [`one_line`] renders: "is ...: accepted ...").
pub fn whole_number(text: &str, min: u64, max: u64) -> Result<u64, String> {
    let accepted = format!("accepted a whole number from {min} to {max}");
    match text.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        Ok(_) => Err(format!("is out of range: {accepted}")),
        Err(_) if text.trim().parse::<f64>().is_ok() => Err(format!("is out of range: {accepted}")),
        Err(_) => Err(format!("is not a whole number: {accepted}")),
    }
}

// Clap's value parsers: their messages are in the style [`one_line`] renders.

/// Clap's value parser for a number above 0 (`1e9`, `2000000`).
pub fn positive_number(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(_) => Err("is out of range: accepted a number above 0, e.g. 1e9".into()),
        Err(_) => Err("is not a number: accepted a number above 0, e.g. 1e9".into()),
    }
}

/// Clap's value parser for `--max-pages`: a whole number from 1.
pub fn max_pages_arg(text: &str) -> Result<u64, String> {
    whole_number(text, 1, u64::MAX)
}

/// Clap's value parser for a size (`512MiB`, `2 GiB`).
pub fn size_arg(text: &str) -> Result<u64, String> {
    text.parse::<livemig_core::units::ByteSize>().map(|b| b.0).map_err(|e| e.to_string())
}

/// Clap's value parser for a network address, HOST:PORT with a port from 0 to 65535.
pub fn host_port(text: &str) -> Result<String, String> {
    let accepted = "accepted HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:4444";
    let (host, port) = text.rsplit_once(':').ok_or_else(|| format!("has no port: {accepted}"))?;
    if host.is_empty() {
        return Err(format!("has no host: {accepted}"));
    }
    port.parse::<u16>().map_err(|_| format!("port '{port}' is out of range: {accepted}"))?;
    Ok(text.to_string())
}

/// Clap's value parser for `bench --sizes`: a whole number of GiB from 1 to 256.
pub fn bench_size(text: &str) -> Result<u64, String> {
    whole_number(text, 1, 256).map_err(|e| e.replace("a whole number from 1 to 256", "a whole number of GiB from 1 to 256"))
}

/// Parses `kvm receive`'s `--read-timeout`, `--accept-timeout` and `--session-timeout`: a
/// duration (a bare number is seconds), 1 ms to 1 day.
pub fn duration_arg(text: &str) -> Result<std::time::Duration, String> {
    let accepted = "accepted 1 ms to 1 day, e.g. 60, 30s or 2min";
    let secs = text.parse::<livemig_core::units::Seconds>().map_err(|e| format!("{e}: {accepted}"))?.0;
    if !(1e-3..=86_400.0).contains(&secs) {
        return Err(format!("is out of range: {accepted}"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

/// Renders clap's error `e` for the command line `args` (program name first) as one line,
/// without the `livemig: ` prefix.
pub fn one_line(e: &clap::Error, root: &clap::Command, args: &[OsString]) -> String {
    let (path, cmd) = command_path(root, args);
    let shown = std::iter::once("livemig".to_string()).chain(path).collect::<Vec<_>>().join(" ");
    let help = format!("see `{shown} --help`");
    let get = |kind: ContextKind| e.get(kind).map(text).filter(|t| !t.is_empty());
    let arg = get(ContextKind::InvalidArg).map(|a| a.split(", ").map(arg_name).collect::<Vec<_>>().join(", "));
    // The value as written, even empty.
    let value = e.get(ContextKind::InvalidValue).map(text);
    let suggestion = |kind: ContextKind| get(kind).map(|s| format!(" (did you mean '{s}'?)")).unwrap_or_default();
    let line = match (e.kind(), arg, value) {
        (ErrorKind::ValueValidation, Some(arg), Some(value)) => {
            let why = std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_else(|| "is not accepted".into());
            // The value parsers' messages quote the value themselves, start with "is ..." or
            // "has ...", or say what is wrong with a part of it.
            if why.contains(&format!("'{value}'")) {
                format!("{arg}: {why}")
            } else if why.starts_with("is ") || why.starts_with("has ") {
                format!("{arg}: '{value}' {why}")
            } else {
                format!("{arg}: '{value}': {why}")
            }
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) if value.is_empty() => {
            let accepted = get(ContextKind::ValidValue).unwrap_or_else(|| "a value after it".into());
            format!("{arg}: no value given: accepted {accepted} ({help})")
        }
        (ErrorKind::InvalidValue, Some(arg), Some(value)) => {
            let accepted = get(ContextKind::ValidValue).unwrap_or_else(|| format!("what `{shown} --help` lists"));
            format!("{arg}: '{value}' is not accepted{}: accepted {accepted}", suggestion(ContextKind::SuggestedValue))
        }
        (ErrorKind::UnknownArgument, Some(arg), _) => {
            format!(
                "'{arg}' is not an option or argument of `{shown}`{}: accepted those `{shown} --help` lists",
                suggestion(ContextKind::SuggestedArg)
            )
        }
        (ErrorKind::InvalidSubcommand, _, _) => {
            let name = get(ContextKind::InvalidSubcommand).unwrap_or_default();
            let suggested = suggestion(ContextKind::SuggestedSubcommand);
            format!("'{name}' is not a command of `{shown}`{suggested}: accepted {}", subcommands(&cmd))
        }
        (ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand, _, _) => {
            format!("`{shown}` needs a command: accepted {} ({help})", subcommands(&cmd))
        }
        (ErrorKind::MissingRequiredArgument, Some(arg), _) => {
            format!("{arg}: missing: `{shown}` needs it ({help})")
        }
        (ErrorKind::ArgumentConflict, Some(arg), _) => match get(ContextKind::PriorArg) {
            Some(prior) => format!("{arg}: cannot be used with {}: accepted one of them", arg_name(&prior)),
            None => format!("{arg}: cannot be used with the other arguments given ({help})"),
        },
        (ErrorKind::WrongNumberOfValues | ErrorKind::TooManyValues | ErrorKind::TooFewValues, Some(arg), value) => {
            let expected =
                get(ContextKind::ExpectedNumValues).map(|n| format!("{n} values")).unwrap_or_else(|| "another number of values".into());
            let given = value.map(|v| format!(" ('{v}')")).unwrap_or_default();
            format!("{arg}: wrong number of values{given}: accepted {expected} ({help})")
        }
        _ => {
            // Anything else: clap's own first line.
            let rendered = e.render().to_string();
            let first = rendered.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ").to_string();
            format!("{first} ({help})")
        }
    };
    // Values may hold newlines; the message stays one line.
    line.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_say_their_range() {
        assert_eq!(whole_number("7", 1, 100), Ok(7));
        assert_eq!(whole_number("0", 1, 100), Err("is out of range: accepted a whole number from 1 to 100".into()));
        assert_eq!(whole_number("1e30", 1, 100), Err("is out of range: accepted a whole number from 1 to 100".into()));
        assert_eq!(whole_number("x", 1, 100), Err("is not a whole number: accepted a whole number from 1 to 100".into()));
    }

    #[test]
    fn argument_names_lose_their_value_names() {
        assert_eq!(arg_name("--detail <DETAIL>"), "--detail");
        assert_eq!(arg_name("<SCENARIO>"), "SCENARIO");
        assert_eq!(arg_name("<ANSWERS>..."), "ANSWERS");
        assert_eq!(arg_name("--one <SIZE_GIB> <ALGORITHM>"), "--one");
    }
}
