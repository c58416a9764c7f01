//! The built `accord` binary (package accord-cli) against a live server and git repositories
//! the tests create, with fixtures in the three formats that reference each other across
//! files: exit codes, every output format, online and offline verdicts compared, ownership,
//! an unreachable registry, and the everyday subcommands.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::governance::{admin_key, call, create_key, put_team, Key};
use crate::helpers::{Backend, TestApp};

/// The `accord` binary, built by `cargo test --workspace` next to this test binary.
pub fn accord_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target directory");
    let bin = dir.join(format!("accord{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: build it with `cargo build -p accord-cli` (scripts/test runs `cargo test --workspace`, which does)",
        bin.display()
    );
    bin
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `accord args…` in `dir` against `registry` (no user config of the machine's).
pub async fn accord(dir: &Path, registry: &str, args: &[&str]) -> Run {
    accord_with(dir, registry, args, None).await
}

async fn accord_with(dir: &Path, registry: &str, args: &[&str], key: Option<&Key>) -> Run {
    let mut cmd = tokio::process::Command::new(accord_bin());
    cmd.args(args)
        .current_dir(dir)
        .env("ACCORD_REGISTRY_URL", registry)
        .env("ACCORD_CLI_CONFIG", dir.join("no-such-user-config.toml"))
        .env_remove("ACCORD_API_KEY")
        .env("NO_COLOR", "1");
    if let Some(k) = key {
        cmd.env("ACCORD_API_KEY", k.user_info());
    }
    let out = cmd.output().await.expect("accord runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args(["-c", "user.email=ci@accord.test", "-c", "user.name=ci"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(dir: &Path, path: &str, text: &str) {
    let p = dir.join(path);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A project in the three formats with references across files: Avro `Order` uses `Money`
/// and `Customer` (named types of other files), Protobuf `customer.proto` imports
/// `address.proto` (in `profile.proto`), JSON `cart.json` `$ref`s `item.json` and, in another
/// directory, `money.json` and `wallet.json` (which `$ref`s `money.json` itself).
pub fn project(dir: &Path) {
    write(
        dir,
        "accord.toml",
        r#"# Which files are which subjects.
[[schemas]]
files = "schemas/avro/**/*.avsc"
subject = "{dir}.{stem}-value"

[[schemas]]
files = "schemas/proto/**/*.proto"
subject = "{dir}.{stem}-value"

[[schemas]]
files = ["schemas/json/**/*.json"]
subject = "{dir}.{stem}-value"

[lint]
policy = "policy.toml"
"#,
    );
    write(dir, "policy.toml", POLICY);
    write(
        dir,
        "schemas/avro/shop/money.avsc",
        r#"{
  "type": "record",
  "name": "Money",
  "namespace": "shop",
  "doc": "An amount in minor units",
  "fields": [
    {"name": "cents", "type": "long"},
    {"name": "currency", "type": "string", "default": "EUR"}
  ]
}
"#,
    );
    write(
        dir,
        "schemas/avro/shop/customer.avsc",
        r#"{
  "type": "record",
  "name": "Customer",
  "namespace": "shop",
  "fields": [
    {"name": "customer_id", "type": "string"},
    {"name": "email", "type": ["null", "string"], "default": null}
  ]
}
"#,
    );
    write(dir, "schemas/avro/shop/order.avsc", &order(""));
    write(dir, "schemas/proto/shop/address.proto", &address(""));
    write(
        dir,
        "schemas/proto/shop/profile.proto",
        r#"syntax = "proto3";
package shop;

import "shop/address.proto";

message CustomerProfile {
  string customer_id = 1;
  Address billing = 2;
  repeated Address shipping = 3;
}
"#,
    );
    write(
        dir,
        "schemas/json/shop/item.json",
        &item(r#"{"type": "string"}"#, ""),
    );
    write(dir, "schemas/json/shop/cart.json", CART);
    // The same file reached by two relative paths: `money.json` from its neighbour, and
    // `../common/money.json` from the cart.
    write(dir, "schemas/json/common/money.json", &money("integer"));
    write(
        dir,
        "schemas/json/common/wallet.json",
        r#"{
  "type": "object",
  "properties": {
    "owner": {"type": "string"},
    "balance": {"$ref": "money.json"}
  }
}
"#,
    );
}

const CART: &str = r#"{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {
    "cart_id": {"type": "string"},
    "total": {"$ref": "../common/money.json"},
    "items": {"type": "array", "items": {"$ref": "item.json"}},
    "paid_from": {"$ref": "../common/wallet.json"}
  }
}
"#;

