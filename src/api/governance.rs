//! `/accord/v1/…` governance resources: API keys, teams, subject ownership and lifecycle, and
//! the audit log. Who may call what is decided in `auth.rs`; handlers here only shape requests
//! and answers.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use super::auth::Caller;
use super::error::ErrorBody;
use super::subjects::RegisterSchemaRequest;
use super::{subject, ApiError, ApiResult, AppState, Path, Query, SrJson, SrText};
use crate::governance::auth::key_json;
use crate::governance::ownership::{Lifecycle, Ownership, SubjectGovernance, Team};
use crate::governance::policy::{Policy, PolicyVersion};
use crate::governance::{GovernanceError, Role, Violation};
use crate::storage::{now_millis, AuditFilter, AuditRecord};

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKeyRequest {
    pub role: Role,
    /// The team of a `member` key.
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Lifetime in seconds; without it the key does not expire.
    #[serde(default)]
    pub expires_in_seconds: Option<i64>,
}

/// A key as listed: never its secret.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub description: String,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
}

/// A created key: the secret appears in this answer only.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    #[serde(flatten)]
    pub key: ApiKey,
    pub secret: String,
}

fn api_key(v: Value) -> ApiKey {
    serde_json::from_value(v).unwrap_or(ApiKey {
        id: String::new(),
        role: String::new(),
        team: None,
        description: String::new(),
        created_at: 0,
        expires_at: None,
        revoked_at: None,
    })
}

/// Creates an API key (admin).
#[utoipa::path(post, path = "/accord/v1/keys", operation_id = "createApiKey", tag = "governance", request_body = CreateKeyRequest,
    responses((status = 200, description = "The key and its secret (shown once)", body = CreatedKey),
              (status = 401, description = "40101", body = ErrorBody),
              (status = 403, description = "Not an admin (40301)", body = ErrorBody),
              (status = 404, description = "Unknown team (40410)", body = ErrorBody),
              (status = 422, description = "42250", body = ErrorBody)))]
pub async fn create_key(
    State(st): State<AppState>,
    caller: Caller,
    SrJson(body): SrJson<CreateKeyRequest>,
) -> ApiResult<SrJson<CreatedKey>> {
    if body.expires_in_seconds.is_some_and(|s| s <= 0) {
        return Err(GovernanceError::Invalid("expiresInSeconds must be positive".into()).into());
    }
    let expires_at = body
        .expires_in_seconds
        .map(|s| now_millis().saturating_add(s.saturating_mul(1000)));
    let new = st
        .governance
        .create_key(
            &caller.actor,
            body.role,
            body.team,
            body.description,
            expires_at,
        )
        .await?;
    Ok(SrJson(CreatedKey {
        key: api_key(key_json(&new.record)),
        secret: new.secret,
    }))
}

/// Every API key (admin).
#[utoipa::path(get, path = "/accord/v1/keys", operation_id = "listApiKeys", tag = "governance",
    responses((status = 200, description = "Keys, without secrets", body = Vec<ApiKey>)))]
pub async fn list_keys(State(st): State<AppState>) -> ApiResult<SrJson<Vec<ApiKey>>> {
    let keys = st.governance.keys().await?;
    Ok(SrJson(keys.iter().map(|k| api_key(key_json(k))).collect()))
}

/// Revokes an API key (admin); the next request with it is refused.
#[utoipa::path(delete, path = "/accord/v1/keys/{id}", operation_id = "revokeApiKey", tag = "governance", params(("id" = String, Path)),
    responses((status = 200, description = "The revoked key", body = ApiKey),
              (status = 404, description = "40411", body = ErrorBody)))]
pub async fn revoke_key(
    State(st): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<SrJson<ApiKey>> {
    let k = st.governance.revoke_key(&caller.actor, &id).await?;
    Ok(SrJson(api_key(key_json(&k))))
}

/// Every team.
#[utoipa::path(get, path = "/accord/v1/teams", operation_id = "listTeams", tag = "governance",
    responses((status = 200, description = "Teams", body = Vec<Team>)))]
pub async fn list_teams(State(st): State<AppState>) -> ApiResult<SrJson<Vec<Team>>> {
    Ok(SrJson(st.governance.teams().await?))
}

/// One team.
#[utoipa::path(get, path = "/accord/v1/teams/{name}", operation_id = "getTeam", tag = "governance", params(("name" = String, Path)),
    responses((status = 200, description = "The team", body = Team),
              (status = 404, description = "40410", body = ErrorBody)))]
pub async fn get_team(
    State(st): State<AppState>,
    Path(name): Path<String>,
) -> ApiResult<SrJson<Team>> {
    Ok(SrJson(st.governance.team(&name).await?))
}

