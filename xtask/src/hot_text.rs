//! `cargo xtask hot-text`: writes `crates/soniox-cli/hot-text.ld`, the linker script that
//! places the functions `soniox transcribe` runs ahead of the rest of its text (see the
//! crate's `build.rs` for why).
//!
//! It builds `soniox`, starts its emulator, runs `transcribe --no-wait` and then a whole
//! `transcribe` of a small file under `valgrind --tool=callgrind` (over plain HTTP and without
//! a progress bar: TLS and drawing are left where they are), and lists every function of
//! the binary that ran: those of the upload first, then those only waiting and fetching ran,
//! each group in order of name so that the file changes only when the code run does. Symbols
//! are written without what changes from build to build (the hash at the end of a legacy
//! symbol, the crate disambiguators of a v0 one), so one script serves every build of the
//! source; each generic function's entry covers all of its instances.

use std::{
    collections::{BTreeSet, HashMap},
    fs,
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use crate::{cmd::Step, project_root};

/// The script's path, relative to the workspace root.
const SCRIPT: &str = "crates/soniox-cli/hot-text.ld";

/// What the emulator prints before its address, on its first line.
const LISTENING: &str = "listening on ";

pub(crate) fn run() -> Result<(), String> {
    let root = project_root();
    Step::new(
        "cargo",
        &["build", "--release", "-p", "soniox-cli", "--bin", "soniox"],
    )
    .run()?;
    let target = crate::target_dir(&crate::workspace_metadata()?)?;
    let soniox = target.join("release/soniox");
    let work = target.join("hot-text");
    // A previous run's profiles and uploads would be read as this one's.
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work).map_err(|error| format!("cannot create {work:?}: {error}"))?;
    let audio = work.join("audio.wav");
    fs::write(&audio, silent_wav(1 << 20))
        .map_err(|error| format!("cannot write {audio:?}: {error}"))?;
    let audio = audio
        .to_str()
        .ok_or("the target directory's path is not UTF-8")?;

    let emulator = Emulator::start(&soniox, &work.join("emulator"))?;
    let upload = profile(
        &soniox,
        &emulator.url,
        &work.join("upload.callgrind"),
        &["transcribe", audio, "--no-wait", "--quiet"],
    );
    let whole = profile(
        &soniox,
        &emulator.url,
        &work.join("whole.callgrind"),
        &["transcribe", audio, "--quiet"],
    );
    drop(emulator);
    let (upload, whole) = (upload?, whole?);
    if upload.is_empty() || whole.is_empty() {
        return Err(format!(
            "the profiles in {work:?} name no function of {soniox:?}: is it stripped?"
        ));
    }

    let later: BTreeSet<String> = whole.difference(&upload).cloned().collect();
    let mut script = String::from(HEADER);
    // The output section keeps its name, `.text`, which tools such as valgrind look for; the
    // listed functions come first, then what GNU ld's default script places there, in its
    // order (lld's keeps input order, which the last line gives).
    script.push_str("SECTIONS {\n  .text : {\n");
    let listed = upload
        .iter()
        .chain(&later)
        .map(|pattern| format!(".text.{pattern}"));
    for sections in listed.chain(REST_OF_TEXT.map(str::to_owned)) {
        script.push_str(&format!("    *({sections})\n"));
    }
    script.push_str("  }\n}\nINSERT AFTER .init;\n");
    let path = root.join(SCRIPT);
    fs::write(&path, script).map_err(|error| format!("cannot write {path:?}: {error}"))?;
    eprintln!(
        "hot-text: wrote {SCRIPT}: {} functions the upload ran, {} more of a whole transcription",
        upload.len(),
        later.len()
    );
    Ok(())
}

const HEADER: &str = "\
/* Written by `cargo xtask hot-text`; do not edit. The functions `soniox transcribe` ran
   against the emulator (plain HTTP, no progress bar), placed ahead of the rest of the text
   (crates/soniox-cli/build.rs says why and when it is used). Each name is a symbol without
   what changes from build to build. */
";

/// A WAV of `data_len` bytes of silence, mono 16 kHz 16-bit PCM: the emulator reads the header
/// for the job's duration, and refuses a file without one. (`soniox_emulator::wav` writes
/// such a file too, but xtask builds without the workspace's crates, in seconds.)
fn silent_wav(data_len: u32) -> Vec<u8> {
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    for part in [
        b"RIFF".as_slice(),
        &(36 + data_len).to_le_bytes(),
        b"WAVEfmt ",
    ] {
        wav.extend_from_slice(part);
    }
    // The format chunk: its size, PCM, one channel, samples and bytes a second, bytes a
    // frame, bits a sample.
    for field in [16_u32, 1 | 1 << 16, 16_000, 32_000, 2 | 16 << 16] {
        wav.extend_from_slice(&field.to_le_bytes());
    }
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    wav
}

