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
use mfa_otp::{Hotp, OtpAuthUri, OtpKind, Secret, Totp, TotpParams};
use mfa_store::{CodeCheck, OtpCredential, OtpMatch, OtpVerdict, Throttle};
use mfa_wire::{NewOneTimeCode, NewOtpCredential, OneTimeCode, OtpType, VerifyCode, VerifyResult};

use crate::extract::{ApiJson, ApiPath, AuthToken};
use crate::fields::{check_period, parse_algorithm, parse_digits, qr_svg, text, typed};
use crate::openapi::doc::*;
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

fn new_id() -> Result<String, ApiError> {
    mfa_secrets::random_id(16).map_err(|e| ApiError::Internal(e.to_string()))
}

/// The throttle: `max_failed_attempts` tries per credential within `block_duration` seconds.
fn throttle(state: &AppState) -> Throttle {
    Throttle {
        max_attempts: state.config.max_failed_attempts,
        window_secs: i64::from(state.config.block_duration),
    }
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
#[utoipa::path(
    post,
    path = "/v1/otp/credentials",
    tag = "otp",
    operation_id = "create_otp_credential",
    summary = "Create a HOTP or TOTP credential",
    description = "The server makes the secret (as long as the hash: 20, 32 or 64 bytes). The answer is\n\
        the only one with the secret, its `otpauth://` URI and the URI as an SVG QR code.",
    security(("api_token" = ["otp"])),
    request_body = mfa_wire::NewOtpCredential,
    responses(
        (status = 201, description = "The credential, with its secret (this once).", body = mfa_wire::OtpCredential),
        (status = 400, description = "`bad_request`: as for every JSON body, or an unknown `algorithm`, \
            `digits` out of 6..=8, `period` out of 15..=120 (or given for `hotp`), an unusable `issuer` or `label`.",
            body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
    out.qr_svg = qr_svg(&uri);
    out.secret = Some(secret.to_base32());
    out.otpauth_uri = Some(uri);
    Ok((StatusCode::CREATED, Json(out)))
}

/// `GET /v1/otp/credentials/{id}`: its parameters (never the secret).
#[utoipa::path(
    get,
    path = "/v1/otp/credentials/{id}",
    tag = "otp",
    operation_id = "get_otp_credential",
    summary = "A credential's parameters",
    description = "Never the secret.",
    security(("api_token" = ["otp"])),
    params(("id" = String, Path, description = "The credential's id.")),
    responses(
        (status = 200, description = "The credential, without its secret.", body = mfa_wire::OtpCredential),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
        (status = 404, description = OTP_NOT_FOUND, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    delete,
    path = "/v1/otp/credentials/{id}",
    tag = "otp",
    operation_id = "delete_otp_credential",
    summary = "Delete a credential",
    security(("api_token" = ["otp"])),
    params(("id" = String, Path, description = "The credential's id.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
        (status = 404, description = OTP_NOT_FOUND, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/otp/credentials/{id}/verify",
    tag = "otp",
    operation_id = "verify_otp_credential",
    summary = "Verify a code of a credential",
    description = "Every accepted code is used up: TOTP accepts the steps within the server's skew and\n\
        burns them; HOTP looks 10 counters ahead and resynchronises. A wrong or replayed code is\n\
        `{\"ok\": false}`, not an HTTP error. Every verification counts: too many within the\n\
        window and the credential answers 429 until it has passed.",
    security(("api_token" = ["otp"])),
    params(("id" = String, Path, description = "The credential's id.")),
    request_body = mfa_wire::VerifyCode,
    responses(
        (status = 200, description = "Accepted (`ok: true`, HOTP with the next `counter`) or not.", body = mfa_wire::VerifyResult,
            example = json!({"ok": false, "reason": "invalid or already used code"})),
        (status = 400, description = BAD_JSON, body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
        (status = 404, description = OTP_NOT_FOUND, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = "`locked_out`: too many verifications of this credential within \
            `block_duration` seconds (\"try again after TIME\"), or the caller's address is locked out \
            after too many bad tokens.", body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
    let (unix, skew) = (now.unix_secs(), state.config.totp.skew);
    let check =
        move |credential: &OtpCredential, secret: Secret, last_step: Option<u64>| match credential
            .kind
        {
            OtpKind::Totp { period } => {
                let params = TotpParams {
                    algorithm: credential.algorithm,
                    digits: credential.digits,
                    period,
                };
                let totp = Totp::new(secret, params);
                totp.verify(&code, unix, skew, last_step)
                    .map(OtpMatch::Step)
            }
            OtpKind::Hotp { counter } => {
                let hotp = Hotp::new(secret, credential.algorithm, credential.digits);
                hotp.verify(&code, counter, HOTP_LOOK_AHEAD)
                    .map(OtpMatch::Counter)
            }
        };
    let verdict = state
        .store
        .verify_otp(&id, owner.name.as_str(), throttle(&state), now, check)
        .await?;
    Ok(Json(match verdict {
        OtpVerdict::Accepted(matched) => VerifyResult {
            ok: true,
            reason: None,
            counter: match matched {
                OtpMatch::Counter(c) => c.checked_add(1),
                OtpMatch::Step(_) => None,
            },
            attempts_left: None,
        },
        OtpVerdict::Refused => refused(INVALID_CODE),
        OtpVerdict::Throttled { until } => return Err(throttled(&id, until)),
    }))
}

fn throttled(id: &str, until: Timestamp) -> ApiError {
    ApiError::LockedOut(format!(
        "too many tries for otp credential {id}: try again after {until}"
    ))
}

/// `POST /v1/otp/codes`: a one-time code for the caller to deliver (e-mail, SMS); returned
/// this once.
#[utoipa::path(
    post,
    path = "/v1/otp/codes",
    tag = "otp",
    operation_id = "create_one_time_code",
    summary = "Create a one-time code (the e-mail/SMS kind)",
    description = "The code is in this answer only (mfad keeps a keyed hash), for the caller to deliver.",
    security(("api_token" = ["otp"])),
    request_body = mfa_wire::NewOneTimeCode,
    responses(
        (status = 201, description = "The code, this once.", body = mfa_wire::OneTimeCode),
        (status = 400, description = "`bad_request`: as for every JSON body, or `ttl_seconds` out of \
            1..=86400, `digits` out of 6..=8, `max_attempts` out of 1..=10.", body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/otp/codes/{id}/verify",
    tag = "otp",
    operation_id = "verify_one_time_code",
    summary = "Verify a one-time code",
    description = "`{\"ok\": true}` once. Every try, right or wrong, uses an attempt; a wrong, used, expired\n\
        or exhausted code is `{\"ok\": false, \"reason\": ...}`, not an HTTP error.",
    security(("api_token" = ["otp"])),
    params(("id" = String, Path, description = "The one-time code's id.")),
    request_body = mfa_wire::VerifyCode,
    responses(
        (status = 200, description = "Accepted or not.", body = mfa_wire::VerifyResult,
            example = json!({"ok": false, "reason": "wrong code", "attempts_left": 4})),
        (status = 400, description = BAD_JSON, body = ErrorBody),
        (status = 401, description = NO_API_TOKEN, body = ErrorBody),
        (status = 403, description = NO_OTP_SCOPE, body = ErrorBody),
        (status = 404, description = CODE_NOT_FOUND, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
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
