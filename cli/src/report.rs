//! Verdicts as CI reads them: human (coloured on a terminal), JSON, JUnit XML, GitHub
//! workflow commands and SARIF.

use std::fmt::Write as _;
use std::io::IsTerminal;

use accord::changeset::{ItemReport, Status};
use serde::Serialize;
use serde_json::{json, Value};

/// One finding at a place in a file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// `incompatible`, `lint:<rule id>`, `forbidden`, `invalid`, `skipped`, `warning:<rule>`.
    pub rule: String,
    /// `error` or `warning`.
    pub level: &'static str,
    pub line: usize,
    pub message: String,
}

/// A file's verdict: the registry's (or the offline engine's) item report, placed in the file.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub file: String,
    #[serde(flatten)]
    pub item: ItemReport,
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// Places `item`'s findings in `text` (the file's).
    pub fn new(file: &str, text: &str, item: ItemReport) -> Self {
        let mut findings = Vec::new();
        let error = |rule: String, message: String, hints: &[&str]| Finding {
            rule,
            level: "error",
            line: locate(text, hints),
            message,
        };
        match item.status {
            Status::Incompatible => {
                // The verbose answer's context lines (old schema, level) are no findings.
                for m in item.messages.iter().filter(|m| m.contains("errorType")) {
                    let hints = hints_of(m);
                    let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
                    findings.push(error("incompatible".into(), readable(m), &hints));
                }
                if findings.is_empty() {
                    findings.push(error(
                        "incompatible".into(),
                        item.message
                            .clone()
                            .unwrap_or_else(|| "incompatible".into()),
                        &[],
                    ));
                }
            }
            Status::Lint => {
                for v in &item.violations {
                    let hints = pointer_hints(&v.path, &v.message);
                    let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
                    findings.push(error(
                        format!("lint:{}", v.rule_id),
                        v.message.clone(),
                        &hints,
                    ));
                }
            }
            Status::Forbidden | Status::Invalid | Status::Skipped => {
                let rule = match item.status {
                    Status::Forbidden => "forbidden",
                    Status::Skipped => "skipped",
                    _ => "invalid",
                };
                let message = item.message.clone().unwrap_or_else(|| rule.into());
                let hints = hints_of(&message);
                let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
                findings.push(error(rule.into(), message, &hints));
            }
            Status::New | Status::Unchanged => {}
        }
        for w in &item.warnings {
            let hints = pointer_hints(&w.path, &w.message);
            let hints: Vec<&str> = hints.iter().map(String::as_str).collect();
            findings.push(Finding {
                rule: format!("warning:{}", w.rule_id),
                level: "warning",
                line: locate(text, &hints),
                message: w.message.clone(),
            });
        }
        Verdict {
            file: file.to_owned(),
            item,
            findings,
        }
    }

    pub fn failed(&self) -> bool {
        !self.item.status.passed()
    }
}

/// A verbose compatibility message (`{errorType:'…', description:'…', additionalInfo:'…'}`, as
/// the registry words it) as a sentence: the description, then the error type.
pub fn readable(message: &str) -> String {
    let field = |name: &str| {
        let start = message.find(&format!("{name}:'"))? + name.len() + 2;
        let rest = &message[start..];
        // The value runs to the quote that closes it: the one before `, ` or `}`.
        let end = rest
            .match_indices('\'')
            .map(|(i, _)| i)
            .find(|&i| matches!(rest[i + 1..].chars().next(), Some(',' | '}') | None))?;
        Some(&rest[..end])
    };
    match (field("errorType"), field("description")) {
        (Some(kind), Some(description)) => format!("{description} ({kind})"),
        _ => message.to_owned(),
    }
}

/// Names worth looking for in a compatibility message: its `additionalInfo`, then quoted words.
fn hints_of(message: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |hint: &str| {
        // A path (`#/properties/sku`, `/fields/3`): its last named segment.
        if hint.starts_with('#') || hint.starts_with('/') {
            let named = hint.split('/').rev().find(|s| {
                !s.is_empty()
                    && s.parse::<usize>().is_err()
                    && !["#", "fields", "properties", "items", "definitions", "$defs"].contains(s)
            });
            if let Some(n) = named {
                out.push(n.to_owned());
            }
        } else if !hint.is_empty() && !hint.contains(' ') {
            out.push(hint.to_owned());
        }
    };
    if let Some(rest) = message.split("additionalInfo:'").nth(1) {
        if let Some(info) = rest.split('\'').next() {
            push(info);
        }
    }
    for (k, part) in message.split(['\'', '"']).enumerate() {
        if k % 2 == 1 {
            push(part);
        }
    }
    out
}

