//! The OpenAPI document: generated from the handlers' annotations, checked in at
//! `openapi/openapi.json`, served at `/openapi.json` and browsable at `/docs`.

use axum::http::Method;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use super::auth::Guarded;
use super::SR_CONTENT_TYPE;

/// API keys, sent as HTTP Basic or Bearer (required when the server runs with authentication).
struct ApiKeys;

impl Modify for ApiKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An API key: its id as the user, its secret as the password",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("<id>:<secret>")
                    .description(Some("An API key as `<id>:<secret>`"))
                    .build(),
            ),
        );
        openapi.security = Some(vec![
            SecurityRequirement::new("basic", Vec::<String>::new()),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
        ]);
    }
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&ApiKeys),
    info(
        title = "Accord",
        description = "Schema registry with contract governance. The Confluent Schema Registry REST API \
            (same paths, bodies, content types and error codes), plus Accord's own endpoints.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "root", description = "Server information"),
        (name = "schemas", description = "Schemas by global id"),
        (name = "subjects", description = "Subjects and their versions"),
        (name = "compatibility", description = "Compatibility tests"),
        (name = "config", description = "Compatibility configuration"),
        (name = "mode", description = "Registry modes"),
        (name = "contexts", description = "Schema contexts"),
        (name = "health", description = "Liveness and readiness"),
        (name = "accord", description = "Accord's own endpoints, outside the Confluent paths"),
        (name = "governance", description = "Accord governance: API keys, teams, subject ownership and lifecycle, audit log"),
        (name = "bindings", description = "Which contract each destination carries, for accord-proxy"),
        (name = "changesets", description = "Change sets: several registrations planned, or applied atomically, as one"),
        (name = "changes", description = "The change log: every committed change in order, paged, long-polled or as Server-Sent Events"),
    )
)]
pub struct ApiDoc;

/// The document as the server serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut api = super::router::api_router().split_for_parts().1;
    finish(&mut api);
    api
}

/// The media types every JSON answer may carry: the `Accept` header picks one (the first when it
/// admits all).
const ANSWER_TYPES: [&str; 3] = [
    SR_CONTENT_TYPE,
    "application/vnd.schemaregistry+json",
    "application/json",
];

/// Completes what the handlers' annotations leave implicit, from the same code that decides it:
/// every JSON answer and request body under the media types the server really uses, and the
/// answers every operation can give besides its own — 400 (a malformed query or body), 401/403
/// (authentication on; from the guard's own route table), 404 (a path that names nothing),
/// 406 (`Accept`), 413/415/422 (bodies), 500 (a failure of the store). Public routes carry no
/// security requirement.
pub fn finish(api: &mut utoipa::openapi::OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let operations = [
            (Method::GET, &mut item.get),
            (Method::PUT, &mut item.put),
            (Method::POST, &mut item.post),
            (Method::DELETE, &mut item.delete),
            (Method::PATCH, &mut item.patch),
            (Method::HEAD, &mut item.head),
        ];
        for (method, op) in operations {
            if let Some(op) = op {
                finish_operation(path, &method, op);
            }
        }
    }
}

fn finish_operation(path: &str, method: &Method, op: &mut Operation) {
    let params = op.parameters.as_deref().unwrap_or_default();
    let has = |kind: ParameterIn| {
        params
            .iter()
            .any(|p| std::mem::discriminant(&p.parameter_in) == std::mem::discriminant(&kind))
    };
    let (query, in_path) = (has(ParameterIn::Query), has(ParameterIn::Path));
    // Subjects and versions are parsed by the handler (42208, 42202), wherever they come from.
    let names_subject_or_version = params
        .iter()
        .any(|p| matches!(p.name.as_str(), "subject" | "subjectPrefix" | "version"));
    let body = op.request_body.is_some();
    if let Some(request) = &mut op.request_body {
        let json = request
            .content
            .remove("application/json")
            .or_else(|| request.content.remove("text/plain"));
        if let Some(json) = json {
            for media in ANSWER_TYPES {
                request.content.insert(media.to_owned(), json.clone());
            }
        }
    }
    // A JSON (or text) answer goes under every media type the server may label it with.
    for answer in op.responses.responses.values_mut() {
        if let RefOr::T(answer) = answer {
            let json = answer
                .content
                .shift_remove("application/json")
                .or_else(|| answer.content.shift_remove("text/plain"));
            if let Some(json) = json {
                for media in ANSWER_TYPES {
                    answer.content.insert(media.to_owned(), json.clone());
                }
            }
        }
    }
    let guard = super::auth::guarded(method, path);
    if guard == Guarded::Public {
        op.security = Some(Vec::new());
    }
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(error_answer(description)));
    };
    if query || body {
        add("400", "A malformed query parameter or request body (400)");
    }
    if guard != Guarded::Public {
        add(
            "401",
            "Authentication is on and the request carries no valid API key (40101)",
        );
    }
    if guard == Guarded::Permission {
        add(
            "403",
            "The API key lacks the right to make this change (40301)",
        );
    }
    if in_path {
        add(
            "404",
            "A path parameter that does not parse or names nothing",
        );
    }
    add(
        "406",
        "The `Accept` header admits none of the answer's media types (406)",
    );
    if body {
        add("413", "The request body is larger than the limit (41301)");
        add("415", "The request body's content type is not JSON (415)");
    }
    if body || names_subject_or_version {
        add(
            "422",
            "An invalid subject (42208), version (42202) or request body (422)",
        );
    }
    add("500", "An internal or backend-store failure (50000, 50001)");
}

/// An error answer: the `ErrorBody` under every answer media type.
fn error_answer(description: &str) -> Response {
    let mut answer = Response::new(description);
    let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
    for media in ANSWER_TYPES {
        answer.content.insert(media.to_owned(), body.clone());
    }
    answer
}

/// The document as checked in: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
