//! What `fnmesh test` prints: one line per case (`ok` or `FAILED`, the file, the case's
//! name, its time), each failure under its case, and a summary line.

use std::fmt::Write as _;

use super::Outcome;

/// The report of `outcome`, as printed.
pub fn text(outcome: &Outcome) -> String {
    let mut text = String::new();
    for result in &outcome.results {
        let status = if result.passed() { "ok    " } else { "FAILED" };
        let note = if result.has_expectations { "" } else { " (no expect: yet; --update writes it)" };
        let _ = writeln!(
            text,
            "{status} {}: {} ({:.2}s){note}",
            result.file.display(),
            result.name,
            result.duration.as_secs_f64()
        );
        for failure in &result.failures {
            for (i, line) in failure.trim_end().lines().enumerate() {
                let _ = writeln!(text, "{}{line}", if i == 0 { "  - " } else { "  " });
            }
        }
    }
    let passed = outcome.results.iter().filter(|r| r.passed()).count();
    let failed = outcome.results.len() - passed;
    let verdict = if failed == 0 { "ok" } else { "FAILED" };
    let _ = writeln!(text, "test result: {verdict}. {passed} passed; {failed} failed");
    for updated in &outcome.updated {
        let _ = writeln!(text, "updated {updated} (review the expectations before you commit them)");
    }
    text
}
