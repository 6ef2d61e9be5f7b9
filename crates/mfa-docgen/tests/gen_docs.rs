//! `scripts/gen-docs.sh OUTDIR` on the workspace's built mfad, mfac and mfa (what the Debian
//! package runs): the layout it promises, man pages that groff and man render without a
//! warning and that list every subcommand `--help` lists, and completions that bash, zsh and
//! fish accept and that complete those subcommands.
//!
//! groff, man and lexgrog (Debian: groff-base, man-db) and bash are required; zsh and fish are
//! checked when installed (scripts/test.sh installs them), else the test says it skipped them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The programs and the manual section of their pages.
const PROGRAMS: &[(&str, &str)] = &[("mfad", "8"), ("mfac", "8"), ("mfa", "1")];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_script(out: &Path) -> Output {
    for (name, _) in PROGRAMS {
        mfa_testkit::artefact(name);
    }
    Command::new(repo().join("scripts/gen-docs.sh"))
        .arg(out)
        .env("MFA_BIN_DIR", mfa_testkit::target_dir())
        .output()
        .unwrap()
}

/// A fresh OUTDIR with everything the script writes.
fn generated() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = run_script(dir.path());
    assert!(out.status.success(), "{}", text(&out));
    dir
}

fn text(out: &Output) -> String {
    format!(
        "{}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The subcommands `BIN [PATH...] --help` lists under "Commands:", `help` aside.
fn subcommands(bin: &str, path: &[&str]) -> Vec<String> {
    let out = Command::new(mfa_testkit::artefact(bin))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// Every (program, subcommand path) whose subcommands a shell should complete: the program
/// itself and each of its subcommands that has subcommands of its own.
fn command_paths(bin: &str) -> Vec<(Vec<String>, Vec<String>)> {
    let top = subcommands(bin, &[]);
    assert!(!top.is_empty(), "{bin} --help lists no subcommands");
    let mut paths = vec![(vec![], top.clone())];
    for sub in &top {
        let nested = subcommands(bin, &[sub]);
        if !nested.is_empty() {
            paths.push((vec![sub.clone()], nested));
        }
    }
    paths
}

fn installed(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

fn require(tool: &str, package: &str) {
    assert!(
        installed(tool),
        "{tool} is not installed: apt-get install {package} (scripts/test.sh does)"
    );
}

/// `None` (and a line saying so) when `shell` is not installed.
fn optional_shell(shell: &str) -> Option<()> {
    if installed(shell) {
        Some(())
    } else {
        eprintln!(
            "SKIPPED: {shell} is not installed, so its completions were not checked (apt-get install {shell}; scripts/test.sh does)"
        );
        None
    }
}

fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                found.insert(rel.display().to_string());
            }
        }
    }
    found
}

#[test]
fn the_script_writes_what_its_contract_says() {
    let dir = generated();
    let files = files_under(dir.path());
    let mut expected = BTreeSet::from([".mfa-gen-docs".to_owned(), "man/pam_mfa.8".to_owned()]);
    for (name, section) in PROGRAMS {
        expected.insert(format!("man/{name}.{section}"));
        expected.insert(format!("completions/bash/{name}"));
        expected.insert(format!("completions/zsh/_{name}"));
        expected.insert(format!("completions/fish/{name}.fish"));
        for sub in subcommands(name, &[]) {
            expected.insert(format!("man/{name}-{sub}.{section}"));
        }
    }
    let missing: Vec<_> = expected.difference(&files).collect();
    assert!(
        missing.is_empty(),
        "missing: {missing:?}\nwritten: {files:?}"
    );
    // Nothing else but more subcommand pages, in the program's section.
    for f in files.difference(&expected) {
        let ok = PROGRAMS.iter().any(|(name, section)| {
            f.starts_with(&format!("man/{name}-")) && f.ends_with(&format!(".{section}"))
        });
        assert!(ok, "unexpected file {f}");
    }
    assert!(files.contains("man/mfac-client-add.8"), "{files:?}");
    let pam = std::fs::read(dir.path().join("man/pam_mfa.8")).unwrap();
    assert_eq!(
        pam,
        std::fs::read(repo().join("docs/man/pam_mfa.8")).unwrap()
    );

    // Again into the same directory: replaced, and a page of a removed subcommand would go.
    std::fs::write(dir.path().join("man/mfac-gone.8"), "stale").unwrap();
    let again = run_script(dir.path());
    assert!(again.status.success(), "{}", text(&again));
    assert_eq!(files_under(dir.path()), files);
}

