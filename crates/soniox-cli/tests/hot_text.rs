//! `hot-text.ld`, the linker script the build script gives on Linux: GNU ld takes it as lld
//! (Rust's default linker, which links every test's `soniox`) does, and the built `soniox`
//! starts its text with the functions it lists.
#![cfg(target_os = "linux")]

use std::{path::Path, process::Command};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hot-text.ld");

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
fn patterns_match_as_the_linker_does() {
    assert!(matches("_ZN1a1f*", "_ZN1a1f17h0123456789abcdefE"));
    assert!(matches("_RNvCs*_1a1f", "_RNvCs1x2y_1a1f"));
    assert!(matches("exact", "exact"));
    assert!(!matches("exact", "exactly"));
    assert!(!matches("_RNvCs*_1a1f", "_RNvCs1x2y_1a1g"));
    assert!(!matches("_ZN1a1f*", "_ZN1a1g17h0123456789abcdefE"));
}

#[test]
fn gnu_ld_takes_the_script() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = dir.path().join("main.c");
    std::fs::write(&source, "int main(void) { return 0; }\n").expect("write main.c");
    let program = dir.path().join("main");
    let linked = Command::new("cc")
        .arg(&source)
        .arg("-o")
        .arg(&program)
        .args(["-fuse-ld=bfd", "-Xlinker"])
        .arg(format!("--script={SCRIPT}"))
        .output()
        .expect("run cc, the C compiler Rust links with on Linux");
    assert!(
        linked.status.success(),
        "cc with GNU ld: {}",
        String::from_utf8_lossy(&linked.stderr)
    );
    let status = Command::new(&program).status().expect("run the program");
    assert!(status.success(), "{status}");
}

#[test]
fn soniox_starts_its_text_with_listed_functions() {
    let binary = Path::new(env!("CARGO_BIN_EXE_soniox"));
    let output = Command::new("nm")
        .args(["--defined-only", "--numeric-sort"])
        .arg(binary)
        .output()
        .expect("run nm, of binutils, which the C compiler Rust links with comes with");
    assert!(output.status.success(), "nm failed");
    let symbols = String::from_utf8(output.stdout).expect("nm prints text");
    // Functions in order of address; `_init` has a section of its own, before the text.
    let first: Vec<&str> = symbols
        .lines()
        .filter_map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [_, "t" | "T", name] if name != "_init" => Some(name),
                _ => None,
            },
        )
        .take(20)
        .collect();
    let listed = listed();
    for name in &first {
        assert!(
            listed.iter().any(|pattern| matches(pattern, name)),
            "{name} is among the first functions of `soniox` but not listed; the first: {first:#?}"
        );
    }
}
