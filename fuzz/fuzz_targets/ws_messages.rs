//! WebSocket text frames (mfa-wire ws.rs): what a client sends mfad (`ClientMessage`) and
//! what mfad sends a client (`ServerMessage`).
//!
//! Whatever deserializes round-trips through JSON unchanged; a client message with an unknown
//! field or type is refused; the error mfad answers a bad frame with is one line (it was not:
//! serde quotes an unknown type as decoded, line breaks and all).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_fuzz::{assert_one_line, text};
use mfa_wire::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 (tungstenite refuses others before mfa sees them).
    let Some(frame) = text(data) else { return };
    // As mfad reads a frame (mfa-server ws.rs).
    match ClientMessage::from_frame(frame) {
        Ok(message) => {
            let json = serde_json::to_string(&message).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(ClientMessage::from_frame(&json).ok(), Some(message.clone()));
            let extra = json.replacen('{', "{\"fuzz_unknown_field\":1,", 1);
            assert!(ClientMessage::from_frame(&extra).is_err(), "{extra}");
            let ClientMessage::Decision { txid, .. } = message;
            // The txid came from the frame: never longer than it.
            assert!(txid.len() <= frame.len());
        }
        // What mfad sends back in an `error` frame.
        Err(message) => {
            assert_one_line(&message);
            assert!(message.starts_with("unreadable message: "), "{message}");
        }
    }
    if let Ok(message) = serde_json::from_str::<ServerMessage>(frame) {
        let json = serde_json::to_string(&message).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::from_str::<ServerMessage>(&json).ok(),
            Some(message)
        );
    }
});
