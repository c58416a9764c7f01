//! The project file (`accord.toml`) and the schemas it maps to subjects: which files, which
//! subject each gets, their type, and the references between local files (Protobuf imports,
//! Avro named types, JSON Schema `$ref`s by relative path).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use accord::types::{CompatibilityLevel, SchemaReference, SchemaType};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use serde_json::Value;

/// The project file's name, at the repository root.
pub const PROJECT_FILE: &str = "accord.toml";

/// `accord.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// The registry `accord check` and `accord apply` talk to (flags and environment win).
    #[serde(default)]
    pub registry: Option<String>,
    /// The compatibility level the offline check applies where an entry names none
    /// (default BACKWARD, the registry's default).
    #[serde(default)]
    pub compatibility: Option<String>,
    #[serde(default)]
    pub schemas: Vec<Entry>,
    #[serde(default)]
    pub lint: Lint,
}

/// One `[[schemas]]` entry: files and the subject each maps to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Globs relative to the project root (`schemas/**/*.avsc`).
    pub files: Globs,
    /// The subject template: `{dir}` (the file's directory below `root`, `/` as `.`),
    /// `{stem}` (file name without extension), `{name}` (file name), `{path}` (`{dir}.{stem}`),
    /// `{ext}`. An empty `{dir}` takes the separator after it along (`{dir}.{stem}-value`
    /// for `a.avsc` at the root is `a-value`). Default `{stem}-value`.
    #[serde(default = "default_template")]
    pub subject: String,
    /// `AVRO`, `PROTOBUF` or `JSON`; inferred from the extension when absent.
    #[serde(default, rename = "type")]
    pub schema_type: Option<String>,
    /// The directory `{dir}` and Protobuf import paths are relative to; default the globs'
    /// literal prefix (`schemas/` for `schemas/**/*.proto`).
    #[serde(default)]
    pub root: Option<String>,
    /// The compatibility level the offline check applies to these subjects.
    #[serde(default)]
    pub compatibility: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Globs {
    One(String),
    Many(Vec<String>),
}

impl Globs {
    fn list(&self) -> Vec<String> {
        match self {
            Globs::One(g) => vec![g.clone()],
            Globs::Many(g) => g.clone(),
        }
    }
}

fn default_template() -> String {
    "{stem}-value".into()
}

/// `[lint]`: which policy applies.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Lint {
    /// `registry` (online: the server's policy; offline: none) or the path of a policy file in
    /// the server's format (JSON or TOML), used offline and by `accord lint`.
    #[serde(default)]
    pub policy: Option<String>,
}

/// A schema file of the project, mapped.
#[derive(Debug, Clone)]
pub struct SchemaFile {
    /// Relative to the project root, with `/`.
    pub path: String,
    pub subject: String,
    pub schema_type: SchemaType,
    pub text: String,
    /// References to other files of the project, as the registry stores them (version -1:
    /// whatever version that file's subject ends up as).
    pub references: Vec<SchemaReference>,
    /// The files those references point at (same order).
    pub referenced_files: Vec<usize>,
    pub compatibility: CompatibilityLevel,
    /// The level accord.toml declares for it, if it declares one (online, a registry that
    /// checks the subject at another level gets a warning).
    pub expected: Option<CompatibilityLevel>,
}

/// A project loaded from a directory.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: ProjectFile,
    pub files: Vec<SchemaFile>,
}

impl ProjectFile {
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let file: ProjectFile =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        if file.schemas.is_empty() {
            bail!("{} maps no files: add a [[schemas]] entry", path.display());
        }
        Ok(file)
    }
}

/// Finds the project file: `explicit`, else `accord.toml` in this directory or a parent.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let mut dir = std::env::current_dir()?;
    loop {
        let candidate = dir.join(PROJECT_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
        if !dir.pop() {
            bail!("no {PROJECT_FILE} here or in a parent directory (or pass --project)");
        }
    }
}

