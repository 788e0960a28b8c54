//! `fnmesh test --junit FILE`: the results as JUnit XML, one `<testsuite>` per test file
//! and one `<testcase>` per case, the failures' text in `<failure>`, as CI systems read it.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::case::CaseResult;

/// `text` escaped for XML attributes and content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot hold at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML of `results`.
pub fn xml(results: &[CaseResult]) -> String {
    let mut files: Vec<PathBuf> = results.iter().map(|r| r.file.clone()).collect();
    files.dedup();
    let failures = results.iter().filter(|r| !r.passed()).count();
    let total: f64 = results.iter().map(|r| r.duration.as_secs_f64()).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        "<testsuites name=\"fnmesh test\" tests=\"{}\" failures=\"{failures}\" time=\"{total:.3}\">",
        results.len()
    );
    for file in &files {
        let cases: Vec<&CaseResult> = results.iter().filter(|r| &r.file == file).collect();
        let failed = cases.iter().filter(|r| !r.passed()).count();
        let time: f64 = cases.iter().map(|r| r.duration.as_secs_f64()).sum();
        let name = escape(&file.display().to_string());
        let _ = writeln!(
            xml,
            "  <testsuite name=\"{name}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" time=\"{time:.3}\">",
            cases.len()
        );
        for case in cases {
            let _ = write!(
                xml,
                "    <testcase classname=\"{name}\" name=\"{}\" time=\"{:.3}\"",
                escape(&case.name),
                case.duration.as_secs_f64()
            );
            if case.passed() {
                xml.push_str("/>\n");
                continue;
            }
            let first = case.failures.first().and_then(|f| f.lines().next()).unwrap_or_default();
            let _ = writeln!(
                xml,
                ">\n      <failure message=\"{}\">{}</failure>\n      <system-out>{}</system-out>\n    </testcase>",
                escape(first),
                escape(&case.failures.join("\n")),
                escape(&case.output)
            );
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & \"c\"\u{1b}"), "a&lt;b &amp; &quot;c&quot;\\u{1b}");
    }
}
