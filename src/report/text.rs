//! Making journal text inert for a terminal (ARCHITECTURE.md §1.9): control and format characters other than
//! newline and tab become visible `\u{…}` escapes. It does not judge the text; refusing it is the gateway's job.

use std::fmt::Write;

/// `text` with every Unicode Cc or Cf character other than `\n` and `\t` written as `\u{XXXX}`.
#[must_use]
pub fn inert(text: &str) -> String {
    if !text.chars().any(dangerous) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if dangerous(c) {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` is made visible by [`inert`]: a control character other than newline and tab, or a format
/// character. The agent gateway refuses text holding one.
#[must_use]
pub fn dangerous(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_format(c)
}

/// Unicode general category Cf (format characters: bidi controls, zero-width characters, …), Unicode 15.
fn is_format(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}