fn level(raw: Option<&str>) -> Result<CompatibilityLevel> {
    match raw {
        None => Ok(CompatibilityLevel::Backward),
        Some(r) => r
            .parse::<CompatibilityLevel>()
            .map_err(|_| anyhow!("unknown compatibility level '{r}'")),
    }
}

/// The literal directory prefix of a glob (`schemas/avro` for `schemas/avro/**/*.avsc`).
fn literal_prefix(glob: &str) -> String {
    let mut parts = Vec::new();
    for part in glob.split('/') {
        if part.contains(['*', '?', '[', '{']) {
            break;
        }
        parts.push(part);
    }
    // The last literal part is a file name unless the glob goes on past it.
    if parts.len() == glob.split('/').count() {
        parts.pop();
    }
    parts.join("/")
}

fn type_of(path: &str, declared: Option<&str>) -> Result<SchemaType> {
    if let Some(t) = declared {
        return t.parse::<SchemaType>().map_err(|e| anyhow!("{path}: {e}"));
    }
    let ext = path.rsplit('.').next().unwrap_or_default();
    Ok(match ext {
        "avsc" | "avro" => SchemaType::Avro,
        "proto" => SchemaType::Protobuf,
        "json" => SchemaType::Json,
        _ => bail!("{path}: cannot infer the schema type from '.{ext}'; set `type` in the entry"),
    })
}

/// Fills a subject template for `path` (relative to the project root) below `root`.
pub fn subject_for(template: &str, path: &str, root: &str) -> String {
    let below = path
        .strip_prefix(root)
        .map(|p| p.trim_start_matches('/'))
        .unwrap_or(path);
    let (dir, name) = match below.rsplit_once('/') {
        Some((d, n)) => (d.replace('/', "."), n),
        None => (String::new(), below),
    };
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let joined = if dir.is_empty() {
        stem.to_owned()
    } else {
        format!("{dir}.{stem}")
    };
    let mut out = template.to_owned();
    if dir.is_empty() {
        for sep in [".", "-", "_", "/"] {
            out = out.replace(&format!("{{dir}}{sep}"), "");
        }
    }
    out.replace("{dir}", &dir)
        .replace("{path}", &joined)
        .replace("{stem}", stem)
        .replace("{name}", name)
        .replace("{ext}", ext)
}

