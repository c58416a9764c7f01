//! Fixtures shared by the benches.
#![allow(dead_code)]

/// A numeric setting from the environment, or its default.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A realistic 20-field record.
pub const ORDER_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"acme.sales","fields":[
 {"name":"id","type":"string"},{"name":"customer_id","type":"string"},{"name":"created_at","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED","CANCELLED"]}},
 {"name":"amount","type":"double"},{"name":"currency","type":"string","default":"EUR"},{"name":"items","type":{"type":"array","items":"string"}},
 {"name":"note","type":["null","string"],"default":null},{"name":"street","type":"string"},{"name":"city","type":"string"},
 {"name":"zip","type":"string"},{"name":"country","type":"string"},{"name":"email","type":["null","string"],"default":null},
 {"name":"phone","type":["null","string"],"default":null},{"name":"discount","type":"double","default":0.0},{"name":"tax","type":"double","default":0.0},
 {"name":"channel","type":"string","default":"web"},{"name":"priority","type":"int","default":0},{"name":"gift","type":"boolean","default":false},
 {"name":"tags","type":{"type":"map","values":"string"},"default":{}}]}"#;
