//! Themes: semantic roles (`critical`, `live`, `selected`, …) mapped to styles, read from `themes/*.toml`
//! (embedded in the binary, so a copied binary still has them). The screen names roles, never colours; the
//! meaning of a role is always also said in text, so `NO_COLOR` — which drops every colour and keeps bold,
//! reverse video and underline — loses nothing.

use std::collections::BTreeMap;

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use serde::Deserialize;
use thiserror::Error;

/// The built-in themes' sources, by name (the names of `config::THEMES`).
pub const SOURCES: [(&str, &str); 3] = [
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    ("high-contrast", include_str!("../../themes/high-contrast.toml")),
];

/// Why a theme could not be used.
#[derive(Debug, Error)]
pub enum ThemeError {
    /// No theme of that name.
    #[error("'{0}' is not a theme; expected one of: dark, light, high-contrast")]
    Unknown(String),
    /// The file does not parse or lacks a role.
    #[error("theme '{name}': {why}")]
    Invalid {
        /// The theme.
        name: String,
        /// What is wrong.
        why: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    roles: BTreeMap<String, RawRole>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[expect(
    clippy::struct_excessive_bools,
    reason = "the file's own shape: one flag per modifier"
)]
struct RawRole {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    dim: bool,
    #[serde(default)]
    reverse: bool,
    #[serde(default)]
    underline: bool,
}

macro_rules! roles {
    ($($role:ident: $doc:literal),* $(,)?) => {
        /// A theme: one style per semantic role.
        #[derive(Debug, Clone)]
        pub struct Theme {
            /// The theme's name.
            pub name: String,
            /// Pane borders in ASCII (`+ - |`) instead of box-drawing characters.
            pub ascii: bool,
            $(#[doc = $doc] pub $role: Style,)*
        }

        /// Every role's name, as written in the theme files.
        pub const ROLES: &[&str] = &[$(stringify!($role)),*];

        impl Theme {
            fn from_roles(name: &str, mut roles: BTreeMap<String, Style>) -> Result<Self, ThemeError> {
                let mut take = |role: &str| roles.remove(role).ok_or_else(|| ThemeError::Invalid {
                    name: name.to_owned(),
                    why: format!("the role '{role}' is missing"),
                });
                let theme = Self { name: name.to_owned(), ascii: false, $($role: take(stringify!($role))?,)* };
                if let Some(extra) = roles.keys().next() {
                    return Err(ThemeError::Invalid {
                        name: name.to_owned(),
                        why: format!("'{extra}' is not a role; expected one of: {}", ROLES.join(", ")),
                    });
                }
                Ok(theme)
            }

            fn strip_colours(&mut self) {
                $(self.$role = Style { fg: None, bg: None, ..self.$role };)*
            }
        }
    };
}

roles! {
    text: "Ordinary text.",
    dim: "Secondary text: refused proposals, labels, ages.",
    title: "Pane titles.",
    border: "Borders of unfocused panes.",
    focus: "The focused pane's border and title.",
    selected: "The selected row.",
    ok: "Healthy states: ready, live data.",
    warn: "Warnings: stepped down, delayed data, stale quotes.",
    critical: "Critical alerts, halted, refused.",
    info: "Informational alerts.",
    buy: "Buy side.",
    sell: "Sell side.",
    gain: "Positive P&L.",
    loss: "Negative P&L.",
    paper: "The PAPER banner.",
    dry_run: "The DRY-RUN banner.",
    live: "The LIVE banner.",
    live_border: "The border drawn around the whole screen on a live profile.",
    header: "The header line.",
    key: "Key names in the footer and help.",
    modal: "Dialog text.",
}

impl Theme {
    /// The built-in theme `name`; without colours when `no_color` (the `NO_COLOR` convention).
    pub fn named(name: &str, no_color: bool, ascii: bool) -> Result<Self, ThemeError> {
        let (_, source) = SOURCES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| ThemeError::Unknown(name.to_owned()))?;
        let mut theme = Self::parse(name, source)?;
        if no_color {
            theme.strip_colours();
        }
        theme.ascii = ascii;
        Ok(theme)
    }

    /// Parses a theme file.
    pub fn parse(name: &str, source: &str) -> Result<Self, ThemeError> {
        let invalid = |why: String| ThemeError::Invalid {
            name: name.to_owned(),
            why,
        };
        let file: File = toml::from_str(source).map_err(|e| invalid(e.message().to_owned()))?;
        let mut roles = BTreeMap::new();
        for (role, raw) in file.roles {
            let style = style(&raw).map_err(|why| invalid(format!("roles.{role}: {why}")))?;
            roles.insert(role, style);
        }
        Self::from_roles(name, roles)
    }

    /// The border set of every pane.
    #[must_use]
    pub fn borders(&self) -> border::Set<'static> {
        if self.ascii {
            border::Set {
                top_left: "+",
                top_right: "+",
                bottom_left: "+",
                bottom_right: "+",
                vertical_left: "|",
                vertical_right: "|",
                horizontal_top: "-",
                horizontal_bottom: "-",
            }
        } else {
            border::ROUNDED
        }
    }
}

/// Whether `NO_COLOR` asks for no colour: set and not empty (no-color.org).
#[must_use]
pub fn no_color_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

fn style(raw: &RawRole) -> Result<Style, String> {
    let mut style = Style::default();
    if let Some(fg) = &raw.fg {
        style = style.fg(colour(fg)?);
    }
    if let Some(bg) = &raw.bg {
        style = style.bg(colour(bg)?);
    }
    for (on, modifier) in [
        (raw.bold, Modifier::BOLD),
        (raw.dim, Modifier::DIM),
        (raw.reverse, Modifier::REVERSED),
        (raw.underline, Modifier::UNDERLINED),
    ] {
        if on {
            style = style.add_modifier(modifier);
        }
    }
    Ok(style)
}

fn colour(text: &str) -> Result<Color, String> {
    if let Some(hex) = text.strip_prefix('#') {
        if hex.len() == 6
            && let Ok(v) = u32::from_str_radix(hex, 16)
        {
            let [_, r, g, b] = v.to_be_bytes();
            return Ok(Color::Rgb(r, g, b));
        }
        return Err(format!("'{text}' is not a colour; expected #rrggbb"));
    }
    let named = [
        ("reset", Color::Reset),
        ("black", Color::Black),
        ("red", Color::Red),
        ("green", Color::Green),
        ("yellow", Color::Yellow),
        ("blue", Color::Blue),
        ("magenta", Color::Magenta),
        ("cyan", Color::Cyan),
        ("gray", Color::Gray),
        ("darkgray", Color::DarkGray),
        ("lightred", Color::LightRed),
        ("lightgreen", Color::LightGreen),
        ("lightyellow", Color::LightYellow),
        ("lightblue", Color::LightBlue),
        ("lightmagenta", Color::LightMagenta),
        ("lightcyan", Color::LightCyan),
        ("white", Color::White),
    ];
    named
        .iter()
        .find(|(n, _)| *n == text)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            format!(
                "'{text}' is not a colour; expected a name ({}) or #rrggbb",
                named.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )
        })
}

