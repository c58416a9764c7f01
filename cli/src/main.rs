//! `accord`: tells a pull request whether its schema changes are compatible, conventional and
//! allowed, online (the registry's own verdict, as one change set) or offline (against another
//! git revision, with the library's engine); applies them atomically; and the everyday
//! registry chores (get, diff, config, mode, subjects, validate).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

mod client;
mod offline;
mod project;
mod report;

use accord::changeset::ItemReport;
use client::{seg, Client, Refused, Unreachable, UserConfig};
use project::{Project, ProjectFile};
use report::{Format, Verdict};

#[derive(Parser)]
#[command(
    name = "accord",
    version,
    about = "Check, apply and inspect schema changes against an Accord (or Confluent-compatible) registry"
)]
struct Cli {
    /// The registry's URL (else accord.toml's `registry`, the user config's, or
    /// http://localhost:8081).
    #[arg(long, global = true, env = "ACCORD_REGISTRY_URL")]
    registry: Option<String>,
    /// An API key as ID:SECRET (else the user config's `api_key`).
    #[arg(long, global = true, env = "ACCORD_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// The project file (default: accord.toml here or in a parent directory).
    #[arg(long, global = true, env = "ACCORD_PROJECT")]
    project: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Checks that the project's schema changes are compatible, conventional and allowed.
    ///
    /// Online (the default), the registry's verdict on the whole project as one change-set
    /// plan: its compatibility levels, lint policy and ownership; nothing is stored. Offline,
    /// with --against or --against-dir, the same files at another revision, decided by the
    /// same engine with accord.toml's levels and local policy; no registry needed. Exits 0
    /// when all pass, 1 when any is incompatible, violates the policy or is forbidden, 2 on
    /// usage or infrastructure errors (an unreachable registry).
    Check {
        /// Offline: compare with the files at this git revision (a branch, tag or commit).
        #[arg(long, conflicts_with = "against_dir")]
        against: Option<String>,
        /// Offline: compare with the files in this directory (another checkout).
        #[arg(long)]
        against_dir: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
    },
    /// Registers the project's schemas as one change set: all of them or none.
    ///
    /// Idempotent: applying what the registry holds changes nothing. Exits 1 (and stores
    /// nothing) when any schema fails, as `accord check` would report.
    Apply {
        #[command(flatten)]
        out: Output,
    },
    /// Lints the project's schemas (or the files given) with a local policy file, offline.
    Lint {
        /// Files to lint instead of the project's (subjects from the project's templates).
        files: Vec<PathBuf>,
        /// The policy file (JSON or TOML, the server's format); default accord.toml's.
        #[arg(long)]
        policy: Option<PathBuf>,
        #[command(flatten)]
        out: Output,
    },
    /// Writes a schema to a file (or standard output): a subject's version, or an id.
    Get {
        /// The subject (omit with --id).
        subject: Option<String>,
        /// The version (a number or `latest`).
        #[arg(long, default_value = "latest")]
        version: String,
        /// A schema id instead of a subject version.
        #[arg(long)]
        id: Option<i64>,
        /// Where to write it (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Shows a readable diff of two versions, or of a file against a version.
    ///
    /// The compatibility findings of the newer side against the older appear inline; exits 1
    /// when they are incompatible.
    Diff {
        subject: String,
        /// The older side: a version (default: the version before `to`, or latest with --file).
        from: Option<String>,
        /// The newer side: a version (default: latest).
        to: Option<String>,
        /// The newer side is this file instead of a version.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Shows or sets the compatibility level (global, or a subject's).
    Config {
        subject: Option<String>,
        /// The level to set (BACKWARD, FULL_TRANSITIVE, NONE, …).
        #[arg(long)]
        set: Option<String>,
    },
    /// Shows or sets the mode (READWRITE, READONLY, IMPORT), global or a subject's.
    Mode {
        subject: Option<String>,
        #[arg(long)]
        set: Option<String>,
    },
    /// Lists subjects with their owners and lifecycle.
    Subjects {
        /// Only subjects starting with this.
        #[arg(long)]
        prefix: Option<String>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validates a payload file against a subject version (for producers' tests).
    ///
    /// Exits 0 when it matches, 1 when it does not.
    Validate {
        subject: String,
        /// The payload: JSON (Avro's JSON encoding, or plain JSON with union values bare; a
        /// JSON Schema document; Protobuf's JSON mapping of the first message), or the binary
        /// encoding with --binary (Protobuf: starting with its message indexes, 0x00 for the
        /// first message).
        payload: PathBuf,
        #[arg(long, default_value = "latest")]
        version: String,
        /// The file holds the binary encoding (sent base64).
        #[arg(long)]
        binary: bool,
    },
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

#[derive(clap::Args)]
struct Output {
    /// human (coloured on a terminal), json, junit, github (workflow annotations), sarif.
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// A reader that goes away (`accord subjects | head -1`) ends the process quietly, as it does
/// any Unix filter, instead of a write error or a panic in the middle of the output.
#[cfg(unix)]
#[allow(unsafe_code)]
fn die_quietly_on_closed_pipe() {
    // SAFETY: restores the default disposition of one signal before any thread is started;
    // no handler of ours is involved and nothing else in the process sets SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn die_quietly_on_closed_pipe() {}

fn main() -> ExitCode {
    die_quietly_on_closed_pipe();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("accord: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("accord: {e:#}");
            // The registry said no (a refused request) is a verdict; anything else is not.
            if e.downcast_ref::<Refused>().is_some() && e.downcast_ref::<Unreachable>().is_none() {
                ExitCode::from(1)
            } else {
                ExitCode::from(2)
            }
        }
    }
}

/// The project file and the directory it sits in.
fn project_file(cli: &Cli) -> Result<(PathBuf, ProjectFile)> {
    let path = project::locate(cli.project.as_deref())?;
    let file = ProjectFile::read(&path)?;
    let root = path
        .parent()
        .map(Path::to_path_buf)
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    Ok((root, file))
}

fn client(cli: &Cli, project: Option<&ProjectFile>) -> Result<Client> {
    let user = UserConfig::load()?;
    let registry = cli
        .registry
        .clone()
        .or_else(|| project.and_then(|p| p.registry.clone()))
        .or(user.registry)
        .unwrap_or_else(|| "http://localhost:8081".into());
    let key = cli.api_key.clone().or(user.api_key);
    Client::new(&registry, key.as_deref())
}

/// Renders the verdicts as `out` asks (colour only for a terminal, never into a file) and
/// writes them where it says.
fn emit(out: &Output, mode: &str, verdicts: &[Verdict]) -> Result<()> {
    let colour = out.output.is_none() && report::colour();
    let text = report::render(out.format, mode, verdicts, colour);
    match &out.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            Ok(())
        }
    }
}

/// The project as a change set.
fn change_set(p: &Project) -> Value {
    let items: Vec<Value> = p
        .files
        .iter()
        .map(|f| {
            json!({
                "subject": f.subject,
                "schema": f.text,
                "schemaType": f.schema_type.as_str(),
                "references": f.references,
            })
        })
        .collect();
    json!({ "items": items })
}

fn verdicts(p: &Project, items: Vec<ItemReport>) -> Vec<Verdict> {
    let by_subject = p.by_subject();
    items
        .into_iter()
        .map(|item| match by_subject.get(item.subject.as_str()) {
            Some(&i) => {
                let f = &p.files[i];
                let checked_at = item.compatibility;
                // A skipped item points at its reference to the failing file.
                let failing: Vec<&str> = f
                    .references
                    .iter()
                    .filter(|r| item.depends_on.contains(&r.subject))
                    .map(|r| r.name.as_str())
                    .collect();
                let skipped_at = report::locate(&f.text, &failing);
                let mut v = Verdict::new(&f.path, &f.text, item);
                for finding in v.findings.iter_mut().filter(|x| x.rule == "skipped") {
                    finding.line = skipped_at;
                }
                if let (Some(want), Some(got)) = (f.expected, checked_at) {
                    if want != got {
                        v.findings.push(report::Finding {
                            rule: "compatibility-level".into(),
                            level: "warning",
                            line: 1,
                            message: format!(
                                "the registry checks {} at {}; accord.toml expects {} (accord config {} --set {})",
                                f.subject, got.as_str(), want.as_str(), f.subject, want.as_str()
                            ),
                        });
                    }
                }
                v
            }
            None => Verdict::new("", "", item),
        })
        .collect()
}

/// Sends the project to `plan` or `apply`; the items of the answer.
async fn send_set(c: &Client, p: &Project, what: &str) -> Result<Vec<ItemReport>> {
    let (status, body) = c
        .call(
            Method::POST,
            &format!("/accord/v1/changesets/{what}"),
            Some(&change_set(p)),
        )
        .await?;
    if let Some(items) = body.get("items").filter(|_| status != 404) {
        let items: Vec<ItemReport> = serde_json::from_value(items.clone())
            .context("the registry's change-set answer is not understood")?;
        return Ok(items);
    }
    if status == 404 {
        bail!(Unreachable(format!(
            "{} has no change-set endpoint: is it an Accord registry?",
            c.base()
        )));
    }
    Err(anyhow!(Unreachable(Refused { status, body }.to_string())))
}

/// Refuses a revision git does not know (rather than comparing with nothing).
fn verify_revision(top: &Path, revision: &str) -> Result<()> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--verify", "--quiet"])
        .arg(format!("{revision}^{{tree}}"))
        .current_dir(top)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!("git does not know the revision '{revision}'");
    }
    Ok(())
}

fn local_policy(
    root: &Path,
    file: &ProjectFile,
    flag: Option<&Path>,
) -> Result<Option<accord::governance::policy::Policy>> {
    let path = match (flag, file.lint.policy.as_deref()) {
        (Some(p), _) => p.to_path_buf(),
        (None, None | Some("registry")) => return Ok(None),
        (None, Some(p)) => root.join(p),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the policy {}", path.display()))?;
    let policy = accord::governance::policy::Policy::parse(&text)
        .map_err(|e| anyhow!("the policy {} is not valid: {e}", path.display()))?;
    Ok(Some(policy))
}

fn exit_for(v: &[Verdict]) -> u8 {
    u8::from(v.iter().any(Verdict::failed))
}

async fn run(cli: Cli) -> Result<u8> {
    match &cli.command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "accord",
                &mut std::io::stdout(),
            );
            Ok(0)
        }
        Command::Check {
            against,
            against_dir,
            out,
        } => {
            let (root, file) = project_file(&cli)?;
            if against.is_none() && against_dir.is_none() {
                let project = Project::load(&root, &file)?;
                let c = client(&cli, Some(&file))?;
                let items = send_set(&c, &project, "plan").await?;
                let v = verdicts(&project, items);
                emit(out, "online", &v)?;
                return Ok(exit_for(&v));
            }
            // The other revision is read (by git, mostly) while this one loads and parses.
            let other = {
                let (root, file) = (root.clone(), file.clone());
                let (against, against_dir) = (against.clone(), against_dir.clone());
                std::thread::spawn(move || {
                    other_revision(&root, &file, against.as_deref(), against_dir.as_deref())
                })
            };
            let project = Project::load(&root, &file)?;
            let policy = local_policy(&root, &file, None)?;
            let old = || {
                other
                    .join()
                    .map_err(|_| anyhow!("reading the other revision failed"))?
            };
            let v = verdicts(&project, offline::check(&project, old, policy.as_ref())?);
            emit(out, "offline", &v)?;
            Ok(exit_for(&v))
        }
        Command::Apply { out } => {
            let (root, file) = project_file(&cli)?;
            let project = Project::load(&root, &file)?;
            let c = client(&cli, Some(&file))?;
            let items = send_set(&c, &project, "apply").await?;
            let v = verdicts(&project, items);
            emit(out, "apply", &v)?;
            Ok(exit_for(&v))
        }
        Command::Lint { files, policy, out } => {
            let (root, file) = project_file(&cli)?;
            let Some(policy) = local_policy(&root, &file, policy.as_deref())? else {
                bail!("no local policy: pass --policy or set [lint] policy = \"<file>\" in accord.toml");
            };
            let project = Project::load(&root, &file)?;
            // The files asked for, relative to the project root (all of them when none is).
            let mut wanted_paths = None;
            if !files.is_empty() {
                let wanted: Vec<String> = files
                    .iter()
                    .map(|f| {
                        let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
                        let top = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
                        abs.strip_prefix(&top)
                            .unwrap_or(&abs)
                            .to_string_lossy()
                            .replace('\\', "/")
                    })
                    .collect();
                let missing: Vec<&String> = wanted
                    .iter()
                    .filter(|w| !project.files.iter().any(|f| &f.path == *w))
                    .collect();
                if !missing.is_empty() {
                    bail!("not schemas of the project (see accord.toml): {missing:?}");
                }
                wanted_paths = Some(wanted);
            }
            let mut v = verdicts(&project, offline::lint_project(&project, &policy)?);
            if let Some(wanted) = &wanted_paths {
                v.retain(|verdict| wanted.contains(&verdict.file));
            }
            emit(out, "lint", &v)?;
            Ok(exit_for(&v))
        }
        Command::Get {
            subject,
            version,
            id,
            output,
        } => {
            let c = client(&cli, project_file(&cli).ok().map(|(_, f)| f).as_ref())?;
            let body = match (id, subject) {
                (Some(id), _) => {
                    c.ok(Method::GET, &format!("/schemas/ids/{id}"), None)
                        .await?
                }
                (None, Some(s)) => {
                    c.ok(
                        Method::GET,
                        &format!("/subjects/{}/versions/{}", seg(s), seg(version)),
                        None,
                    )
                    .await?
                }
                (None, None) => bail!("name a subject, or --id"),
            };
            let text = pretty(
                body["schema"].as_str().unwrap_or_default(),
                body["schemaType"].as_str(),
            );
            match output {
                Some(p) => std::fs::write(p, text)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => print!("{text}"),
            }
            Ok(0)
        }
        Command::Diff {
            subject,
            from,
            to,
            file,
        } => {
            diff(
                &cli,
                subject,
                from.as_deref(),
                to.as_deref(),
                file.as_deref(),
            )
            .await
        }
        Command::Config { subject, set } => {
            let body = setting(&cli, "config", "compatibility", subject, set).await?;
            let level = body["compatibilityLevel"]
                .as_str()
                .or(body["compatibility"].as_str())
                .unwrap_or_default();
            println!("{level}");
            Ok(0)
        }
        Command::Mode { subject, set } => {
            let body = setting(&cli, "mode", "mode", subject, set).await?;
            println!("{}", body["mode"].as_str().unwrap_or_default());
            Ok(0)
        }
        Command::Subjects {
            prefix,
            json: as_json,
        } => {
            let c = client(&cli, project_file(&cli).ok().map(|(_, f)| f).as_ref())?;
            let q = prefix
                .as_ref()
                .map(|p| format!("?subjectPrefix={}", seg(p)))
                .unwrap_or_default();
            let list = c.ok(Method::GET, &format!("/subjects{q}"), None).await?;
            let mut rows = Vec::new();
            for s in list
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                let g = c
                    .call(
                        Method::GET,
                        &format!("/accord/v1/subjects/{}", seg(s)),
                        None,
                    )
                    .await?;
                let g = if g.0 == 200 { g.1 } else { Value::Null };
                let owner = g["ownership"]["team"]
                    .as_str()
                    .or(g["owner"].as_str())
                    .unwrap_or("-")
                    .to_owned();
                let lifecycle = g["lifecycle"].as_str().unwrap_or("active").to_owned();
                rows.push(json!({"subject": s, "owner": owner, "lifecycle": lifecycle}));
            }
            if *as_json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                let width = rows
                    .iter()
                    .filter_map(|r| r["subject"].as_str())
                    .map(str::len)
                    .max()
                    .unwrap_or(7)
                    .max(7);
                println!("{:width$}  {:16}  LIFECYCLE", "SUBJECT", "OWNER");
                for r in &rows {
                    println!(
                        "{:width$}  {:16}  {}",
                        r["subject"].as_str().unwrap_or_default(),
                        r["owner"].as_str().unwrap_or_default(),
                        r["lifecycle"].as_str().unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
        Command::Validate {
            subject,
            payload,
            version,
            binary,
        } => {
            let c = client(&cli, project_file(&cli).ok().map(|(_, f)| f).as_ref())?;
            let bytes = std::fs::read(payload)
                .with_context(|| format!("cannot read {}", payload.display()))?;
            let body = if *binary {
                use base64::Engine as _;
                let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
                json!({"payload": encoded, "encoding": "base64"})
            } else {
                let text = String::from_utf8(bytes).map_err(|_| {
                    anyhow!("{} is not UTF-8 text: use --binary", payload.display())
                })?;
                json!({"payload": text, "encoding": "json", "allowUnknownFields": false})
            };
            let answer = c
                .ok(
                    Method::POST,
                    &format!(
                        "/accord/v1/validate/subjects/{}/versions/{}",
                        seg(subject),
                        seg(version)
                    ),
                    Some(&body),
                )
                .await?;
            let (id, v) = (
                answer["schemaId"].as_i64().unwrap_or_default(),
                answer["version"].as_i64().unwrap_or_default(),
            );
            if answer["valid"].as_bool() == Some(true) {
                println!(
                    "valid: {} matches {subject} version {v} (id {id})",
                    payload.display()
                );
                Ok(0)
            } else {
                println!(
                    "invalid: {} does not match {subject} version {v} (id {id}): {}",
                    payload.display(),
                    answer["error"].as_str().unwrap_or_default()
                );
                Ok(1)
            }
        }
    }
}

/// Reads or sets `/config` or `/mode` (`resource`), global or a subject's: `{field: value}`.
async fn setting(
    cli: &Cli,
    resource: &str,
    field: &str,
    subject: &Option<String>,
    set: &Option<String>,
) -> Result<Value> {
    let c = client(cli, project_file(cli).ok().map(|(_, f)| f).as_ref())?;
    let path = match subject {
        Some(s) => format!("/{resource}/{}", seg(s)),
        None => format!("/{resource}"),
    };
    match set {
        Some(value) => {
            c.ok(Method::PUT, &path, Some(&json!({ field: value })))
                .await
        }
        None => {
            let q = if subject.is_some() {
                "?defaultToGlobal=true"
            } else {
                ""
            };
            c.ok(Method::GET, &format!("{path}{q}"), None).await
        }
    }
}

/// The project as it is at git revision `against`, or in directory `against_dir`.
fn other_revision(
    root: &Path,
    file: &ProjectFile,
    against: Option<&str>,
    against_dir: Option<&Path>,
) -> Result<Project> {
    match (against, against_dir) {
        (Some(rev), _) => {
            let top = git_top(root)?;
            verify_revision(&top, rev)?;
            let prefix = std::fs::canonicalize(root)?
                .strip_prefix(std::fs::canonicalize(&top)?)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or_default();
            let tree = project::Tree::Git {
                top: &top,
                revision: rev,
                prefix: &prefix,
            };
            Project::load_tree(root, &tree, file)
        }
        (None, Some(dir)) if dir.is_dir() => Project::load(dir, file),
        (None, Some(dir)) => bail!("{} is not a directory", dir.display()),
        (None, None) => bail!("name --against or --against-dir"),
    }
}

fn git_top(root: &Path) -> Result<PathBuf> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(root)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "{} is not in a git repository (use --against-dir)",
            root.display()
        );
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A schema's text laid out for reading: JSON pretty-printed, Protobuf as it is.
fn pretty(text: &str, schema_type: Option<&str>) -> String {
    let mut out = match schema_type {
        Some("PROTOBUF") => text.to_owned(),
        _ => serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| text.to_owned()),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

async fn diff(
    cli: &Cli,
    subject: &str,
    from: Option<&str>,
    to: Option<&str>,
    file: Option<&Path>,
) -> Result<u8> {
    let c = client(cli, project_file(cli).ok().map(|(_, f)| f).as_ref())?;
    let version = |v: String| {
        let c = &c;
        async move {
            c.ok(
                Method::GET,
                &format!("/subjects/{}/versions/{}", seg(subject), seg(&v)),
                None,
            )
            .await
        }
    };
    let (old, new_text, new_label, new_type, references) = match file {
        Some(path) => {
            let old = version(from.unwrap_or("latest").to_owned()).await?;
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            // The file's references, as the project maps them (when it is one of its files).
            let (mut refs, mut ty) = (Value::Array(Vec::new()), old["schemaType"].clone());
            if let Ok((root, pf)) = project_file(cli) {
                if let Ok(p) = Project::load(&root, &pf) {
                    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                    if let Some(f) = p.files.iter().find(|f| {
                        std::fs::canonicalize(root.join(&f.path)).ok().as_ref() == Some(&abs)
                    }) {
                        refs = serde_json::to_value(&f.references)?;
                        ty = json!(f.schema_type.as_str());
                    }
                }
            }
            (old, text, path.display().to_string(), ty, refs)
        }
        None => {
            let new = version(to.unwrap_or("latest").to_owned()).await?;
            let from = match from {
                Some(f) => f.to_owned(),
                None => {
                    let n = new["version"].as_i64().unwrap_or(1);
                    if n <= 1 {
                        bail!("{subject} has one version: name two, or use --file");
                    }
                    (n - 1).to_string()
                }
            };
            let old = version(from).await?;
            let label = format!("{subject} v{}", new["version"]);
            let text = new["schema"].as_str().unwrap_or_default().to_owned();
            (
                old,
                text,
                label,
                new["schemaType"].clone(),
                new["references"].clone(),
            )
        }
    };
    let old_type = old["schemaType"].as_str().map(str::to_owned);
    let old_text = pretty(
        old["schema"].as_str().unwrap_or_default(),
        old_type.as_deref(),
    );
    let new_pretty = pretty(&new_text, new_type.as_str());
    // The findings: the newer side checked against the older version at the subject's level.
    let mut body = json!({"schema": new_text, "references": references});
    if let Some(t) = new_type.as_str() {
        body["schemaType"] = json!(t);
    }
    let old_version = old["version"].as_i64().unwrap_or(1);
    let (_, verdict) = c
        .call(
            Method::POST,
            &format!(
                "/compatibility/subjects/{}/versions/{old_version}?verbose=true",
                seg(subject)
            ),
            Some(&body),
        )
        .await?;
    let messages: Vec<String> = verdict["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect();
    let findings: Vec<report::Finding> = {
        let mut item = ItemReport::blank(
            subject.to_owned(),
            accord::types::SchemaType::Avro,
            accord::changeset::Status::Incompatible,
        );
        item.messages = messages.clone();
        if messages.is_empty() {
            Vec::new()
        } else {
            Verdict::new("", &new_pretty, item).findings
        }
    };
    let colour = report::colour();
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    println!("--- {subject} v{old_version}");
    println!("+++ {new_label}");
    let d = similar::TextDiff::from_lines(&old_text, &new_pretty);
    for change in d.iter_all_changes() {
        let line = change.value().trim_end_matches('\n');
        match change.tag() {
            similar::ChangeTag::Delete => println!("{}", paint("31", &format!("-{line}"))),
            similar::ChangeTag::Insert => println!("{}", paint("32", &format!("+{line}"))),
            similar::ChangeTag::Equal => println!(" {line}"),
        }
        if let Some(n) = change.new_index() {
            for f in findings
                .iter()
                .filter(|f| f.line == n + 1 && change.tag() != similar::ChangeTag::Delete)
            {
                println!(
                    "{}",
                    paint("33", &format!("  ^ incompatible: {}", f.message))
                );
            }
        }
    }
    if verdict["is_compatible"].as_bool() == Some(false) {
        println!(
            "{}",
            paint(
                "31;1",
                &format!(
                    "incompatible with v{old_version} ({} finding(s))",
                    findings.len().max(1)
                )
            )
        );
        Ok(1)
    } else {
        println!(
            "{}",
            paint("32;1", &format!("compatible with v{old_version}"))
        );
        Ok(0)
    }
}
