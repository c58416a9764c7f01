//! The official Confluent Python client (`confluent-kafka`) against the server. The virtualenv
//! is created by `scripts/test`; without it this test fails, it never skips.

use std::path::PathBuf;

use crate::helpers::{on_both_backends, TestApp};

on_both_backends!(confluent_python_avro);

fn python() -> PathBuf {
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
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/avro_client.py");
    let out = tokio::process::Command::new(python())
        .arg(script)
        .arg(&app.base)
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ALL OK"),
        "confluent-kafka client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
