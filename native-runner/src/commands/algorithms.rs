//! `livemig algorithms [NAME]`: every registered algorithm with its paper, or one algorithm's
//! parameters with their defaults and accepted values.

use crate::input::check_algorithm;
use crate::output::{print, print_json};
use livemig_core::algorithms::{find, registry, AlgorithmInfo};

/// Lists the algorithms, or shows the one called `name`.
pub fn run(name: Option<&str>, json: bool) -> anyhow::Result<()> {
    match name {
        None if json => {
            let list: Vec<_> = registry()
                .iter()
                .map(|a| serde_json::json!({"name": a.name, "family": a.family, "summary": a.summary, "paper": a.paper}))
                .collect();
            print_json(&list)
        }
        None => {
            let mut text = String::new();
            for a in registry() {
                text += &format!("{:<18} {:<10} {}\n{:<29} paper: {}\n", a.name, a.family, a.summary, "", a.paper);
            }
            print(&text)
        }
        Some(name) => {
            check_algorithm("NAME", name)?;
            let a = find(name).expect("checked");
            if json {
                print_json(&parameters_json(a))
            } else {
                print(&parameters_text(a))
            }
        }
    }
}

/// The value a variant fixes for parameter `name`, if it fixes one.
fn fixed<'a>(a: &'a AlgorithmInfo, name: &str) -> Option<&'a str> {
    a.fixed.iter().find(|f| f.0 == name).map(|f| f.1)
}

fn parameters_json(a: &AlgorithmInfo) -> serde_json::Value {
    let params: Vec<_> = a
        .sections()
        .flat_map(|(section, specs)| specs.iter().map(move |p| (section, p)))
        .map(|(section, p)| serde_json::json!({"name": p.name, "section": section, "default": fixed(a, p.name).unwrap_or(p.default), "accepted": p.kind.accepted(), "help": p.help, "fixed": fixed(a, p.name).is_some()}))
        .collect();
    serde_json::json!({"name": a.name, "section": a.section, "summary": a.summary, "paper": a.paper, "params": params})
}

fn parameters_text(a: &AlgorithmInfo) -> String {
    let mut text = format!("{} ({}): {}\npaper: {}\n", a.name, a.family, a.summary, a.paper);
    for (section, specs) in a.sections() {
        text += &format!("parameters, set in [params.{section}] or with --set params.{section}.NAME=VALUE:\n");
        for p in specs {
            text += &format!(
                "  {:<20} {:<14} {}{}\n  {:<20} accepted: {}\n",
                p.name,
                fixed(a, p.name).unwrap_or(p.default),
                p.help,
                if fixed(a, p.name).is_some() { " (fixed by this variant)" } else { "" },
                "",
                p.kind.accepted()
            );
        }
    }
    text
}
