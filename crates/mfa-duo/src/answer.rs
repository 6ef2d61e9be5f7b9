//! The answer envelopes: JSON for Auth API v2, BSON for the legacy `/rest/v1/*.bson` dialect.

use serde::{Deserialize, Serialize};

use crate::bson::{BsonError, Document};

/// Duo's `40002 Invalid request parameters`.
pub const CODE_INVALID_PARAMS: u32 = 40002;
/// Duo's `40101 Missing request credentials` (HTTP 401).
pub const CODE_MISSING_CREDENTIALS: u32 = 40101;
/// Duo's `40103 Invalid signature` (HTTP 401).
pub const CODE_INVALID_SIGNATURE: u32 = 40103;

/// The JSON envelope: `{"stat":"OK","response":...}` or
/// `{"stat":"FAIL","code":40xxx,"message":"...","message_detail":"..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stat")]
pub enum Envelope<T> {
    /// Success.
    #[serde(rename = "OK")]
    Ok {
        /// The endpoint's answer.
        response: T,
    },
    /// Failure.
    #[serde(rename = "FAIL")]
    Fail {
        /// Duo's five-digit code (HTTP status times 100 plus a number).
        code: u32,
        /// A short message.
        message: String,
        /// Which parameter, for 40002 (Duo's `message_detail`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message_detail: Option<String>,
    },
}

impl<T: Serialize> Envelope<T> {
    /// The JSON bytes of the envelope.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        serde_json::to_vec(self)
    }
}

/// `{"stat":"OK","response":response}` as JSON.
pub fn ok_json<T: Serialize>(response: T) -> Result<Vec<u8>, serde_json::Error> {
    Envelope::Ok { response }.to_json()
}

/// `{"stat":"FAIL","code":code,"message":message}` as JSON.
pub fn fail_json(code: u32, message: &str, detail: Option<&str>) -> Vec<u8> {
    // A map of a number and strings always serializes.
    Envelope::<()>::Fail {
        code,
        message: message.to_owned(),
        message_detail: detail.map(str::to_owned),
    }
    .to_json()
    .unwrap_or_default()
}

/// The legacy OK answer: `{stat: "OK", response: <document>}` as BSON.
pub fn ok_bson(response: Document) -> Result<Vec<u8>, BsonError> {
    Document::new()
        .with("stat", "OK")
        .with("response", response)
        .to_bytes()
}

/// The legacy OK answer whose `response` is a string (duo_unix's `ping` answers `"pong"`).
pub fn ok_bson_str(response: &str) -> Result<Vec<u8>, BsonError> {
    Document::new()
        .with("stat", "OK")
        .with("response", response)
        .to_bytes()
}

/// The legacy FAIL answer: `{stat: "FAIL", code: <int32>, message: <string>}` as BSON
/// (duo_unix 1.x reads `code` only as int32 and `message` only as a string).
pub fn fail_bson(code: i32, message: &str) -> Result<Vec<u8>, BsonError> {
    Document::new()
        .with("stat", "FAIL")
        .with("code", code)
        .with("message", message)
        .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_envelopes_have_duo_shape() {
        let ok = ok_json(serde_json::json!({"time": 1})).unwrap();
        assert_eq!(ok, br#"{"stat":"OK","response":{"time":1}}"#);
        assert_eq!(
            fail_json(40002, "Invalid request parameters", Some("username")),
            br#"{"stat":"FAIL","code":40002,"message":"Invalid request parameters","message_detail":"username"}"#
        );
        assert_eq!(
            fail_json(40103, "Invalid signature", None),
            br#"{"stat":"FAIL","code":40103,"message":"Invalid signature"}"#
        );
        let back: Envelope<serde_json::Value> = serde_json::from_slice(&ok).unwrap();
        assert_eq!(
            back,
            Envelope::Ok {
                response: serde_json::json!({"time": 1})
            }
        );
    }
}
