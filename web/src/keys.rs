//! The playground's keyboard: which key does what, as a plain function the app's one `keydown`
//! listener calls (and the unit tests check).
//!
//! | key | everywhere | in presentation mode also |
//! |---|---|---|
//! | space | play / pause | |
//! | → / ← | one event forward / back | |
//! | Shift+→ / Shift+← | one round forward / back | |
//! | Home / End | restart / jump to the end | |
//! | p | enter or leave presentation mode | |
//! | Esc | | leave presentation mode |
//! | PageDown / PageUp, ↓ / ↑ | | one round forward / back (what a presenter remote sends) |
//!
//! In the race view the same keys drive the race's clock, where every step (→ / ←, with or
//! without Shift, and PageDown / PageUp) goes to the next / previous moment something happens to
//! any racer: a round starts, a downtime starts or ends, a racer finishes
//! ([`crate::race::moments`]).
//!
//! Keys typed into a text field, a number field, a select or the scrubber are theirs, not the
//! player's; on a focused button, space and Enter press the button.

use crate::state::player::PlayerAction;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KeyCommand {
    /// A player action.
    Player(PlayerAction),
    /// Enter or leave presentation mode.
    TogglePresent,
    /// Leave presentation mode.
    LeavePresent,
}

/// Where the key was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyTarget {
    /// The page, a link or a non-form element.
    Page,
    /// A button.
    Button,
    /// A text, number or range input, a select or a text area.
    Field,
}

impl KeyTarget {
    /// Where `e` was pressed: in a form field (an editable element included), on a button or
    /// link-like control, or elsewhere on the page.
    pub fn of_event(e: &web_sys::KeyboardEvent) -> KeyTarget {
        let element = e.target().and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok());
        match element {
            Some(el) => match el.tag_name().as_str() {
                "INPUT" | "SELECT" | "TEXTAREA" => KeyTarget::Field,
                "BUTTON" | "SUMMARY" | "A" => KeyTarget::Button,
                _ if el.has_attribute("contenteditable") => KeyTarget::Field,
                _ => KeyTarget::Page,
            },
            None => KeyTarget::Page,
        }
    }
}

/// The command for `key` (the DOM's `KeyboardEvent.key`), or `None` when the key is not the
/// player's (the browser then does what it usually does).
pub fn command(key: &str, shift: bool, modifier: bool, target: KeyTarget, presenting: bool) -> Option<KeyCommand> {
    use PlayerAction as P;
    if modifier {
        // Ctrl/Alt/Meta combinations belong to the browser (Ctrl+P prints, Alt+← goes back).
        return None;
    }
    match target {
        KeyTarget::Field => return None,
        KeyTarget::Button if matches!(key, " " | "Enter") => return None,
        _ => {}
    }
    let c = match key {
        " " => KeyCommand::Player(P::PlayPause),
        "ArrowRight" if shift => KeyCommand::Player(P::StepRound(true)),
        "ArrowLeft" if shift => KeyCommand::Player(P::StepRound(false)),
        "ArrowRight" => KeyCommand::Player(P::StepEvent(true)),
        "ArrowLeft" => KeyCommand::Player(P::StepEvent(false)),
        "Home" => KeyCommand::Player(P::Restart),
        "End" => KeyCommand::Player(P::End),
        "p" | "P" => KeyCommand::TogglePresent,
        "Escape" if presenting => KeyCommand::LeavePresent,
        "PageDown" | "ArrowDown" if presenting => KeyCommand::Player(P::StepRound(true)),
        "PageUp" | "ArrowUp" if presenting => KeyCommand::Player(P::StepRound(false)),
        _ => return None,
    };
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyTarget::*;

    #[test]
    fn player_keys_work_everywhere_but_in_fields() {
        assert_eq!(command(" ", false, false, Page, false), Some(KeyCommand::Player(PlayerAction::PlayPause)));
        assert_eq!(command("ArrowRight", true, false, Page, false), Some(KeyCommand::Player(PlayerAction::StepRound(true))));
        assert_eq!(command("ArrowLeft", false, false, Button, true), Some(KeyCommand::Player(PlayerAction::StepEvent(false))));
        assert_eq!(command("ArrowLeft", false, false, Field, true), None);
        assert_eq!(command("p", false, false, Field, false), None, "typing a p into a field");
        assert_eq!(command(" ", false, false, Button, false), None, "space presses the focused button");
        assert_eq!(command("p", false, true, Page, false), None, "Ctrl+P prints");
    }

    #[test]
    fn presenter_remote_keys_only_in_presentation_mode() {
        for (key, forward) in [("PageDown", true), ("PageUp", false), ("ArrowDown", true), ("ArrowUp", false)] {
            assert_eq!(command(key, false, false, Page, true), Some(KeyCommand::Player(PlayerAction::StepRound(forward))));
            assert_eq!(command(key, false, false, Page, false), None, "{key} scrolls the normal page");
        }
        assert_eq!(command("Escape", false, false, Page, true), Some(KeyCommand::LeavePresent));
        assert_eq!(command("Escape", false, false, Page, false), None);
        assert_eq!(command("p", false, false, Page, true), Some(KeyCommand::TogglePresent));
    }
}
