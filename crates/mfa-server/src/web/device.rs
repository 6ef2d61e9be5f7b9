//! Device links, for a push that must be approved with a passkey where no browser is (an SSH
//! or sudo prompt): `POST /v1/auth` answers with `device_url`, `https://HOST/d/7KQP-ZX4M`,
//! which the prompt shows. The code is one more approve token of the push, for a client with
//! a passkey, short enough to type: `GET /d/{code}` sends the browser to that approve page,
//! where only a passkey approves.
//!
//! Eight characters of a 30-letter alphabet (no 0/O, 1/I/L, U) are about 39 bits: a guess
//! must hit a pending push in its minutes of life, wrong codes count against the caller's
//! address like wrong approve tokens, and even a right guess only reaches a page that needs
//! the client's passkey to approve.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfa_secrets::random_below;

use crate::extract::ApiPath;
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

use super::Page;

/// The letters of a device code: unambiguous when read off a terminal and typed on a phone.
const ALPHABET: &[u8; 30] = b"23456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Letters in a code (shown as two groups of four).
const LEN: usize = 8;

/// A fresh code, as it is stored and looked up (no hyphen): `7KQPZX4M`.
pub fn new_code() -> Result<String, ApiError> {
    (0..LEN)
        .map(|_| {
            let i = random_below(ALPHABET.len() as u32)
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            Ok(char::from(ALPHABET[i as usize]))
        })
        .collect()
}

/// The code as a person types it (`7kqp-zx4m`, `7KQP ZX4M`) in stored form, or `None` when it
/// cannot be one.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// The link the prompt shows: `host_addr` + `/d/7KQP-ZX4M`.
pub fn url(state: &AppState, code: &str) -> String {
    let (a, b) = code.split_at(code.len() / 2);
    format!(
        "{}/d/{a}-{b}",
        state.config.host_addr().trim_end_matches('/')
    )
}

/// `GET /d/{code}`.
#[utoipa::path(
    get,
    path = "/d/{code}",
    tag = "approve",
    operation_id = "device_link",
    summary = "A device link: on to the push's approve page",
    description = "The short link an SSH or sudo prompt shows for a push that needs a passkey\n\
        (`device_url` in `POST /v1/auth`'s answer). Case, spaces and the hyphen do not matter.\n\
        Redirects (303) to the approve page, where the person confirms with their passkey; a\n\
        code that cannot be one gets an HTML 404 page (a well-formed wrong one gets the approve\n\
        page's 404, counted against the caller's address).",
    params(("code" = String, Path, description = "The device code, e.g. `7KQP-ZX4M`.")),
    responses(
        (status = 303, description = "On to `/approve/{code}`.",
            headers(("Location" = String, description = "The approve page."))),
        (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
    )
)]
pub async fn open(State(state): State<AppState>, ApiPath(code): ApiPath<String>) -> Response {
    let Some(code) = normalize(&code) else {
        return Page::message(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This is not a device code. Check what the login prompt shows: eight letters and digits, like 7KQP-ZX4M.",
        )
        .into_response();
    };
    let approve = format!("{}/approve/{code}", super::site_path(&state));
    (StatusCode::SEE_OTHER, [(header::LOCATION, approve)]).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_made_of_the_alphabet_and_read_back_however_typed() {
        let code = new_code().unwrap();
        assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
        let (a, b) = code.split_at(4);
        let typed = format!("{}-{} ", a.to_lowercase(), b);
        assert_eq!(normalize(&typed).as_deref(), Some(code.as_str()));
        for bad in [
            "",
            "7KQP-ZX4",
            "7KQP-ZX4MM",
            "7KQP-ZX4O",
            "mfaa_abcdefgh",
            "7KQP/ZX4M",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }
}