/// Creates or replaces a team and its namespace claims (admin).
#[utoipa::path(put, path = "/accord/v1/teams/{name}", operation_id = "updateTeam", tag = "governance", params(("name" = String, Path)),
    request_body = Team,
    responses((status = 200, description = "The team", body = Team),
              (status = 422, description = "Invalid name or claim (42250)", body = ErrorBody)))]
pub async fn put_team(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    SrJson(mut team): SrJson<Team>,
) -> ApiResult<SrJson<Team>> {
    if !team.name.is_empty() && team.name != name {
        return Err(ApiError::unprocessable(format!(
            "the body names team '{}' but the path '{name}'",
            team.name
        )));
    }
    team.name = name;
    Ok(SrJson(st.governance.put_team(&caller.actor, team).await?))
}

/// Deletes a team (admin).
#[utoipa::path(delete, path = "/accord/v1/teams/{name}", operation_id = "deleteTeam", tag = "governance", params(("name" = String, Path)),
    responses((status = 200, description = "The deleted team", body = Team),
              (status = 404, description = "40410", body = ErrorBody),
              (status = 422, description = "42250: the team still owns subjects", body = ErrorBody)))]
pub async fn delete_team(
    State(st): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<SrJson<Team>> {
    Ok(SrJson(
        st.governance.delete_team(&caller.actor, &name).await?,
    ))
}

/// Records a refusal decided here (rather than by the route guard) as a denied attempt: a
/// permission refused, or a registration the governance rules refused (a retired subject, no
/// owner where one is required, enforced lint rules). Recorded within the same per-second
/// allowance as every refusal.
pub(crate) async fn audited<T>(
    st: &AppState,
    caller: &Caller,
    action: &str,
    subject: &crate::types::QualifiedSubject,
    result: Result<T, GovernanceError>,
) -> ApiResult<T> {
    let why = match &result {
        Err(GovernanceError::Forbidden(why)) => Some(why.clone()),
        Err(
            e @ (GovernanceError::Retired(_)
            | GovernanceError::OwnerRequired(_)
            | GovernanceError::PolicyViolations(_)),
        ) => Some(e.to_string()),
        _ => None,
    };
    if let Some(why) = why {
        if let Err(e) = st
            .governance
            .record_denied(
                &caller.actor,
                action,
                Some(subject),
                &subject.display_name(),
                &why,
            )
            .await
        {
            tracing::error!(error = %e, "audit of a denied request failed");
        }
    }
    Ok(result?)
}

/// A subject's governance: owner (and why), description, tags, domain, lifecycle, consumers.
/// (The record's fields are spelled out rather than flattened: the stored record refuses unknown
/// fields, and a flattened schema would then forbid `subject` and `ownership`.)
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubjectInfo {
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ownership: Option<Ownership>,
    /// The explicitly assigned owner, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub description: String,
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub lifecycle: Lifecycle,
    /// Teams that declared they consume the subject.
    pub consumers: Vec<String>,
}

async fn subject_info(st: &AppState, raw: &str) -> ApiResult<SubjectInfo> {
    let s = subject(raw)?;
    let (governance, ownership) = st.governance.subject(&s).await?;
    let SubjectGovernance {
        owner,
        description,
        tags,
        domain,
        lifecycle,
        consumers,
    } = governance;
    Ok(SubjectInfo {
        subject: s.display_name(),
        ownership,
        owner,
        description,
        tags,
        domain,
        lifecycle,
        consumers,
    })
}

/// A subject's governance record.
#[utoipa::path(get, path = "/accord/v1/subjects/{subject}", operation_id = "getSubjectGovernance", tag = "governance", params(("subject" = String, Path)),
    responses((status = 200, description = "Governance of the subject", body = SubjectInfo)))]
pub async fn get_subject(
    State(st): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<SrJson<SubjectInfo>> {
    Ok(SrJson(subject_info(&st, &raw).await?))
}

/// Replaces a subject's governance record (its owning team or an admin; only an admin assigns
/// the owner).
#[utoipa::path(put, path = "/accord/v1/subjects/{subject}", operation_id = "updateSubjectGovernance", tag = "governance", params(("subject" = String, Path)),
    request_body = SubjectGovernance,
    responses((status = 200, description = "Governance of the subject", body = SubjectInfo),
              (status = 403, description = "Not the owner (40301)", body = ErrorBody),
              (status = 404, description = "Unknown team (40410)", body = ErrorBody)))]
pub async fn put_subject(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    SrJson(body): SrJson<SubjectGovernance>,
) -> ApiResult<SrJson<SubjectInfo>> {
    let s = subject(&raw)?;
    let result = st
        .governance
        .put_subject(&caller.actor, &caller.principal, &s, body)
        .await;
    audited(&st, &caller, "subject.governance.put", &s, result).await?;
    Ok(SrJson(subject_info(&st, &raw).await?))
}

