//! What mfad decodes from its database and from typed codes (mfa-secrets): sealed blobs
//! (`Sealer::open`, a copied or tampered database row) and recovery codes typed in place of a
//! TOTP code (`recovery_hash`). The first byte picks which.
//!
//! A blob opens only if it was sealed under this key for this record, and a sealed blob with
//! any byte changed does not open; a typed recovery code is found however it is written (case,
//! spaces, dashes) and nothing else looks like one.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_fuzz::text;
use mfa_secrets::{SealKey, Sealer, SecretsError, recovery_hash};

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => {
            let _ = seal_and_tamper(&mut Unstructured::new(rest));
        }
        Some((1, blob)) => foreign_blob(blob),
        _ => {
            if let Some(typed) = text(data) {
                recovery_code(typed);
            }
        }
    }
});

fn sealer() -> Sealer {
    Sealer::new(SealKey::from_bytes([7; 32]))
}

/// A blob from anywhere (a forged or damaged row): never opens, and never panics.
fn foreign_blob(blob: &[u8]) {
    match sealer().open(blob, b"client:tux:totp") {
        Err(SecretsError::Corrupt | SecretsError::WrongKey { .. }) => {}
        other => panic!("a blob nobody sealed: {other:?}"),
    }
}

fn seal_and_tamper(u: &mut Unstructured<'_>) -> Result<()> {
    let plaintext: Vec<u8> = u.arbitrary()?;
    let aad: Vec<u8> = u.arbitrary()?;
    let s = sealer();
    let blob = s.seal(&plaintext, &aad).unwrap_or_else(|e| panic!("{e}"));
    let opened = s.open(&blob, &aad).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&opened[..], &plaintext[..]);
    // Another record's associated data.
    let mut other_aad = aad.clone();
    other_aad.push(u.arbitrary()?);
    assert!(
        s.open(&blob, &other_aad).is_err(),
        "opened for another record"
    );
    // Any byte changed.
    let at = u.choose_index(blob.len())?;
    let flip: u8 = u.int_in_range(1..=255)?;
    let mut tampered = blob.clone();
    tampered[at] ^= flip;
    assert!(
        s.open(&tampered, &aad).is_err(),
        "a tampered blob opened (byte {at})"
    );
    // Cut short, or with bytes after it.
    let cut = u.choose_index(blob.len())?;
    assert!(
        s.open(&blob[..cut], &aad).is_err(),
        "a blob cut to {cut} bytes opened"
    );
    let mut longer = blob.clone();
    longer.push(u.arbitrary()?);
    assert!(
        s.open(&longer, &aad).is_err(),
        "a blob with a byte more opened"
    );
    // Another key.
    let other = Sealer::new(SealKey::from_bytes([8; 32]));
    assert!(matches!(
        other.open(&blob, &aad),
        Err(SecretsError::WrongKey { .. })
    ));
    Ok(())
}

fn recovery_code(typed: &str) {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let shaped = normal.len() == 16
        && normal
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    let hash = recovery_hash(typed);
    assert_eq!(hash.is_some(), shaped, "{typed:?}");
    let Some(hash) = hash else { return };
    // However it is written: the same code.
    let grouped: Vec<String> = normal
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    for form in [
        normal.to_ascii_uppercase(),
        grouped.join("-"),
        grouped.join(" "),
        format!("  {}\t", grouped.join(" - ")),
    ] {
        assert_eq!(recovery_hash(&form).as_ref(), Some(&hash), "{form:?}");
    }
    // No TOTP code (6 to 8 digits) is a recovery code.
    assert!(normal.len() > 8);
}
