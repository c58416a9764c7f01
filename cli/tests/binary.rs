//! The binary's own surface, without a registry: help, version, completions, and the exit code
//! of a usage error. (Its behaviour against live servers and git repositories is tested in
//! `tests/it/cli.rs`, which this test binary's build also provides the `accord` binary for.)

use std::process::Command;

fn accord(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_accord"))
        .args(args)
        .env("ACCORD_CLI_CONFIG", "/nonexistent/accord-config.toml")
        .output()
        .expect("accord runs")
}

#[test]
fn help_version_and_usage_errors() {
    let help = accord(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for sub in [
        "check",
        "apply",
        "lint",
        "get",
        "diff",
        "config",
        "mode",
        "subjects",
        "validate",
        "completions",
    ] {
        assert!(text.contains(sub), "--help lists {sub}: {text}");
    }
    let version = accord(&["--version"]);
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("accord "));
    assert_eq!(accord(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        accord(&["check", "--against", "a", "--against-dir", "b"])
            .status
            .code(),
        Some(2)
    );
    let zsh = accord(&["completions", "zsh"]);
    assert!(String::from_utf8_lossy(&zsh.stdout).contains("#compdef accord"));
}
