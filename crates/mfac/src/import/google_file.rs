//! A `~/.google_authenticator` file, as Debian's `google-authenticator` writes it and
//! `pam_google_authenticator` reads it: the base32 secret on the first line, then option
//! lines starting with `"` (` RATE_LIMIT n m [times...]`, ` WINDOW_SIZE w`,
//! ` DISALLOW_REUSE [steps...]`, ` TOTP_AUTH`, ` HOTP_COUNTER c`, ` STEP_SIZE s`), then the
//! 8-digit scratch codes, one per line. Pure: the import decides what to do with it.

use mfa_otp::Secret;

/// Scratch codes are eight digits.
const SCRATCH_DIGITS: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counting {
    /// Time-based, with this step in seconds (30 unless ` STEP_SIZE` says otherwise).
    Totp { step: u32 },
    /// Counter-based (` HOTP_COUNTER`), at this counter.
    Hotp { counter: u64 },
}

/// What the file says. The secret is never shown (not even in an error).
#[derive(Debug)]
pub struct GoogleFile {
    pub secret: Secret,
    pub counting: Counting,
    /// ` WINDOW_SIZE`: how many codes around now are accepted (default 3).
    pub window: Option<u32>,
    /// ` RATE_LIMIT n m`: at most n logins every m seconds.
    pub rate_limit: Option<(u32, u32)>,
    pub disallow_reuse: bool,
    pub scratch_codes: Vec<String>,
    /// Option lines this import does not know, by name.
    pub unknown: Vec<String>,
}

/// Why a file cannot be read; names the line, never its secret.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GoogleFileError {
    #[error("the file is empty: the first line must be the base32 secret")]
    Empty,
    #[error("line 1 is not a base32 secret (its value is not shown)")]
    Secret,
    #[error("line {line}: {option} needs {what}")]
    Option {
        line: usize,
        option: String,
        what: &'static str,
    },
    #[error("line {0}: neither an option (\") nor an 8-digit scratch code")]
    Line(usize),
}

pub fn parse(text: &str) -> Result<GoogleFile, GoogleFileError> {
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim_end()));
    let (_, first) = lines.next().ok_or(GoogleFileError::Empty)?;
    if first.trim().is_empty() {
        return Err(GoogleFileError::Empty);
    }
    let secret = Secret::from_base32(first.trim()).map_err(|_| GoogleFileError::Secret)?;
    let mut file = GoogleFile {
        secret,
        counting: Counting::Totp { step: 30 },
        window: None,
        rate_limit: None,
        disallow_reuse: false,
        scratch_codes: Vec::new(),
        unknown: Vec::new(),
    };
    let mut step = None;
    for (n, line) in lines {
        if let Some(option) = line.strip_prefix('"') {
            file.option(n, option, &mut step)?;
        } else if line.len() == SCRATCH_DIGITS && line.bytes().all(|b| b.is_ascii_digit()) {
            file.scratch_codes.push(line.to_owned());
        } else if !line.trim().is_empty() {
            return Err(GoogleFileError::Line(n));
        }
    }
    if let (Counting::Totp { step: s }, Some(given)) = (&mut file.counting, step) {
        *s = given;
    }
    Ok(file)
}

impl GoogleFile {
    fn option(
        &mut self,
        line: usize,
        text: &str,
        step: &mut Option<u32>,
    ) -> Result<(), GoogleFileError> {
        let mut words = text.split_whitespace();
        let Some(name) = words.next() else {
            return Ok(()); // a bare `"`: a comment
        };
        let bad = |what| GoogleFileError::Option {
            line,
            option: name.to_owned(),
            what,
        };
        let mut number = |what| -> Result<u64, GoogleFileError> {
            words
                .next()
                .and_then(|w| w.parse().ok())
                .ok_or_else(|| bad(what))
        };
        match name {
            "TOTP_AUTH" => {}
            "DISALLOW_REUSE" => self.disallow_reuse = true,
            "HOTP_COUNTER" => {
                self.counting = Counting::Hotp {
                    counter: number("a counter")?,
                }
            }
            "STEP_SIZE" => {
                let s = number("a step in seconds (1..=3600)")?;
                *step = Some(
                    u32::try_from(s)
                        .ok()
                        .filter(|s| (1..=3600).contains(s))
                        .ok_or_else(|| bad("a step in seconds (1..=3600)"))?,
                );
            }
            "WINDOW_SIZE" => {
                let w = number("a number of codes")?;
                self.window = Some(u32::try_from(w).map_err(|_| bad("a number of codes"))?);
            }
            "RATE_LIMIT" => {
                let what = "a number of logins and seconds";
                let n = u32::try_from(number(what)?).map_err(|_| bad(what))?;
                let m = u32::try_from(number(what)?).map_err(|_| bad(what))?;
                self.rate_limit = Some((n, m));
            }
            other => self.unknown.push(other.to_owned()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `google-authenticator -t -d -f -r 3 -R 30 -w 3 -q -e 2` wrote it.
    const TOTP: &str = "IGS4SO7URK7475XXPJEXQFMFSA\n\" RATE_LIMIT 3 30 1765150000\n\" WINDOW_SIZE 3\n\" DISALLOW_REUSE 58838333\n\" TOTP_AUTH\n50820593\n39534870\n";

    #[test]
    fn every_option_of_a_time_based_file_is_read() {
        let f = parse(TOTP).unwrap();
        assert_eq!(f.counting, Counting::Totp { step: 30 });
        assert_eq!(f.window, Some(3));
        assert_eq!(f.rate_limit, Some((3, 30)));
        assert!(f.disallow_reuse);
        assert_eq!(f.scratch_codes, ["50820593", "39534870"]);
        assert!(f.unknown.is_empty());
        assert_eq!(
            f.secret.as_bytes(),
            Secret::from_base32("IGS4SO7URK7475XXPJEXQFMFSA")
                .unwrap()
                .as_bytes()
        );
    }

    #[test]
    fn counter_based_step_size_and_unknown_options() {
        let f = parse("OI5WYHPCIXIR3EWRGOARJ2JNN4\n\" WINDOW_SIZE 5\n\" HOTP_COUNTER 7\n").unwrap();
        assert_eq!(f.counting, Counting::Hotp { counter: 7 });
        let f = parse("SAPNEZD6HEOFGAQSBY6WIQYRNU\n\" STEP_SIZE 60\n\" TOTP_AUTH\n\" FUTURE 1\n")
            .unwrap();
        assert_eq!(f.counting, Counting::Totp { step: 60 });
        assert_eq!(f.unknown, ["FUTURE"]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_secret() {
        let table: [(&str, GoogleFileError); 5] = [
            ("", GoogleFileError::Empty),
            ("not base32 at all!\n", GoogleFileError::Secret),
            (
                "IGS4SO7URK7475XXPJEXQFMFSA\n\" STEP_SIZE 0\n",
                GoogleFileError::Option {
                    line: 2,
                    option: "STEP_SIZE".into(),
                    what: "a step in seconds (1..=3600)",
                },
            ),
            (
                "IGS4SO7URK7475XXPJEXQFMFSA\n\" RATE_LIMIT 3\n",
                GoogleFileError::Option {
                    line: 2,
                    option: "RATE_LIMIT".into(),
                    what: "a number of logins and seconds",
                },
            ),
            (
                "IGS4SO7URK7475XXPJEXQFMFSA\n1234567\n",
                GoogleFileError::Line(2),
            ),
        ];
        for (text, want) in table {
            let got = parse(text).unwrap_err();
            assert!(!got.to_string().contains("IGS4"), "{got}");
            assert_eq!(got, want, "{text:?}");
        }
    }
}