/// Every file below `root` (relative, with `/`), skipping `.git` and `target`.
fn walk(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            if name == ".git" || name == "target" {
                continue;
            }
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Where a project's files are read from: a directory, or a git revision (read straight from
/// the object store, nothing unpacked).
pub enum Tree<'a> {
    Dir(&'a Path),
    Git {
        /// The repository's top level.
        top: &'a Path,
        revision: &'a str,
        /// The project's directory below the top level (`""` at the top).
        prefix: &'a str,
    },
}

impl Tree<'_> {
    /// Every file, relative to the project root, with `/`.
    fn list(&self) -> Result<Vec<String>> {
        match self {
            Tree::Dir(root) => walk(root),
            Tree::Git {
                top,
                revision,
                prefix,
            } => {
                let mut cmd = std::process::Command::new("git");
                cmd.args([
                    "ls-tree",
                    "-r",
                    "-z",
                    "--name-only",
                    "--full-tree",
                    revision,
                ])
                .current_dir(top);
                if !prefix.is_empty() {
                    cmd.arg("--").arg(prefix);
                }
                let out = cmd.output().context("cannot run git")?;
                if !out.status.success() {
                    bail!(
                        "git ls-tree {revision} failed: {}",
                        String::from_utf8_lossy(&out.stderr).trim()
                    );
                }
                let mut paths: Vec<String> = out
                    .stdout
                    .split(|b| *b == 0)
                    .filter(|p| !p.is_empty())
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .filter_map(|p| {
                        if prefix.is_empty() {
                            Some(p)
                        } else {
                            p.strip_prefix(&format!("{prefix}/")).map(str::to_owned)
                        }
                    })
                    .collect();
                paths.sort();
                Ok(paths)
            }
        }
    }

    /// The texts of `paths` (relative to the project root).
    fn read(&self, paths: &[&String]) -> Result<Vec<String>> {
        match self {
            Tree::Dir(root) => paths
                .iter()
                .map(|p| {
                    std::fs::read_to_string(root.join(p.as_str()))
                        .with_context(|| format!("cannot read {p}"))
                })
                .collect(),
            Tree::Git {
                top,
                revision,
                prefix,
            } => {
                use std::io::Write as _;
                let mut child = std::process::Command::new("git")
                    .args(["cat-file", "--batch"])
                    .current_dir(top)
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .spawn()
                    .context("cannot run git")?;
                let mut input = String::new();
                for p in paths {
                    let full = if prefix.is_empty() {
                        (*p).clone()
                    } else {
                        format!("{prefix}/{p}")
                    };
                    input.push_str(&format!("{revision}:{full}\n"));
                }
                let mut stdin = child
                    .stdin
                    .take()
                    .ok_or_else(|| anyhow!("git has no input"))?;
                // Written from a thread of its own: git answers while it reads.
                let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
                let out = child.wait_with_output()?;
                writer
                    .join()
                    .map_err(|_| anyhow!("writing to git failed"))??;
                let mut texts = Vec::with_capacity(paths.len());
                let mut rest = &out.stdout[..];
                for p in paths {
                    let end = rest
                        .iter()
                        .position(|b| *b == b'\n')
                        .ok_or_else(|| anyhow!("git cat-file broke off at {p}"))?;
                    let header = String::from_utf8_lossy(&rest[..end]).into_owned();
                    rest = &rest[end + 1..];
                    let size: usize = header
                        .rsplit(' ')
                        .next()
                        .and_then(|n| n.parse().ok())
                        .filter(|_| header.contains(" blob "))
                        .ok_or_else(|| anyhow!("{p} at {revision}: {header}"))?;
                    let body = rest
                        .get(..size)
                        .ok_or_else(|| anyhow!("git cat-file broke off in {p}"))?;
                    texts.push(
                        String::from_utf8(body.to_vec())
                            .map_err(|_| anyhow!("{p} at {revision} is not UTF-8"))?,
                    );
                    rest = rest.get(size + 1..).unwrap_or_default();
                }
                Ok(texts)
            }
        }
    }
}

impl Project {
    /// Loads the schemas `config` maps, from the tree at `root`.
    pub fn load(root: &Path, config: &ProjectFile) -> Result<Project> {
        Self::load_tree(root, &Tree::Dir(root), config)
    }

    /// Loads the schemas `config` maps from `tree` (`root` names it in the project).
    pub fn load_tree(root: &Path, tree: &Tree, config: &ProjectFile) -> Result<Project> {
        let all = tree.list()?;
        let default_level = config.compatibility.as_deref();
        let mut files: Vec<SchemaFile> = Vec::new();
        let mut roots: Vec<String> = Vec::new();
        let mut seen_subjects: HashMap<String, String> = HashMap::new();
        for entry in &config.schemas {
            let globs = entry.files.list();
            let mut builder = globset::GlobSetBuilder::new();
            for g in &globs {
                builder.add(
                    globset::GlobBuilder::new(g)
                        .literal_separator(true)
                        .build()
                        .with_context(|| format!("invalid glob '{g}'"))?,
                );
            }
            let set = builder.build()?;
            let root_dir = entry
                .root
                .clone()
                .unwrap_or_else(|| globs.first().map(|g| literal_prefix(g)).unwrap_or_default());
            let declared = entry.compatibility.as_deref().or(default_level);
            let compatibility = level(declared)?;
            let expected = declared.map(|_| compatibility);
            for path in all.iter().filter(|p| set.is_match(p.as_str())) {
                if files.iter().any(|f| &f.path == path) {
                    continue;
                }
                let schema_type = type_of(path, entry.schema_type.as_deref())?;
                let subject = subject_for(&entry.subject, path, &root_dir);
                if let Some(other) = seen_subjects.insert(subject.clone(), path.clone()) {
                    bail!("{path} and {other} both map to subject '{subject}'");
                }
                files.push(SchemaFile {
                    path: path.clone(),
                    subject,
                    schema_type,
                    text: String::new(),
                    references: Vec::new(),
                    referenced_files: Vec::new(),
                    compatibility,
                    expected,
                });
                roots.push(root_dir.clone());
            }
        }
        let paths: Vec<&String> = files.iter().map(|f| &f.path).collect();
        let texts = tree.read(&paths)?;
        for (f, text) in files.iter_mut().zip(texts) {
            f.text = text;
        }
        link(&mut files, &roots);
        Ok(Project {
            root: root.to_path_buf(),
            config: config.clone(),
            files,
        })
    }

