//! The Go interop tooling (`interop/go`): building the Go SDK's wire form
//! into the cache, and checking the golden vectors Go writes.
//!
//! The binary is built with `go build` (modules from the Go module proxy,
//! pinned by `go.mod`/`go.sum`, `-mod=readonly` so a build never edits them)
//! into `~/.cache/evbus/go-interop-<hash>/`, the hash covering every source
//! file and `go.sum`: a changed source gets a new build, an unchanged one is
//! reused; its `go test` runs before each build. `EVBUS_GO_INTEROP` overrides it with a binary of your own, and
//! `EVBUS_GO` names the `go` command (default: `go` on `PATH`, then
//! `/usr/local/go/bin/go`).

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};

use crate::cmd::{root, run};

/// Where the checked-in vectors live.
const VECTORS: &str = "crates/envelope/tests/vectors";

pub(crate) fn go_dir() -> PathBuf {
    root().join("interop").join("go")
}

fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EVBUS_CACHE_DIR") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into());
    Path::new(&home).join(".cache").join("evbus")
}

/// The `go` command: `EVBUS_GO`, else `go` on `PATH`, else the official
/// tarball's location.
pub(crate) fn go_command() -> anyhow::Result<PathBuf> {
    if let Some(go) = std::env::var_os("EVBUS_GO") {
        return Ok(go.into());
    }
    let on_path = Command::new("go").arg("version").output();
    if on_path.is_ok_and(|out| out.status.success()) {
        return Ok("go".into());
    }
    let tarball = PathBuf::from("/usr/local/go/bin/go");
    if tarball.exists() {
        return Ok(tarball);
    }
    bail!(
        "the Go interop tests need Go (1.26 or later, with the module proxy): install it \
         from https://go.dev/dl/ or set EVBUS_GO to the go command"
    )
}

/// FNV-1a, 64 bits, over the names and contents of the module's sources,
/// go.mod and go.sum, and those of every local module its `go.mod` replaces
/// a dependency with (the peers' shared harness, the vendored Go SDK): the
/// build cache key. Not cryptographic; it only has to change when the
/// sources do.
fn sources_hash(dir: &Path) -> anyhow::Result<String> {
    let mut files = Vec::new();
    module_sources(dir, dir, &mut files)?;
    let go_mod = fs::read_to_string(dir.join("go.mod"))
        .with_context(|| format!("reading {}/go.mod", dir.display()))?;
    if go_mod
        .lines()
        .any(|line| line.trim().starts_with("replace ("))
    {
        bail!(
            "{}/go.mod: write each replace directive on a line of its own; the build cache \
             key follows those only",
            dir.display()
        );
    }
    for target in local_replacements(&go_mod) {
        let mut theirs = Vec::new();
        module_sources(&dir.join(target), &dir.join(target), &mut theirs)?;
        files.extend(
            theirs
                .into_iter()
                .map(|(name, path)| (format!("{target}/{name}"), path)),
        );
    }
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (name, path) in files {
        let contents = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        for byte in name.bytes().chain([0]).chain(contents).chain([0]) {
            hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{hash:016x}"))
}

/// The Go sources, go.mod and go.sum under `dir`, named relative to `root`;
/// a subfolder with a `go.mod` of its own is another module and is left out
/// (a replacement is hashed from its own root).
fn module_sources(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    if dir != root && dir.join("go.mod").is_file() {
        return Ok(());
    }
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            module_sources(root, &path, out)?;
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.ends_with(".go") || name == "go.mod" || name == "go.sum" {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            out.push((relative.to_string_lossy().into_owned(), path.clone()));
        }
    }
    Ok(())
}

/// The local paths (`./x`, `../x`) a `go.mod` replaces modules with, from
/// its one-line `replace` directives.
fn local_replacements(go_mod: &str) -> Vec<&str> {
    go_mod
        .lines()
        .filter_map(|line| line.trim().strip_prefix("replace "))
        .filter_map(|rule| rule.split("=>").nth(1))
        .filter_map(|target| target.split_whitespace().next())
        .filter(|target| target.starts_with("./") || target.starts_with("../"))
        .collect()
}

/// Builds the Go tool when its sources changed (or it was never built) and
/// returns the binary's path.
pub fn ensure_go_tools() -> anyhow::Result<PathBuf> {
    if let Some(binary) = std::env::var_os("EVBUS_GO_INTEROP") {
        let binary = PathBuf::from(binary);
        if !binary.is_file() {
            bail!("EVBUS_GO_INTEROP={} is not a file", binary.display());
        }
        return Ok(binary);
    }
    // The tool's own checks (its consumer catches what it claims to catch)
    // run once per source change, before the binary is trusted.
    build_cached(&go_dir(), "go-interop", "evbus-interop", true)
        .context("building interop/go (Go SDK wire form)")
}

/// Builds the Go module in `module` into `~/.cache/evbus/<prefix>-<hash>/`
/// as `binary` when its sources changed (or it was never built), after its
/// `go test` when `test`; returns the binary's path.
pub(crate) fn build_cached(
    module: &Path,
    prefix: &str,
    binary: &str,
    test: bool,
) -> anyhow::Result<PathBuf> {
    let dir = cache_dir().join(format!("{prefix}-{}", sources_hash(module)?));
    let built = dir.join(binary);
    if built.is_file() {
        return Ok(built);
    }
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let go = go_command()?;
    if test {
        run(Command::new(&go)
            .args(["test", "-mod=readonly", "./..."])
            .current_dir(module))
        .with_context(|| format!("testing {}", module.display()))?;
    }
    // Built beside its final name and renamed, so an interrupted build never
    // leaves a binary that looks finished.
    let partial = dir.join(format!("{binary}.partial"));
    run(Command::new(&go)
        .args(["build", "-mod=readonly", "-trimpath", "-o"])
        .arg(&partial)
        .arg(".")
        .current_dir(module))?;
    fs::rename(&partial, &built)?;
    // Builds of older sources are dead weight: nothing keys on them again.
    let current = dir.file_name();
    for entry in fs::read_dir(cache_dir())?.flatten() {
        let name = entry.file_name();
        let older = name
            .to_string_lossy()
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('-'));
        if older && Some(name.as_os_str()) != current {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    Ok(built)
}

/// Sets the variable the interop tests read.
pub fn export(binary: &Path, command: &mut Command) {
    command.env("EVBUS_GO_INTEROP", binary);
}

/// Runs the Go tool's vector writer into `out`.
fn write_vectors(binary: &Path, out: &Path) -> anyhow::Result<()> {
    run(Command::new(binary).arg("vectors").arg("-out").arg(out))
}

/// The regular files of `dir`, by name.
fn files(dir: &Path) -> anyhow::Result<std::collections::BTreeMap<String, Vec<u8>>> {
    let mut out = std::collections::BTreeMap::new();
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            out.insert(name, fs::read(entry.path())?);
        }
    }
    Ok(out)
}

