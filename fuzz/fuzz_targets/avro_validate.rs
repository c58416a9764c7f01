#![no_main]
mod common;

use std::sync::{Arc, OnceLock};

use accord::formats::ParsedSchema;
use common::Target;

const NODE: &str = r#"{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}"#;

const TARGETS: &[Target] = &[
    // 0: a list recursing through the schema itself
    Target {
        schema: r#"{"type":"record","name":"L","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","L"]}]}"#,
        references: &[],
    },
    // 1: a map (block counts)
    Target {
        schema: r#"{"type":"map","values":"int"}"#,
        references: &[],
    },
    // 2: zero-byte items
    Target {
        schema: r#"{"type":"array","items":"null"}"#,
        references: &[],
    },
    // 3: recursion through a reference
    Target {
        schema: r#"{"type":"record","name":"Holder","fields":[{"name":"head","type":"Node"}]}"#,
        references: &[("Node", NODE)],
    },
    // 4: every other kind of value
    Target {
        schema: r#"{"type":"record","name":"All","namespace":"fz","fields":[
            {"name":"l","type":"long"},{"name":"f","type":"float"},{"name":"d","type":"double"},
            {"name":"b","type":"bytes"},{"name":"s","type":"string"},{"name":"t","type":"boolean"},
            {"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","C"]}},
            {"name":"x","type":{"type":"fixed","name":"F","size":4}},
            {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
            {"name":"u","type":{"type":"string","logicalType":"uuid"}},
            {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
            {"name":"nested","type":{"type":"array","items":{"type":"map","values":["null","string","int","E","F"]}}}
        ]}"#,
        references: &[],
    },
];

fn schemas() -> &'static [Arc<dyn ParsedSchema>] {
    static SCHEMAS: OnceLock<Vec<Arc<dyn ParsedSchema>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| common::schemas(accord::types::SchemaType::Avro, TARGETS))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::validate(schemas(), data));
