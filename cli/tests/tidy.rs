//! Tidy: habits the tools keep for us (STYLE.md §12). The core does not depend on tokio,
//! no source file grows past 800 lines (except the listed ones, which may only shrink), and
//! no `dbg!` is left behind.

use std::path::{Path, PathBuf};

/// Files allowed over the limit for now, with the line count they may not exceed.
const LONG_FILE_EXCEPTIONS: &[(&str, usize)] = &[];
const MAX_LINES: usize = 800;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ has a parent").to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn core_does_not_depend_on_tokio() {
    let manifest = std::fs::read_to_string(workspace_root().join("core/Cargo.toml")).unwrap();
    assert!(!manifest.contains("tokio"), "core must stay sans-IO");
}

#[test]
fn files_stay_small_and_free_of_dbg() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in ["core", "sim", "net-tokio", "cli"] {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 10, "found the sources");
    let mut problems = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&root).unwrap().to_string_lossy().replace('\\', "/");
        let lines = text.lines().count();
        let limit =
            LONG_FILE_EXCEPTIONS.iter().find(|(p, _)| *p == rel).map_or(MAX_LINES, |(_, n)| *n);
        if lines > limit {
            problems.push(format!("{rel}: {lines} lines (limit {limit})"));
        }
        if rel != "cli/tests/tidy.rs" && text.contains(concat!("dbg", "!(")) {
            problems.push(format!("{rel}: leftover dbg!"));
        }
    }
    assert!(problems.is_empty(), "tidy problems:\n{}", problems.join("\n"));
}
