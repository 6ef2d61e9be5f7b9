//! Checks of the request fields the OTP and vault APIs share, each turning the store's message
//! into a 400 naming the field, and the QR code both hand out.

use mfa_otp::{Algorithm, Digits};
use qrcode::QrCode;
use qrcode::render::svg;

use crate::ApiError;

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

/// What was typed, without the spaces people put in codes ("123 456").
pub(crate) fn typed(code: &str) -> String {
    code.chars().filter(|c| !c.is_whitespace()).collect()
}

/// `data` as an SVG QR code, or `None` when it is too long for one (a URI with a long issuer
/// and label in many-byte characters): the secret and URI still work without it.
pub(crate) fn qr_svg(data: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(256, 256)
            .quiet_zone(true)
            .build(),
    )
}
