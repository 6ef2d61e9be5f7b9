//! WebSocket text frames (mfa-wire ws.rs): what a client sends mfad (`ClientMessage`) and
//! what mfad sends a client (`ServerMessage`).
//!
//! Whatever deserializes round-trips through JSON unchanged; a client message with an unknown
//! field or type is refused; the error mfad answers a bad frame with is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_fuzz::{assert_one_line, text};
use mfa_wire::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8 (tungstenite refuses others before mfa sees them).
    let Some(frame) = text(data) else { return };
    match serde_json::from_str::<ClientMessage>(frame) {
        Ok(message) => {
            let json = serde_json::to_string(&message).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(
                serde_json::from_str::<ClientMessage>(&json).ok(),
                Some(message.clone())
            );
            let extra = json.replacen('{', "{\"fuzz_unknown_field\":1,", 1);
            assert!(
                serde_json::from_str::<ClientMessage>(&extra).is_err(),
                "{extra}"
            );
            let ClientMessage::Decision { txid, .. } = message;
            // The txid came from the frame: never longer than it.
            assert!(txid.len() <= frame.len());
        }
        // mfad answers `unreadable message: {e}` in an `error` frame.
        Err(e) => assert_one_line(&format!("unreadable message: {e}")),
    }
    if let Ok(message) = serde_json::from_str::<ServerMessage>(frame) {
        let json = serde_json::to_string(&message).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            serde_json::from_str::<ServerMessage>(&json).ok(),
            Some(message)
        );
    }
});