/// Names in a JSON pointer (last named segment first) and a message.
fn pointer_hints(pointer: &str, message: &str) -> Vec<String> {
    let mut out = hints_of(message);
    out.extend(
        pointer
            .split('/')
            .rev()
            .filter(|s| !s.is_empty() && s.parse::<usize>().is_err())
            .filter(|s| !["fields", "name", "type", "properties"].contains(s))
            .map(str::to_owned),
    );
    out
}

/// The 1-based line of the first hint found in `text` (quoted, else as a word); 1 otherwise.
pub fn locate(text: &str, hints: &[&str]) -> usize {
    for hint in hints {
        let quoted = format!("\"{hint}\"");
        if let Some(n) = text.lines().position(|l| l.contains(&quoted)) {
            return n + 1;
        }
        let word = regex::Regex::new(&format!(r"\b{}\b", regex::escape(hint)));
        if let Ok(word) = word {
            if let Some(n) = text.lines().position(|l| word.is_match(l)) {
                return n + 1;
            }
        }
    }
    1
}

/// Whether to colour: standard output is a terminal and `NO_COLOR` is not set.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    Junit,
    Github,
    Sarif,
}

/// Renders the verdicts of a command: `mode` is `online` or `offline` (check), `apply` or
/// `lint`; `colour` for human output on a terminal.
pub fn render(format: Format, mode: &str, verdicts: &[Verdict], colour: bool) -> String {
    match format {
        Format::Human => human(mode, verdicts, colour),
        Format::Json => {
            let ok = verdicts.iter().all(|v| !v.failed());
            let body = json!({"ok": ok, "mode": mode, "items": verdicts});
            serde_json::to_string_pretty(&body).unwrap_or_default() + "\n"
        }
        Format::Junit => junit(mode, verdicts),
        Format::Github => github(verdicts),
        Format::Sarif => serde_json::to_string_pretty(&sarif(verdicts)).unwrap_or_default() + "\n",
    }
}

