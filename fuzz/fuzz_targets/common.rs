//! What the fuzz targets share: each format's parse entry point fed arbitrary text, and its
//! validate entry point fed arbitrary datums against fixed schemas that reach every kind of
//! value (recursion through the schema itself and through a reference, blocks, unions, maps,
//! oneofs, groups, `$ref`s). A target fails on a panic, an abort, a stack overflow, an
//! allocation past libFuzzer's limit or a timeout; a refusal is an ordinary answer.

#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use accord::formats::{Formats, ParsedSchema, PayloadOptions, ResolvedReference};
use accord::types::SchemaType;

fn formats() -> &'static Formats {
    static FORMATS: OnceLock<Formats> = OnceLock::new();
    FORMATS.get_or_init(Formats::default)
}

/// Parses `data` as a schema of type `t`; what parses is also rendered, normalized and
/// compared with itself, as registration and compatibility checks do.
pub fn parse(t: SchemaType, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = formats().parse(t, text, &[]) {
        let _ = parsed.identity();
        let _ = parsed.normalized();
        let _ = parsed.field_names();
        let _ = parsed.read_incompatibilities(parsed.as_ref());
    }
}

/// One schema (with its references) to validate datums against.
pub struct Target {
    pub schema: &'static str,
    pub references: &'static [(&'static str, &'static str)],
}

/// Parses the targets once (they must parse).
pub fn schemas(t: SchemaType, targets: &[Target]) -> Vec<Arc<dyn ParsedSchema>> {
    targets
        .iter()
        .map(|target| {
            let refs: Vec<ResolvedReference> = target
                .references
                .iter()
                .map(|(name, schema)| ResolvedReference {
                    name: (*name).to_owned(),
                    schema_type: t,
                    schema: (*schema).to_owned(),
                })
                .collect();
            formats()
                .parse(t, target.schema, &refs)
                .unwrap_or_else(|e| panic!("fuzz schema does not parse: {e}"))
        })
        .collect()
}

/// The first byte picks the schema (and, in its top bit, whether unknown fields are allowed;
/// in the next, whether the datum is read as JSON); the rest is the datum.
pub fn validate(schemas: &[Arc<dyn ParsedSchema>], data: &[u8]) {
    let Some((&pick, datum)) = data.split_first() else {
        return;
    };
    let schema = &schemas[usize::from(pick & 0x7f) % schemas.len()];
    let options = PayloadOptions {
        allow_unknown_fields: pick & 0x80 == 0,
        // The datum read as the format's JSON form (Avro's JSON encoding, Protobuf's mapping).
        json: pick & 0x40 != 0,
    };
    let _ = schema.validate(datum, options);
}
