//! The OTP service for applications (API token with scope `otp`): HOTP/TOTP credentials under
//! `/v1/otp/credentials` and one-time codes under `/v1/otp/codes`.
//!
//! Each credential and code belongs to the token that created it; other tokens get 404. Every
//! verification is counted before the code is looked at (the throttle), and an accepted code is
//! burned by one conditional UPDATE, so of many concurrent submissions exactly one succeeds.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use mfa_core::{Scope, Timestamp};
use mfa_otp::{Algorithm, Digits, Hotp, OtpAuthUri, OtpKind, Secret, Totp, TotpParams};
use mfa_store::{CodeCheck, OtpAttempt, OtpCredential, Throttle};
use mfa_wire::{NewOneTimeCode, NewOtpCredential, OneTimeCode, OtpType, VerifyCode, VerifyResult};
use qrcode::QrCode;
use qrcode::render::svg;

use crate::extract::{ApiJson, ApiPath, AuthToken};
use crate::{ApiError, AppState};

/// HOTP codes are looked for this many counters ahead, so a token pressed without logging in
/// still works (and resynchronises the counter).
pub const HOTP_LOOK_AHEAD: u32 = 10;
/// One-time code lifetimes, in seconds.
pub const CODE_TTLS: std::ops::RangeInclusive<u64> = 1..=86_400;
/// Tries a one-time code may get.
pub const CODE_ATTEMPTS: std::ops::RangeInclusive<u64> = 1..=10;
/// Default tries for a one-time code.
pub const DEFAULT_CODE_ATTEMPTS: u32 = 5;

const INVALID_CODE: &str = "invalid or already used code";

pub(crate) fn parse_algorithm(a: Option<&str>) -> Result<Algorithm, ApiError> {
    mfa_store::parse_algorithm(a).map_err(ApiError::BadRequest)
}

pub(crate) fn parse_digits(d: Option<u64>) -> Result<Digits, ApiError> {
    mfa_store::parse_digits(d).map_err(ApiError::BadRequest)
}

pub(crate) fn check_period(p: u64) -> Result<u32, ApiError> {
    mfa_store::check_period(p).map_err(ApiError::BadRequest)
}

/// Optional free text (issuer, label, vault name, attribute).
pub(crate) fn text(field: &str, value: Option<&str>) -> Result<Option<String>, ApiError> {
    mfa_store::check_text(field, value).map_err(ApiError::BadRequest)
}

fn new_id() -> Result<String, ApiError> {
    mfa_secrets::random_id(16).map_err(|e| ApiError::Internal(e.to_string()))
}