#[test]
fn the_script_refuses_a_directory_it_did_not_write_and_wrong_usage() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("precious"), "keep").unwrap();
    let out = run_script(dir.path());
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("is not empty"), "{}", text(&out));
    assert_eq!(
        files_under(dir.path()),
        BTreeSet::from(["precious".to_owned()])
    );

    let usage = Command::new(repo().join("scripts/gen-docs.sh"))
        .output()
        .unwrap();
    assert_eq!(usage.status.code(), Some(2), "{}", text(&usage));

    // The hidden flag takes exactly one directory.
    let bad = Command::new(mfa_testkit::artefact("mfad"))
        .arg("--generate-docs")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(text(&bad).contains("usage: mfad --generate-docs OUTDIR"));
}

#[test]
fn every_man_page_renders_without_warnings_and_lists_the_subcommands() {
    require("groff", "groff-base");
    require("man", "man-db");
    require("lexgrog", "man-db");
    let dir = generated();
    let man = dir.path().join("man");
    let pages = files_under(&man);
    assert!(pages.len() > PROGRAMS.len() + 1, "{pages:?}");
    for page in &pages {
        let path = man.join(page);
        let groff = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            groff.status.success() && groff.stderr.is_empty(),
            "groff on {page}: {}",
            text(&groff)
        );
        // What mandb reads for whatis and apropos: the NAME section.
        let whatis = Command::new("lexgrog").arg(&path).output().unwrap();
        assert!(whatis.status.success(), "lexgrog {page}: {}", text(&whatis));
    }
    for (name, section) in PROGRAMS {
        let rendered = man_l(&man.join(format!("{name}.{section}")));
        for heading in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SEE ALSO"] {
            assert!(
                rendered.contains(heading),
                "{name}: no {heading}\n{rendered}"
            );
        }
        assert!(rendered.contains("SUBCOMMANDS"), "{name}\n{rendered}");
        for sub in subcommands(name, &[]) {
            let entry = format!("{name}-{sub}({section})");
            assert!(rendered.contains(&entry), "{name}: no {entry}\n{rendered}");
        }
    }
    let pam = man_l(&man.join("pam_mfa.8"));
    for heading in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "FILES",
        "EXAMPLES",
        "SEE ALSO",
    ] {
        assert!(pam.contains(heading), "pam_mfa.8: no {heading}\n{pam}");
    }
}

/// `man -l PAGE` as plain text (man pipes through col -b when stdout is no terminal), with
/// groff's warnings on: there must be none.
fn man_l(page: &Path) -> String {
    let out = Command::new("man")
        .args(["--warnings", "-l"])
        .arg(page)
        .env("MANWIDTH", "200")
        .env("MANPAGER", "cat")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "man -l {}: {}",
        page.display(),
        text(&out)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .replace(['\u{2212}', '\u{2010}'], "-")
}

