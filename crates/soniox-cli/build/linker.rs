//! Which linker the build configuration names, for `build.rs` (and its tests): a module of
//! its own, free of the environment, so that the tests can give it any configuration.

/// Linkers that reject the script: gold refuses its `INSERT`, mold and wild any `SECTIONS`.
const REFUSING: [&str; 3] = ["gold", "mold", "wild"];

/// Linkers run directly rather than through a C compiler driver, which take the script's
/// option as it is.
const BARE: [&str; 5] = ["ld", "ld.bfd", "ld.lld", "lld", "rust-lld"];

/// The first linker the configuration names that refuses the script, by file name: from
/// cargo's `linker` setting (`RUSTC_LINKER`), and from `-C linker=` and `-fuse-ld=` in the
/// flags (`CARGO_ENCODED_RUSTFLAGS`, separated by `\x1f`).
pub(crate) fn refusing(encoded_rustflags: &str, rustc_linker: Option<&str>) -> Option<String> {
    let mut named: Vec<&str> = rustc_linker.into_iter().collect();
    for flag in encoded_rustflags.split('\x1f') {
        if let Some(linker) = flag
            .strip_prefix("-Clinker=")
            .or(flag.strip_prefix("linker="))
        {
            named.push(linker);
        }
        // `-Clink-arg=-fuse-ld=mold`, `link-args=-fuse-ld=mold -s` and the like.
        for word in flag.split([' ', '=', ',']).collect::<Vec<_>>().windows(2) {
            if word[0].ends_with("-fuse-ld") {
                named.push(word[1]);
            }
        }
    }
    named
        .into_iter()
        .map(file_name)
        .find(|name| REFUSING.iter().any(|linker| is_named(name, linker)))
        .map(str::to_owned)
}

/// Whether cargo's `linker` setting runs a linker directly, which takes `--script=` without
/// the driver's `-Xlinker` before it.
pub(crate) fn is_bare(rustc_linker: Option<&str>) -> bool {
    rustc_linker.is_some_and(|linker| BARE.contains(&file_name(linker)))
}

/// Whether the linker file `name` is `linker`: `mold`, `ld.mold`, `mold-2.3`.
fn is_named(name: &str, linker: &str) -> bool {
    let name = name.strip_prefix("ld.").unwrap_or(name);
    name == linker
        || name
            .strip_prefix(linker)
            .is_some_and(|rest| rest.starts_with(['-', '.']))
}

/// The last component of a path.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