/// What was typed, without the spaces people put in codes ("123 456").
fn typed(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The throttle: `max_failed_attempts` tries per credential within `block_duration` seconds.
fn throttle(state: &AppState) -> Throttle {
    Throttle {
        max_attempts: state.config.max_failed_attempts,
        window_secs: i64::from(state.config.block_duration),
    }
}

pub(crate) fn qr_svg(data: &str) -> Result<String, ApiError> {
    let code = QrCode::new(data.as_bytes())
        .map_err(|e| ApiError::Internal(format!("cannot draw the QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

fn view(c: &OtpCredential) -> mfa_wire::OtpCredential {
    let (kind, period, counter) = match c.kind {
        OtpKind::Totp { period } => (OtpType::Totp, Some(period), None),
        OtpKind::Hotp { counter } => (OtpType::Hotp, None, Some(counter)),
    };
    mfa_wire::OtpCredential {
        id: c.id.clone(),
        kind,
        algorithm: c.algorithm.to_string(),
        digits: c.digits.get(),
        period,
        counter,
        issuer: c.issuer.clone(),
        label: c.label.clone(),
        created_at: c.created_at.to_string(),
        secret: None,
        otpauth_uri: None,
        qr_svg: None,
    }
}

/// `POST /v1/otp/credentials`: a new HOTP or TOTP credential with a secret the server makes.
pub async fn create_credential(
    State(state): State<AppState>,
    token: AuthToken,
    body: Result<ApiJson<NewOtpCredential>, ApiError>,
) -> Result<(StatusCode, Json<mfa_wire::OtpCredential>), ApiError> {
    let owner = token.require(Scope::Otp)?;
    let ApiJson(body) = body?;
    let algorithm = parse_algorithm(body.algorithm.as_deref())?;
    let digits = parse_digits(body.digits)?;
    let kind = match (body.kind, body.period) {
        (OtpType::Totp, period) => OtpKind::Totp {
            period: check_period(period.unwrap_or(30))?,
        },
        (OtpType::Hotp, None) => OtpKind::Hotp { counter: 0 },
        (OtpType::Hotp, Some(_)) => {
            return Err(ApiError::BadRequest(
                "period applies to totp credentials only: leave it out for hotp".into(),
            ));
        }
    };
    let issuer = text("issuer", body.issuer.as_deref())?;
    let id = new_id()?;
    let label = text("label", body.label.as_deref())?.unwrap_or_else(|| id.clone());
    let secret = Secret::generate_for(algorithm).map_err(|e| ApiError::Internal(e.to_string()))?;
    let credential = state
        .store
        .add_otp_credential(mfa_store::NewOtpCredential {
            id: &id,
            owner: owner.name.as_str(),
            secret: &secret,
            kind,
            algorithm,
            digits,
            issuer: issuer.as_deref(),
            label: &label,
            now: state.clock.now(),
        })
        .await?;
    let uri = OtpAuthUri {
        kind,
        issuer,
        account: label,
        secret: secret.clone(),
        algorithm,
        digits,
    }
    .to_uri();
    let mut out = view(&credential);
    out.qr_svg = Some(qr_svg(&uri)?);
    out.secret = Some(secret.to_base32());
    out.otpauth_uri = Some(uri);
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /v1/otp/credentials/{id}`: its parameters (never the secret).
pub async fn get_credential(
    State(state): State<AppState>,
    token: AuthToken,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<mfa_wire::OtpCredential>, ApiError> {
    let owner = token.require(Scope::Otp)?;
    let credential = state.store.otp_credential(&id, owner.name.as_str()).await?;
    Ok(Json(view(&credential)))
}

/// `DELETE /v1/otp/credentials/{id}`.
pub async fn delete_credential(
    State(state): State<AppState>,
    token: AuthToken,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let owner = token.require(Scope::Otp)?;
    state
        .store
        .remove_otp_credential(&id, owner.name.as_str())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn refused(reason: &str) -> VerifyResult {
    VerifyResult {
        ok: false,
        reason: Some(reason.to_owned()),
        counter: None,
        attempts_left: None,
    }
}

/// `POST /v1/otp/credentials/{id}/verify`: `{ok: true}` once per code; a wrong or replayed
/// code is `{ok: false}`; too many tries in the window is 429 until the window has passed.
pub async fn verify_credential(
    State(state): State<AppState>,
    token: AuthToken,
    ApiPath(id): ApiPath<String>,
    body: Result<ApiJson<VerifyCode>, ApiError>,
) -> Result<Json<VerifyResult>, ApiError> {
    let owner = token.require(Scope::Otp)?;
    let ApiJson(body) = body?;
    let code = typed(&body.code);
    let now = state.clock.now();
    let attempt = state
        .store
        .begin_otp_attempt(&id, owner.name.as_str(), throttle(&state), now)
        .await?;
    let (credential, secret, last_step) = match attempt {
        OtpAttempt::Go {
            credential,
            secret,
            last_step,
        } => (credential, secret, last_step),
        OtpAttempt::Throttled { until } => return Err(throttled(&id, until)),
    };
    let unix = now.unix_secs();
    let accepted = match credential.kind {
        OtpKind::Totp { period } => {
            let params = TotpParams {
                algorithm: credential.algorithm,
                digits: credential.digits,
                period,
            };
            match Totp::new(secret, params).verify(&code, unix, state.config.totp.skew, last_step) {
                Some(step) => state
                    .store
                    .accept_otp_step(&id, step)
                    .await?
                    .then_some(None),
                None => None,
            }
        }
        OtpKind::Hotp { counter } => {
            let hotp = Hotp::new(secret, credential.algorithm, credential.digits);
            match hotp.verify(&code, counter, HOTP_LOOK_AHEAD) {
                Some(matched) => state
                    .store
                    .accept_otp_counter(&id, matched)
                    .await?
                    .then(|| matched.checked_add(1)),
                None => None,
            }
        }
    };
    Ok(Json(match accepted {
        Some(counter) => VerifyResult {
            ok: true,
            reason: None,
            counter,
            attempts_left: None,
        },
        None => refused(INVALID_CODE),
    }))
}

fn throttled(id: &str, until: Timestamp) -> ApiError {
    ApiError::LockedOut(format!(
        "too many tries for otp credential {id}: try again after {until}"
    ))
}

/// `POST /v1/otp/codes`: a one-time code for the caller to deliver (e-mail, SMS); returned
/// this once.
pub async fn create_code(
    State(state): State<AppState>,
    token: AuthToken,
    body: Result<ApiJson<NewOneTimeCode>, ApiError>,
) -> Result<(StatusCode, Json<OneTimeCode>), ApiError> {
    let owner = token.require(Scope::Otp)?;
    let ApiJson(body) = body?;
    if !CODE_TTLS.contains(&body.ttl_seconds) {
        return Err(ApiError::BadRequest(format!(
            "ttl_seconds must be between {} and {} (got {})",
            CODE_TTLS.start(),
            CODE_TTLS.end(),
            body.ttl_seconds
        )));
    }
    let digits = parse_digits(body.digits)?;
    let max_attempts = match body.max_attempts {
        None => DEFAULT_CODE_ATTEMPTS,
        Some(n) if CODE_ATTEMPTS.contains(&n) => {
            u32::try_from(n).map_err(|e| ApiError::Internal(e.to_string()))?
        }
        Some(n) => {
            return Err(ApiError::BadRequest(format!(
                "max_attempts must be between {} and {} (got {n})",
                CODE_ATTEMPTS.start(),
                CODE_ATTEMPTS.end()
            )));
        }
    };
    let modulus = 10u32.pow(u32::from(digits.get()));
    let value =
        mfa_secrets::random_below(modulus).map_err(|e| ApiError::Internal(e.to_string()))?;
    let code = format!("{value:0width$}", width = usize::from(digits.get()));
    let id = new_id()?;
    let now = state.clock.now();
    let ttl = i64::try_from(body.ttl_seconds).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = now.plus_secs(ttl);
    state
        .store
        .add_one_time_code(mfa_store::NewOneTimeCode {
            id: &id,
            owner: owner.name.as_str(),
            code: &code,
            max_attempts,
            now,
            expires_at,
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(OneTimeCode {
            id,
            code,
            digits: digits.get(),
            max_attempts,
            expires_at: expires_at.to_string(),
        }),
    ))
}

/// `POST /v1/otp/codes/{id}/verify`: `{ok: true}` once; wrong, used, expired and dead codes are
/// `{ok: false, reason}`.
pub async fn verify_code(
    State(state): State<AppState>,
    token: AuthToken,
    ApiPath(id): ApiPath<String>,
    body: Result<ApiJson<VerifyCode>, ApiError>,
) -> Result<Json<VerifyResult>, ApiError> {
    let owner = token.require(Scope::Otp)?;
    let ApiJson(body) = body?;
    let check = state
        .store
        .check_one_time_code(
            &id,
            owner.name.as_str(),
            &typed(&body.code),
            state.clock.now(),
        )
        .await?;
    Ok(Json(match check {
        CodeCheck::Accepted => VerifyResult {
            ok: true,
            reason: None,
            counter: None,
            attempts_left: None,
        },
        CodeCheck::Wrong { attempts_left } => VerifyResult {
            attempts_left: Some(attempts_left),
            ..refused("wrong code")
        },
        CodeCheck::Used => refused("already used"),
        CodeCheck::Expired => refused("expired"),
        CodeCheck::Exhausted => refused("too many attempts"),
    }))
}
