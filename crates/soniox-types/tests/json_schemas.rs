//! `schemas/` holds exactly the JSON Schemas the types give: a change to a wire type without
//! `cargo xtask codegen` fails here.
#![cfg(feature = "schemars")]

use std::{fs, path::Path};

#[path = "../examples/support/wire_schemas.rs"]
mod wire_schemas;

#[test]
fn schemas_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let schemas = wire_schemas::all();
    let mut problems = Vec::new();
    for (name, text) in &schemas {
        match fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => problems.push(format!("stale: schemas/{name}")),
            Err(_) => problems.push(format!("missing: schemas/{name}")),
        }
    }
    for entry in fs::read_dir(&dir).expect("schemas/ exists") {
        let name = entry.expect("a directory entry").file_name();
        let name = name.to_string_lossy();
        if !schemas.iter().any(|(generated, _)| *generated == name) {
            problems.push(format!("not generated: schemas/{name}"));
        }
    }
    assert!(
        problems.is_empty(),
        "run `cargo xtask codegen`:\n{}",
        problems.join("\n")
    );
}

#[test]
fn each_schema_is_titled_with_its_type() {
    for (name, text) in wire_schemas::all() {
        let schema: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(
            Some(name.trim_end_matches(".json")),
            schema["title"].as_str(),
            "{name}"
        );
        assert!(text.ends_with("}\n"), "{name}");
    }
}
