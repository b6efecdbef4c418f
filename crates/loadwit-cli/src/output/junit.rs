//! `--junit FILE`: thresholds and checks as JUnit XML, which CI systems
//! show as test results.
//!
//! Two suites: `thresholds`, one case per threshold (`metric{filter}:
//! expression`), and `checks`, one case per check and group (`::group::
//! check`). A failed case carries what was observed.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use loadwit_metrics::{Summary, format};

struct Case {
    name: String,
    failure: Option<String>,
}

/// Writes the report of `summary` to `path`.
///
/// # Errors
///
/// When the file cannot be written.
pub fn write(path: &Path, summary: &Summary) -> anyhow::Result<()> {
    std::fs::write(path, render(summary))
        .with_context(|| format!("cannot write the `--junit` file `{}`", path.display()))
}

/// The report as XML text.
pub fn render(summary: &Summary) -> String {
    let suites = [
        ("thresholds", threshold_cases(summary)),
        ("checks", check_cases(summary)),
    ];
    let tests: usize = suites.iter().map(|(_, cases)| cases.len()).sum();
    let failures: usize = suites.iter().map(|(_, cases)| failed(cases)).sum();

    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        xml,
        r#"<testsuites name="loadwit" tests="{tests}" failures="{failures}">"#
    );
    for (name, cases) in &suites {
        suite(&mut xml, name, cases);
    }
    xml.push_str("</testsuites>\n");
    xml
}

fn failed(cases: &[Case]) -> usize {
    cases.iter().filter(|c| c.failure.is_some()).count()
}

fn suite(xml: &mut String, name: &str, cases: &[Case]) {
    let _ = writeln!(
        xml,
        r#"  <testsuite name="{name}" tests="{}" failures="{}">"#,
        cases.len(),
        failed(cases)
    );
    for case in cases {
        let case_name = escape(&case.name);
        match &case.failure {
            None => {
                let _ = writeln!(
                    xml,
                    r#"    <testcase classname="{name}" name="{case_name}"/>"#
                );
            }
            Some(message) => {
                let message = escape(message);
                let _ = writeln!(
                    xml,
                    r#"    <testcase classname="{name}" name="{case_name}">
      <failure message="{message}">{message}</failure>
    </testcase>"#
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n");
}

fn threshold_cases(summary: &Summary) -> Vec<Case> {
    summary
        .outcomes()
        .iter()
        .map(|outcome| Case {
            name: outcome.threshold.to_string(),
            failure: (!outcome.passed).then(|| format!("observed {}", outcome.observed_text())),
        })
        .collect()
}

fn check_cases(summary: &Summary) -> Vec<Case> {
    summary
        .checks()
        .iter()
        .map(|check| {
            let total = check.passes + check.fails;
            let failure = (check.fails > 0).then(|| {
                let percent = format::format_percent(check.passes as f64 / total as f64);
                format!(
                    "passed {percent}: {} of {}",
                    format::format_count(check.passes),
                    format::format_count(total)
                )
            });
            Case {
                name: format!("{}::{}", check.group, check.name),
                failure,
            }
        })
        .collect()
}

/// Escapes text for an XML attribute or element.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_makes_attributes_safe() {
        assert_eq!(
            escape(r#"p(95)<500 & "x""#),
            "p(95)&lt;500 &amp; &quot;x&quot;"
        );
        assert_eq!(escape("a\u{1}b"), "ab");
    }
}