#[test]
fn bash_accepts_the_completions_and_completes_every_subcommand() {
    require("bash", "bash");
    let dir = generated();
    for (name, _) in PROGRAMS {
        let file = dir.path().join("completions/bash").join(name);
        let syntax = Command::new("bash").arg("-n").arg(&file).output().unwrap();
        assert!(syntax.status.success(), "bash -n {name}: {}", text(&syntax));
        for (path, expected) in command_paths(name) {
            // Sourced as bash-completion does, then asked for `NAME [PATH...] <TAB>`.
            let script = r#"
                set -e
                source "$1"; name=$2; shift 2
                spec=$(complete -p "$name")
                fn=$(sed -n 's/.* -F \([^ ]*\) .*/\1/p' <<<"$spec")
                [ -n "$fn" ] || { echo "no -F function in: $spec" >&2; exit 1; }
                COMP_WORDS=("$name" "$@" "")
                COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
                COMP_LINE="${COMP_WORDS[*]}"
                COMP_POINT=${#COMP_LINE}
                prev=${COMP_WORDS[COMP_CWORD-1]}
                "$fn" "$name" "" "$prev"
                printf '%s\n' "${COMPREPLY[@]}"
            "#;
            let out = Command::new("bash")
                .args(["--norc", "--noprofile", "-c", script, "bash"])
                .arg(&file)
                .arg(name)
                .args(&path)
                .output()
                .unwrap();
            assert!(out.status.success(), "bash {name} {path:?}: {}", text(&out));
            let offered: BTreeSet<String> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_owned)
                .collect();
            for sub in &expected {
                assert!(
                    offered.contains(sub),
                    "bash: `{name} {} ` does not offer {sub}: {offered:?}",
                    path.join(" ")
                );
            }
        }
    }
}

#[test]
fn zsh_accepts_the_completions_and_registers_them() {
    let Some(()) = optional_shell("zsh") else {
        return;
    };
    let dir = generated();
    let home = tempfile::tempdir().unwrap();
    for (name, _) in PROGRAMS {
        let file = dir.path().join("completions/zsh").join(format!("_{name}"));
        let syntax = Command::new("zsh").arg("-n").arg(&file).output().unwrap();
        assert!(syntax.status.success(), "zsh -n _{name}: {}", text(&syntax));
        // Sourced after compinit, the file registers its function for the command.
        let out = Command::new("zsh")
            .args([
                "-f",
                "-c",
                r#"autoload -Uz compinit && compinit -u -D && source "$1" && print -r -- "$_comps[$2]""#,
                "zsh",
            ])
            .arg(&file)
            .arg(name)
            .env("HOME", home.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "zsh _{name}: {}", text(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("_{name}"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn fish_accepts_the_completions_and_completes_every_subcommand() {
    let Some(()) = optional_shell("fish") else {
        return;
    };
    let dir = generated();
    let home = tempfile::tempdir().unwrap();
    for (name, _) in PROGRAMS {
        let file = dir
            .path()
            .join("completions/fish")
            .join(format!("{name}.fish"));
        let syntax = Command::new("fish")
            .arg("--no-execute")
            .arg(&file)
            .output()
            .unwrap();
        assert!(syntax.status.success(), "fish -n {name}: {}", text(&syntax));
        for (path, expected) in command_paths(name) {
            let line = format!(
                "{name} {}",
                path.iter().map(|p| format!("{p} ")).collect::<String>()
            );
            let out = Command::new("fish")
                .args([
                    "--no-config",
                    "--private",
                    "-c",
                    "source $argv[1]; complete -C $argv[2]",
                ])
                .arg(&file)
                .arg(&line)
                .env("HOME", home.path())
                .env("XDG_CONFIG_HOME", home.path().join("config"))
                .env("XDG_DATA_HOME", home.path().join("data"))
                .env("XDG_CACHE_HOME", home.path().join("cache"))
                .output()
                .unwrap();
            assert!(out.status.success(), "fish `{line}`: {}", text(&out));
            let offered: BTreeSet<String> = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|l| l.split('\t').next())
                .map(str::to_owned)
                .collect();
            for sub in &expected {
                assert!(
                    offered.contains(sub),
                    "fish: `{line}` does not offer {sub}: {offered:?}"
                );
            }
        }
    }
}
