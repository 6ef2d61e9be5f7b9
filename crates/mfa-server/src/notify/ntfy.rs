//! ntfy: one JSON publish (`POST {server}/`) to the client's topic, with action buttons, so the
//! phone's ntfy app alone can answer. HTTP buttons call `POST {host_addr}/v1/notify/{token}`;
//! tapping the notification itself opens the web approve page (`click`).
//!
//! ntfy shows at most three buttons:
//! - number matching on: Open (the approve page, where the number from the login prompt is
//!   typed), Deny and "This was not me". No button approves: a tap under push fatigue must not
//!   be enough, and the number is in no notification.
//! - number matching on and `notify.ntfy.number_choices`: three numbers, one of them right, in
//!   random order; tapping one approves with that number, and the server denies a wrong one.
//!   A random tap is right one time in three, which is why it is off by default.
//! - number matching off (also a `push_only` push): Approve and Deny.

use mfa_secrets::{SecretsError, Token, random_below};
use mfa_store::AuthRequest;
use mfa_wire::{ClientDecision, Decision};
use serde_json::{Value, json};

use super::{Delivery, action_url, approve_url, notification_message};
use crate::AppState;

/// ntfy's "high" priority: a login is waiting.
const PRIORITY: u8 = 4;

pub(super) fn delivery(
    state: &AppState,
    request: &AuthRequest,
    topic: &str,
    token: &Token,
) -> Result<Delivery, SecretsError> {
    let config = &state.config.notify.ntfy;
    let (hint, actions) = buttons(state, request, token)?;
    let body = json!({
        "topic": topic,
        "title": format!("Login request: {}@{}", request.user, request.host),
        "message": format!("{}\n{hint}", notification_message(state, request)),
        "priority": PRIORITY,
        "tags": ["closed_lock_with_key"],
        "click": approve_url(state, token),
        "actions": actions,
    });
    let token = config.token.trim();
    Ok(Delivery {
        provider: "ntfy",
        method: axum::http::Method::POST,
        url: format!("{}/", config.server.trim_end_matches('/')),
        bearer: (!token.is_empty()).then(|| token.to_owned()),
        json: Some(body),
    })
}

/// The line under the message and the action buttons, by how the push is approved.
fn buttons(
    state: &AppState,
    request: &AuthRequest,
    token: &Token,
) -> Result<(&'static str, Vec<Value>), SecretsError> {
    let target = action_url(state, token);
    let post = |label: &str, decision: Decision, number: Option<u8>| -> Value {
        let answer = ClientDecision { decision, number };
        json!({
            "action": "http",
            "label": label,
            "url": target,
            "method": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": serde_json::to_string(&answer).unwrap_or_default(),
            "clear": true,
        })
    };
    Ok(match request.number {
        Some(right) if state.config.notify.ntfy.number_choices => (
            "Tap the number shown at the login prompt.",
            number_choices(right)?
                .into_iter()
                .map(|n| post(&n.to_string(), Decision::Approve, Some(n)))
                .collect(),
        ),
        Some(_) => (
            "Open it and type the number shown at the login prompt.",
            vec![
                json!({
                    "action": "view",
                    "label": "Open",
                    "url": approve_url(state, token),
                    "clear": true,
                }),
                post("Deny", Decision::Deny, None),
                post("This was not me", Decision::Fraud, None),
            ],
        ),
        None => (
            "Approve only if you are logging in right now.",
            vec![
                post("Approve", Decision::Approve, None),
                post("Deny", Decision::Deny, None),
            ],
        ),
    })
}

/// Three different two-digit numbers, `right` among them, in random order.
pub fn number_choices(right: u8) -> Result<[u8; 3], SecretsError> {
    let mut picks = [right, right, right];
    let mut filled = 1;
    while filled < picks.len() {
        let n = 10 + u8::try_from(random_below(90)?).unwrap_or(0);
        if !picks[..filled].contains(&n) {
            picks[filled] = n;
            filled += 1;
        }
    }
    // Fisher-Yates: the right one is anywhere with equal chance.
    for i in (1..picks.len()).rev() {
        let j = usize::try_from(random_below(u32::try_from(i + 1).unwrap_or(1))?).unwrap_or(0);
        picks.swap(i, j);
    }
    Ok(picks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_hold_the_right_number_once_among_distinct_two_digit_numbers() {
        let mut positions = [0u32; 3];
        for _ in 0..600 {
            let right = 10 + u8::try_from(random_below(90).unwrap()).unwrap();
            let picks = number_choices(right).unwrap();
            assert_eq!(picks.iter().filter(|&&n| n == right).count(), 1);
            assert!(picks.iter().all(|n| (10..=99).contains(n)));
            assert!(picks[0] != picks[1] && picks[1] != picks[2] && picks[0] != picks[2]);
            positions[picks.iter().position(|&n| n == right).unwrap()] += 1;
        }
        // Random order: each position gets its share (expected 200; this fails by chance
        // with probability far below 1e-9).
        assert!(positions.iter().all(|&p| p > 100), "{positions:?}");
    }
}
