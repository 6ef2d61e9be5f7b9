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
}
