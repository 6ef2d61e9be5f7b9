//! Man pages and shell completions generated from a binary's own clap definition, so they
//! cannot drift from `--help`.
//!
//! Each binary (mfad, mfac, mfa) calls [`intercept`] first thing in `main`: run as
//! `BIN --generate-docs OUTDIR`, it writes
//!
//! - `OUTDIR/man/BIN.SECTION`, and `OUTDIR/man/BIN-SUB[-SUB...].SECTION` for every visible
//!   subcommand (clap_mangen; the parent page lists its subcommands),
//! - `OUTDIR/completions/bash/BIN`, `OUTDIR/completions/zsh/_BIN`,
//!   `OUTDIR/completions/fish/BIN.fish` (clap_complete),
//!
//! and exits. The flag is hidden: it is not part of the clap definition, so it shows neither in
//! `--help` nor in the pages and completions it writes. `scripts/gen-docs.sh` drives it.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Command, CommandFactory};
use clap_complete::aot::{Shell, generate as complete};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, roman};
use mfa_core::{Clock, SystemClock, Timestamp};

/// The hidden flag, only recognised as the first argument.
pub const FLAG: &str = "--generate-docs";

/// The pages of the mfa programs, for SEE ALSO.
const FAMILY: &[&str] = &["mfad(8)", "mfac(8)", "mfa(1)", "pam_mfa(8)"];

/// When the command line is `BIN --generate-docs OUTDIR`, writes BIN's man pages (in
/// `section`) and completions under `OUTDIR` and returns the exit code; otherwise `None`, and
/// `main` goes on as usual.
pub fn intercept<A: CommandFactory>(section: &str) -> Option<ExitCode> {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_none_or(|a| a != FLAG) {
        return None;
    }
    let cmd = A::command();
    let name = cmd.get_name().to_owned();
    let [_, out] = args.as_slice() else {
        eprintln!("usage: {name} {FLAG} OUTDIR");
        return Some(ExitCode::from(2));
    };
    Some(match generate(cmd, section, Path::new(out)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {FLAG}: {e:#}");
            ExitCode::FAILURE
        }
    })
}

/// Writes the man pages and completions of `cmd` under `out` (see the crate docs for the
/// layout) and returns the paths written.
pub fn generate(cmd: Command, section: &str, out: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = man_pages(cmd.clone(), section, &out.join("man"))?;
    written.extend(completions(cmd, &out.join("completions"))?);
    Ok(written)
}

/// One page per command and visible subcommand, each naming its subcommands' pages.
fn man_pages(cmd: Command, section: &str, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    create_dir(dir)?;
    // No `help` subcommand: it would get a page of its own and a line in every list.
    let mut cmd = cmd.disable_help_subcommand(true);
    // Gives every subcommand its display name (`mfac-client-add`): the page's name and title.
    cmd.build();
    let version = cmd.get_version().unwrap_or_default().to_owned();
    let source = format!("mfa {version}");
    let date = page_date(
        std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
        &SystemClock,
    );
    let mut written = Vec::new();
    let mut stack = vec![(cmd, None::<String>)];
    while let Some((cmd, parent)) = stack.pop() {
        let name = display_name(&cmd);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            stack.push((sub.clone(), Some(format!("{name}({section})"))));
        }
        let man = Man::new(cmd)
            .title(name.to_uppercase())
            .section(section)
            .date(date.as_str())
            .source(source.as_str())
            .manual("mfa manual");
        let path = dir.join(man.get_filename());
        let mut page = Vec::new();
        man.render(&mut page)
            .with_context(|| format!("cannot render {}", path.display()))?;
        page.extend(see_also(&name, section, parent.as_deref()).into_bytes());
        write(&path, &page)?;
        written.push(path);
    }
    Ok(written)
}

/// The date in the pages' footers (YYYY-MM-DD, UTC): $SOURCE_DATE_EPOCH's when it is set (so a
/// package build is reproducible), else today's. Without a date, `.TH`'s later fields shift.
fn page_date(source_date_epoch: Option<&str>, clock: &dyn Clock) -> String {
    let at = source_date_epoch
        .and_then(|s| s.trim().parse::<i64>().ok())
        .map_or_else(|| clock.now(), Timestamp::from_secs);
    // RFC 3339: the date is the first ten characters.
    at.to_string().chars().take(10).collect()
}