fn money(amount: &str) -> String {
    format!(
        r#"{{
  "type": "object",
  "properties": {{
    "amount": {{"type": "{amount}"}},
    "currency": {{"type": "string"}}
  }}
}}
"#
    )
}

const POLICY: &str = r#"[rules."avro.field-name"]
mode = "enforce"
case = "snake_case"
"#;

fn order(extra: &str) -> String {
    format!(
        r#"{{
  "type": "record",
  "name": "Order",
  "namespace": "shop",
  "fields": [
    {{"name": "order_id", "type": "string"}},
    {{"name": "customer", "type": "Customer"}},
    {{"name": "total", "type": "shop.Money"}}{extra}
  ]
}}
"#
    )
}

fn address(extra: &str) -> String {
    format!(
        "syntax = \"proto3\";\npackage shop;\n\nmessage Address {{\n  string street = 1;\n  string city = 2;{extra}\n}}\n"
    )
}

fn item(sku: &str, extra: &str) -> String {
    format!(
        r#"{{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {{
    "sku": {sku},
    "quantity": {{"type": "integer"}}{extra}
  }},
  "required": ["sku"]
}}
"#
    )
}

/// A fresh repository with the project committed (v1) and applied to the registry.
async fn applied_repo(app: &TestApp) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    project(dir.path());
    git(dir.path(), &["add", "-A"]);
    git(dir.path(), &["commit", "-qm", "v1"]);
    let (s, r) = app
        .client
        .put(app.url("/accord/v1/policy"))
        .header("content-type", "application/toml")
        .body(POLICY)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(s, StatusCode::OK, "{r:?}");
    let run = accord(dir.path(), &app.url(""), &["apply"]).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    dir
}

