//! results.json's contract: the committed JSON Schema is the one generated from the model
//! types, and a reader tolerates fields a newer writer adds within `wirebench/1`.
//!
//! After changing the model, regenerate the schema with
//! `WIREBENCH_BLESS=1 cargo test --release -p wirebench-reports --test schema`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::{json, Value};
use wirebench_reports::model::Results;

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json")
}

fn fixture() -> Value {
    let p =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/faq-quick-results.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn the_committed_schema_is_the_generated_one() {
    let generated = Results::json_schema();
    if std::env::var_os("WIREBENCH_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&generated).unwrap() + "\n";
        std::fs::write(path(), text).unwrap();
    }
    let committed: Value = serde_json::from_str(&std::fs::read_to_string(path()).unwrap())
        .expect("the committed schema is JSON");
    assert!(
        committed == generated,
        "reports/schema/results.schema.json is stale: regenerate it with \
         WIREBENCH_BLESS=1 cargo test --release -p wirebench-reports --test schema"
    );
}

#[test]
fn a_newer_writers_fields_are_ignored_and_still_valid() {
    let mut v = fixture();
    v["written_by_a_newer_wirebench"] = json!({"anything": [1, 2]});
    v["host"]["gpu"] = json!("none");
    let cell = &mut v["cells"][0];
    cell["energy_joules"] = json!(1.5);
    cell["latency_us"]["p9999"] = json!(12345);
    cell["resources"]["server_fds"] = json!(17);
    if let Some(verdict) = v["verdicts"].get_mut(0) {
        verdict["confidence"] = json!(0.9);
    }
    let text = serde_json::to_string(&v).unwrap();
    let r = Results::parse(&text, "newer.json").expect("an older reader accepts newer fields");
    assert_eq!(r.cells.len(), fixture()["cells"].as_array().unwrap().len());
    let validator = jsonschema::validator_for(&Results::json_schema()).unwrap();
    let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn another_schema_id_is_still_rejected_by_reader_and_schema() {
    let mut v = fixture();
    v["schema"] = json!("wirebench/2");
    let err = Results::parse(&v.to_string(), "future.json").unwrap_err();
    assert!(err.to_string().contains("wirebench/2"), "{err}");
    let validator = jsonschema::validator_for(&Results::json_schema()).unwrap();
    assert!(!validator.is_valid(&v));
    // And a field of the wrong type is an error naming where.
    let mut v = fixture();
    v["cells"][0]["repeat"] = json!("first");
    let err = Results::parse(&v.to_string(), "bad.json").unwrap_err();
    assert!(err.to_string().contains("bad.json"), "{err}");
}
