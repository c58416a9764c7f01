//! The seven compatibility levels, written once over [`ParsedSchema::read_incompatibilities`]:
//! BACKWARD asks whether the new schema reads the old data, FORWARD swaps the two, FULL asks
//! both; the transitive levels walk every live version instead of only the latest.

use serde_json::Value;

use crate::formats::{Incompatibility, ParsedSchema};
use crate::types::{CompatibilityLevel, SchemaType};

/// A registered version to check against.
pub struct Previous<'a> {
    pub version: i32,
    pub schema: &'a dyn ParsedSchema,
    /// The version's metadata (its `confluent:reserved` property names reserved fields).
    pub metadata: Option<&'a Value>,
}

/// The metadata property that reserves field names: a comma-separated list.
pub const RESERVED: &str = "confluent:reserved";

/// The field names a schema's metadata reserves.
fn reserved(metadata: Option<&Value>) -> Vec<String> {
    let list = metadata
        .and_then(|m| m.get("properties"))
        .and_then(|p| p.get(RESERVED))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut names: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What reserved field names break when `update` follows `original`: a name the original
/// reserved that the update no longer reserves, and a field of the update that its own
/// metadata reserves (the reference registry's reserved-field rules).
fn reserved_incompatibilities(
    original: Option<&Value>,
    update: (&dyn ParsedSchema, Option<&Value>),
) -> Vec<Incompatibility> {
    let (schema, update_meta) = update;
    let (kept, now) = (reserved(original), reserved(update_meta));
    let json = schema.schema_type() == SchemaType::Json;
    let mut found = Vec::new();
    for name in kept.iter().filter(|n| !now.contains(n)) {
        found.push(Incompatibility {
            kind: if json {
                "RESERVED_PROPERTY_REMOVED"
            } else {
                "RESERVED_FIELD_REMOVED"
            },
            path: name.clone(),
            description: format!(
                "The {{reader}} schema has reserved field '{name}' removed from its metadata which is present in the {{writer}} schema."
            ),
            info: name.clone(),
        });
    }
    let fields = schema.field_names();
    for name in now.iter().filter(|n| fields.contains(n)) {
        let path = if json {
            format!("#/properties/{name}")
        } else {
            name.clone()
        };
        found.push(Incompatibility {
            kind: if json {
                "RESERVED_PROPERTY_CONFLICTS_WITH_PROPERTY"
            } else {
                "FIELD_CONFLICTS_WITH_RESERVED_FIELD"
            },
            description: format!(
                "The {{reader}} schema has field '{path}' that conflicts with the reserved fields which is missing in the {{writer}} schema."
            ),
            info: name.clone(),
            path,
        });
    }
    found
}

/// Checks `new` against `previous` (ascending by version, live versions only) at `level`.
/// Returns the messages describing every problem found with the first failing version (newest
/// first), in the Confluent verbose format; empty means compatible.
pub fn check(
    level: CompatibilityLevel,
    new: &dyn ParsedSchema,
    previous: &[Previous],
) -> Vec<String> {
    check_with_metadata(level, new, None, previous)
}

/// [`check`], with the new schema's metadata for the reserved-field rules.
pub fn check_with_metadata(
    level: CompatibilityLevel,
    new: &dyn ParsedSchema,
    new_metadata: Option<&Value>,
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
                let mut found = reserved_incompatibilities(old.metadata, (new, new_metadata));
                found.extend(new.read_incompatibilities(old.schema));
                messages.extend(found.iter().map(|i| render(i, "new", "old")));
            }
            if forward {
                let mut found =
                    reserved_incompatibilities(new_metadata, (old.schema, old.metadata));
                found.extend(old.schema.read_incompatibilities(new));
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