/// The team declaring it consumes a subject.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumerRequest {
    /// Defaults to the caller's team; only an admin may name another.
    #[serde(default)]
    pub team: Option<String>,
}

fn consumer_team(caller: &Caller, asked: Option<String>) -> Result<String, GovernanceError> {
    let own = caller.principal.team().map(str::to_owned);
    match (asked, own) {
        (Some(t), Some(o)) if t != o && !caller.principal.is_admin() => {
            Err(GovernanceError::Forbidden(format!(
                "team '{o}' may only declare its own consumption, not team '{t}'s"
            )))
        }
        (Some(t), _) => Ok(t),
        (None, Some(o)) => Ok(o),
        (None, None) => Err(GovernanceError::Invalid("name the consuming team".into())),
    }
}

/// Declares that a team consumes a subject (members for their own team; admins for any).
#[utoipa::path(post, path = "/accord/v1/subjects/{subject}/consumers", operation_id = "addSubjectConsumer", tag = "governance",
    params(("subject" = String, Path)), request_body = ConsumerRequest,
    responses((status = 200, description = "Governance of the subject", body = SubjectInfo)))]
pub async fn add_consumer(
    State(st): State<AppState>,
    caller: Caller,
    Path(raw): Path<String>,
    SrJson(body): SrJson<ConsumerRequest>,
) -> ApiResult<SrJson<SubjectInfo>> {
    let s = subject(&raw)?;
    let team = audited(
        &st,
        &caller,
        "subject.consumer.add",
        &s,
        consumer_team(&caller, body.team),
    )
    .await?;
    st.governance
        .set_consumer(&caller.actor, &s, &team, true)
        .await?;
    Ok(SrJson(subject_info(&st, &raw).await?))
}

/// Withdraws a team's declaration that it consumes a subject.
#[utoipa::path(delete, path = "/accord/v1/subjects/{subject}/consumers/{team}", operation_id = "removeSubjectConsumer", tag = "governance",
    params(("subject" = String, Path), ("team" = String, Path)),
    responses((status = 200, description = "Governance of the subject", body = SubjectInfo)))]
pub async fn remove_consumer(
    State(st): State<AppState>,
    caller: Caller,
    Path((raw, team)): Path<(String, String)>,
) -> ApiResult<SrJson<SubjectInfo>> {
    let s = subject(&raw)?;
    let team = audited(
        &st,
        &caller,
        "subject.consumer.remove",
        &s,
        consumer_team(&caller, Some(team)),
    )
    .await?;
    st.governance
        .set_consumer(&caller.actor, &s, &team, false)
        .await?;
    Ok(SrJson(subject_info(&st, &raw).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// A subject (as shown, e.g. `orders-value` or `:.ctx:orders-value`).
    subject: Option<String>,
    team: Option<String>,
    /// An API key id, or `anonymous`.
    principal: Option<String>,
    /// e.g. `subject.register`, `config.put`, `key.revoke`.
    action: Option<String>,
    /// From this time (Unix milliseconds, inclusive).
    from: Option<i64>,
    /// Until this time (Unix milliseconds, exclusive).
    to: Option<i64>,
    offset: Option<i64>,
    /// At most this many entries (default 100, at most 1000).
    limit: Option<i64>,
}

/// One audit entry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub principal: String,
    pub action: String,
    /// `ok` or `denied`.
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub before: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub after: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<AuditRecord> for AuditEntry {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            at: r.at,
            principal: r.principal,
            action: r.action,
            outcome: r.outcome,
            subject: r.subject,
            team: r.team,
            target: r.target,
            before: r.before,
            after: r.after,
            request_id: r.request_id,
            detail: r.detail,
        }
    }
}

/// The audit log, newest first, filtered and paged.
#[utoipa::path(get, path = "/accord/v1/audit", operation_id = "listAuditRecords", tag = "governance", params(AuditParams),
    responses((status = 200, description = "Audit entries", body = Vec<AuditEntry>)))]
