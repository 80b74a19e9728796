//! The OpenAPI document of the HTTP service (`GET /v1/contracts`), generated
//! from the operation registry ([`phase_memory_runtime::service_contracts`]):
//! one path per operation under `/v1/ops/{name}`, its request schema, the
//! envelope as the response (with the operation's `data` schema for 200), and
//! the bearer security scheme.
//!
//! The registry's schemas are JSON Schema 2020-12, so the document is OpenAPI
//! 3.1 (whose schema objects are JSON Schema 2020-12) and takes them verbatim;
//! each schema's `$defs` are hoisted into `components/schemas`.

use serde_json::{Map, Value, json};

/// The OpenAPI version the document declares.
pub const OPENAPI_VERSION: &str = "3.1.0";

const ENVELOPE_RESPONSE: &str = "#/components/responses/Envelope";

/// Rewrites every `$ref` to `#/components/schemas/<rename(NAME)>`.
fn rewrite_refs(v: &mut Value, rename: &dyn Fn(&str) -> String) {
    crate::schemas::rewrite_refs(v, "#/components/schemas/", rename);
}

/// Moves a schema's `$defs` into `components`, reusing a component of the same
/// name when its content is identical and prefixing the names otherwise.
/// Returns the root schema with its references rewritten.
fn hoist(mut schema: Value, prefix: &str, components: &mut Map<String, Value>) -> Value {
    let mut defs = Map::new();
    if let Value::Object(m) = &mut schema {
        m.remove("$schema");
        for key in ["$defs", "definitions"] {
            if let Some(Value::Object(d)) = m.remove(key) {
                defs.extend(d);
            }
        }
    }
    let plain = |n: &str| n.to_string();
    let prefixed = |n: &str| format!("{prefix}_{n}");
    let rewritten = |rename: &dyn Fn(&str) -> String| -> Vec<(String, Value)> {
        defs.iter()
            .map(|(n, d)| {
                let mut d = d.clone();
                rewrite_refs(&mut d, rename);
                (rename(n), d)
            })
            .collect()
    };
    let mut entries = rewritten(&plain);
    let conflict = entries
        .iter()
        .any(|(n, d)| components.get(n).is_some_and(|existing| existing != d));
    let rename: &dyn Fn(&str) -> String = if conflict {
        entries = rewritten(&prefixed);
        &prefixed
    } else {
        &plain
    };
    for (n, d) in entries {
        components.insert(n, d);
    }
    rewrite_refs(&mut schema, rename);
    schema
}

fn operation_id(name: &str) -> String {
    name.replace('.', "_")
}

fn envelope_responses(ops: bool) -> Value {
    let r = json!({"$ref": ENVELOPE_RESPONSE});
    let mut m = Map::new();
    let mut put = |code: &str, what: &str| {
        let mut v = r.clone();
        if let Value::Object(o) = &mut v {
            o.insert("description".into(), json!(what));
        }
        m.insert(code.into(), v);
    };
    put("200", "status ok");
    if ops {
        put(
            "202",
            "status review_required: held for a second actor's review",
        );
        put(
            "400",
            "status invalid: malformed JSON or a request that does not match the schema",
        );
        put(
            "401",
            "no bearer token or an unknown one (diagnostic auth.unauthenticated)",
        );
        put(
            "403",
            "status denied (policy); withheld content never appears",
        );
        put("404", "status not_found");
        put("409", "status conflict");
        put(
            "413",
            "the body exceeds the server's limit (diagnostic request.invalid)",
        );
        put("500", "status error");
        put(
            "503",
            "the request timed out (diagnostic service.timeout) or the store is busy",
        );
    } else {
        put("503", "the store is not reachable");
    }
    Value::Object(m)
}

/// The OpenAPI document of the service, for any profile.
pub fn openapi_document() -> Value {
    openapi_document_for(None)
}

