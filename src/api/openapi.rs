//! The OpenAPI document: generated from the handlers' annotations, checked in at
//! `openapi/openapi.json`, served at `/openapi.json` and browsable at `/docs`.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

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
    )
)]
pub struct ApiDoc;

/// The document as the server serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    super::router::api_router().split_for_parts().1
}

/// The document as checked in: pretty JSON with a trailing newline.
pub fn document_json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}
