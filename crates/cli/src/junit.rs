//! `--junit FILE`: a JUnit XML report CI systems show (one suite, one test case per
//! check, a `<failure>` on each that failed). Small enough to write by hand: the
//! format is four elements and XML escaping.

use std::fmt::Write as _;
use std::path::Path;

use crate::error::{CliError, Result};

/// One test case: its name and, when it failed, why.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub classname: String,
    pub failure: Option<String>,
}

impl Case {
    pub fn pass(classname: &str, name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            classname: classname.to_owned(),
            failure: None,
        }
    }

    pub fn fail(classname: &str, name: impl Into<String>, why: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            classname: classname.to_owned(),
            failure: Some(why.into()),
        }
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The XML text of one suite.
pub fn render(suite: &str, seconds: f64, cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"sockscope\" tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">",
        cases.len()
    );
    let _ = writeln!(
        x,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3}\">",
        escape(suite),
        cases.len()
    );
    for c in cases {
        let head = format!(
            "    <testcase name=\"{}\" classname=\"{}\"",
            escape(&c.name),
            escape(&c.classname)
        );
        match &c.failure {
            None => {
                let _ = writeln!(x, "{head}/>");
            }
            Some(why) => {
                let first = why.lines().next().unwrap_or("");
                let _ = writeln!(x, "{head}>");
                let _ = writeln!(
                    x,
                    "      <failure message=\"{}\">{}</failure>",
                    escape(first),
                    escape(why)
                );
                let _ = writeln!(x, "    </testcase>");
            }
        }
    }
    x.push_str("  </testsuite>\n</testsuites>\n");
    x
}

/// Writes the report to `path` (replacing it).
pub fn write(path: &Path, suite: &str, seconds: f64, cases: &[Case]) -> Result<()> {
    std::fs::write(path, render(suite, seconds, cases)).map_err(|source| CliError::File {
        path: path.display().to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_counted_and_text_escaped() {
        let x = render(
            "contract <check>",
            1.5,
            &[
                Case::pass("c", "a"),
                Case::fail("c", "b & \"c\"", "bad <x>\nmore"),
            ],
        );
        assert!(x.contains("tests=\"2\" failures=\"1\""), "{x}");
        assert!(x.contains("name=\"contract &lt;check&gt;\""), "{x}");
        assert!(x.contains("name=\"b &amp; &quot;c&quot;\""), "{x}");
        assert!(
            x.contains("<failure message=\"bad &lt;x&gt;\">bad &lt;x&gt;\nmore</failure>"),
            "{x}"
        );
        assert!(x.ends_with("</testsuites>\n"));
    }
}
