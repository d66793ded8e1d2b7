//! The OpenAPI document says what the server does: every `{param}` of a path is a
//! declared path parameter, every authenticated operation declares 401, and every operation that reads an id, a body or a query
//! declares the 400 it answers to a malformed one.

use crate::common;

use common::{Backend, TestCloud};
use serde_json::Value;

/// What is wrong with the document, one line per finding.
fn findings(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let names: Vec<&str> = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().expect("path item") {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let what = format!("{} {path}", method.to_uppercase());
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            for name in &names {
                let declared = params
                    .iter()
                    .any(|p| p["in"] == "path" && p["name"] == *name && p["required"] == true);
                if !declared {
                    out.push(format!("{what}: path parameter {{{name}}} not declared"));
                }
            }
            let responses = op["responses"].as_object().expect("responses");
            let secured = op["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            if secured && !responses.contains_key("401") {
                out.push(format!("{what}: authenticated but no 401"));
            }
            let reads_input = !names.is_empty()
                || op.get("requestBody").is_some()
                || params.iter().any(|p| p["in"] == "query");
            if reads_input && !responses.contains_key("400") {
                out.push(format!("{what}: reads input but declares no 400"));
            }
            for (status, r) in responses {
                if status.starts_with('4') || status.starts_with('5') {
                    let schema = &r["content"]["application/json"]["schema"]["$ref"];
                    if schema != "#/components/schemas/ErrorBody" {
                        out.push(format!("{what}: {status} without the ErrorBody schema"));
                    }
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_parameter_and_error_is_declared() {
    let app = TestCloud::spawn(Backend::Sqlite).await;
    let (s, doc) = app.get("/api/openapi.json", None).await;
    assert_eq!(s, 200);
    let found = findings(&doc);
    assert!(
        found.is_empty(),
        "{} findings:\n{}",
        found.len(),
        found.join("\n")
    );
    // The walk itself finds what it is for.
    let mut broken = doc.clone();
    let op = &mut broken["paths"]["/api/v1/devices/{id}"]["get"];
    op["parameters"] = Value::Array(vec![]);
    op["responses"].as_object_mut().unwrap().remove("401");
    let found = findings(&broken);
    assert!(
        found.iter().any(|f| f.contains("{id} not declared")),
        "{found:?}"
    );
    assert!(found.iter().any(|f| f.contains("no 401")), "{found:?}");
}
