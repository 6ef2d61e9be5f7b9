//! The OpenAPI document (`GET /openapi.json`) against the router: the router mounts routes
//! only through `utoipa_axum::routes!` (which documents each one), every documented operation
//! is served, no undocumented method is, and every operation documents its errors.
//! (`scripts/test.sh` also validates the document with openapi-spec-validator.)

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::support::TestServer;

/// The API's operations, as (method, path): the contract clients see, kept by hand so that a
/// route lost from `routes()` in `src/lib.rs` (which would leave the router and the document
/// agreeing) is noticed. A new route goes there, with its `#[utoipa::path]`, and here.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/metrics"),
    ("POST", "/v1/preauth"),
    ("POST", "/v1/stepup"),
    ("POST", "/v1/auth"),
    ("GET", "/v1/auth/{txid}"),
    ("DELETE", "/v1/auth/{txid}"),
    ("GET", "/v1/client/ws"),
    ("GET", "/v1/client/requests"),
    ("POST", "/v1/client/requests/{txid}"),
    ("POST", "/v1/client/enroll"),
    ("POST", "/v1/notify/{token}"),
    ("GET", "/approve/{token}"),
    ("POST", "/approve/{token}"),
    ("GET", "/d/{code}"),
    ("GET", "/enrol/{token}"),
    ("POST", "/enrol/{token}"),
    ("GET", "/passkey/{token}"),
    ("GET", "/assets/passkey.js"),
    ("POST", "/passkey/{token}/options"),
    ("POST", "/passkey/{token}/register"),
    ("POST", "/approve/{token}/passkey/options"),
    ("POST", "/approve/{token}/passkey"),
    ("GET", "/admin"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("POST", "/admin/lockouts/clear"),
    ("POST", "/admin/enrol-links"),
    ("POST", "/v1/otp/credentials"),
    ("GET", "/v1/otp/credentials/{id}"),
    ("DELETE", "/v1/otp/credentials/{id}"),
    ("POST", "/v1/otp/credentials/{id}/verify"),
    ("POST", "/v1/otp/codes"),
    ("POST", "/v1/otp/codes/{id}/verify"),
    ("GET", "/v1/vault/apps"),
    ("POST", "/v1/vault/apps"),
    ("GET", "/v1/vault/apps/{id}"),
    ("DELETE", "/v1/vault/apps/{id}"),
    ("GET", "/v1/vault/apps/{id}/code"),
    ("GET", "/auth/v2/ping"),
    ("GET", "/auth/v2/check"),
    ("POST", "/auth/v2/preauth"),
    ("POST", "/auth/v2/auth"),
    ("GET", "/auth/v2/auth_status"),
    ("POST", "/rest/v1/preauth.bson"),
    ("POST", "/rest/v1/auth.bson"),
    ("GET", "/rest/v1/status.bson"),
];

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Operations that need no bearer token (the console's use its session cookie).
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("POST", "/v1/notify/{token}"),
    ("GET", "/approve/{token}"),
    ("POST", "/approve/{token}"),
    ("GET", "/d/{code}"),
    ("GET", "/enrol/{token}"),
    ("POST", "/enrol/{token}"),
    ("GET", "/admin"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("POST", "/admin/lockouts/clear"),
    ("POST", "/admin/enrol-links"),
    ("GET", "/passkey/{token}"),
    ("GET", "/assets/passkey.js"),
    ("POST", "/passkey/{token}/options"),
    ("POST", "/passkey/{token}/register"),
    ("POST", "/approve/{token}/passkey/options"),
    ("POST", "/approve/{token}/passkey"),
    ("GET", "/auth/v2/ping"),
];

/// Duo's Auth API (`src/duo`): Duo's paths, its signature (HTTP Basic) and its FAIL answers,
/// JSON for `/auth/v2`, BSON for the legacy `/rest/v1`, instead of mfa's `ErrorBody`.
fn is_duo(path: &str) -> bool {
    path.starts_with("/auth/v2/") || path.starts_with("/rest/v1/")
}

/// What mfad serves from its own binary, the same every time: no database, no input.
const STATIC: &[(&str, &str)] = &[("GET", "/openapi.json"), ("GET", "/assets/passkey.js")];

/// What answers from its input alone, without the database (the device link's redirect).
const NO_DATABASE: &[(&str, &str)] = &[("GET", "/d/{code}")];

/// The metrics: open by default, or behind `metrics_token` (security: none, or that scheme).
const METRICS: (&str, &str) = ("GET", "/metrics");

/// Operations whose errors are HTML pages (the approve and enrolment pages and the admin
/// console, for a browser).
const HTML: &[(&str, &str)] = &[
    ("GET", "/approve/{token}"),
    ("POST", "/approve/{token}"),
    ("GET", "/d/{code}"),
    ("GET", "/enrol/{token}"),
    ("POST", "/enrol/{token}"),
    ("GET", "/admin"),
    ("GET", "/admin/audit"),
    ("GET", "/admin/login"),
    ("POST", "/admin/login"),
    ("POST", "/admin/logout"),
    ("POST", "/admin/lockouts/clear"),
    ("POST", "/admin/enrol-links"),
    ("GET", "/passkey/{token}"),
];

const ERROR_BODY: &str = "#/components/schemas/ErrorBody";

type Route = (String, String);

fn owned(list: &[(&str, &str)]) -> BTreeSet<Route> {
    list.iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect()
}

/// Every (METHOD, path) the document has, with its operation.
fn operations(doc: &Value) -> Vec<(Route, &Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                out.push(((method.to_uppercase(), path.clone()), op));
            }
        }
    }
    out
}

