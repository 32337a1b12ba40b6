//! `schemas/` holds exactly the JSON Schemas the types give: a change to a wire type without
//! `cargo xtask codegen` fails here.
#![cfg(feature = "schemars")]

use std::{fs, path::Path};

#[path = "../examples/support/wire_schemas.rs"]
mod wire_schemas;

#[test]
fn schemas_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let problems = problems(&dir, &wire_schemas::all());
    assert!(
        problems.is_empty(),
        "run `cargo xtask codegen`:\n{}",
        problems.join("\n")
    );
}

#[test]
fn a_stale_missing_or_extra_schema_is_named() {
    let temporary = tempfile::tempdir().expect("a temporary folder");
    let dir = temporary.path();
    let schemas = wire_schemas::all();
    for (name, text) in &schemas {
        fs::write(dir.join(name), text).expect("written");
    }
    assert!(problems(dir, &schemas).is_empty());
    let (first, _) = &schemas[0];
    let (last, _) = &schemas[schemas.len() - 1];
    fs::write(dir.join(first), "{}\n").expect("written");
    fs::remove_file(dir.join(last)).expect("removed");
    fs::write(dir.join("Gone.json"), "{}\n").expect("written");
    assert_eq!(
        problems(dir, &schemas),
        [
            format!("stale: schemas/{first}"),
            format!("missing: schemas/{last}"),
            "not generated: schemas/Gone.json".to_owned(),
        ]
    );
}

/// One line per file of `dir` that differs from `schemas`: stale, missing, or not generated.
fn problems(dir: &Path, schemas: &[(String, String)]) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, text) in schemas {
        match fs::read_to_string(dir.join(name)) {
            Ok(committed) if committed == *text => {}
            Ok(_) => problems.push(format!("stale: schemas/{name}")),
            Err(_) => problems.push(format!("missing: schemas/{name}")),
        }
    }
    let mut extra: Vec<String> = fs::read_dir(dir)
        .expect("the folder exists")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| !schemas.iter().any(|(generated, _)| generated == name))
        .collect();
    extra.sort();
    problems.extend(
        extra
            .into_iter()
            .map(|name| format!("not generated: schemas/{name}")),
    );
    problems
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
