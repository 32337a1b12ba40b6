//! The JSON Schemas of soniox-types' wire types (`crates/soniox-types/schemas/`), one file per
//! type. soniox-types' `json_schemas` example writes them (xtask cannot depend on the crate);
//! its `schemas_are_up_to_date` test holds the committed files to the types.

use std::{fs, path::Path};

use super::{Folder, file_names};
use crate::cmd::Step;

/// Where the schemas go.
pub(crate) const FOLDER: &str = "crates/soniox-types/schemas";

/// Runs the example into `scratch` and reads what it wrote.
pub(crate) fn generate(scratch: &Path) -> Result<Folder, String> {
    let out = scratch.to_string_lossy();
    Step::new(
        "cargo",
        &[
            "run",
            "--quiet",
            "-p",
            "soniox-types",
            "--features",
            "schemars",
            "--example",
            "json_schemas",
            "--",
            &out,
        ],
    )
    .run()?;
    let mut files = Vec::new();
    for name in file_names(scratch) {
        let path = scratch.join(&name);
        let text = fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
        files.push((name, text));
    }
    if files.is_empty() {
        return Err("the json_schemas example wrote no schema".to_owned());
    }
    Ok(Folder {
        path: FOLDER,
        files,
    })
}
