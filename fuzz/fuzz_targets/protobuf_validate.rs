#![no_main]
mod common;

use std::sync::{Arc, OnceLock};

use accord::formats::ParsedSchema;
use common::Target;

const LEAF: &str = r#"syntax = "proto2";
package fz;
message Leaf {
  optional double d = 1;
  optional group G = 2 { optional uint64 u = 3; }
}
"#;

const TARGETS: &[Target] = &[
    // 0: proto2 with recursion, maps, a oneof, a required field, packed values and an import
    Target {
        schema: r#"syntax = "proto2";
package fz;
import "leaf.proto";
enum Color { RED = 0; GREEN = 1; }
message Tree {
  optional int32 v = 1;
  repeated Tree kids = 2;
  map<string, Tree> named = 3;
  oneof pick { string s = 4; bytes b = 5; Leaf leaf = 6; }
  required fixed64 id = 7;
  repeated sint64 packed = 8 [packed = true];
  optional Color color = 9;
  message Inner { repeated float f = 1; }
  optional Inner inner = 10;
}
message Second { optional sfixed32 x = 1; }
"#,
        references: &[("leaf.proto", LEAF)],
    },
    // 1: proto3 with well-known types
    Target {
        schema: r#"syntax = "proto3";
package fz3;
import "google/protobuf/timestamp.proto";
import "google/protobuf/any.proto";
import "google/protobuf/struct.proto";
message Event {
  google.protobuf.Timestamp at = 1;
  google.protobuf.Any detail = 2;
  google.protobuf.Struct data = 3;
  repeated string tags = 4;
  optional int64 n = 5;
}
"#,
        references: &[],
    },
];

fn schemas() -> &'static [Arc<dyn ParsedSchema>] {
    static SCHEMAS: OnceLock<Vec<Arc<dyn ParsedSchema>>> = OnceLock::new();
    SCHEMAS.get_or_init(|| common::schemas(accord::types::SchemaType::Protobuf, TARGETS))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::validate(schemas(), data));
