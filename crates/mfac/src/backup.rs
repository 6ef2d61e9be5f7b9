//! `mfac backup PATH`: a consistent copy of the SQLite database, taken while mfad runs. The
//! copy is useless without the key file that seals its seeds, so the answer names it.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use crate::context::Context;
use crate::output::print_json;

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the copy: a new file (an existing one is never overwritten).
    pub path: PathBuf,
}

#[derive(Serialize)]
struct BackupView {
    path: String,
    bytes: u64,
    /// The key file the copy needs: back it up too, and keep it apart from the copy.
    key_file: String,
}

pub async fn run(ctx: &Context, args: BackupArgs) -> anyhow::Result<()> {
    let bytes = ctx
        .store
        .backup_into(&args.path)
        .await
        .context("no backup written")?;
    let view = BackupView {
        path: args.path.display().to_string(),
        bytes,
        key_file: ctx.config.key_file().display().to_string(),
    };
    if ctx.json {
        return print_json(&view);
    }
    println!(
        "Backed up the database to {} ({} bytes).",
        view.path, view.bytes
    );
    println!(
        "The TOTP seeds in it are sealed with the key file {}: without that file they cannot be \
         read. Back it up too, and keep it apart from the copy.",
        view.key_file
    );
    println!(
        "To restore: stop mfad, remove the database's -wal and -shm files, put the copy in its \
         place (owner only, mode 0600), and start mfad with the same key file."
    );
    Ok(())
}