    pub fn by_subject(&self) -> BTreeMap<&str, usize> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.subject.as_str(), i))
            .collect()
    }
}

/// Works out the references between the project's files.
fn link(files: &mut [SchemaFile], roots: &[String]) {
    // Avro: which file defines each full name.
    let mut avro_names: HashMap<String, usize> = HashMap::new();
    let mut avro_uses: Vec<Vec<String>> = vec![Vec::new(); files.len()];
    for (i, f) in files.iter().enumerate() {
        if f.schema_type != SchemaType::Avro {
            continue;
        }
        if let Ok(v) = serde_json::from_str::<Value>(&f.text) {
            let (mut defined, mut used) = (Vec::new(), Vec::new());
            avro_walk(&v, "", &mut defined, &mut used);
            for d in &defined {
                avro_names.entry(d.clone()).or_insert(i);
            }
            used.retain(|u| !defined.contains(u));
            used.dedup();
            avro_uses[i] = used;
        }
    }
    let proto_paths: HashMap<String, usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| f.schema_type == SchemaType::Protobuf)
        .map(|(i, f)| {
            let below = f
                .path
                .strip_prefix(roots[i].as_str())
                .map(|p| p.trim_start_matches('/'))
                .unwrap_or(&f.path);
            (below.to_owned(), i)
        })
        .collect();
    let by_path: HashMap<String, usize> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.path.clone(), i))
        .collect();
    let import = regex::Regex::new(r#"(?m)^\s*import\s+(?:public\s+|weak\s+)?"([^"]+)"\s*;"#)
        .expect("a valid pattern");
    for i in 0..files.len() {
        let mut refs: Vec<(String, usize)> = Vec::new();
        match files[i].schema_type {
            SchemaType::Avro => {
                for name in &avro_uses[i] {
                    if let Some(&j) = avro_names.get(name) {
                        if j != i {
                            refs.push((name.clone(), j));
                        }
                    }
                }
            }
            SchemaType::Protobuf => {
                for cap in import.captures_iter(&files[i].text) {
                    let path = &cap[1];
                    if let Some(&j) = proto_paths.get(path) {
                        refs.push((path.to_owned(), j));
                    }
                }
            }
            SchemaType::Json => {
                if let Ok(v) = serde_json::from_str::<Value>(&files[i].text) {
                    let mut found = Vec::new();
                    json_refs(&v, &mut found);
                    let dir = files[i].path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                    for r in found {
                        let target = normalize(&if dir.is_empty() {
                            r.clone()
                        } else {
                            format!("{dir}/{r}")
                        });
                        if let Some(&j) = by_path.get(&target) {
                            if j != i && !refs.iter().any(|(n, _)| n == &r) {
                                refs.push((r, j));
                            }
                        }
                    }
                }
            }
        }
        let subjects: Vec<String> = refs
            .iter()
            .map(|(_, j)| files[*j].subject.clone())
            .collect();
        let f = &mut files[i];
        f.references = refs
            .iter()
            .zip(subjects)
            .map(|((name, _), subject)| SchemaReference {
                name: name.clone(),
                subject,
                version: -1,
            })
            .collect();
        f.referenced_files = refs.iter().map(|(_, j)| *j).collect();
    }
}

