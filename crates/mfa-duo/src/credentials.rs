//! Integration credentials: the ikey (public, names the integration) and the skey (the HMAC key).

use std::fmt;

use zeroize::Zeroizing;

const UPPER_ALNUM: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Length of an ikey (Duo's: `DI` and 18 uppercase letters or digits).
pub const IKEY_LEN: usize = 20;
/// How the ikeys Duo (and [`Ikey::generate`]) make start.
pub const IKEY_PREFIX: &str = "DI";
/// Length of an skey (Duo's: 40 letters or digits).
pub const SKEY_LEN: usize = 40;

/// Characters drawn uniformly from `alphabet` (rejection sampling over random bytes).
fn random_chars(alphabet: &[u8], n: usize) -> Result<Zeroizing<String>, getrandom::Error> {
    // The largest multiple of the alphabet's size that fits a byte: bytes above it are redrawn.
    let limit = 256 - 256 % alphabet.len();
    let mut out = Zeroizing::new(String::with_capacity(n));
    let mut buf = Zeroizing::new([0u8; 64]);
    while out.len() < n {
        getrandom::fill(&mut buf[..])?;
        for &b in buf.iter() {
            if usize::from(b) < limit && out.len() < n {
                out.push(char::from(alphabet[usize::from(b) % alphabet.len()]));
            }
        }
    }
    Ok(out)
}

/// An integration key: `DI` followed by 18 uppercase letters or digits.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Ikey(String);

impl Ikey {
    /// A fresh random ikey.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let tail = random_chars(UPPER_ALNUM, IKEY_LEN - IKEY_PREFIX.len())?;
        Ok(Self(format!("{IKEY_PREFIX}{}", tail.as_str())))
    }

    /// Accepts a stored ikey: 20 uppercase ASCII letters or digits.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == IKEY_LEN && s.bytes().all(|b| UPPER_ALNUM.contains(&b)))
            .then(|| Self(s.to_owned()))
    }

    /// The ikey text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Ikey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret key: 40 ASCII letters or digits, zeroed when dropped, redacted in `Debug`,
/// compared in constant time.
#[derive(Clone)]
pub struct Skey(Zeroizing<String>);

impl PartialEq for Skey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq as _;
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Skey {}

impl Skey {
    /// A fresh random skey (about 238 bits).
    pub fn generate() -> Result<Self, getrandom::Error> {
        Ok(Self(random_chars(ALNUM, SKEY_LEN)?))
    }

    /// Wraps a stored skey (after unsealing): 40 ASCII letters or digits.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == SKEY_LEN && s.bytes().all(|b| b.is_ascii_alphanumeric()))
            .then(|| Self(Zeroizing::new(s.to_owned())))
    }

    /// The secret, to seal it or to print it once at creation.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The HMAC key bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Skey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Skey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_have_duo_shape() {
        let ikey = Ikey::generate().unwrap();
        assert_eq!(ikey.as_str().len(), IKEY_LEN);
        assert!(ikey.as_str().starts_with("DI"));
        assert_eq!(Ikey::parse(ikey.as_str()), Some(ikey.clone()));
        let skey = Skey::generate().unwrap();
        assert_eq!(skey.expose().len(), SKEY_LEN);
        assert!(skey.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(Skey::parse(skey.expose()), Some(skey.clone()));
        assert_ne!(Skey::generate().unwrap(), skey);
        assert_ne!(Ikey::generate().unwrap(), ikey);
    }

    #[test]
    fn skey_debug_is_redacted() {
        let skey = Skey::parse("gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT").unwrap();
        let shown = format!("{skey:?}");
        assert_eq!(shown, "Skey(<redacted>)");
        assert!(!shown.contains("gtdf"));
    }

    #[test]
    fn parse_refuses_wrong_shapes() {
        assert!(Ikey::parse("DIshort").is_none());
        assert!(Ikey::parse("DIabcdefghijklmnopqr").is_none());
        assert!(Skey::parse(&"a".repeat(39)).is_none());
        assert!(Skey::parse(&format!("{}-", "a".repeat(39))).is_none());
    }
}
