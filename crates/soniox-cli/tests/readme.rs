//! Every command of the README's CLI tour, run in order against the emulator it starts.

mod common;

use std::{collections::HashMap, process::Stdio, time::Duration};

use common::{command, wav};
use tokio::io::{AsyncBufReadExt as _, BufReader};

const README: &str = include_str!("../../../README.md");

/// The `sh` block of the CLI section.
fn tour() -> Vec<&'static str> {
    let section = README
        .split("## The `soniox` command-line tool")
        .nth(1)
        .expect("the README has a CLI section");
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the section has an sh block");
    block
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect()
}

/// A loopback address that is free now.
fn free_addr() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

#[tokio::test]
async fn the_readme_tour_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    wav(dir.path(), "call.wav", 1);
    std::fs::create_dir(dir.path().join("recordings")).expect("mkdir");
    wav(&dir.path().join("recordings"), "a.wav", 1);
    wav(&dir.path().join("recordings"), "b.wav", 2);
    // The README's fixed ports, moved to free ones.
    let ports: Vec<(&str, String)> = ["127.0.0.1:8000", "127.0.0.1:8080"]
        .into_iter()
        .map(|fixed| (fixed, free_addr()))
        .collect();
    let mut env = HashMap::new();
    let mut background = Vec::new();
    let lines = tour();
    assert!(lines.len() >= 10, "{lines:?}");
    for line in lines {
        let mut line = line.to_owned();
        for (fixed, free) in &ports {
            line = line.replace(fixed, free);
        }
        if let Some(assignments) = line.strip_prefix("export ") {
            for assignment in assignments.split_whitespace() {
                let (name, value) = assignment.split_once('=').expect("NAME=VALUE");
                env.insert(name.to_owned(), value.to_owned());
            }
            continue;
        }
        let (line, in_background) = match line.strip_suffix(" &") {
            Some(line) => (line.to_owned(), true),
            None => (line, false),
        };
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words[0], "soniox", "{line}");
        let mut run = command(&words[1..]);
        run.current_dir(dir.path()).envs(&env);
        if in_background {
            let mut child = run.spawn().expect("spawn");
            // Ready once it says where it listens (the emulator on stdout, the others on stderr).
            let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
            let mut stderr = BufReader::new(child.stderr.take().expect("stderr")).lines();
            let first = tokio::select! {
                line = stdout.next_line() => line,
                line = stderr.next_line() => line,
            };
            assert!(first.expect("read").is_some(), "{line} printed nothing");
            // Keep the pipes open (and drained) while it runs.
            tokio::spawn(async move { while let Ok(Some(_)) = stdout.next_line().await {} });
            tokio::spawn(async move { while let Ok(Some(_)) = stderr.next_line().await {} });
            background.push(child);
        } else {
            run.stdout(Stdio::piped());
            let output = tokio::time::timeout(Duration::from_secs(60), run.output())
                .await
                .expect("finishes")
                .expect("runs");
            assert!(
                output.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    assert!(dir.path().join("call.txt").exists());
    assert!(dir.path().join("transcripts/a.wav.txt").exists());
    assert!(dir.path().join("transcripts/b.wav.txt").exists());
    for child in background.iter().rev() {
        common::interrupt(child).await;
    }
    for mut child in background {
        assert_eq!(child.wait().await.expect("exits").code(), Some(0));
    }
}