const AVRO_PRIMITIVES: [&str; 8] = [
    "null", "boolean", "int", "long", "float", "double", "bytes", "string",
];

fn qualify(name: &str, namespace: &str) -> String {
    if name.contains('.') || namespace.is_empty() {
        name.to_owned()
    } else {
        format!("{namespace}.{name}")
    }
}

/// Collects the named types an Avro schema defines and the names it uses.
fn avro_walk(v: &Value, namespace: &str, defined: &mut Vec<String>, used: &mut Vec<String>) {
    match v {
        Value::String(name) if !AVRO_PRIMITIVES.contains(&name.as_str()) => {
            used.push(qualify(name, namespace));
        }
        Value::Array(items) => {
            for item in items {
                avro_walk(item, namespace, defined, used);
            }
        }
        Value::Object(o) => {
            let ty = o.get("type");
            let named = matches!(
                ty.and_then(Value::as_str),
                Some("record" | "error" | "enum" | "fixed")
            );
            let mut ns = namespace.to_owned();
            if named {
                if let Some(name) = o.get("name").and_then(Value::as_str) {
                    if let Some(explicit) = o.get("namespace").and_then(Value::as_str) {
                        ns = explicit.to_owned();
                    }
                    let full = qualify(name, &ns);
                    if let Some((space, _)) = full.rsplit_once('.') {
                        ns = space.to_owned();
                    }
                    defined.push(full);
                }
            }
            match ty {
                Some(Value::String(t)) if named || t == "array" || t == "map" => {}
                Some(t) => avro_walk(t, &ns, defined, used),
                None => {}
            }
            if let Some(fields) = o.get("fields").and_then(Value::as_array) {
                for field in fields {
                    if let Some(t) = field.get("type") {
                        avro_walk(t, &ns, defined, used);
                    }
                }
            }
            for key in ["items", "values"] {
                if let Some(t) = o.get(key) {
                    avro_walk(t, &ns, defined, used);
                }
            }
        }
        _ => {}
    }
}

/// The relative-file `$ref`s of a JSON Schema (fragment dropped), in order of appearance.
fn json_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                if k == "$ref" {
                    if let Some(r) = x.as_str() {
                        let file = r.split('#').next().unwrap_or_default();
                        if !file.is_empty()
                            && !file.contains("://")
                            && !out.iter().any(|o| o == file)
                        {
                            out.push(file.to_owned());
                        }
                    }
                } else {
                    json_refs(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| json_refs(x, out)),
        _ => {}
    }
}

/// `a/./b/../c` to `a/c`.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_templates() {
        assert_eq!(
            subject_for("{dir}.{stem}-value", "schemas/shop/order.avsc", "schemas"),
            "shop.order-value"
        );
        assert_eq!(
            subject_for("{dir}.{stem}-value", "schemas/order.avsc", "schemas"),
            "order-value"
        );
        assert_eq!(subject_for("{path}", "s/a/b/c.proto", "s"), "a.b.c");
        assert_eq!(literal_prefix("schemas/avro/**/*.avsc"), "schemas/avro");
        assert_eq!(literal_prefix("a.avsc"), "");
    }

    #[test]
    fn avro_names_defined_and_used() {
        let v: Value = serde_json::from_str(
            r#"{"type":"record","name":"Order","namespace":"shop","fields":[
                {"name":"c","type":"Customer"},{"name":"m","type":["null","common.Money"]},
                {"name":"l","type":{"type":"array","items":{"type":"enum","name":"E","symbols":["A"]}}}]}"#,
        )
        .unwrap();
        let (mut d, mut u) = (Vec::new(), Vec::new());
        avro_walk(&v, "", &mut d, &mut u);
        assert_eq!(d, ["shop.Order", "shop.E"]);
        assert_eq!(u, ["shop.Customer", "common.Money"]);
    }
}
