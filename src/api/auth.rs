//! Authentication and authorisation at the edge. One middleware authenticates every request
//! (when authentication is on) and decides, from the method and path alone, what the request
//! needs: nothing (health, docs), any valid key (reads), the right to write one subject (its
//! owning team or an admin), or admin. Deciding by route in one place means no handler can forget
//! a check; the authorisation-matrix test walks every mutating route.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::governance::{Actor, GovernanceError, Principal};
use crate::types::QualifiedSubject;

/// Who is calling: the authenticated principal and the actor its changes are recorded as.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// The caller the guard authenticated. A route the guard did not run for is anonymous
    /// only while authentication is off; with it on, such a request is refused rather than
    /// given anonymous (all) rights.
    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, ApiError> {
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        if st.governance.auth_enabled {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                40101,
                "Authentication required",
            ));
        }
        let principal = Principal::Anonymous;
        Ok(Caller {
            actor: principal.actor(request_id(parts.headers.get("x-request-id"))),
            principal,
        })
    }
}

fn request_id(v: Option<&HeaderValue>) -> Option<String> {
    v.and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// What a request needs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    Public,
    Read,
    /// Change one subject: `(subject, action)`.
    Subject(QualifiedSubject, &'static str),
    /// A member of any team (or an admin): declaring consumption.
    Member(&'static str),
    Admin(&'static str),
}

fn decode(segment: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn subject_access(raw: &str, action: &'static str, global: &'static str) -> Access {
    match QualifiedSubject::parse(&decode(raw)) {
        Ok(s) if !s.is_context_only() => Access::Subject(s, action),
        _ => Access::Admin(global),
    }
}

/// The access a route needs (after `/contexts/…` rewriting).
fn access(method: &Method, path: &str) -> Access {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let read = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    match segs.as_slice() {
        [""] | ["health", ..] | ["openapi.json"] | ["metrics"] => Access::Public,
        [d, ..] if d.starts_with("docs") => Access::Public,
        ["accord", "v1", "keys", ..] => Access::Admin(if read { "key.read" } else { "key.write" }),
        _ if read => Access::Read,
        ["subjects", _] if *method == Method::POST => Access::Read, // lookup
        ["compatibility", ..] => Access::Read,
        ["accord", "v1", "validate", ..] | ["accord", "v1", "lint", ..] => Access::Read,
        // A plan stores nothing; each item's ownership is part of its verdict.
        ["accord", "v1", "changesets", "plan"] => Access::Read,
        // Who may change which subject is decided per item, as for single registrations.
        ["accord", "v1", "changesets", "apply"] => Access::Member("changeset.apply"),
        ["subjects", s, "versions"] if *method == Method::POST => {
            subject_access(s, "subject.register", "subject.register")
        }
        ["subjects", s, ..] if *method == Method::DELETE => {
            subject_access(s, "subject.delete", "subject.delete")
        }
        ["config", s] => subject_access(s, "config.write", "config.write"),
        ["mode", s] => subject_access(s, "mode.write", "mode.write"),
        ["config"] => Access::Admin("config.write"),
        ["contexts", _] => Access::Admin("context.delete"),
        ["mode"] => Access::Admin("mode.write"),
        ["accord", "v1", "subjects", s] => {
            subject_access(s, "subject.governance.put", "subject.governance.put")
        }
        ["accord", "v1", "subjects", _, "consumers", ..] => Access::Member("subject.consumer"),
        // Who may bind which subject is decided by its owner, with the binding in hand.
        ["accord", "v1", "bindings", _] => Access::Member("binding.write"),
        _ => Access::Admin("admin.write"),
    }
}

/// What the guard asks of a route when authentication is on, as the OpenAPI document states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarded {
    /// Nothing: health, the server's root, the documentation.
    Public,
    /// Any valid key (401 without one).
    AnyKey,
    /// A key with a right (401 without a key, 403 without the right).
    Permission,
}

/// [`Guarded`] for a method and a path (a spec template's `{…}` segments stand for any value).
pub fn guarded(method: &Method, path: &str) -> Guarded {
    match access(method, path) {
        Access::Public => Guarded::Public,
        Access::Read => Guarded::AnyKey,
        Access::Subject(..) | Access::Member(_) | Access::Admin(_) => Guarded::Permission,
    }
}

fn error(status: StatusCode, code: u32, message: String) -> Response {
    crate::metrics::global()
        .auth_refusals
        .get_or_create(&crate::metrics::StatusLabels {
            status: status.as_u16(),
        })
        .inc();
    let mut r = ApiError::new(status, code, message).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"accord\""),
        );
    }
    r
}