/// Subject → status of a `--format json` report.
fn statuses(run: &Run) -> BTreeMap<String, String> {
    let v: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", run.stdout, run.stderr));
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["subject"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The changes the tests make on top of v1, each with whether `check` should pass.
/// A scenario: its name, whether `check` passes, and the files it rewrites.
type Scenario = (&'static str, bool, Vec<(&'static str, String)>);

fn scenarios() -> Vec<Scenario> {
    vec![
        ("unchanged", true, vec![]),
        (
            "compatible",
            true,
            vec![
                ("schemas/avro/shop/order.avsc", order(",\n    {\"name\": \"channel\", \"type\": [\"null\", \"string\"], \"default\": null}")),
                ("schemas/proto/shop/address.proto", address("\n  string zip = 3;")),
                // Widening a type is backward compatible (adding a property to an open content
                // model is not).
                ("schemas/json/shop/item.json", item(r#"{"type": "string"}"#, "").replace("\"integer\"", "\"number\"")),
            ],
        ),
        (
            "breaking",
            false,
            vec![
                ("schemas/avro/shop/order.avsc", order(",\n    {\"name\": \"channel\", \"type\": \"string\"}")),
                ("schemas/proto/shop/address.proto", "syntax = \"proto3\";\npackage shop;\n\nmessage Address {\n  string street = 1;\n  int64 city = 2;\n}\n".into()),
                ("schemas/json/shop/item.json", item(r#"{"type": "integer"}"#, "")),
            ],
        ),
        (
            "lint",
            false,
            vec![(
                "schemas/avro/shop/order.avsc",
                order(",\n    {\"name\": \"giftWrap\", \"type\": \"boolean\", \"default\": false}"),
            )],
        ),
        // A JSON file two others reach by different relative paths.
        ("shared json", true, vec![("schemas/json/common/money.json", money("number"))]),
        ("shared json breaks", false, vec![("schemas/json/common/money.json", money("string"))]),
    ]
}

fn reset(dir: &Path) {
    git(dir, &["checkout", "-q", "--", "."]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn online_and_offline_agree_over_every_fixture() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let repo = applied_repo(&app).await;
    let dir = repo.path();
    let registry = app.url("");
    for (name, passes, changes) in scenarios() {
        reset(dir);
        for (path, text) in &changes {
            write(dir, path, text);
        }
        let online = accord(dir, &registry, &["check", "--format", "json"]).await;
        let offline = accord(
            dir,
            &registry,
            &["check", "--against", "HEAD", "--format", "json"],
        )
        .await;
        let dir_copy = tempfile::tempdir().unwrap();
        project(dir_copy.path());
        let against_dir = accord(
            dir,
            "http://127.0.0.1:9",
            &[
                "check",
                "--against-dir",
                dir_copy.path().to_str().unwrap(),
                "--format",
                "json",
            ],
        )
        .await;
        let want = if passes { 0 } else { 1 };
        for (mode, run) in [
            ("online", &online),
            ("offline", &offline),
            ("against-dir", &against_dir),
        ] {
            assert_eq!(
                run.code, want,
                "{name} {mode}: {}{}",
                run.stdout, run.stderr
            );
        }
        assert_eq!(
            statuses(&online),
            statuses(&offline),
            "{name}: online and offline verdicts differ"
        );
        assert_eq!(statuses(&offline), statuses(&against_dir), "{name}");
        let s = statuses(&online);
        match name {
            "unchanged" => assert!(s.values().all(|v| v == "unchanged"), "{s:?}"),
            "compatible" => {
                assert_eq!(s["shop.order-value"], "new");
                assert_eq!(s["shop.address-value"], "new");
                // profile.proto imports the new address: a new version pinned to it.
                assert_eq!(s["shop.profile-value"], "new");
                assert_eq!(s["shop.customer-value"], "unchanged");
                assert_eq!(s["shop.money-value"], "unchanged");
            }
            "breaking" => {
                assert_eq!(s["shop.order-value"], "incompatible");
                assert_eq!(s["shop.address-value"], "incompatible");
                assert_eq!(s["shop.item-value"], "incompatible");
                assert_eq!(s["shop.cart-value"], "skipped");
                assert_eq!(s["shop.profile-value"], "skipped");
            }
            "lint" => assert_eq!(s["shop.order-value"], "lint"),
            "shared json" => {
                // Each that references the money gets a version pinned to its new one.
                for subject in [
                    "common.money-value",
                    "common.wallet-value",
                    "shop.cart-value",
                ] {
                    assert_eq!(s[subject], "new", "{subject}: {s:?}");
                }
                assert_eq!(s["shop.item-value"], "unchanged");
            }
            "shared json breaks" => {
                assert_eq!(s["common.money-value"], "incompatible");
                assert_eq!(s["common.wallet-value"], "skipped");
                assert_eq!(s["shop.cart-value"], "skipped");
            }
            _ => unreachable!(),
        }
    }

    // A breaking change names file, line, subject and path, in every format.
    reset(dir);
    for (path, text) in &scenarios()[2].2 {
        write(dir, path, text);
    }
    let human = accord(dir, &registry, &["check"]).await;
    assert_eq!(human.code, 1);
    assert!(!human.stdout.contains("\x1b["), "no colour off a terminal");
    let order_line = order(",\n    {\"name\": \"channel\", \"type\": \"string\"}")
        .lines()
        .position(|l| l.contains("channel"))
        .unwrap()
        + 1;
    assert!(
        human.stdout.contains(&format!(
            "schemas/avro/shop/order.avsc:{order_line}: error [incompatible]"
        )),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("shop.order-value") && human.stdout.contains("channel"));

    let github = accord(dir, &registry, &["check", "--format", "github"]).await;
    assert_eq!(github.code, 1);
    let line = regex::Regex::new(
        r"^::error file=schemas/avro/shop/order\.avsc,line=(\d+),title=accord incompatible \(shop\.order-value\)::(.*)$",
    )
    .unwrap();
    let hit = github
        .stdout
        .lines()
        .find_map(|l| line.captures(l))
        .unwrap_or_else(|| panic!("no annotation for order.avsc: {}", github.stdout));
    assert_eq!(hit[1].parse::<usize>().unwrap(), order_line);
    assert!(hit[2].contains("channel"), "{}", &hit[2]);
    let address_line = regex::Regex::new(r"^::error file=schemas/proto/shop/address\.proto,line=6,title=accord incompatible \(shop\.address-value\)::").unwrap();
    assert!(
        github.stdout.lines().any(|l| address_line.is_match(l)),
        "{}",
        github.stdout
    );
    assert!(
        github
            .stdout
            .lines()
            .any(|l| l.starts_with("::error file=schemas/json/shop/item.json,line=5,")),
        "{}",
        github.stdout
    );
    // A skipped file is pointed at its reference to the failing one.
    let items_line = CART.lines().position(|l| l.contains("item.json")).unwrap() + 1;
    assert!(
        github.stdout.lines().any(|l| l.starts_with(&format!(
            "::error file=schemas/json/shop/cart.json,line={items_line},title=accord skipped (shop.cart-value)::"
        ))),
        "{}",
        github.stdout
    );

    let sarif = accord(dir, &registry, &["check", "--format", "sarif"]).await;
    assert_eq!(sarif.code, 1);
    let doc: Value = serde_json::from_str(&sarif.stdout).expect("SARIF is JSON");
    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(doc["runs"][0]["tool"]["driver"]["name"], "accord");
    let results = doc["runs"][0]["results"].as_array().unwrap();
    let r = results
        .iter()
        .find(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                == "schemas/avro/shop/order.avsc"
        })
        .expect("a result for order.avsc");
    assert_eq!(r["ruleId"], "incompatible");
    assert_eq!(r["level"], "error");
    assert_eq!(
        r["locations"][0]["physicalLocation"]["region"]["startLine"],
        order_line
    );
    assert!(r["message"]["text"]
        .as_str()
        .unwrap()
        .contains("shop.order-value"));
    let rules: Vec<&str> = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"incompatible") && rules.contains(&"skipped"),
        "{rules:?}"
    );

    let report = dir.join("report.xml");
    let junit = accord(
        dir,
        &registry,
        &[
            "check",
            "--format",
            "junit",
            "--output",
            report.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(junit.code, 1);
    let cases = junit_cases(&report);
    assert_eq!(cases.len(), 9, "{cases:?}");
    let order_case = cases
        .iter()
        .find(|c| c["name"] == "shop.order-value")
        .unwrap();
    assert_eq!(order_case["classname"], "schemas/avro/shop/order.avsc");
    assert_eq!(order_case["failure_type"], "incompatible");
    assert!(order_case["failure_text"]
        .as_str()
        .unwrap()
        .contains(&format!("order.avsc:{order_line}")));
    let money = cases
        .iter()
        .find(|c| c["name"] == "shop.money-value")
        .unwrap();
    assert!(
        money["failure_type"].is_null(),
        "passing cases carry no failure"
    );

    // A lint violation names its rule and line.
    reset(dir);
    write(dir, "schemas/avro/shop/order.avsc", &scenarios()[3].2[0].1);
    let lint = accord(dir, &registry, &["check", "--format", "github"]).await;
    assert_eq!(lint.code, 1);
    assert!(
        lint.stdout.contains("::error file=schemas/avro/shop/order.avsc,line=9,title=accord lint%3Aavro.field-name (shop.order-value)::"),
        "{}",
        lint.stdout
    );
    let offline_lint = accord(dir, &registry, &["lint"]).await;
    assert_eq!(offline_lint.code, 1, "{}", offline_lint.stdout);
    assert!(offline_lint.stdout.contains("giftWrap"));
    // Files named: only their verdicts, and only their findings decide the exit code.
    let one = accord(
        dir,
        &registry,
        &["lint", "schemas/avro/shop/order.avsc", "--format", "json"],
    )
    .await;
    assert_eq!(one.code, 1, "{}{}", one.stdout, one.stderr);
    assert_eq!(
        statuses(&one),
        BTreeMap::from([("shop.order-value".to_owned(), "lint".to_owned())])
    );
    let other = accord(dir, &registry, &["lint", "schemas/avro/shop/money.avsc"]).await;
    assert_eq!(other.code, 0, "{}{}", other.stdout, other.stderr);
    let stranger = accord(dir, &registry, &["lint", "policy.toml"]).await;
    assert_eq!(stranger.code, 2, "{}{}", stranger.stdout, stranger.stderr);
    assert!(
        stranger.stderr.contains("not schemas of the project"),
        "{}",
        stranger.stderr
    );

    // Breaking apply: exit 1 and nothing stored; the compatible change applies, then is a no-op.
    reset(dir);
    for (path, text) in &scenarios()[2].2 {
        write(dir, path, text);
    }
    let before = app.get("/subjects/shop.order-value/versions").await;
    let refused = accord(dir, &registry, &["apply"]).await;
    assert_eq!(refused.code, 1, "{}", refused.stdout);
    assert_eq!(app.get("/subjects/shop.order-value/versions").await, before);
    reset(dir);
    for (path, text) in &scenarios()[1].2 {
        write(dir, path, text);
    }
    let applied = accord(dir, &registry, &["apply", "--format", "json"]).await;
    assert_eq!(applied.code, 0, "{}{}", applied.stdout, applied.stderr);
    assert_eq!(statuses(&applied)["shop.order-value"], "new");
    let again = accord(dir, &registry, &["apply", "--format", "json"]).await;
    assert!(
        statuses(&again).values().all(|s| s == "unchanged"),
        "{}",
        again.stdout
    );
}

/// The test cases of a JUnit report, parsed as XML (Python's ElementTree, a real parser).
fn junit_cases(path: &Path) -> Vec<Value> {
    let script = r#"
import json, sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == "testsuites", root.tag
suite = root.find("testsuite")
out = []
for case in suite.findall("testcase"):
    f = case.find("failure")
    out.append({"name": case.get("name"), "classname": case.get("classname"),
                "failure_type": f.get("type") if f is not None else None,
                "failure_text": f.text if f is not None else None})
assert int(suite.get("tests")) == len(out)
assert int(suite.get("failures")) == sum(1 for c in out if c["failure_type"])
print(json.dumps(out))
"#;
    let out = std::process::Command::new(crate::python_client::python())
        .arg("-c")
        .arg(script)
        .arg(path)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "JUnit XML: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_subjects_and_infrastructure_errors() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| c.auth = true).await;
    let admin = admin_key(&app);
    put_team(&app, &admin, "shop", json!(["shop."])).await;
    put_team(&app, &admin, "payments", json!(["payments."])).await;
    let payments = create_key(&app, &admin, json!({"role": "member", "team": "payments"})).await;
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    project(dir.path());
    let registry = app.url("");
    // The shop team's subjects, checked with the payments team's key: forbidden, owner named.
    let run = accord_with(dir.path(), &registry, &["check"], Some(&payments)).await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("[forbidden]"), "{}", run.stdout);
    assert!(
        run.stdout.contains("owned by team 'shop'"),
        "{}",
        run.stdout
    );
    let json_run = accord_with(
        dir.path(),
        &registry,
        &["check", "--format", "json"],
        Some(&payments),
    )
    .await;
    let v: Value = serde_json::from_str(&json_run.stdout).unwrap();
    // Forbidden, owner named; what references them is not decided; subjects no team owns are
    // anyone's (the policy requires no owner).
    for i in v["items"].as_array().unwrap() {
        match i["status"].as_str() {
            Some("forbidden") => assert_eq!(i["owner"], "shop", "{i}"),
            Some("new") => assert!(i["subject"].as_str().unwrap().starts_with("common."), "{i}"),
            Some("skipped") => assert!(i["dependsOn"].is_array(), "{i}"),
            _ => panic!("{i}"),
        }
    }
    // The apply stores nothing.
    let run = accord_with(dir.path(), &registry, &["apply"], Some(&payments)).await;
    assert_eq!(run.code, 1);
    let (s, _) = call(&app, Method::GET, "/subjects", None, Some(&admin)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        call(&app, Method::GET, "/subjects", None, Some(&admin))
            .await
            .1,
        json!([])
    );
    // The admin's key may.
    let run = accord_with(dir.path(), &registry, &["check"], Some(&admin)).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    // A wrong key is the registry refusing the request, not a verdict: 2.
    let bad = Key {
        id: admin.id.clone(),
        secret: "wrong".into(),
    };
    let run = accord_with(dir.path(), &registry, &["check"], Some(&bad)).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);

    // An unreachable registry is 2, never 0; so are usage errors and a missing project.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", free.local_addr().unwrap());
    drop(free);
    let run = accord(dir.path(), &dead, &["check"]).await;
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("cannot reach the registry"),
        "{}",
        run.stderr
    );
    assert_eq!(
        accord(dir.path(), &dead, &["check", "--format", "yaml"])
            .await
            .code,
        2
    );
    let empty = tempfile::tempdir().unwrap();
    let run = accord(empty.path(), &dead, &["check"]).await;
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("accord.toml"), "{}", run.stderr);
    assert_eq!(
        accord(dir.path(), &dead, &["check", "--against", "no-such-ref"])
            .await
            .code,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everyday_subcommands() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let registry = app.url("");
    let repo = applied_repo(&app).await;
    let dir = repo.path();
    // get: a version to a file, and an id.
    let out = dir.join("got.avsc");
    let run = accord(
        dir,
        &registry,
        &[
            "get",
            "shop.order-value",
            "--version",
            "1",
            "-o",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(got["name"], "Order");
    let missing = accord(dir, &registry, &["get", "nope-value"]).await;
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("40401"), "{}", missing.stderr);

    // diff: a file against the latest version, findings inline.
    write(
        dir,
        "schemas/avro/shop/order.avsc",
        &order(",\n    {\"name\": \"channel\", \"type\": \"string\"}"),
    );
    let run = accord(
        dir,
        &registry,
        &[
            "diff",
            "shop.order-value",
            "--file",
            "schemas/avro/shop/order.avsc",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with('+') && l.contains("channel")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("^ incompatible"), "{}", run.stdout);
    // Two versions of a subject.
    write(
        dir,
        "schemas/avro/shop/order.avsc",
        &order(
            ",\n    {\"name\": \"channel\", \"type\": [\"null\", \"string\"], \"default\": null}",
        ),
    );
    assert_eq!(accord(dir, &registry, &["apply"]).await.code, 0);
    let run = accord(dir, &registry, &["diff", "shop.order-value", "1", "2"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("compatible with v1"));

    // config and mode, get and set.
    let run = accord(dir, &registry, &["config"]).await;
    assert_eq!(run.stdout.trim(), "BACKWARD");
    assert_eq!(
        accord(
            dir,
            &registry,
            &["config", "shop.order-value", "--set", "FULL"]
        )
        .await
        .code,
        0
    );
    assert_eq!(
        accord(dir, &registry, &["config", "shop.order-value"])
            .await
            .stdout
            .trim(),
        "FULL"
    );
    assert_eq!(
        accord(dir, &registry, &["config", "--set", "SOMETIMES"])
            .await
            .code,
        1
    );
    assert_eq!(
        accord(
            dir,
            &registry,
            &["mode", "shop.money-value", "--set", "READONLY"]
        )
        .await
        .code,
        0
    );
    assert_eq!(
        accord(dir, &registry, &["mode", "shop.money-value"])
            .await
            .stdout
            .trim(),
        "READONLY"
    );
    assert_eq!(
        accord(dir, &registry, &["mode"]).await.stdout.trim(),
        "READWRITE"
    );
    // A project that expects another level than the registry applies is warned (online).
    let toml = std::fs::read_to_string(dir.join("accord.toml")).unwrap();
    write(
        dir,
        "accord.toml",
        &format!("compatibility = \"BACKWARD\"\n{toml}"),
    );
    let run = accord(dir, &registry, &["check", "--format", "github"]).await;
    assert_eq!(
        run.code, 0,
        "a warning does not fail the check: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("::warning file=schemas/avro/shop/order.avsc,line=1,title=accord compatibility-level (shop.order-value)::the registry checks shop.order-value at FULL; accord.toml expects BACKWARD"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("shop.money-value)::the registry"),
        "{}",
        run.stdout
    );
    write(dir, "accord.toml", &toml);

    // subjects with owners and lifecycle.
    let run = accord(dir, &registry, &["subjects", "--json"]).await;
    let rows: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 9, "{rows}");
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["lifecycle"].is_string() && r["owner"].is_string()));
    let table = accord(dir, &registry, &["subjects", "--prefix", "shop.o"]).await;
    assert!(
        table.stdout.contains("shop.order-value") && !table.stdout.contains("shop.money-value"),
        "{}",
        table.stdout
    );

    // validate: a payload file against a subject version.
    write(dir, "good.json", r#"{"sku": "A-1", "quantity": 2}"#);
    write(dir, "bad.json", r#"{"quantity": "two"}"#);
    let run = accord(
        dir,
        &registry,
        &["validate", "shop.item-value", "good.json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let run = accord(
        dir,
        &registry,
        &["validate", "shop.item-value", "bad.json", "--version", "1"],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.starts_with("invalid"));
    // Avro (a record with fields of types other files define) and Protobuf payloads as JSON.
    write(
        dir,
        "order.json",
        r#"{"order_id": "o-1", "customer": {"customer_id": "c-1", "email": {"string": "a@b.c"}},
            "total": {"cents": 1250}}"#,
    );
    let run = accord(
        dir,
        &registry,
        &["validate", "shop.order-value", "order.json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    write(
        dir,
        "order-bad.json",
        r#"{"order_id": "o-1", "customer": {"customer_id": 1}}"#,
    );
    let run = accord(
        dir,
        &registry,
        &["validate", "shop.order-value", "order-bad.json"],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("/customer/customer_id is a number, not string"),
        "{}",
        run.stdout
    );
    write(
        dir,
        "address.json",
        r#"{"street": "Main St 1", "city": "Oslo"}"#,
    );
    let run = accord(
        dir,
        &registry,
        &["validate", "shop.address-value", "address.json"],
    )
    .await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    write(dir, "address-bad.json", r#"{"street": 5}"#);
    let run = accord(
        dir,
        &registry,
        &["validate", "shop.address-value", "address-bad.json"],
    )
    .await;
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);

    // --help on every subcommand, and completions.
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
        let run = accord(dir, &registry, &[sub, "--help"]).await;
        assert_eq!(run.code, 0, "{sub} --help");
        assert!(
            run.stdout.contains("Usage: accord"),
            "{sub}: {}",
            run.stdout
        );
    }
    let bash = accord(dir, &registry, &["completions", "bash"]).await;
    assert!(
        bash.stdout.contains("_accord()"),
        "{}",
        &bash.stdout[..200.min(bash.stdout.len())]
    );
}
