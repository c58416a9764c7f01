//! Fixtures shared by the benches.
#![allow(dead_code)]

/// A numeric setting from the environment, or its default.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// Creates a fresh PostgreSQL database on the test server (`ACCORD_TEST_PG_URL`, default the
/// local one) and returns its name and URL.
pub async fn fresh_database() -> anyhow::Result<(String, String)> {
    use anyhow::Context;
    use sqlx::Connection;
    let admin_url = std::env::var("ACCORD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let db = format!("accord_bench_{}", uuid::Uuid::new_v4().simple());
    let url = format!(
        "{}/{db}",
        &admin_url[..admin_url.rfind('/').context("admin URL")?]
    );
    let mut conn = sqlx::PgConnection::connect(&admin_url)
        .await
        .context("PostgreSQL must be reachable")?;
    sqlx::query(&format!("CREATE DATABASE {db}"))
        .execute(&mut conn)
        .await?;
    Ok((db, url))
}

/// Drops a database [`fresh_database`] created.
pub async fn drop_database(db: &str) -> anyhow::Result<()> {
    use sqlx::Connection;
    let admin_url = std::env::var("ACCORD_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let mut conn = sqlx::PgConnection::connect(&admin_url).await?;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut conn)
        .await?;
    Ok(())
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

/// The same 20-field order as Protobuf.
pub const ORDER_PROTO: &str = r#"syntax = "proto3";
package acme.sales;
message Order {
  enum Status { NEW = 0; PAID = 1; SHIPPED = 2; CANCELLED = 3; }
  string id = 1;
  string customer_id = 2;
  int64 created_at = 3;
  Status status = 4;
  double amount = 5;
  string currency = 6;
  repeated string items = 7;
  optional string note = 8;
  string street = 9;
  string city = 10;
  string zip = 11;
  string country = 12;
  optional string email = 13;
  optional string phone = 14;
  double discount = 15;
  double tax = 16;
  string channel = 17;
  int32 priority = 18;
  bool gift = 19;
  map<string, string> tags = 20;
}
"#;

/// The same 20-field order as JSON Schema (draft 7).
pub const ORDER_JSON_SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","type":"object",
 "properties":{"id":{"type":"string"},"customer_id":{"type":"string"},"created_at":{"type":"integer"},
 "status":{"enum":["NEW","PAID","SHIPPED","CANCELLED"]},"amount":{"type":"number","minimum":0},"currency":{"type":"string","pattern":"^[A-Z]{3}$"},
 "items":{"type":"array","items":{"type":"string"}},"note":{"type":["null","string"]},"street":{"type":"string"},"city":{"type":"string"},
 "zip":{"type":"string","maxLength":10},"country":{"type":"string","minLength":2,"maxLength":2},"email":{"type":["null","string"]},
 "phone":{"type":["null","string"]},"discount":{"type":"number"},"tax":{"type":"number"},"channel":{"type":"string"},
 "priority":{"type":"integer"},"gift":{"type":"boolean"},"tags":{"type":"object","additionalProperties":{"type":"string"}}},
 "required":["id","customer_id","created_at","status","amount","currency","items"],"additionalProperties":false}"#;