/// Records a refused request as a denied audit entry (a failure to record is logged).
async fn deny(st: &AppState, actor: &Actor, need: &Access, target: &str, why: &str) {
    let (subject, action) = match need {
        Access::Subject(s, a) => (Some(s), *a),
        Access::Member(a) | Access::Admin(a) => (None, *a),
        _ => (None, "unknown"),
    };
    if let Err(e) = st
        .governance
        .record_denied(actor, action, subject, target, why)
        .await
    {
        tracing::error!(error = %e, "audit of a refused request failed");
    }
}

/// Authenticates the request and enforces what its route needs.
pub async fn guard(State(st): State<AppState>, mut req: Request, next: Next) -> Response {
    let need = access(req.method(), req.uri().path());
    let rid = request_id(req.headers().get("x-request-id"));
    let principal = if need == Access::Public {
        Principal::Anonymous
    } else {
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        match st.governance.authenticate(header).await {
            Ok(p) => p,
            Err(GovernanceError::Unauthenticated(m)) => {
                if !matches!(need, Access::Read) {
                    let claimed = header
                        .and_then(crate::governance::auth::credentials)
                        .map(|(id, _)| id)
                        .unwrap_or_else(|| "anonymous".into());
                    let actor = Actor {
                        principal: claimed,
                        team: None,
                        request_id: rid.clone(),
                    };
                    deny(&st, &actor, &need, req.uri().path(), &m).await;
                }
                return error(StatusCode::UNAUTHORIZED, 40101, m);
            }
            Err(e) => return ApiError::from(e).into_response(),
        }
    };
    let caller = Caller {
        actor: principal.actor(rid),
        principal,
    };
    let verdict = match &need {
        Access::Public | Access::Read => Ok(Ok(())),
        Access::Admin(_) if caller.principal.is_admin() => Ok(Ok(())),
        Access::Admin(_) => Ok(Err(format!(
            "API key '{}' is not an admin key",
            caller.principal.name()
        ))),
        Access::Member(_) if caller.principal.is_admin() || caller.principal.team().is_some() => {
            Ok(Ok(()))
        }
        Access::Member(_) => Ok(Err(format!(
            "API key '{}' belongs to no team",
            caller.principal.name()
        ))),
        Access::Subject(s, _) => match st.governance.owner_required().await {
            Ok(required) => {
                st.governance
                    .may_write_subject(&caller.principal, s, required)
                    .await
            }
            Err(e) => Err(e),
        },
    };
    match verdict {
        Ok(Ok(())) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        Ok(Err(why)) => {
            deny(&st, &caller.actor, &need, req.uri().path(), &why).await;
            error(StatusCode::FORBIDDEN, 40301, why)
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_map_to_access() {
        let s = |n: &str| QualifiedSubject::parse(n).unwrap();
        assert_eq!(access(&Method::GET, "/subjects"), Access::Read);
        assert_eq!(access(&Method::GET, "/health/ready"), Access::Public);
        assert_eq!(access(&Method::POST, "/subjects/a"), Access::Read);
        assert_eq!(
            access(&Method::POST, "/subjects/pay.x-value/versions"),
            Access::Subject(s("pay.x-value"), "subject.register")
        );
        assert_eq!(
            access(&Method::DELETE, "/subjects/a%2Fb/versions/1"),
            Access::Subject(s("a/b"), "subject.delete")
        );
        assert_eq!(
            access(&Method::PUT, "/config/:.ctx:"),
            Access::Admin("config.write")
        );
        assert_eq!(
            access(&Method::PUT, "/config"),
            Access::Admin("config.write")
        );
        assert_eq!(
            access(&Method::GET, "/accord/v1/keys"),
            Access::Admin("key.read")
        );
        assert_eq!(
            access(&Method::POST, "/compatibility/subjects/a/versions"),
            Access::Read
        );
        assert_eq!(
            access(&Method::POST, "/whatever"),
            Access::Admin("admin.write")
        );
    }
}