fn display_name(cmd: &Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_owned()
}

/// SEE ALSO: a subcommand's page names its parent's; a program's page the other programs'.
fn see_also(name: &str, section: &str, parent: Option<&str>) -> String {
    let own = format!("{name}({section})");
    let pages: Vec<&str> = match parent {
        Some(parent) => vec![parent],
        None => FAMILY.iter().copied().filter(|p| *p != own).collect(),
    };
    Roff::new()
        .control("SH", ["SEE ALSO"])
        .text([roman(pages.join(", "))])
        .to_roff()
}

/// bash, zsh and fish completions, named where each shell's loader looks for them.
fn completions(cmd: Command, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let name = cmd.get_name().to_owned();
    let mut written = Vec::new();
    for (shell, file) in [
        (Shell::Bash, name.clone()),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let shell_dir = dir.join(shell.to_string());
        create_dir(&shell_dir)?;
        let mut script = Vec::new();
        complete(shell, &mut cmd.clone(), name.as_str(), &mut script);
        let path = shell_dir.join(file);
        write(&path, &script)?;
        written.push(path);
    }
    Ok(written)
}

fn create_dir(dir: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn toy() -> Command {
        Command::new("toy")
            .version("1.2.3")
            .about("A toy.")
            .arg(clap::Arg::new("config").long("config").global(true))
            .subcommand(
                Command::new("user")
                    .about("Users.")
                    .subcommand(Command::new("add").about("Adds one.")),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn writes_a_page_per_visible_command_and_three_completions() {
        let dir = tempfile::tempdir().unwrap();
        let mut written: Vec<String> = generate(toy(), "8", dir.path())
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
            .collect();
        written.sort();
        assert_eq!(
            written,
            [
                "completions/bash/toy",
                "completions/fish/toy.fish",
                "completions/zsh/_toy",
                "man/toy-user-add.8",
                "man/toy-user.8",
                "man/toy.8",
            ]
        );
        let top = fs::read_to_string(dir.path().join("man/toy.8")).unwrap();
        assert!(top.starts_with(".ie"), "{top}");
        // A date between the section and the source: `.TH`'s fields do not shift.
        let th = top.lines().find(|l| l.starts_with(".TH ")).unwrap();
        let date = th
            .strip_prefix(".TH TOY 8 ")
            .and_then(|rest| rest.strip_suffix(" \"mfa 1.2.3\" \"mfa manual\""))
            .unwrap_or_else(|| panic!("{th}"));
        assert_eq!(date.replace("\\-", "-").len(), "2026-12-03".len(), "{th}");
        assert!(top.contains("toy\\-user(8)"), "{top}");
        assert!(
            !top.contains("secret") && !top.contains("toy\\-help"),
            "{top}"
        );
        assert!(top.contains(".SH \"SEE ALSO\"\nmfad(8), mfac(8), mfa(1), pam_mfa(8)"));
        let add = fs::read_to_string(dir.path().join("man/toy-user-add.8")).unwrap();
        assert!(add.contains(".SH \"SEE ALSO\"\ntoy\\-user(8)"), "{add}");
        let bash = fs::read_to_string(dir.path().join("completions/bash/toy")).unwrap();
        assert!(bash.contains("complete -F _toy"), "{bash}");
    }

    #[test]
    fn the_date_comes_from_source_date_epoch_else_the_clock() {
        let clock = mfa_core::FixedClock::at(Timestamp::from_secs(1_796_256_000));
        assert_eq!(page_date(None, &clock), "2026-12-03");
        assert_eq!(page_date(Some("0"), &clock), "1970-01-01");
        assert_eq!(page_date(Some("951782400"), &clock), "2000-02-29");
        assert_eq!(page_date(Some("1709251199\n"), &clock), "2024-02-29");
        assert_eq!(page_date(Some("junk"), &clock), "2026-12-03");
    }

    #[test]
    fn a_program_page_leaves_itself_out_of_see_also() {
        let text = see_also("mfac", "8", None);
        assert!(text.contains("mfad(8), mfa(1), pam_mfa(8)"), "{text}");
        assert!(!text.contains("mfac(8)"), "{text}");
    }
}