/// Every `.rs` file under `dir`, with its text.
fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path.display().to_string(), text));
        }
    }
}

async fn document(srv: &TestServer) -> Value {
    let resp = srv.http.get(srv.url("/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    resp.json().await.unwrap()
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_json() {
    let srv = TestServer::start("").await;
    let doc = document(&srv).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "mfa");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    assert!(!doc["info"]["description"].as_str().unwrap().is_empty());
    // The same document `mfad openapi` prints.
    let built: Value = serde_json::from_str(mfa_server::openapi::json().unwrap()).unwrap();
    assert_eq!(doc, built);
    for schema in [
        "ErrorBody",
        "ServerMessage",
        "ClientMessage",
        "PreauthRequest",
        "ServerAuthRequest",
        "AuthStatus",
        "ApproveForm",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "no schema {schema}"
        );
    }
}

/// The router and the document are one list: `routes!` mounts each handler at the method and
/// path of its `#[utoipa::path]` and adds that operation to the document. A route mounted any
/// other way (`.route`, `.route_service`, `.nest`, `.merge`) would be served undocumented.
#[test]
fn every_route_is_mounted_with_its_operation() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let lib = files
        .iter()
        .find(|(path, _)| path.ends_with("src/lib.rs"))
        .map(|(_, text)| text)
        .expect("src/lib.rs");
    assert!(
        lib.matches(".routes(routes!(").count() >= 10,
        "routes() in src/lib.rs mounts its routes with `.routes(routes!(...))`"
    );
    for (path, text) in &files {
        // Code only: a comment may name these calls.
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for call in [
            ".route(",
            ".route_service(",
            ".nest(",
            ".nest_service(",
            ".merge(",
        ] {
            assert!(
                !code.contains(call),
                "{path} calls `{call}`: mount a route with `.routes(routes!(handler))` in \
                 src/lib.rs, the handler carrying its `#[utoipa::path]`, so it is documented"
            );
        }
    }
}

#[tokio::test]
async fn the_document_names_the_api_routes() {
    let srv = TestServer::start("").await;
    let doc = document(&srv).await;
    let listed = owned(ROUTES);
    let documented: BTreeSet<Route> = operations(&doc).into_iter().map(|(r, _)| r).collect();
    let missing: Vec<_> = listed.difference(&documented).collect();
    let unlisted: Vec<_> = documented.difference(&listed).collect();
    assert!(
        missing.is_empty() && unlisted.is_empty(),
        "routes gone from the document (and so the router): {missing:?}; \
         documented but not in ROUTES: {unlisted:?}"
    );
}

/// A method a documented path does not document answers 405, so the router serves nothing
/// more on a path than its operations (as `routes!` would if one call mixed paths).
#[tokio::test]
async fn no_method_is_served_that_the_document_lacks() {
    let srv = TestServer::start("max_failed_attempts = 1000").await;
    let doc = document(&srv).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let url = srv.url(&concrete(path));
        // HEAD is left out: axum answers it for every GET route, as HTTP has it.
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"] {
            if item[method.to_lowercase()].is_object() {
                continue;
            }
            let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            let resp = srv.http.request(m, &url).send().await.unwrap();
            let status = resp.status().as_u16();
            let body: Value = resp.json().await.unwrap();
            assert_eq!(
                (status, body["error"].as_str()),
                (405, Some("method_not_allowed")),
                "{method} {path} ({url}) is served but not documented: {body}"
            );
        }
    }
}

