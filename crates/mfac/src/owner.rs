//! mfac run by root on an installation that belongs to another user (the Debian package's
//! `mfa`): the files it would create there (the key on a first start, the database, its
//! `-wal` and lock files) would be root's, and mfad, running as that user, could not open them.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use mfa_config::Config;

/// Refuses root on a key directory another user owns; anyone else is left to the file modes.
pub fn check(config: &Config) -> anyhow::Result<()> {
    let key_file = config.key_file();
    let dir = key_file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (Some(me), Ok(meta)) = (effective_uid(), std::fs::metadata(dir)) else {
        return Ok(());
    };
    if me != 0 || meta.uid() == 0 {
        return Ok(());
    }
    let owner = user_name(meta.uid()).unwrap_or_else(|| meta.uid().to_string());
    anyhow::bail!(
        "{} belongs to the user {owner}, not root: run mfac as that user (sudo -u {owner} mfac \
         ...), or the files it creates there would be root's and mfad could not open them",
        dir.display()
    )
}

/// The effective uid: the owner of /proc/self (no unsafe code for geteuid).
fn effective_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}
