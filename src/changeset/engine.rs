//! The change-set engine: the items' registrations, in reference order, inside one write
//! session (see the parent module).

use std::collections::HashMap;

use super::{ItemReport, Report, Status};
use crate::governance::{Actor, Governance, GovernanceError, Principal};
use crate::registry::{Registry, RegistryError, SchemaInput};
use crate::types::{QualifiedSubject, SchemaType};

/// The most items one change set may carry.
pub const MAX_ITEMS: usize = 10_000;

/// One registration of a change set. A reference to another item's subject with version `-1`
/// means the version that item ends up as.
#[derive(Debug, Clone)]
pub struct Item {
    pub subject: QualifiedSubject,
    pub input: SchemaInput,
}

/// What a change set does with its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run {
    Plan,
    Apply,
}

impl ItemReport {
    fn new(item: &Item, status: Status) -> Self {
        Self::blank(
            item.subject.display_name(),
            item.input.schema_type.unwrap_or(SchemaType::Avro),
            status,
        )
    }
}

/// Why a change set could not be decided at all.
#[derive(Debug, thiserror::Error)]
pub enum SetError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Governance(#[from] GovernanceError),
}

impl From<crate::storage::StoreError> for SetError {
    fn from(e: crate::storage::StoreError) -> Self {
        SetError::Registry(e.into())
    }
}

/// Who runs a change set.
pub struct Caller<'a> {
    pub principal: &'a Principal,
    pub actor: &'a Actor,
}