/// A documented path with a made-up value for each parameter (a number for the ids that must
/// be one).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{id}" => "1",
            s if s.starts_with('{') => "dummy",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A request without credentials or body to every documented operation reaches a handler: no
/// "no such endpoint" 404 and no 405. Its answer is one the operation documents.
#[tokio::test]
async fn every_documented_operation_is_served_and_its_first_error_is_documented() {
    let srv = TestServer::start("max_failed_attempts = 1000").await;
    let doc = document(&srv).await;

    // The check can fail: an unknown path and a wrong method are told apart.
    let (status, body) = srv.get("/v1/nope", "").await;
    assert_eq!(status, 404);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("no such endpoint")
    );
    let resp = srv
        .http
        .delete(srv.url("/v1/preauth"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);

    for ((method, path), op) in operations(&doc) {
        let url = srv.url(&concrete(&path));
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let resp = srv.http.request(m, &url).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path} ({url}): 405 {text}");
        if status == 404 {
            assert!(
                !text.contains("no such endpoint"),
                "{method} {path} ({url}) is documented but not routed: {text}"
            );
        }
        assert!(
            op["responses"][status.to_string()].is_object(),
            "{method} {path} answered {status} without credentials, which it does not document: {text}"
        );
        if status >= 400 && is_duo(&path) {
            if path.starts_with("/auth/v2/") {
                let body: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(body["stat"], "FAIL", "{method} {path}: {body}");
            }
        } else if status >= 400 && !HTML.contains(&(method.as_str(), path.as_str())) {
            let body: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: {status} {text:?} is not JSON: {e}"));
            assert!(
                body["error"].is_string() && body["message"].is_string(),
                "{body}"
            );
        }
    }
}

fn schema_ref<'a>(response: &'a Value, content_type: &str) -> Option<&'a str> {
    response["content"][content_type]["schema"]["$ref"].as_str()
}

#[tokio::test]
async fn every_operation_documents_its_errors_with_the_error_body() {
    let srv = TestServer::start("").await;
    let doc = document(&srv).await;
    assert!(doc["components"]["schemas"]["ErrorBody"]["properties"]["error"].is_object());
    for ((method, path), op) in operations(&doc) {
        let here = (method.as_str(), path.as_str());
        let what = format!("{method} {path}");
        let responses = op["responses"].as_object().expect("responses");
        if is_duo(&path) {
            duo_documents_its_errors(&what, responses, PUBLIC.contains(&here));
            continue;
        }
        let statuses: BTreeSet<u16> = responses.keys().map(|s| s.parse().unwrap()).collect();
        assert!(
            statuses.iter().any(|s| (200..300).contains(s)
                || *s == 101
                // A browser form's success may be a redirect (post/redirect/get).
                || (*s == 303 && HTML.contains(&here))),
            "{what}: no success response"
        );
        for (status, response) in responses {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{what} {status}: no description"
            );
            let status: u16 = status.parse().unwrap();
            if status < 400 {
                continue;
            }
            let json = schema_ref(response, "application/json");
            let other = ["text/html", "text/plain"]
                .iter()
                .any(|t| response["content"][t].is_object());
            assert!(
                json == Some(ERROR_BODY) || other,
                "{what} {status}: an error response is an ErrorBody (or an HTML/plain-text page): {response}"
            );
            // The request gate's 411 comes before any route, as JSON, on every path.
            if HTML.contains(&here) && status != 411 {
                assert!(
                    response["content"]["text/html"].is_object(),
                    "{what} {status}"
                );
            }
        }
        let error_body = |s: u16| {
            responses
                .get(&s.to_string())
                .and_then(|r| schema_ref(r, "application/json"))
                == Some(ERROR_BODY)
        };
        let html = |s: u16| {
            responses
                .get(&s.to_string())
                .is_some_and(|r| r["content"]["text/html"].is_object())
        };
        let has = |s: u16| error_body(s) || html(s);
        // What every operation of its kind can answer. The metrics answer without the
        // database too (what it counts keeps its last value).
        if !STATIC.contains(&here) && !NO_DATABASE.contains(&here) && here != METRICS {
            assert!(
                has(503),
                "{what}: every operation with the database can answer 503"
            );
        }
        assert!(
            has(500) || here == ("GET", "/healthz") || STATIC.contains(&here),
            "{what}: 500"
        );
        if here != ("GET", "/healthz") && !STATIC.contains(&here) {
            assert!(
                statuses.iter().any(|s| (400..500).contains(s) && has(*s)),
                "{what}: no 4xx response"
            );
            if !HTML.contains(&here) {
                assert!(
                    statuses
                        .iter()
                        .any(|s| (400..500).contains(s) && error_body(*s)),
                    "{what}: no 4xx response with an ErrorBody"
                );
            }
        }
        if here == METRICS {
            assert!(error_body(401), "{what}: the metrics token can be missing");
        } else if !PUBLIC.contains(&here) {
            assert!(
                error_body(401),
                "{what}: a bearer token can be missing (401)"
            );
            assert!(
                error_body(429),
                "{what}: the caller's address can be locked out (429)"
            );
        } else if path.contains("{token}") {
            assert!(
                has(404) && has(429),
                "{what}: a link's token can be unknown (404) and the address locked out (429)"
            );
        }
        let json_body = op["requestBody"]["content"]["application/json"].is_object();
        if json_body {
            for s in [400, 413, 415] {
                assert!(error_body(s), "{what}: a JSON body can be refused with {s}");
            }
            assert_eq!(op["requestBody"]["required"], true, "{what}");
        }
        if path.contains("{txid}") || path.contains("{id}") {
            assert!(has(404), "{what}: the id in the path can be unknown (404)");
        }
    }
}