fn human(mode: &str, verdicts: &[Verdict], colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    for v in verdicts {
        let (mark, code) = match v.item.status {
            Status::Unchanged => ("=", "2"),
            Status::New => ("+", "32"),
            _ => ("✗", "31"),
        };
        let status = serde_json::to_value(v.item.status)
            .ok()
            .and_then(|s| s.as_str().map(str::to_owned))
            .unwrap_or_default();
        let version = v.item.version.map(|n| format!(" v{n}")).unwrap_or_default();
        let _ = writeln!(
            out,
            "{} {} {} ({}{})",
            paint(code, mark),
            v.file,
            paint("1", &v.item.subject),
            paint(code, &status),
            version
        );
        for f in &v.findings {
            let level = if f.level == "error" {
                paint("31", "error")
            } else {
                paint("33", "warning")
            };
            let _ = writeln!(
                out,
                "    {}:{}: {level} [{}] {}",
                v.file, f.line, f.rule, f.message
            );
        }
    }
    let failed = verdicts.iter().filter(|v| v.failed()).count();
    let new = verdicts
        .iter()
        .filter(|v| v.item.status == Status::New)
        .count();
    let n = verdicts.len();
    let summary = match mode {
        "apply" if failed > 0 => {
            format!("accord apply: {n} subjects, {failed} failing; nothing was registered")
        }
        "apply" => format!("accord apply: {n} subjects, {new} registered"),
        "lint" => format!("accord lint: {n} schemas, {failed} failing"),
        _ => format!("accord check ({mode}): {n} subjects, {new} to register, {failed} failing"),
    };
    let _ = writeln!(
        out,
        "{}",
        paint(if failed > 0 { "31;1" } else { "32;1" }, &summary)
    );
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn junit(mode: &str, verdicts: &[Verdict]) -> String {
    let failures = verdicts.iter().filter(|v| v.failed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"accord\" tests=\"{}\" failures=\"{failures}\">",
        verdicts.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"accord check ({mode})\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        verdicts.len()
    );
    for v in verdicts {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\"",
            xml_escape(&v.item.subject),
            xml_escape(&v.file),
            xml_escape(&v.file)
        );
        let errors: Vec<&Finding> = v.findings.iter().filter(|f| f.level == "error").collect();
        if !v.failed() {
            out.push_str("/>\n");
            continue;
        }
        out.push_str(">\n");
        let first = errors
            .first()
            .map(|f| f.message.as_str())
            .unwrap_or("failed");
        let ty = errors.first().map(|f| f.rule.as_str()).unwrap_or("failed");
        let details: Vec<String> = errors
            .iter()
            .map(|f| format!("{}:{}: [{}] {}", v.file, f.line, f.rule, f.message))
            .collect();
        let _ = writeln!(
            out,
            "      <failure message=\"{}\" type=\"{}\">{}</failure>",
            xml_escape(first),
            xml_escape(ty),
            xml_escape(&details.join("\n"))
        );
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// GitHub workflow-command escaping: data, and property values (which also escape `:` `,`).
fn gh_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_property(s: &str) -> String {
    gh_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn github(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        for f in &v.findings {
            let _ = writeln!(
                out,
                "::{} file={},line={},title={}::{}",
                f.level,
                gh_property(&v.file),
                f.line,
                gh_property(&format!("accord {} ({})", f.rule, v.item.subject)),
                gh_data(&f.message)
            );
        }
    }
    let failed = verdicts.iter().filter(|v| v.failed()).count();
    let _ = writeln!(
        out,
        "accord check: {} subjects, {failed} failing",
        verdicts.len()
    );
    out
}

fn sarif(verdicts: &[Verdict]) -> Value {
    let mut rules: Vec<String> = verdicts
        .iter()
        .flat_map(|v| v.findings.iter().map(|f| f.rule.clone()))
        .collect();
    rules.sort();
    rules.dedup();
    let results: Vec<Value> = verdicts
        .iter()
        .flat_map(|v| {
            v.findings.iter().map(move |f| {
                json!({
                    "ruleId": f.rule,
                    "level": if f.level == "error" { "error" } else { "warning" },
                    "message": {"text": format!("{}: {}", v.item.subject, f.message)},
                    "locations": [{"physicalLocation": {
                        "artifactLocation": {"uri": v.file},
                        "region": {"startLine": f.line}
                    }}],
                    "properties": {"subject": v.item.subject},
                })
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "accord",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/accord-registry/accord",
                "rules": rules.iter().map(|r| json!({"id": r, "shortDescription": {"text": rule_text(r)}})).collect::<Vec<_>>(),
            }},
            "results": results,
        }]
    })
}

fn rule_text(rule: &str) -> String {
    match rule.split_once(':') {
        Some(("lint", id)) => format!("Lint rule {id} of the policy"),
        Some(("warning", id)) => format!("Lint rule {id} (warning)"),
        _ => match rule {
            "incompatible" => "The change breaks the subject's compatibility level".into(),
            "forbidden" => "The subject belongs to another team".into(),
            "skipped" => "References a schema that fails".into(),
            _ => "The schema cannot be registered".into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_messages_read_as_sentences() {
        let m = "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'channel' at path '/fields/2' in the new schema has no default value and is missing in the old schema', additionalInfo:'channel'}";
        assert_eq!(
            readable(m),
            "The field 'channel' at path '/fields/2' in the new schema has no default value and is missing in the old schema (READER_FIELD_MISSING_DEFAULT_VALUE)"
        );
        assert_eq!(readable("{oldSchemaVersion: 1}"), "{oldSchemaVersion: 1}");
    }

    #[test]
    fn finds_lines_by_name() {
        let text =
            "{\n  \"type\": \"record\",\n  \"fields\": [\n    {\"name\": \"channel\"}\n  ]\n}";
        let m = "{errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', description:'The field 'channel' at path '/fields/3'', additionalInfo:'channel'}";
        assert_eq!(
            locate(
                text,
                &hints_of(m).iter().map(String::as_str).collect::<Vec<_>>()
            ),
            4
        );
        assert_eq!(gh_property("a:b,c%"), "a%3Ab%2Cc%25");
    }
}