/// Decides (and for [`Run::Apply`], stores) a change set.
pub async fn run(
    registry: &Registry,
    governance: &Governance,
    caller: Caller<'_>,
    items: Vec<Item>,
    run: Run,
) -> Result<Report, SetError> {
    if items.is_empty() {
        return Err(SetError::Invalid(
            "A change set needs at least one item".into(),
        ));
    }
    if items.len() > MAX_ITEMS {
        return Err(SetError::Invalid(format!(
            "A change set holds at most {MAX_ITEMS} items; this one has {}",
            items.len()
        )));
    }
    let mut index = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if item.subject.is_context_only() {
            return Err(RegistryError::from(crate::types::InvalidSubject(
                item.subject.display_name(),
            ))
            .into());
        }
        if index.insert(item.subject.clone(), i).is_some() {
            return Err(SetError::Invalid(format!(
                "Subject '{}' appears more than once in the change set",
                item.subject.display_name()
            )));
        }
    }
    // Each item's references to other items (by index), and the subjects outside the set.
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(items.len());
    let mut outside: Vec<QualifiedSubject> = Vec::new();
    for item in &items {
        let mut mine = Vec::new();
        for r in &item.input.references {
            let target = QualifiedSubject::parse_in(&r.subject, &item.subject.context)
                .map_err(RegistryError::from)?;
            match index.get(&target) {
                Some(&j) if target != item.subject => mine.push(j),
                Some(_) => {}
                None => outside.push(target),
            }
        }
        mine.sort_unstable();
        mine.dedup();
        deps.push(mine);
    }
    outside.sort();
    outside.dedup();
    let (order, cyclic) = reference_order(&deps);

    let subjects: Vec<QualifiedSubject> = items.iter().map(|i| i.subject.clone()).collect();
    let mut session = registry.store().write_set(&subjects, &outside).await?;
    let s = session.as_mut();
    // Every item's settings and versions in a few queries rather than a dozen per item; a
    // plan's audit records and log entries would only be rolled back.
    let mut involved = subjects.clone();
    involved.extend(outside.iter().cloned());
    s.remember(&involved).await?;
    if run == Run::Plan {
        s.will_roll_back();
    }
    let mut scope = registry.uncommitted(run == Run::Plan);
    let owner_required = governance
        .snapshot_in(s)
        .await?
        .policy
        .policy
        .owner_required;

    let mut reports: Vec<Option<ItemReport>> = vec![None; items.len()];
    for &i in &cyclic {
        let mut r = ItemReport::new(&items[i], Status::Invalid);
        r.error_code = Some(42201);
        r.message =
            Some("Invalid schema: the change set's items reference each other in a cycle".into());
        reports[i] = Some(r);
    }
    let mut created = Vec::new();
    for &i in &order {
        let item = &items[i];
        let failed: Vec<String> = deps[i]
            .iter()
            .filter(|&&j| reports[j].as_ref().is_none_or(|r| !r.status.passed()))
            .map(|&j| items[j].subject.display_name())
            .collect();
        if !failed.is_empty() {
            reports[i] = Some(ItemReport::new(item, Status::New).skipped(failed));
            continue;
        }
        // References to other items name the version each ended up as.
        let mut input = item.input.clone();
        for r in &mut input.references {
            let Ok(target) = QualifiedSubject::parse_in(&r.subject, &item.subject.context) else {
                continue;
            };
            if let Some(done) = index.get(&target).and_then(|&j| reports[j].as_ref()) {
                if r.version == -1 || r.version == 0 {
                    r.version = done.version.unwrap_or(-1);
                }
            }
        }
        let report = decide(
            registry,
            governance,
            &caller,
            s,
            &mut scope,
            item,
            input,
            owner_required,
        )
        .await?;
        if report.status == Status::New {
            created.push(i);
        }
        reports[i] = Some(report);
    }
    let mut items_out: Vec<ItemReport> = reports.into_iter().flatten().collect();
    let ok = items_out.iter().all(|r| r.status.passed());
    let applied = run == Run::Apply && ok && !created.is_empty();
    if applied {
        let summary: Vec<serde_json::Value> = created
            .iter()
            .map(|&i| {
                let r = &items_out[i];
                serde_json::json!({"subject": r.subject, "version": r.version, "id": r.id})
            })
            .collect();
        s.insert_audit(&caller.actor.record(
            "changeset.apply",
            None,
            format!("changesets ({} items)", items_out.len()),
            None,
            Some(serde_json::json!({"registered": summary, "items": items_out.len()})),
        ))
        .await?;
        session.commit().await?;
        drop(scope);
        for &i in &created {
            let r = &items_out[i];
            crate::metrics::global().registered(r.schema_type.as_str());
            tracing::info!(subject = %r.subject, version = r.version, id = r.id, "schema registered (change set)");
        }
    } else {
        drop(session);
        drop(scope);
        for r in &mut items_out {
            // Ids of schemas that were never stored mean nothing to the caller.
            let provisional = r.id.is_some_and(|id| id < 0);
            if provisional || (run == Run::Apply && r.status != Status::Unchanged) {
                r.id = None;
            }
        }
        if run == Run::Apply {
            for r in items_out.iter().filter(|r| r.status == Status::Forbidden) {
                let subject = QualifiedSubject::parse(&r.subject).ok();
                let why = r.message.clone().unwrap_or_default();
                if let Err(e) = governance
                    .record_denied(
                        caller.actor,
                        "subject.register",
                        subject.as_ref(),
                        &r.subject,
                        &why,
                    )
                    .await
                {
                    tracing::error!(error = %e, "audit of a denied change-set item failed");
                }
            }
        }
    }
    Ok(Report {
        ok,
        applied,
        items: items_out,
    })
}

