//! `mfac import pskc FILE [--key HEX] [--owner TOKEN | --client ALIAS]`: the keys of an RFC 6030
//! container into the OTP service (one credential per key, owned by an API token with scope
//! otp), or one TOTP key into a client's seed.

use anyhow::{Context as _, bail};
use mfa_core::{Alias, Scope};
use mfa_otp::{Algorithm, OtpKind, TotpParams};
use mfa_secrets::random_id;
use mfa_store::NewOtpCredential;
use serde::Serialize;
use zeroize::Zeroizing;

use super::PskcArgs;
use super::pskc::{self, Counting, PskcKey};
use crate::context::Context;
use crate::output::print_json;

/// What one key became.
#[derive(Debug, Serialize)]
struct ImportedKey {
    /// The key's `Id` in the file, and the serial number printed on the token.
    key_id: Option<String>,
    serial: Option<String>,
    kind: &'static str,
    digits: u8,
    /// The OTP-service credential it became (`/v1/otp/credentials/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    credential_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<String>,
    /// A new client's key, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key: Option<String>,
}

pub async fn run(ctx: &Context, args: PskcArgs) -> anyhow::Result<()> {
    let psk = args.key.as_deref().map(pre_shared_key).transpose()?;
    let xml = std::fs::read_to_string(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let keys = pskc::parse(&xml, psk.as_ref().map(|k| k.as_slice()))
        .with_context(|| args.file.display().to_string())?;
    if keys.is_empty() {
        bail!("{}: the container holds no keys", args.file.display());
    }
    let imported = match &args.client {
        Some(client) => vec![into_client(ctx, client, &keys).await?],
        None => into_credentials(ctx, args.owner.as_deref(), &keys).await?,
    };
    if ctx.json {
        return print_json(&imported);
    }
    for k in &imported {
        let name = k
            .serial
            .as_deref()
            .or(k.key_id.as_deref())
            .unwrap_or("(unnamed)");
        match (&k.credential_id, &k.client) {
            (Some(id), _) => println!(
                "Imported {} key {name} ({} digits) as OTP credential {id}",
                k.kind, k.digits
            ),
            (None, Some(client)) => println!(
                "Imported {} key {name} ({} digits) as client {client}'s seed",
                k.kind, k.digits
            ),
            (None, None) => {}
        }
        if let Some(key) = &k.client_key {
            println!("  client key (shown once; for `mfa enroll` and push): {key}");
        }
    }
    Ok(())
}

/// `--key HEX`: 16, 24 or 32 bytes. Never shown back, not even in an error.
fn pre_shared_key(hex: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
    let clean: String = hex
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(clean.as_bytes())
        .ok()
        .filter(|b| [16, 24, 32].contains(&b.len()));
    match bytes {
        Some(b) => Ok(Zeroizing::new(b)),
        None => bail!("--key must be 16, 24 or 32 bytes in hex (its value is not shown)"),
    }
}

fn kind_name(c: Counting) -> &'static str {
    match c {
        Counting::Hotp { .. } => "hotp",
        Counting::Totp { .. } => "totp",
    }
}

async fn into_client(ctx: &Context, client: &str, keys: &[PskcKey]) -> anyhow::Result<ImportedKey> {
    let alias = Alias::new(client)?;
    let [key] = keys else {
        bail!(
            "--client takes a container with one key; this one has {}: import them as OTP credentials (without --client)",
            keys.len()
        );
    };
    let Counting::Totp { period } = key.counting else {
        bail!(
            "--client: the key is HOTP, and clients use time-based codes: import it as an OTP credential (without --client)"
        );
    };
    let totp = TotpParams {
        algorithm: Algorithm::Sha1,
        digits: key.digits,
        period,
    };
    let client_key = super::set_client_seed(ctx, &alias, &key.secret, totp).await?;
    Ok(ImportedKey {
        key_id: key.id.clone(),
        serial: key.serial.clone(),
        kind: "totp",
        digits: key.digits.get(),
        credential_id: None,
        client: Some(alias.to_string()),
        client_key: client_key.map(|k| k.expose().to_owned()),
    })
}

async fn into_credentials(
    ctx: &Context,
    owner: Option<&str>,
    keys: &[PskcKey],
) -> anyhow::Result<Vec<ImportedKey>> {
    let owner = otp_owner(ctx, owner).await?;
    let mut imported = Vec::new();
    for key in keys {
        let id = random_id(16)?;
        let label = key
            .serial
            .clone()
            .or_else(|| key.id.clone())
            .unwrap_or_else(|| id.clone());
        let kind = match key.counting {
            Counting::Hotp { counter } => OtpKind::Hotp { counter },
            Counting::Totp { period } => OtpKind::Totp { period },
        };
        ctx.store
            .add_otp_credential(NewOtpCredential {
                id: &id,
                owner: owner.as_str(),
                secret: &key.secret,
                kind,
                algorithm: Algorithm::Sha1,
                digits: key.digits,
                issuer: key.issuer.as_deref(),
                label: &label,
                now: ctx.now(),
            })
            .await?;
        imported.push(ImportedKey {
            key_id: key.id.clone(),
            serial: key.serial.clone(),
            kind: kind_name(key.counting),
            digits: key.digits.get(),
            credential_id: Some(id),
            client: None,
            client_key: None,
        });
    }
    Ok(imported)
}

/// The API token that will own the credentials: `--owner`, else the only one with scope otp.
async fn otp_owner(ctx: &Context, owner: Option<&str>) -> anyhow::Result<Alias> {
    let tokens = ctx.store.api_tokens().await?;
    let otp: Vec<&Alias> = tokens
        .iter()
        .filter(|t| t.has(Scope::Otp))
        .map(|t| &t.name)
        .collect();
    match owner {
        Some(name) => match otp.iter().find(|n| n.as_str() == name) {
            Some(found) => Ok((*found).clone()),
            None => {
                bail!("--owner {name}: no API token of that name has scope otp (mfac token list)")
            }
        },
        None => match otp.as_slice() {
            [only] => Ok((*only).clone()),
            [] => {
                bail!("no API token has scope otp: add one first (mfac token add NAME --scope otp)")
            }
            _ => bail!(
                "several API tokens have scope otp: name the one that will verify these with --owner"
            ),
        },
    }
}
