//! `hot-text.ld`, the linker script the build script gives on Linux: GNU ld takes it, without a
//! warning, and places a listed function first; and the built `soniox`, linked with it by the
//! toolchain's linker (lld on x86_64 since Rust 1.90, GNU ld before), starts its text with
//! functions the script lists.
#![cfg(target_os = "linux")]

use std::{io::Write as _, path::Path, process::Command};

#[path = "../build/linker.rs"]
mod linker;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hot-text.ld");

/// Whether the build script gave the linker the script: when it did not, a test of it passes
/// with a note of why, except under CI (whose machine must link with it).
fn applied() -> bool {
    let outcome = env!("SONIOX_CLI_HOT_TEXT");
    if outcome == "applied" {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "soniox was linked without hot-text.ld: {outcome}"
    );
    let _ = writeln!(
        std::io::stderr(),
        "skipped: soniox was linked without hot-text.ld: {outcome}"
    );
    false
}

/// The script's section patterns, without the `.text.` every one starts with.
fn listed() -> Vec<String> {
    let script = std::fs::read_to_string(SCRIPT).expect("read hot-text.ld");
    let patterns: Vec<String> = script
        .lines()
        .filter_map(|line| line.trim().strip_prefix("*(.text.")?.strip_suffix(')'))
        .filter(|pattern| !pattern.contains(' '))
        .map(str::to_owned)
        .collect();
    assert!(patterns.len() > 100, "{} functions listed", patterns.len());
    patterns
}

/// Whether `name` matches `pattern`, where `*` stands for any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[test]
fn a_linker_that_refuses_the_script_is_found_by_name() {
    let flags = |flags: &[&str]| flags.join("\x1f");
    let cases = [
        (flags(&["-C", "link-arg=-fuse-ld=mold"]), None, Some("mold")),
        (
            flags(&["-Clink-arg=-fuse-ld=/opt/bin/ld.mold"]),
            None,
            Some("ld.mold"),
        ),
        (flags(&["-Clink-args=-fuse-ld=wild -s"]), None, Some("wild")),
        (
            flags(&["-C", "linker=/usr/local/bin/mold-2.3"]),
            None,
            Some("mold-2.3"),
        ),
        (String::new(), Some("/usr/bin/ld.gold"), Some("ld.gold")),
        // Names that only contain one: a CPU, a directory, another linker.
        (flags(&["-Ctarget-cpu=goldmont"]), None, None),
        (
            flags(&["-C", "link-arg=-fuse-ld=lld"]),
            Some("/home/goldberg/cc"),
            None,
        ),
        (flags(&["-Clink-arg=-fuse-ld=bfd"]), None, None),
        (String::new(), None, None),
    ];
    for (flags, configured, expected) in cases {
        assert_eq!(
            linker::refusing(&flags, configured).as_deref(),
            expected,
            "{flags:?} with {configured:?}"
        );
    }
}

#[test]
fn only_a_linker_run_directly_takes_the_option_bare() {
    for bare in ["rust-lld", "/usr/bin/ld.lld", "ld", "/usr/bin/ld.bfd"] {
        assert!(linker::is_bare(Some(bare)), "{bare}");
    }
    for driver in ["cc", "/usr/bin/gcc", "clang", "aarch64-linux-gnu-gcc"] {
        assert!(!linker::is_bare(Some(driver)), "{driver}");
    }
    assert!(!linker::is_bare(None));
}

#[test]
fn patterns_match_as_the_linker_does() {
    assert!(matches("_ZN1a1f*", "_ZN1a1f17h0123456789abcdefE"));
    assert!(matches("_RNvCs*_1a1f", "_RNvCs1x2y_1a1f"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
    assert!(!matches("_RNvCs*_1a1f", "_RNvCs1x2y_1a1g"));
    assert!(!matches("_ZN1a1f*", "_ZN1a1g17h0123456789abcdefE"));
}

#[test]
fn gnu_ld_takes_the_script_and_places_a_listed_function_first() {
    if !applied() {
        return;
    }
    // A C function under the name of a listed Rust one, in a section of its own as rustc
    // gives each function, defined after `main` so that input order alone would put it last.
    let listed = listed();
    let name = listed
        .iter()
        .filter_map(|pattern| pattern.strip_suffix('*'))
        .find(|prefix| prefix.starts_with("_ZN") && !prefix.contains(['*', '$', '.']))
        .map(|prefix| format!("{prefix}17h0123456789abcdefE"))
        .expect("a legacy Rust symbol among the listed");
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("main.c");
    std::fs::write(
        &source,
        format!(
            "int main(void) {{ return 0; }}\n\
             void listed(void) __asm__(\"{name}\");\n\
             __attribute__((used)) void listed(void) {{}}\n"
        ),
    )
    .expect("write main.c");
    let program = dir.path().join("main");
    let linked = Command::new("cc")
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .args(["-ffunction-sections", "-fuse-ld=bfd", "-Xlinker"])
        .arg(format!("--script={SCRIPT}"))
        .output()
        .expect("run cc, the C compiler Rust links with on Linux");
    let stderr = String::from_utf8_lossy(&linked.stderr);
    assert!(linked.status.success(), "cc with GNU ld: {stderr}");
    assert!(stderr.trim().is_empty(), "GNU ld warned: {stderr}");
    let status = Command::new(&program).status().expect("run the program");
    assert!(status.success(), "{status}");
    let functions = text_symbols(&program);
    let at = |wanted: &str| functions.iter().position(|name| name == wanted);
    assert!(
        at(&name).expect("the listed function") < at("main").expect("main"),
        "{functions:#?}"
    );
}

/// The function symbols of `binary` in order of address, but for `_init`, whose section comes
/// before the text.
fn text_symbols(binary: &Path) -> Vec<String> {
    let output = Command::new("nm")
        .args(["--defined-only", "--numeric-sort"])
        .arg(binary)
        .output()
        .expect("run nm, of binutils, which the C compiler Rust links with comes with");
    assert!(output.status.success(), "nm failed");
    String::from_utf8(output.stdout)
        .expect("nm prints text")
        .lines()
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [_, "t" | "T", name] if name != "_init" => Some(name.to_owned()),
                _ => None,
            },
        )
        .collect()
}

#[test]
fn soniox_starts_its_text_with_listed_functions() {
    if !applied() {
        return;
    }
    let functions = text_symbols(Path::new(env!("CARGO_BIN_EXE_soniox")));
    let first = &functions[..functions.len().min(20)];
    let listed = listed();
    for name in first {
        assert!(
            listed.iter().any(|pattern| matches(pattern, name)),
            "{name} is among the first functions of `soniox` but not listed; the first: {first:#?}"
        );
    }
}
