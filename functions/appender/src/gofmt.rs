//! Go's text formats that the appender's replies and log lines reproduce byte for byte:
//! `encoding/json` string escaping and `strconv.Quote` (the `%q` verb).

/// `s` as `json.Marshal` writes a Go string: quoted, with `<`, `>` and `&` escaped for
/// HTML (`\u003c`...), U+2028/U+2029 escaped, and Go's short escapes for controls.
pub fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => push_hex4(out, c),
            c if c < ' ' => push_hex4(out, c),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn push_hex4(out: &mut String, c: char) {
    out.push_str(&format!("\\u{:04x}", u32::from(c)));
}

/// `s` as Go's `strconv.Quote` (the `%q` verb) writes it.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c < ' ' || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c if is_go_printable(c) => out.push(c),
            c if u32::from(c) < 0x10000 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push_str(&format!("\\U{:08x}", u32::from(c))),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `strconv.IsPrint` for non-ASCII-control characters:
/// everything but other whitespace, format characters and private-use/unassigned
/// code points we can recognise without Unicode tables.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_whitespace() || c.is_control() {
        return false;
    }
    !matches!(
        u32::from(c),
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x202a..=0x202e
            | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xf0000..=0x10ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> String {
        let mut out = String::new();
        json_string(&mut out, s);
        out
    }

    #[test]
    fn json_strings_match_go_marshal() {
        assert_eq!(json("hello, world!"), r#""hello, world!""#);
        assert_eq!(json("a<b>&c"), r#""a\u003cb\u003e\u0026c""#);
        assert_eq!(json("q\"\\"), r#""q\"\\""#);
        assert_eq!(json("\u{8}\u{c}\n\r\t\u{1}\u{1f}"), r#""\b\f\n\r\t\u0001\u001f""#);
        assert_eq!(json("\u{2028}\u{2029}é☁️"), "\"\\u2028\\u2029é☁️\"");
        assert_eq!(json("\u{7f}"), "\"\u{7f}\"");
    }

    #[test]
    fn quote_matches_go_strconv_quote() {
        assert_eq!(
            quote("boring default msg, change me with env[MESSAGE]"),
            r#""boring default msg, change me with env[MESSAGE]""#
        );
        assert_eq!(quote(" - Handled by 0"), r#"" - Handled by 0""#);
        assert_eq!(quote("tab\there \"q\" \\"), r#""tab\there \"q\" \\""#);
        assert_eq!(quote("\u{7}\u{b}\u{0}\u{7f}"), r#""\a\v\x00\x7f""#);
        assert_eq!(quote("é☁ 😀"), "\"é☁ 😀\"");
        assert_eq!(quote("\u{a0}\u{200b}\u{feff}"), r#""\u00a0\u200b\ufeff""#);
        assert_eq!(quote("\u{f0000}"), r#""\U000f0000""#);
    }
}
