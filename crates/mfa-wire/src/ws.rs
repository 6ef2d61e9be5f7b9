//! The client WebSocket (`GET /v1/client/ws`, client key as bearer): JSON text frames, one
//! message each, tagged by `type`.

use serde::{Deserialize, Serialize};

use crate::{Decision, PendingRequest};

/// mfad -> client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First frame after connecting.
    Hello {
        /// The client's alias, as the key authenticated it.
        alias: String,
    },
    /// A push for this client (also sent on connect for every push still open).
    Request(PendingRequest),
    /// A push this client was shown is no longer open (decided elsewhere, or expired).
    Withdrawn {
        /// The push's transaction id.
        txid: String,
        /// approved | denied | expired | withdrawn
        state: String,
        /// Why it was denied or expired.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// The answer to this client's `decision`.
    Result {
        /// The push's transaction id.
        txid: String,
        /// The push's state now: approved | denied | expired | withdrawn.
        state: String,
        /// True when this answer decided the push; false when it was decided before.
        decided: bool,
        /// Why it was denied or expired.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Something this client sent could not be used.
    Error {
        /// What was wrong with it, in one line.
        message: String,
    },
}

/// client -> mfad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    /// Approve, deny or report a push (as `POST /v1/client/requests/{txid}`); answered with
    /// a `result` (or an `error`).
    Decision {
        /// The push's transaction id.
        txid: String,
        decision: Decision,
        /// The number shown at the login prompt; required to approve when number matching
        /// is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        number: Option<u8>,
    },
}

impl ClientMessage {
    /// Reads a text frame. A frame that is not a message gets what is wrong with it in one
    /// line, for the `error` frame mfad answers with: serde quotes unknown names as decoded,
    /// with any line breaks their escapes stood for.
    pub fn from_frame(text: &str) -> Result<ClientMessage, String> {
        serde_json::from_str(text).map_err(|e| {
            let why = e.to_string();
            format!(
                "unreadable message: {}",
                why.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn messages_are_tagged_json() {
        let m = ServerMessage::Withdrawn {
            txid: "t".into(),
            state: "approved".into(),
            reason: None,
        };
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"type":"withdrawn","txid":"t","state":"approved"}"#
        );
        let d: ClientMessage = serde_json::from_str(
            r#"{"type":"decision","txid":"t","decision":"approve","number":42}"#,
        )
        .unwrap();
        assert_eq!(
            d,
            ClientMessage::Decision {
                txid: "t".into(),
                decision: Decision::Approve,
                number: Some(42)
            }
        );
        assert!(
            serde_json::from_str::<ClientMessage>(
                r#"{"type":"decision","txid":"t","decision":"maybe"}"#
            )
            .is_err()
        );
    }

    #[test]
    fn a_bad_frame_is_described_in_one_line() {
        // serde quotes the unknown type as it was decoded: with the line breaks its JSON
        // escapes stood for (found by the ws_messages fuzz target).
        let error = ClientMessage::from_frame(r#"{"type":"erro[\r\nage"}"#).unwrap_err();
        assert!(
            error.starts_with("unreadable message: unknown variant"),
            "{error}"
        );
        assert!(!error.contains(['\n', '\r']), "{error:?}");
        assert!(
            ClientMessage::from_frame(r#"{"type":"decision","txid":"t","decision":"deny"}"#)
                .is_ok()
        );
    }
}