/// The input sections of GNU ld's default `.text`, after the listed functions.
const REST_OF_TEXT: [&str; 5] = [
    ".text.unlikely .text.*_unlikely .text.unlikely.*",
    ".text.exit .text.exit.*",
    ".text.startup .text.startup.*",
    ".text.hot .text.hot.*",
    ".text .stub .text.* .gnu.linkonce.t.*",
];

/// `soniox emulator`, started for the profiles and killed when dropped.
struct Emulator {
    child: Child,
    url: String,
}

impl Emulator {
    fn start(soniox: &Path, data_dir: &Path) -> Result<Self, String> {
        let child = Command::new(soniox)
            .args(["emulator", "--addr", "127.0.0.1:0", "--processing", "0"])
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start {soniox:?} emulator: {error}"))?;
        // Held from here, so that a failure below kills it too.
        let mut emulator = Self {
            child,
            url: String::new(),
        };
        let mut line = String::new();
        let read = emulator
            .child
            .stdout
            .take()
            .map(|stdout| BufReader::new(stdout).read_line(&mut line));
        match (read, line.trim().strip_prefix(LISTENING)) {
            (Some(Ok(_)), Some(url)) => {
                emulator.url = url.to_owned();
                Ok(emulator)
            }
            _ => Err(format!("the emulator printed {line:?}, not its address")),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The functions of `soniox` that ran `args` against the emulator at `url`, as script patterns.
fn profile(
    soniox: &Path,
    url: &str,
    out: &Path,
    args: &[&str],
) -> Result<BTreeSet<String>, String> {
    let out_arg = format!("--callgrind-out-file={}", out.display());
    let soniox_arg = soniox
        .to_str()
        .ok_or("the target directory's path is not UTF-8")?;
    let mut valgrind_args = vec![
        "--tool=callgrind",
        "--demangle=no",
        out_arg.as_str(),
        soniox_arg,
    ];
    valgrind_args.extend_from_slice(args);
    Step::new("valgrind", &valgrind_args)
        .env("SONIOX_API_KEY", "hot-text")
        .env("SONIOX_API_BASE_URL", url)
        .capture()
        .map_err(|error| format!("{error}\n(is valgrind installed?)"))?;
    let text = fs::read_to_string(out).map_err(|error| format!("cannot read {out:?}: {error}"))?;
    let name = soniox.file_name().unwrap_or_default().to_string_lossy();
    let binary = format!("/{name}");
    Ok(functions_of(&text, &binary)
        .iter()
        .filter_map(|symbol| pattern(symbol))
        .collect())
}

/// The functions a callgrind profile counts in the object whose path ends with `object`.
fn functions_of(profile: &str, object: &str) -> BTreeSet<String> {
    // Callgrind names each object and function once, as `ob=(N) name`, then by `(N)` alone;
    // `cob=`/`cfn=` name the callee of the next call, whose costs are not the current one's.
    let mut objects = Names::default();
    let mut functions = Names::default();
    let mut in_object = false;
    let mut found = BTreeSet::new();
    for line in profile.lines() {
        let Some((key, rest)) = line.split_once('=') else {
            continue;
        };
        let Some((id, name)) = compressed(rest) else {
            continue;
        };
        match key {
            "ob" | "cob" => {
                let name = objects.resolve(id, name);
                if key == "ob" {
                    in_object = name.ends_with(object);
                }
            }
            "fn" | "cfn" => {
                let name = functions.resolve(id, name);
                if key == "fn" && in_object {
                    found.insert(name.to_owned());
                }
            }
            _ => {}
        }
    }
    found
}

/// The names a profile has given by id so far.
#[derive(Default)]
struct Names<'a>(HashMap<&'a str, &'a str>);

impl<'a> Names<'a> {
    /// The name `id` stands for, recording it when given; empty for an id never named.
    fn resolve(&mut self, id: &'a str, name: Option<&'a str>) -> &'a str {
        match name {
            Some(name) => {
                self.0.insert(id, name);
                name
            }
            None => self.0.get(id).copied().unwrap_or(""),
        }
    }
}

/// `(N) name` or `(N)`: the id and, the first time, the name.
fn compressed(value: &str) -> Option<(&str, Option<&str>)> {
    let rest = value.strip_prefix('(')?;
    let (id, name) = rest.split_once(')')?;
    let name = name.trim();
    Some((id, (!name.is_empty()).then_some(name)))
}

/// The section pattern for `symbol`: a Rust symbol without its build's hashes; `None` for what
/// has no symbol of its own (callgrind names those by address) or another language's.
fn pattern(symbol: &str) -> Option<String> {
    // Callgrind's mark of a recursive call (`'2`), which no symbol has.
    let symbol = symbol.split_once('\'').map_or(symbol, |(name, _)| name);
    if let Some(path) = symbol.strip_prefix("_ZN") {
        // Legacy: `_ZN` path `17h` sixteen hex digits `E`; the hash covers the crate, its
        // version and features, and a generic's arguments. After it, LLVM may add a suffix
        // of its own (`.llvm.N`, `.N`) to a function it made internal or copied.
        let (path, _) = path.rsplit_once("E")?;
        let (path, hash) = path.split_at(path.len().checked_sub(19)?);
        let is_hash = hash.strip_prefix("17h").is_some_and(|digits| {
            digits.len() == 16 && digits.bytes().all(|b| b.is_ascii_hexdigit())
        });
        return is_hash.then(|| format!("_ZN{path}*"));
    }
    if symbol.starts_with("_R") {
        // v0 has no `.` of its own: what follows one is LLVM's, as above.
        let symbol = symbol.split_once('.').map_or(symbol, |(name, _)| name);
        return Some(format!("{}*", without_build_specifics(symbol)));
    }
    None
}

/// A v0 symbol with each crate root's disambiguator (`Cs<base-62>_`) and each back-reference
/// (`B<base-62>_`, an offset into the symbol, which moves with the disambiguators' lengths) a
/// wildcard.
fn without_build_specifics(symbol: &str) -> String {
    let mut out = String::with_capacity(symbol.len());
    let mut rest = symbol;
    while let Some(at) = rest.find(['C', 'B']) {
        let marker = match &rest[at..] {
            after if after.starts_with("Cs") => "Cs",
            after if after.starts_with('B') => "B",
            _ => "C",
        };
        let (kept, after) = rest.split_at(at + marker.len());
        out.push_str(kept);
        rest = after;
        let digits = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        // A disambiguator has digits; a back-reference to offset 0 has none (`B_`).
        let is_number = rest[digits..].starts_with('_') && (digits > 0 || marker == "B");
        if marker != "C" && is_number {
            // Only broadens the pattern where the marker was part of a name instead.
            out.push('*');
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::{functions_of, pattern};

    #[test]
    fn patterns_drop_what_changes_between_builds() {
        let cases = [
            (
                "_ZN13soniox_client5files5Files6upload28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE",
                Some("_ZN13soniox_client5files5Files6upload28_$u7b$$u7b$closure$u7d$$u7d$*"),
            ),
            (
                "_ZN4core3fmt5write17h0123456789abcdefE.llvm.12345",
                Some("_ZN4core3fmt5write*"),
            ),
            (
                "_ZN4core3fmt5write17h0123456789abcdefE.5112'2",
                Some("_ZN4core3fmt5write*"),
            ),
            (
                "_RNvMNtCslNYArtu3iFV_5alloc6stringNtB2_6String15from_utf8_lossy",
                Some("_RNvMNtCs*_5alloc6stringNtB*_6String15from_utf8_lossy*"),
            ),
            (
                "_RNvMs_NtCs1a_3std4OnceB_4call.4142'2",
                Some("_RNvMs_NtCs*_3std4OnceB*_4call*"),
            ),
            // What has no symbol of its own, another language's, a legacy symbol without
            // its hash.
            ("0x00000000001a7370", None),
            ("(below main)", None),
            ("memcpy", None),
            ("_ZN3foo3barE", None),
        ];
        for (symbol, expected) in cases {
            assert_eq!(pattern(symbol).as_deref(), expected, "{symbol}");
        }
    }

    #[test]
    fn only_the_binarys_own_functions_are_listed() {
        let profile = "\
ob=(1) /x/target/release/soniox
fn=(1) _ZN1a1f17h0000000000000000E
cob=(2) /usr/lib/libc.so.6
cfn=(2) memcpy
calls=1 0
0 5
fn=(3) _ZN1a1g17h0000000000000000E
ob=(2)
fn=(2)
fn=(4) strlen
ob=(1)
fn=(1)
";
        let found: Vec<_> = functions_of(profile, "/soniox").into_iter().collect();
        assert_eq!(
            found,
            ["_ZN1a1f17h0000000000000000E", "_ZN1a1g17h0000000000000000E"]
        );
    }
}
