#![no_main]
mod common;

use std::sync::{Arc, OnceLock};

use accord::formats::ParsedSchema;
use common::Target;

const TARGETS: &[Target] = &[
    // 0: a recursive definition
    Target {
        schema: r##"{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"node":{"type":"object","properties":{"v":{"type":"integer","minimum":0},"next":{"$ref":"#/definitions/node"}},"required":["v"]}},"$ref":"#/definitions/node"}"##,
        references: &[],
    },
    // 1: combinations, patterns, numbers
    Target {
        schema: r#"{"type":"array","items":{"anyOf":[{"type":"string","pattern":"^[a-z]+$","maxLength":8},{"type":"number","multipleOf":0.5},{"type":"null"}]},"uniqueItems":true}"#,
        references: &[],
    },
    // 2: 2020-12 keywords
    Target {
        schema: r#"{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object","patternProperties":{"^x-":{"type":"boolean"}},"additionalProperties":{"type":"string","format":"date-time"},"propertyNames":{"maxLength":10},"dependentRequired":{"a":["b"]},"prefixItems":[{"type":"integer"}],"unevaluatedProperties":false}"#,
        references: &[],
    },
    // 3: anything
    Target {
        schema: r#"{}"#,
        references: &[],
    },
];

fn schemas() -> &'static [Arc<dyn ParsedSchema>] {
    static SCHEMAS: OnceLock<Vec<Arc<dyn ParsedSchema>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| common::schemas(accord::types::SchemaType::Json, TARGETS))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::validate(schemas(), data));
