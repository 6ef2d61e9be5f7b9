//! Module arguments, as written after the module path in /etc/pam.d/SERVICE.

use std::path::PathBuf;

use crate::config::FailMode;

pub const DEFAULT_CONFIG: &str = "/etc/mfa/pam.toml";

/// Every argument [`parse`] accepts, as its error message and pam_mfa(8) (docs/man/pam_mfa.8)
/// write them.
pub const KNOWN: &[&str] = &[
    "config=PATH",
    "failmode=secure|safe",
    "push_only",
    "debug",
    "syslog_socket=PATH",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `config=PATH`: the module's config file.
    pub config: PathBuf,
    /// `failmode=secure|safe`: overrides the config file's.
    pub failmode: Option<FailMode>,
    /// `push_only`: never prompt (mail logins: Dovecot, Postfix); a push without number matching.
    pub push_only: bool,
    /// `debug`: also write log lines to stderr, and debug lines to syslog.
    pub debug: bool,
    /// `syslog_socket=PATH`: the syslog socket to write to instead of /dev/log (chroots, tests).
    pub syslog_socket: Option<PathBuf>,
}

/// Parses the arguments; an unknown one is an error (a typo must not weaken anything).
pub fn parse<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<Args, String> {
    let mut parsed = Args {
        config: PathBuf::from(DEFAULT_CONFIG),
        failmode: None,
        push_only: false,
        debug: false,
        syslog_socket: None,
    };
    for arg in args {
        match arg.split_once('=') {
            Some(("config", path)) if !path.is_empty() => parsed.config = PathBuf::from(path),
            Some(("failmode", mode)) => parsed.failmode = Some(mode.parse()?),
            Some(("syslog_socket", path)) if !path.is_empty() => {
                parsed.syslog_socket = Some(PathBuf::from(path));
            }
            None if arg == "push_only" => parsed.push_only = true,
            None if arg == "debug" => parsed.debug = true,
            _ => {
                return Err(format!(
                    "unknown module argument {arg:?} (known: {})",
                    KNOWN.join(", ")
                ));
            }
        }
    }
    Ok(parsed)
}

/// Where to log when the arguments do not parse: the `syslog_socket=` among them, if any, so
/// the refusal is logged where the admin looks.
pub fn syslog_socket<'a>(args: impl IntoIterator<Item = &'a str>) -> Option<PathBuf> {
    args.into_iter().find_map(|arg| match arg.split_once('=') {
        Some(("syslog_socket", path)) if !path.is_empty() => Some(PathBuf::from(path)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_arguments() {
        let a = parse([
            "config=/tmp/p.toml",
            "failmode=safe",
            "push_only",
            "debug",
            "syslog_socket=/run/log",
        ])
        .unwrap();
        assert_eq!(a.config, PathBuf::from("/tmp/p.toml"));
        assert_eq!(a.syslog_socket, Some(PathBuf::from("/run/log")));
        assert_eq!(a.failmode, Some(FailMode::Safe));
        assert!(a.push_only && a.debug);
        let d = parse([]).unwrap();
        assert_eq!(d.config, PathBuf::from(DEFAULT_CONFIG));
        assert_eq!(d.failmode, None);
    }

    #[test]
    fn refuses_unknown_or_malformed_arguments() {
        for bad in [
            "failmode=open",
            "pushonly",
            "config=",
            "nullok",
            "syslog_socket=",
        ] {
            assert!(parse([bad]).is_err(), "{bad}");
        }
        // The log still goes where the (malformed) line asks.
        assert_eq!(
            syslog_socket(["nullok", "syslog_socket=/run/log"]),
            Some(PathBuf::from("/run/log"))
        );
    }

    /// The arguments pam_mfa(8) documents under OPTIONS, as `.TP` items: `.BI config= PATH`
    /// is `config=PATH`.
    fn documented() -> Vec<String> {
        let page = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/man/pam_mfa.8"),
        )
        .unwrap();
        let options: Vec<&str> = page
            .lines()
            .skip_while(|l| *l != ".SH OPTIONS")
            .skip(1)
            .take_while(|l| !l.starts_with(".SH "))
            .collect();
        options
            .windows(2)
            .filter(|w| w[0] == ".TP")
            .map(|w| {
                let item = w[1].split_once(' ').map_or("", |(_, rest)| rest);
                item.replace(' ', "")
            })
            .collect()
    }

    #[test]
    fn the_man_page_documents_exactly_the_known_arguments() {
        let documented = documented();
        assert_eq!(
            documented, KNOWN,
            "docs/man/pam_mfa.8 OPTIONS vs args::KNOWN"
        );
        // ... and each is one parse accepts, in each of its forms.
        for arg in KNOWN {
            let forms: Vec<String> = match arg.split_once('=') {
                Some((key, "PATH")) => vec![format!("{key}=/etc/x")],
                Some((key, values)) => values.split('|').map(|v| format!("{key}={v}")).collect(),
                None => vec![(*arg).to_owned()],
            };
            for form in forms {
                assert!(parse([form.as_str()]).is_ok(), "{form}");
            }
        }
        let err = parse(["nullok"]).unwrap_err();
        assert!(err.contains(&KNOWN.join(", ")), "{err}");
    }
}
