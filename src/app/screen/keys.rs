//! The keymap: `[keys]` of the config turned into a lookup from a key press to an [`Action`].

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::config::Action;

/// Key presses to actions, from the config (every action has exactly one configured key; the arrows and
/// `Shift-Tab` always work too).
#[derive(Debug, Clone)]
pub struct Keymap {
    keys: BTreeMap<Action, KeyCode>,
}

impl Default for Keymap {
    fn default() -> Self {
        Self::new(
            &Action::ALL
                .iter()
                .map(|a| (*a, a.default_key().to_owned()))
                .collect(),
        )
    }
}

impl Keymap {
    /// From `[keys]` (already validated by the config loader; an unparsable key keeps its default).
    #[must_use]
    pub fn new(keys: &BTreeMap<Action, String>) -> Self {
        let keys = Action::ALL
            .iter()
            .map(|a| {
                let code = keys
                    .get(a)
                    .and_then(|k| code(k))
                    .or_else(|| code(a.default_key()))
                    .unwrap_or(KeyCode::Null);
                (*a, code)
            })
            .collect();
        Self { keys }
    }

    /// The action of a key press, if any.
    #[must_use]
    pub fn action(&self, key: KeyEvent) -> Option<Action> {
        if key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        {
            return None;
        }
        let fixed = match key.code {
            KeyCode::Up => Some(Action::Up),
            KeyCode::Down => Some(Action::Down),
            KeyCode::BackTab => Some(Action::FocusPrev),
            _ => None,
        };
        self.keys
            .iter()
            .find(|(_, code)| **code == key.code)
            .map(|(a, _)| *a)
            .or(fixed)
    }

    /// The key of `action` as shown in the footer and help (`a`, `Enter`, `Tab`).
    #[must_use]
    pub fn label(&self, action: Action) -> String {
        self.keys.get(&action).map_or_else(String::new, |c| label(*c))
    }
}

/// A key's name, as in `[keys]`.
#[must_use]
pub fn label(code: KeyCode) -> String {
    match code {
        KeyCode::Char(c) => c.to_string(),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::Tab => "Tab".into(),
        KeyCode::BackTab => "BackTab".into(),
        KeyCode::Up => "Up".into(),
        KeyCode::Down => "Down".into(),
        KeyCode::Left => "Left".into(),
        KeyCode::Right => "Right".into(),
        KeyCode::Backspace => "Backspace".into(),
        KeyCode::PageUp => "PageUp".into(),
        KeyCode::PageDown => "PageDown".into(),
        KeyCode::F(n) => format!("F{n}"),
        other => format!("{other:?}"),
    }
}

/// Parses a key as written in `[keys]`.
#[must_use]
pub fn code(text: &str) -> Option<KeyCode> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return Some(KeyCode::Char(c));
    }
    Some(match text {
        "Enter" => KeyCode::Enter,
        "Esc" => KeyCode::Esc,
        "Tab" => KeyCode::Tab,
        "BackTab" => KeyCode::BackTab,
        "Up" => KeyCode::Up,
        "Down" => KeyCode::Down,
        "Left" => KeyCode::Left,
        "Right" => KeyCode::Right,
        "Backspace" => KeyCode::Backspace,
        "PageUp" => KeyCode::PageUp,
        "PageDown" => KeyCode::PageDown,
        f => KeyCode::F(f.strip_prefix('F')?.parse().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn defaults_follow_the_architecture() {
        let map = Keymap::default();
        assert_eq!(map.action(press(KeyCode::Char('a'))), Some(Action::Approve));
        assert_eq!(map.action(press(KeyCode::Char('A'))), Some(Action::Acknowledge));
        assert_eq!(map.action(press(KeyCode::Char('K'))), Some(Action::TradingState));
        assert_eq!(map.action(press(KeyCode::Tab)), Some(Action::FocusNext));
        assert_eq!(map.action(press(KeyCode::Up)), Some(Action::Up));
        assert_eq!(map.action(press(KeyCode::Char('j'))), Some(Action::Down));
        assert_eq!(map.action(press(KeyCode::Char('x'))), None);
        assert_eq!(
            map.action(KeyEvent::new(KeyCode::Char('a'), KeyModifiers::CONTROL)),
            None
        );
    }

    #[test]
    fn a_remapped_key_moves_and_the_arrows_stay() {
        let mut keys: BTreeMap<Action, String> = Action::ALL
            .iter()
            .map(|a| (*a, a.default_key().to_owned()))
            .collect();
        keys.insert(Action::Approve, "F2".into());
        keys.insert(Action::Up, "i".into());
        let map = Keymap::new(&keys);
        assert_eq!(map.action(press(KeyCode::F(2))), Some(Action::Approve));
        assert_eq!(map.action(press(KeyCode::Char('a'))), None);
        assert_eq!(map.action(press(KeyCode::Char('i'))), Some(Action::Up));
        assert_eq!(map.action(press(KeyCode::Up)), Some(Action::Up));
        assert_eq!(map.label(Action::Approve), "F2");
    }
}
