//! Memory figures from a Linux `/proc/<pid>/status` file. Shared by path (`#[path]`) between
//! the emulator's, the client's and the CLI's benches, which each sample a process's memory.

/// The field `field` (`"VmHWM:"`, `"VmRSS:"`, `"RssAnon:"`) of the status file at `path`, in
/// KiB; `None` when the file or the field is missing (an exited process, no `/proc`).
pub(crate) fn status_kib(path: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    status.lines().find_map(|line| {
        line.strip_prefix(field)?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()
    })
}
