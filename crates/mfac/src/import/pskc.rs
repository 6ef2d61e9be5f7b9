//! PSKC (RFC 6030) key containers, as token vendors ship hardware and HOTP/TOTP tokens: each
//! `KeyPackage` holds one key — its algorithm (`...:pskc:hotp` or `...:pskc:totp`), code
//! length, counter or time step, and the secret, in the clear (`PlainValue`, base64) or
//! encrypted with a pre-shared key (`EncryptedValue`, AES-CBC with the IV in front, with an
//! HMAC over it whose key is itself encrypted with the pre-shared key, `MACMethod`). Pure:
//! the import decides where the keys go.

use aes::cipher::{BlockModeDecrypt, KeyIvInit, block_padding::NoPadding};
use hmac::{Hmac, KeyInit, Mac};
use mfa_otp::{Digits, Secret};
use roxmltree::{Document, Node};

const HOTP: &str = "urn:ietf:params:xml:ns:keyprov:pskc:hotp";
const TOTP: &str = "urn:ietf:params:xml:ns:keyprov:pskc:totp";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    Hotp { counter: u64 },
    Totp { period: u32 },
}

/// One key of the container. Its secret is never shown.
#[derive(Debug)]
pub struct PskcKey {
    /// The key's `Id` attribute.
    pub id: Option<String>,
    /// `DeviceInfo/SerialNo`: what is printed on the token.
    pub serial: Option<String>,
    pub issuer: Option<String>,
    pub counting: Counting,
    pub digits: Digits,
    pub secret: Secret,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PskcError {
    #[error("not XML: {0}")]
    Xml(String),
    #[error("not a PSKC KeyContainer (RFC 6030)")]
    NotPskc,
    #[error("key {key}: {what}")]
    Key { key: String, what: String },
    #[error("the secrets are encrypted with a pre-shared key{name}: give it with --key HEX")]
    KeyNeeded { name: String },
    #[error("--key is given, but the file's secrets are not encrypted")]
    KeyNotNeeded,
    #[error("the pre-shared key does not open the file: the MAC does not match (wrong --key?)")]
    WrongKey,
    #[error("{0}")]
    Unsupported(String),
}

/// The keys in `xml`, their secrets opened with `psk` when the file is encrypted.
pub fn parse(xml: &str, psk: Option<&[u8]>) -> Result<Vec<PskcKey>, PskcError> {
    let doc = Document::parse(xml).map_err(|e| PskcError::Xml(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "KeyContainer" {
        return Err(PskcError::NotPskc);
    }
    let crypto = Crypto::of(root, psk)?;
    let mut keys = Vec::new();
    for package in children(root, "KeyPackage") {
        let serial = child(package, "DeviceInfo")
            .and_then(|d| child(d, "SerialNo"))
            .map(text);
        for key in children(package, "Key") {
            keys.push(read_key(key, serial.clone(), &crypto)?);
        }
    }
    Ok(keys)
}

fn children<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> impl Iterator<Item = Node<'a, 'i>> {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &'static str) -> Option<Node<'a, 'i>> {
    children(node, name).next()
}

fn text(node: Node<'_, '_>) -> String {
    node.text().unwrap_or_default().trim().to_owned()
}

fn base64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    data_encoding::BASE64.decode(clean.as_bytes()).ok()
}

fn read_key(
    key: Node<'_, '_>,
    serial: Option<String>,
    crypto: &Crypto,
) -> Result<PskcKey, PskcError> {
    let id = key.attribute("Id").map(str::to_owned);
    let name = id
        .clone()
        .or_else(|| serial.clone())
        .unwrap_or_else(|| "(no Id)".into());
    let bad = |what: &str| PskcError::Key {
        key: name.clone(),
        what: what.to_owned(),
    };
    let data = child(key, "Data").ok_or_else(|| bad("no Data"))?;
    let number = |element: &'static str| -> Result<Option<u64>, PskcError> {
        child(data, element)
            .and_then(|e| child(e, "PlainValue"))
            .map(|v| {
                text(v)
                    .parse()
                    .map_err(|_| bad(&format!("{element} is not a number")))
            })
            .transpose()
    };
    let counting = match key.attribute("Algorithm") {
        Some(HOTP) => Counting::Hotp {
            counter: number("Counter")?.unwrap_or(0),
        },
        Some(TOTP) => {
            if number("Time")?.is_some_and(|t0| t0 != 0) {
                return Err(bad("a Time (T0) other than 0 is not supported"));
            }
            let period = number("TimeInterval")?.unwrap_or(30);
            Counting::Totp {
                period: u32::try_from(period)
                    .ok()
                    .filter(|p| (1..=3600).contains(p))
                    .ok_or_else(|| bad("TimeInterval must be 1..=3600 seconds"))?,
            }
        }
        other => {
            return Err(bad(&format!(
                "algorithm {} is not HOTP or TOTP",
                other.unwrap_or("(none)")
            )));
        }
    };
    let format = child(key, "AlgorithmParameters").and_then(|p| child(p, "ResponseFormat"));
    if format
        .and_then(|f| f.attribute("Encoding"))
        .is_some_and(|e| e != "DECIMAL")
    {
        return Err(bad("only DECIMAL codes are supported"));
    }
    let length = format.and_then(|f| f.attribute("Length")).unwrap_or("6");
    let digits = length
        .parse()
        .ok()
        .and_then(|n| Digits::new(n).ok())
        .ok_or_else(|| bad("ResponseFormat Length must be 6, 7 or 8"))?;
    let secret = child(data, "Secret").ok_or_else(|| bad("no Secret"))?;
    let bytes = crypto.open(secret).map_err(|e| match e {
        Opened::Bad(what) => bad(&what),
        Opened::Err(e) => e,
    })?;
    let secret = Secret::from_bytes(&bytes).map_err(|e| bad(&e.to_string()))?;
    Ok(PskcKey {
        id,
        serial,
        issuer: child(key, "Issuer").map(text),
        counting,
        digits,
        secret,
    })
}

/// Why a secret did not open.
enum Opened {
    Bad(String),
    Err(PskcError),
}

/// The container's encryption: none, or a pre-shared key and the MAC key it opened.
enum Crypto {
    Plain,
    PreShared { key: Vec<u8>, mac: MacKey },
}

struct MacKey {
    sha256: bool,
    key: Vec<u8>,
}

impl Crypto {
    fn of(root: Node<'_, '_>, psk: Option<&[u8]>) -> Result<Self, PskcError> {
        let Some(encryption) = child(root, "EncryptionKey") else {
            return match psk {
                Some(_) => Err(PskcError::KeyNotNeeded),
                None => Ok(Crypto::Plain),
            };
        };
        if encryption
            .descendants()
            .any(|n| n.tag_name().name() == "DerivedKey")
        {
            return Err(PskcError::Unsupported(
                "password-based encryption (DerivedKey) is not supported: export the file with a pre-shared key or in the clear".into(),
            ));
        }
        let Some(psk) = psk else {
            let name = encryption
                .descendants()
                .find(|n| n.tag_name().name() == "KeyName")
                .map(|n| format!(" ({})", text(n)))
                .unwrap_or_default();
            return Err(PskcError::KeyNeeded { name });
        };
        let method = child(root, "MACMethod").ok_or_else(|| {
            PskcError::Unsupported("an encrypted file without a MACMethod is not accepted".into())
        })?;
        let sha256 = match method.attribute("Algorithm") {
            Some("http://www.w3.org/2000/09/xmldsig#hmac-sha1") => false,
            Some("http://www.w3.org/2001/04/xmldsig-more#hmac-sha256") => true,
            other => {
                return Err(PskcError::Unsupported(format!(
                    "MAC algorithm {} is not supported (hmac-sha1, hmac-sha256)",
                    other.unwrap_or("(none)")
                )));
            }
        };
        let mac_key = child(method, "MACKey").ok_or_else(|| {
            PskcError::Unsupported("a MACMethod without a MACKey is not supported".into())
        })?;
        let key = decrypt(psk, mac_key).map_err(|_| PskcError::WrongKey)?;
        Ok(Crypto::PreShared {
            key: psk.to_vec(),
            mac: MacKey { sha256, key },
        })
    }