pub async fn audit(
    State(st): State<AppState>,
    caller: Caller,
    Query(p): Query<AuditParams>,
) -> ApiResult<SrJson<Vec<AuditEntry>>> {
    let subject = match p.subject.as_deref() {
        Some(raw) => Some(subject(raw)?.display_name()),
        None => None,
    };
    // An admin sees everything; any other key only what its own team did (and never the key
    // inventory): a reader's key must not map every team's keys and changes.
    let admin = caller.principal.is_admin();
    let team = if admin {
        p.team
    } else {
        match caller.principal.team() {
            Some(own) => Some(own.to_owned()),
            None => return Ok(SrJson(Vec::new())),
        }
    };
    let filter = AuditFilter {
        subject,
        team,
        principal: p.principal,
        action: p.action,
        from: p.from,
        to: p.to,
        offset: p.offset.unwrap_or(0).max(0),
        limit: p.limit.unwrap_or(100).clamp(1, 1000),
    };
    let records = st.governance.audit(&filter).await?;
    Ok(SrJson(
        records
            .into_iter()
            .filter(|r| admin || !r.action.starts_with("key."))
            .map(AuditEntry::from)
            .collect(),
    ))
}

/// Which subject's effective rules `GET /accord/v1/policy` shows.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PolicyParams {
    /// A subject: `effective.rules` then has its namespaces' overrides applied.
    pub subject: Option<String>,
}

/// The policy in force (version 0: the built-in default, nothing stored yet), with
/// `effective`: every rule as it applies (outside namespaces, or for `?subject=`).
#[utoipa::path(get, path = "/accord/v1/policy", operation_id = "getPolicy", tag = "governance", params(PolicyParams),
    responses((status = 200, description = "The policy in force", body = PolicyVersion),
              (status = 400, description = "A malformed query", body = ErrorBody)))]
pub async fn get_policy(
    State(st): State<AppState>,
    Query(p): Query<PolicyParams>,
) -> ApiResult<SrJson<PolicyVersion>> {
    let policy = st.governance.policy().await?;
    Ok(SrJson(match p.subject {
        Some(s) => policy.with_effective(Some(&s)),
        None => policy,
    }))
}

/// Stores a new policy version and puts it in force (admin). The body is the policy document
/// as JSON or TOML; unknown rules, modes, cases and invalid patterns are refused (42250).
#[utoipa::path(put, path = "/accord/v1/policy", operation_id = "updatePolicy", tag = "governance",
    request_body(content = Policy, description = "The policy document (JSON, or TOML)"),
    responses((status = 200, description = "The stored version", body = PolicyVersion),
              (status = 422, description = "Invalid policy (42250)", body = ErrorBody)))]
pub async fn put_policy(
    State(st): State<AppState>,
    caller: Caller,
    SrText(body): SrText,
) -> ApiResult<SrJson<PolicyVersion>> {
    Ok(SrJson(
        st.governance.put_policy(&caller.actor, &body).await?,
    ))
}

/// One stored policy version.
#[utoipa::path(get, path = "/accord/v1/policy/versions/{version}", operation_id = "getPolicyVersion", tag = "governance",
    params(("version" = i64, Path)),
    responses((status = 200, description = "The policy version", body = PolicyVersion),
              (status = 404, description = "No such version (40412)", body = ErrorBody)))]
pub async fn get_policy_version(
    State(st): State<AppState>,
    Path(version): Path<i64>,
) -> ApiResult<SrJson<PolicyVersion>> {
    st.governance
        .policy_version(version)
        .await?
        .map(SrJson)
        .ok_or_else(|| {
            ApiError::new(
                axum::http::StatusCode::NOT_FOUND,
                40412,
                format!("Policy version {version} not found"),
            )
        })
}

/// What the policy says about a schema.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LintReport {
    /// Whether a registration would pass the policy (no enforced violation).
    pub passes: bool,
    /// Violations of enforced rules: a registration would be refused with these.
    pub violations: Vec<Violation>,
    /// Violations of warn-mode rules: reported with a successful registration.
    pub warnings: Vec<Violation>,
}

/// Lints a schema against the policy for a subject without registering it.
#[utoipa::path(post, path = "/accord/v1/lint/subjects/{subject}", operation_id = "lintSchema", tag = "governance",
    params(("subject" = String, Path)), request_body = RegisterSchemaRequest,
    responses((status = 200, description = "The lint report", body = LintReport),
              (status = 422, description = "Invalid schema (42201)", body = ErrorBody)))]
pub async fn lint(
    State(st): State<AppState>,
    Path(raw): Path<String>,
    SrJson(body): SrJson<RegisterSchemaRequest>,
) -> ApiResult<SrJson<LintReport>> {
    let s = subject(&raw)?;
    let input = body.into_input()?;
    let (candidate, previous) = st.registry.parse_candidate(&s, &input).await?;
    let policy = st.governance.policy().await?.policy;
    let (governance, _) = st.governance.subject(&s).await?;
    let (violations, warnings) = st.governance.lint(
        &policy,
        &s,
        governance.domain.as_deref(),
        candidate.as_ref(),
        previous.as_deref(),
    );
    Ok(SrJson(LintReport {
        passes: violations.is_empty(),
        violations,
        warnings,
    }))
}