/// One item's verdict, inside the set's session; errors only for what stops the whole set
/// (the database).
#[allow(clippy::too_many_arguments)]
async fn decide(
    registry: &Registry,
    governance: &Governance,
    caller: &Caller<'_>,
    s: &mut dyn crate::storage::Session,
    scope: &mut crate::registry::Uncommitted<'_>,
    item: &Item,
    input: SchemaInput,
    owner_required: bool,
) -> Result<ItemReport, SetError> {
    let subject = &item.subject;
    let mut report = ItemReport::new(item, Status::New);
    // Needing no write, an unchanged item needs no right to the subject: a project's check
    // passes over the other teams' subjects it did not touch.
    let forbidden = governance
        .may_write_subject_in(s, caller.principal, subject, owner_required)
        .await?
        .err();
    let done = match registry
        .register_in(s, scope, subject, input, false, false, caller.actor)
        .await
    {
        Ok(done) if !done.created => {
            report.status = Status::Unchanged;
            report.compatibility = Some(done.level);
            report.version = Some(done.registered.version);
            report.id = Some(done.registered.schema.id);
            return Ok(report);
        }
        Err(e @ RegistryError::Store(_)) => return Err(e.into()),
        // What it would write is not this caller's to write (the set fails: rolled back).
        _ if forbidden.is_some() => {
            let why = forbidden.unwrap_or_default();
            return forbid(governance, s, subject, report, why).await;
        }
        Ok(done) => done,
        Err(e) => return refused(report, e),
    };
    report.version = Some(done.registered.version);
    report.id = Some(done.registered.schema.id);
    report.compatibility = Some(done.level);
    // Governance looks at what is new, as for a single registration (whose unchanged
    // re-registrations it never sees); a refusal fails the set, so the write is rolled back.
    let Some(schema) = done.schema else {
        return Err(SetError::Registry(RegistryError::Internal(
            "a new version without its parsed schema".into(),
        )));
    };
    match governance
        .check_registration_in(s, subject, schema.as_ref(), done.previous.as_deref())
        .await
    {
        Ok(warnings) => report.warnings = warnings,
        Err(GovernanceError::PolicyViolations(v)) => report = report.lint(v),
        Err(e @ (GovernanceError::Retired(_) | GovernanceError::OwnerRequired(_))) => {
            let api = crate::api::error::ApiError::from(e);
            report.status = Status::Invalid;
            report.error_code = Some(api.code);
            report.message = Some(api.message);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(report)
}

/// An item the caller may not write, with the owning team.
async fn forbid(
    governance: &Governance,
    s: &mut dyn crate::storage::Session,
    subject: &QualifiedSubject,
    mut report: ItemReport,
    why: String,
) -> Result<ItemReport, SetError> {
    report.status = Status::Forbidden;
    report.error_code = Some(40301);
    report.message = Some(why);
    report.owner = governance.owner_of(s, subject).await?.map(|o| o.team);
    Ok(report)
}

/// An item the registry refuses, with the code and message a single registration would get;
/// database failures stop the set.
fn refused(mut report: ItemReport, e: RegistryError) -> Result<ItemReport, SetError> {
    match e {
        RegistryError::Store(_) | RegistryError::Internal(_) => Err(e.into()),
        RegistryError::Incompatible { messages, .. } => Ok(report.incompatible(messages)),
        e => {
            let api = crate::api::error::ApiError::from(e);
            report.status = Status::Invalid;
            report.error_code = Some(api.code);
            report.message = Some(api.message);
            Ok(report)
        }
    }
}

/// The items in an order where each comes after the items it references (ties kept in the
/// order sent), and the items caught in a reference cycle.
fn reference_order(deps: &[Vec<usize>]) -> (Vec<usize>, Vec<usize>) {
    let n = deps.len();
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &j in d {
            dependents[j].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &k in &dependents[i] {
            waiting[k] -= 1;
            if waiting[k] == 0 {
                ready.insert(k);
            }
        }
    }
    let cyclic: Vec<usize> = (0..n).filter(|&i| waiting[i] > 0).collect();
    (order, cyclic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_order_puts_dependencies_first_and_finds_cycles() {
        // 0 -> 2, 1 -> 0, 3 <-> 4
        let deps = vec![vec![2], vec![0], vec![], vec![4], vec![3]];
        let (order, cyclic) = reference_order(&deps);
        assert_eq!(order, vec![2, 0, 1]);
        assert_eq!(cyclic, vec![3, 4]);
    }
}
