//! The official Confluent Python client (`confluent-kafka`) against the server. The virtualenv
//! is created by `scripts/test`; without it this test fails, it never skips.

use std::path::PathBuf;

use crate::helpers::{on_both_backends, TestApp};

on_both_backends!(
    confluent_python_avro,
    confluent_python_protobuf,
    confluent_python_json
);

pub fn python() -> PathBuf {
    let path = std::env::var_os("ACCORD_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python")));
    assert!(
        path.exists(),
        "{} not found: run scripts/test, which creates the virtualenv with confluent-kafka",
        path.display()
    );
    path
}

async fn confluent_python_avro(app: TestApp) {
    run_script(&app, "avro_client.py").await;
}

async fn confluent_python_protobuf(app: TestApp) {
    run_script(&app, "protobuf_client.py").await;
}

async fn confluent_python_json(app: TestApp) {
    run_script(&app, "json_client.py").await;
}

async fn run_script(app: &TestApp, name: &str) {
    run_script_with(app, name, &[]).await;
}

/// Runs `tests/python/<name> BASE_URL [extra…]`; it must print `ALL OK` and exit 0.
pub async fn run_script_with(app: &TestApp, name: &str, extra: &[String]) {
    let script = format!("{}/tests/python/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new(python())
        .arg(&script)
        .arg(&app.base)
        .args(extra)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "confluent-kafka client ({name}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