    /// The secret's bytes: its `PlainValue`, or its `EncryptedValue` once its `ValueMAC` is
    /// checked (in constant time) and it is decrypted.
    fn open(&self, secret: Node<'_, '_>) -> Result<Vec<u8>, Opened> {
        match (
            self,
            child(secret, "PlainValue"),
            child(secret, "EncryptedValue"),
        ) {
            (_, Some(plain), _) => {
                base64(&text(plain)).ok_or_else(|| Opened::Bad("the secret is not base64".into()))
            }
            (Crypto::PreShared { key, mac }, None, Some(encrypted)) => {
                let cipher = cipher_value(encrypted).ok_or_else(|| {
                    Opened::Bad("the encrypted secret has no base64 CipherValue".into())
                })?;
                let given = child(secret, "ValueMAC")
                    .and_then(|m| base64(&text(m)))
                    .ok_or_else(|| Opened::Bad("the encrypted secret has no ValueMAC".into()))?;
                if !mac.verify(&cipher, &given) {
                    return Err(Opened::Err(PskcError::WrongKey));
                }
                decrypt(key, encrypted).map_err(Opened::Bad)
            }
            (Crypto::Plain, None, Some(_)) => Err(Opened::Bad(
                "the secret is encrypted, but the file names no EncryptionKey".into(),
            )),
            (_, None, None) => Err(Opened::Bad("the secret has no value".into())),
        }
    }
}

impl MacKey {
    fn verify(&self, data: &[u8], given: &[u8]) -> bool {
        if self.sha256 {
            hmac_matches::<Hmac<sha2::Sha256>>(&self.key, data, given)
        } else {
            hmac_matches::<Hmac<sha1::Sha1>>(&self.key, data, given)
        }
    }
}

/// Whether `given` is the HMAC of `data` under `key` (compared in constant time).
fn hmac_matches<M: Mac + KeyInit>(key: &[u8], data: &[u8], given: &[u8]) -> bool {
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(data);
    mac.verify_slice(given).is_ok()
}

/// The base64 `CipherData/CipherValue` under `node`.
fn cipher_value(node: Node<'_, '_>) -> Option<Vec<u8>> {
    let value = child(node, "CipherData").and_then(|d| child(d, "CipherValue"))?;
    base64(&text(value))
}

/// Decrypts `node`'s CipherValue (IV first) with `key`, by its EncryptionMethod (AES-CBC,
/// XML Encryption padding: the last byte says how many to drop).
fn decrypt(key: &[u8], node: Node<'_, '_>) -> Result<Vec<u8>, String> {
    let method = child(node, "EncryptionMethod")
        .and_then(|m| m.attribute("Algorithm"))
        .unwrap_or_default();
    let bits = match method.rsplit('#').next().unwrap_or_default() {
        "aes128-cbc" => 128,
        "aes192-cbc" => 192,
        "aes256-cbc" => 256,
        other => return Err(format!("encryption {other:?} is not supported (AES-CBC)")),
    };
    if key.len() * 8 != bits {
        return Err(format!(
            "the file uses AES-{bits}, but --key has {} bits",
            key.len() * 8
        ));
    }
    let data = cipher_value(node).ok_or("no base64 CipherValue")?;
    if data.len() < 32 || data.len() % 16 != 0 {
        return Err("the CipherValue is not an IV and whole AES blocks".into());
    }
    let (iv, body) = data.split_at(16);
    let mut buf = body.to_vec();
    let plain = match bits {
        128 => cbc_decrypt::<aes::Aes128>(key, iv, &mut buf),
        192 => cbc_decrypt::<aes::Aes192>(key, iv, &mut buf),
        _ => cbc_decrypt::<aes::Aes256>(key, iv, &mut buf),
    }?;
    buf.truncate(plain);
    let pad = usize::from(*buf.last().ok_or("empty")?);
    if pad == 0 || pad > 16 || pad > buf.len() {
        return Err("bad padding (wrong --key?)".into());
    }
    buf.truncate(buf.len() - pad);
    Ok(buf)
}

/// Decrypts whole blocks of `buf` in place with AES-CBC (`C`: the key size); the plaintext's
/// length.
fn cbc_decrypt<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<usize, String>
where
    C: aes::cipher::BlockCipherDecrypt,
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
{
    cbc::Decryptor::<C>::new_from_slices(key, iv)
        .map_err(|e| e.to_string())?
        .decrypt_padded::<NoPadding>(buf)
        .map(<[u8]>::len)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A container shaped like RFC 6030's Figure 2 (one HOTP key, 8 digits, a counter), with
    /// `secret_b64` as its secret. The real Figure 2 (from Debian's libpskc-dev) and encrypted
    /// containers are tested end to end in `crates/mfad/tests/daemon/pskc.rs`.
    fn figure2_shape(secret_b64: &str) -> String {
        format!(
            "<?xml version=\"1.0\"?><KeyContainer Version=\"1.0\" xmlns=\"urn:ietf:params:xml:ns:keyprov:pskc\">\
             <KeyPackage><DeviceInfo><SerialNo>42</SerialNo></DeviceInfo>\
             <Key Id=\"k1\" Algorithm=\"{HOTP}\"><AlgorithmParameters><ResponseFormat Length=\"8\" Encoding=\"DECIMAL\"/></AlgorithmParameters>\
             <Data><Secret><PlainValue>{secret_b64}</PlainValue></Secret><Counter><PlainValue>3</PlainValue></Counter></Data></Key>\
             </KeyPackage></KeyContainer>"
        )
    }

    #[test]
    fn a_plain_hotp_key_is_read() {
        let keys = parse(&figure2_shape("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA="), None).unwrap();
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k.id.as_deref(), Some("k1"));
        assert_eq!(k.serial.as_deref(), Some("42"));
        assert_eq!(k.counting, Counting::Hotp { counter: 3 });
        assert_eq!(k.digits.get(), 8);
        assert_eq!(k.secret.as_bytes(), b"12345678901234567890");
    }

    #[test]
    fn refusals_say_why_and_never_show_a_secret() {
        let err = parse(&figure2_shape("not base64!"), None).unwrap_err();
        assert_eq!(err.to_string(), "key k1: the secret is not base64");
        assert_eq!(parse("<a/>", None).unwrap_err(), PskcError::NotPskc);
        assert!(matches!(parse("<", None), Err(PskcError::Xml(_))));
        let plain = figure2_shape("MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=");
        assert_eq!(
            parse(&plain, Some(&[0; 16])).unwrap_err(),
            PskcError::KeyNotNeeded
        );
    }
}