/// A Duo operation answers Duo's FAIL envelope, in its dialect's content type: 401 for a bad
/// signature and 429 for a locked address unless it is unsigned; 503 (before any route) as
/// every route.
fn duo_documents_its_errors(
    what: &str,
    responses: &serde_json::Map<String, Value>,
    unsigned: bool,
) {
    let content = if what.contains("/rest/v1/") {
        "application/bson"
    } else {
        "application/json"
    };
    assert!(responses.contains_key("200"), "{what}: 200");
    assert!(responses.contains_key("503"), "{what}: 503");
    for (status, response) in responses {
        if status != "503" && status != "200" {
            assert!(
                response["content"][content].is_object(),
                "{what} {status}: {response}"
            );
        }
    }
    if !unsigned {
        for s in ["400", "401", "429"] {
            assert!(responses.contains_key(s), "{what}: {s}");
        }
    }
}

#[tokio::test]
async fn every_authenticated_operation_names_its_bearer_token() {
    let srv = TestServer::start("").await;
    let doc = document(&srv).await;
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    for (name, format) in [
        ("server_token", "mfas_..."),
        ("client_key", "mfak_..."),
        ("api_token", "mfat_..."),
    ] {
        assert_eq!(schemes[name]["type"], "http", "{name}");
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
        assert_eq!(schemes[name]["bearerFormat"], format, "{name}");
    }
    assert_eq!(schemes["metrics_token"]["scheme"], "bearer");
    for ((method, path), op) in operations(&doc) {
        let here = (method.as_str(), path.as_str());
        let security = op["security"].as_array();
        if here == METRICS {
            // No token (the default), or the metrics token when one is set.
            assert_eq!(
                op["security"],
                serde_json::json!([{}, {"metrics_token": []}]),
                "{method} {path}"
            );
            continue;
        }
        if PUBLIC.contains(&here) {
            assert!(security.is_none_or(|s| s.is_empty()), "{method} {path}");
            continue;
        }
        let security = security.unwrap_or_else(|| panic!("{method} {path}: no security"));
        assert_eq!(security.len(), 1, "{method} {path}: one token kind");
        let requirement = security[0].as_object().unwrap();
        assert_eq!(requirement.len(), 1, "{method} {path}");
        let (scheme, scopes) = requirement.iter().next().unwrap();
        let want = if is_duo(&path) {
            "duo_signature"
        } else if path.starts_with("/v1/client/") {
            "client_key"
        } else if path.starts_with("/v1/otp/") || path.starts_with("/v1/vault/") {
            "api_token"
        } else {
            "server_token"
        };
        assert_eq!(scheme, want, "{method} {path}");
        let scopes: Vec<&str> = scopes
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        let want_scopes: &[&str] = if path.starts_with("/v1/otp/") {
            &["otp"]
        } else if path.starts_with("/v1/vault/") && method == "GET" {
            &["vault:read"]
        } else if path.starts_with("/v1/vault/") {
            &["vault:write"]
        } else {
            &[]
        };
        assert_eq!(scopes, want_scopes, "{method} {path}");
    }
}