/// Regenerates the golden vectors with Go into a scratch directory and fails
/// on any difference from the checked-in ones.
pub fn check_vectors(binary: &Path) -> anyhow::Result<()> {
    let scratch = std::env::temp_dir().join(format!("evbus-go-vectors-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    write_vectors(binary, &scratch)?;
    let fresh = files(&scratch)?;
    let checked_in = files(&root().join(VECTORS))?;
    let _ = fs::remove_dir_all(&scratch);
    let mut differences = Vec::new();
    for (name, bytes) in &fresh {
        match checked_in.get(name) {
            None => differences.push(format!("{name}: written by Go, not checked in")),
            Some(old) if old != bytes => differences.push(format!("{name}: bytes differ")),
            Some(_) => {}
        }
    }
    for name in checked_in.keys().filter(|n| !fresh.contains_key(*n)) {
        differences.push(format!("{name}: checked in, no longer written by Go"));
    }
    if !differences.is_empty() {
        bail!(
            "the golden vectors Go writes differ from {VECTORS}:\n  {}\n\
             run `cargo xtask go-vectors` to rewrite them, then review the diff",
            differences.join("\n  ")
        );
    }
    eprintln!(
        "golden vectors: Go regenerated {} files, identical to {VECTORS}",
        fresh.len()
    );
    Ok(())
}

/// `cargo xtask go-vectors`: rewrites the checked-in vectors with Go.
pub fn rewrite_vectors() -> anyhow::Result<()> {
    let binary = ensure_go_tools()?;
    let dir = root().join(VECTORS);
    // Stale files of removed cases would otherwise linger.
    for name in files(&dir)?.keys() {
        fs::remove_file(dir.join(name))?;
    }
    write_vectors(&binary, &dir)?;
    eprintln!("rewrote {VECTORS}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_replacements_are_the_relative_targets_only() {
        let go_mod = "module m\n\nrequire a v1.0.0\n\n\
                      replace example.com/sdk => ./sdk-copy\n\
                      replace example.com/harness v0.0.0 => ../harness // shared\n\
                      replace example.com/fork => example.com/other v1.2.3\n";
        assert_eq!(local_replacements(go_mod), ["./sdk-copy", "../harness"]);
    }

    #[test]
    fn a_replacement_module_changes_the_hash() {
        let root = std::env::temp_dir().join(format!("evbus-hash-{}", std::process::id()));
        let (module, shared) = (root.join("peer"), root.join("shared"));
        fs::create_dir_all(&module).unwrap();
        fs::create_dir_all(&shared).unwrap();
        fs::write(module.join("go.mod"), "module p\nreplace s => ../shared\n").unwrap();
        fs::write(module.join("main.go"), "package main").unwrap();
        fs::write(shared.join("go.mod"), "module s").unwrap();
        fs::write(shared.join("s.go"), "package s").unwrap();
        let before = sources_hash(&module).unwrap();
        fs::write(shared.join("s.go"), "package s // changed").unwrap();
        let after = sources_hash(&module).unwrap();
        fs::remove_dir_all(&root).unwrap();
        assert_ne!(before, after);
    }
}