/// The OpenAPI document of the service over a store whose profile declares
/// `vocabulary` (node kinds, phases, sensitivity levels, edge types become
/// enums); `None` leaves them open strings.
pub fn openapi_document_for(vocabulary: Option<&crate::schemas::Vocabulary>) -> Value {
    let contracts = phase_memory_runtime::service_contracts();
    let mut components = Map::new();
    let envelope = hoist(
        contracts
            .get("envelope_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object"})),
        "Envelope",
        &mut components,
    );
    components.insert("Envelope".into(), envelope);
    let mut paths = Map::new();
    paths.insert(
        "/v1/health".into(),
        json!({"get": {
            "operationId": "health",
            "summary": "runs health.check; 200 when the store is reachable (no token needed)",
            "security": [],
            "responses": envelope_responses(false),
        }}),
    );
    paths.insert(
        "/v1/contracts".into(),
        json!({"get": {
            "operationId": "contracts",
            "summary": "this document (no token needed)",
            "security": [],
            "responses": {"200": {"description": "the OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
        }}),
    );
    let ops = contracts
        .get("operations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for op in ops {
        let Some(name) = op.get("name").and_then(Value::as_str) else {
            continue;
        };
        let id = operation_id(name);
        let mut request =
            crate::schemas::request_schema(name).unwrap_or_else(|| json!({"type": "object"}));
        if let Some(v) = vocabulary {
            v.narrow(name, &mut request);
        }
        crate::schemas::rebase_refs(&mut request, "#/$defs/");
        let request = hoist(request, &id, &mut components);
        let body_required = request
            .get("required")
            .and_then(Value::as_array)
            .is_some_and(|r| !r.is_empty());
        let mut responses = envelope_responses(true);
        if let Some(data_schema) = op.get("response").and_then(|r| r.get("data_schema")) {
            let data = hoist(data_schema.clone(), &format!("{id}_data"), &mut components);
            responses["200"] = json!({
                "description": "status ok",
                "content": {"application/json": {"schema": {"allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {"type": "object", "properties": {"status": {"const": "ok"}, "data": data}},
                ]}}},
            });
        }
        if let Some(review) = contracts.get("review_required_data_schema") {
            let data = hoist(review.clone(), "ReviewRequired", &mut components);
            responses["202"] = json!({
                "description": "status review_required: held for a second actor's review",
                "content": {"application/json": {"schema": {"allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {"type": "object", "properties": {"status": {"const": "review_required"}, "data": data}},
                ]}}},
            });
        }
        let text = |k: &str| op.get(k).cloned().unwrap_or(Value::Null);
        paths.insert(
            format!("/v1/ops/{name}"),
            json!({"post": {
                "operationId": id,
                "summary": text("summary"),
                "description": format!(
                    "Runs `{name}` through the runner as the token's actor. `data`: {}. Policy: {}. Audit: {}.",
                    op.get("response").and_then(|r| r.get("data")).and_then(Value::as_str).unwrap_or(""),
                    op.get("policy").and_then(Value::as_str).unwrap_or(""),
                    op.get("audit").and_then(Value::as_str).unwrap_or(""),
                ),
                "requestBody": {"required": body_required, "content": {"application/json": {"schema": request}}},
                "responses": responses,
                "x-phase-memory": {
                    "writes": text("writes"),
                    "capabilities": text("capabilities"),
                    "audit": text("audit"),
                    "policy": text("policy"),
                },
            }}),
        );
    }
    json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "phase-memory",
            "version": env!("CARGO_PKG_VERSION"),
            "description": format!(
                "Every operation answers with a {} envelope; its HTTP status follows the envelope status. The actor comes only from the bearer token; an `actor` field in a request body is ignored.",
                phase_memory_model::ENVELOPE_VERSION
            ),
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "responses": {"Envelope": {
                "description": "a phase-memory envelope",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Envelope"}}},
            }},
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "description": "a token from `phase-memory token add`"}},
        },
        "security": [{"bearerAuth": []}],
    })
}
