//! The offline check: the project against the same files at another revision, decided by the
//! library's own formats, compatibility rules and lint engine, in the order and with the
//! verdicts the registry's change-set plan gives (see `accord::changeset`).

use std::sync::Arc;

use accord::changeset::{ItemReport, Status};
use accord::compat::{self, Previous};
use accord::formats::{Formats, ParsedSchema, ResolvedReference};
use accord::governance::lint::{self, LintInput};
use accord::governance::policy::Policy;
use accord::types::QualifiedSubject;

use crate::project::Project;

/// The references of file `i` of `p` resolved to their texts, as the registry resolves a
/// registration's: each direct reference after its own references (transitively, each under
/// the name the file that references it uses, each file once), dependencies first.
fn resolved(p: &Project, i: usize) -> Vec<ResolvedReference> {
    fn entry(p: &Project, name: &str, j: usize) -> ResolvedReference {
        ResolvedReference {
            name: name.to_owned(),
            schema_type: p.files[j].schema_type,
            schema: p.files[j].text.clone(),
        }
    }
    fn transitive(
        p: &Project,
        j: usize,
        out: &mut Vec<ResolvedReference>,
        seen: &mut Vec<usize>,
        stack: &mut Vec<usize>,
    ) {
        let f = &p.files[j];
        for (r, &k) in f.references.iter().zip(&f.referenced_files) {
            // A cycle is reported by the check's ordering; here it only must not recurse.
            if stack.contains(&k) || seen.contains(&k) {
                continue;
            }
            seen.push(k);
            stack.push(k);
            transitive(p, k, out, seen, stack);
            stack.pop();
            out.push(entry(p, &r.name, k));
        }
    }
    let f = &p.files[i];
    let (mut out, mut seen) = (Vec::new(), Vec::new());
    for (r, &j) in f.references.iter().zip(&f.referenced_files) {
        transitive(p, j, &mut out, &mut seen, &mut vec![i, j]);
        out.push(entry(p, &r.name, j));
    }
    out
}

fn parse(formats: &Formats, p: &Project, i: usize) -> Result<Arc<dyn ParsedSchema>, String> {
    let f = &p.files[i];
    formats
        .parse(f.schema_type, &f.text, &resolved(p, i))
        .map_err(|e| e.0)
}

/// Every file of `p` parsed, on every core (parsing is most of an offline check's work).
fn parse_all(formats: &Formats, p: &Project) -> Vec<Result<Arc<dyn ParsedSchema>, String>> {
    let n = p.files.len();
    let threads = std::thread::available_parallelism()
        .map(|t| t.get())
        .unwrap_or(1)
        .clamp(1, 8)
        .min(n.max(1));
    let mut out: Vec<Option<Result<Arc<dyn ParsedSchema>, String>>> = vec![None; n];
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                scope.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|i| (i, parse(formats, p, i)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for w in workers {
            if let Ok(done) = w.join() {
                for (i, r) in done {
                    out[i] = Some(r);
                }
            }
        }
    });
    out.into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|| parse(formats, p, i)))
        .collect()
}

/// One verdict per file of `new`, in its order, against the project `old` gives (asked for
/// once `new` is parsed, so that it may be read meanwhile).
pub fn check(
    new: &Project,
    old: impl FnOnce() -> anyhow::Result<Project>,
    policy: Option<&Policy>,
) -> anyhow::Result<Vec<ItemReport>> {
    let formats = Formats::default();
    let mut parsed_new = parse_all(&formats, new);
    let old = old()?;
    let old = &old;
    let mut parsed_old = parse_all(&formats, old);
    let old_subjects = old.by_subject();
    let n = new.files.len();
    let mut done: Vec<Option<ItemReport>> = vec![None; n];
    // Reference order: a file after the files it references; a cycle is invalid.
    let mut order = Vec::with_capacity(n);
    let mut state = vec![0u8; n];
    fn visit(p: &Project, i: usize, state: &mut [u8], order: &mut Vec<usize>) -> bool {
        match state[i] {
            2 => return true,
            1 => return false,
            _ => {}
        }
        state[i] = 1;
        let mut ok = true;
        for &j in &p.files[i].referenced_files {
            ok &= visit(p, j, state, order);
        }
        state[i] = 2;
        if ok {
            order.push(i);
        }
        ok
    }
    for (i, slot) in done.iter_mut().enumerate() {
        if !visit(new, i, &mut state, &mut order) && !order.contains(&i) {
            let f = &new.files[i];
            let mut r = ItemReport::blank(f.subject.clone(), f.schema_type, Status::Invalid);
            r.error_code = Some(42201);
            r.message = Some("Invalid schema: the files reference each other in a cycle".into());
            *slot = Some(r);
        }
    }
    order.dedup();
    for &i in &order {
        if done[i].is_some() {
            continue;
        }
        let f = &new.files[i];
        let mut report = ItemReport::blank(f.subject.clone(), f.schema_type, Status::New);
        let failed: Vec<String> = f
            .referenced_files
            .iter()
            .filter(|&&j| done[j].as_ref().is_none_or(|r| !r.status.passed()))
            .map(|&j| new.files[j].subject.clone())
            .collect();
        if !failed.is_empty() {
            done[i] = Some(report.skipped(failed));
            continue;
        }
        let parsed = match std::mem::replace(&mut parsed_new[i], Err(String::new())) {
            Ok(p) => p,
            Err(e) => {
                report.status = Status::Invalid;
                report.error_code = Some(42201);
                report.message = Some(e);
                done[i] = Some(report);
                continue;
            }
        };
        let previous = old_subjects
            .get(f.subject.as_str())
            .and_then(|&j| std::mem::replace(&mut parsed_old[j], Err(String::new())).ok());
        if let Some(prev) = &previous {
            // Unchanged: the same schema, referencing only what is unchanged too (a referenced
            // schema's new version makes this one's references, and so its version, new).
            let refs_unchanged = f.referenced_files.iter().all(|&j| {
                done[j]
                    .as_ref()
                    .is_some_and(|r| r.status == Status::Unchanged)
            });
            if prev.canonical() == parsed.canonical() && refs_unchanged {
                report.status = Status::Unchanged;
                done[i] = Some(report);
                continue;
            }
            let messages = compat::check(
                f.compatibility,
                parsed.as_ref(),
                &[Previous {
                    version: 1,
                    schema: prev.as_ref(),
                    metadata: None,
                }],
            );
            if !messages.is_empty() {
                done[i] = Some(report.incompatible(messages));
                continue;
            }
        }
        if let Some(policy) = policy {
            let name = QualifiedSubject::parse(&f.subject)
                .map(|s| s.name)
                .unwrap_or_else(|_| f.subject.clone());
            let rules = policy.rules_for(&name);
            let (enforced, warned) = lint::lint(&LintInput {
                subject: &name,
                schema: parsed.as_ref(),
                previous: previous.as_deref(),
                rules: &rules,
                domain: None,
            });
            report.warnings = warned;
            if !enforced.is_empty() {
                report = report.lint(enforced);
            }
        }
        done[i] = Some(report);
    }
    Ok(done
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                let f = &new.files[i];
                ItemReport::blank(f.subject.clone(), f.schema_type, Status::Invalid)
            })
        })
        .collect())
}

/// Lints every file of the project with `policy` (no previous revision).
pub fn lint_project(p: &Project, policy: &Policy) -> anyhow::Result<Vec<ItemReport>> {
    let empty = Project {
        root: p.root.clone(),
        config: p.config.clone(),
        files: Vec::new(),
    };
    check(p, || Ok(empty), Some(policy))
}
