//! The seven compatibility levels, written once over [`ParsedSchema::read_incompatibilities`]:
//! BACKWARD asks whether the new schema reads the old data, FORWARD swaps the two, FULL asks
//! both; the transitive levels walk every live version instead of only the latest.

use crate::formats::{Incompatibility, ParsedSchema};
use crate::types::CompatibilityLevel;

/// A registered version to check against.
pub struct Previous<'a> {
    pub version: i32,
    pub schema: &'a dyn ParsedSchema,
}

/// Checks `new` against `previous` (ascending by version, live versions only) at `level`.
/// Returns the messages describing every problem found with the first failing version (newest
/// first), in the Confluent verbose format; empty means compatible.
pub fn check(
    level: CompatibilityLevel,
    new: &dyn ParsedSchema,
    previous: &[Previous],
) -> Vec<String> {
    use CompatibilityLevel::*;
    let (backward, forward) = match level {
        None => return Vec::new(),
        Backward | BackwardTransitive => (true, false),
        Forward | ForwardTransitive => (false, true),
        Full | FullTransitive => (true, true),
    };
    let transitive = matches!(
        level,
        BackwardTransitive | ForwardTransitive | FullTransitive
    );
    let against: Vec<&Previous> = if transitive {
        previous.iter().rev().collect()
    } else {
        previous.last().into_iter().collect()
    };
    for old in against {
        let mut messages = Vec::new();
        if old.schema.schema_type() != new.schema_type() {
            messages.push("Incompatible because of different schema type".to_owned());
        } else {
            if backward {
                let found = new.read_incompatibilities(old.schema);
                messages.extend(found.iter().map(|i| render(i, "new", "old")));
            }
            if forward {
                let found = old.schema.read_incompatibilities(new);
                messages.extend(found.iter().map(|i| render(i, "old", "new")));
            }
        }
        if !messages.is_empty() {
            messages.push(format!("{{oldSchemaVersion: {}}}", old.version));
            messages.push(format!(
                "{{oldSchema: '{}'}}",
                truncate(old.schema.canonical(), 10 * 1024)
            ));
            messages.push(format!(
                "{{validateFields: 'false', compatibility: '{}'}}",
                level.as_str()
            ));
            return messages;
        }
    }
    Vec::new()
}

fn render(i: &Incompatibility, reader: &str, writer: &str) -> String {
    let description = i
        .description
        .replace("{reader}", reader)
        .replace("{writer}", writer);
    format!(
        "{{errorType:'{}', description:'{}', additionalInfo:'{}'}}",
        i.kind, description, i.info
    )
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