#[cfg(test)]
mod tests {
    #![expect(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn every_built_in_theme_parses_and_is_a_config_theme() {
        assert_eq!(
            SOURCES.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            crate::config::THEMES.to_vec()
        );
        for (name, _) in SOURCES {
            let theme = Theme::named(name, false, false).unwrap();
            assert!(theme.live.bg.is_some() || theme.live.add_modifier.contains(Modifier::REVERSED));
        }
    }

    #[test]
    fn no_color_keeps_modifiers_and_drops_colours() {
        let theme = Theme::named("dark", true, false).unwrap();
        assert_eq!(theme.live.fg, None);
        assert_eq!(theme.live.bg, None);
        assert!(theme.critical.add_modifier.contains(Modifier::BOLD));
        assert!(no_color_requested(Some(std::ffi::OsStr::new("1"))));
        assert!(!no_color_requested(Some(std::ffi::OsStr::new(""))));
        assert!(!no_color_requested(None));
    }

    #[test]
    fn a_bad_theme_names_what_is_wrong() {
        let missing = Theme::parse("t", "[roles]\ntext = { fg = \"reset\" }\n").unwrap_err();
        assert!(
            missing.to_string().contains("the role 'dim' is missing"),
            "{missing}"
        );
        let colour = Theme::parse("t", "[roles]\ntext = { fg = \"purple\" }\n").unwrap_err();
        assert!(
            colour
                .to_string()
                .contains("roles.text: 'purple' is not a colour"),
            "{colour}"
        );
        let hex = Theme::parse("t", "[roles]\ntext = { fg = \"#12345\" }\n").unwrap_err();
        assert!(hex.to_string().contains("#rrggbb"), "{hex}");
        assert!(matches!(
            Theme::named("mono", false, false),
            Err(ThemeError::Unknown(_))
        ));
    }

    #[test]
    fn ascii_borders_are_ascii() {
        let theme = Theme::named("dark", false, true).unwrap();
        assert!(theme.borders().top_left.is_ascii() && theme.borders().horizontal_top.is_ascii());
    }
}
