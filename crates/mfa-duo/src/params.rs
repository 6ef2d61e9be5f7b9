//! Request parameters: `application/x-www-form-urlencoded` decoding, and Duo's re-encoding of the
//! decoded pairs for the canonical string.
//!
//! The signature covers the *client's* encoding, which is not what went over the wire: duo_client
//! sends `urllib.parse.urlencode` (space as `+`) but signs `quote(.., '~')` (space as `%20`). So
//! the server decodes the wire form to bytes and re-encodes them the way every Duo client signs:
//! `A-Za-z0-9_~.-` kept, every other byte `%XX` with uppercase hex. Keys and values are bytes,
//! not strings, so the round trip is exact for any input (UTF-8 or not).

use thiserror::Error;

/// Why a form-encoded query or body was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormError {
    /// A `%` not followed by two hex digits (byte offset in the input).
    #[error("bad percent escape at byte {0} of the form")]
    BadEscape(usize),
    /// A JSON body that is not an object of strings, numbers, booleans and arrays of them.
    #[error("the JSON body is not an object of strings, numbers, booleans or arrays of them")]
    BadJson,
}

/// Decoded request parameters in the order they arrived (repeated keys kept).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Params {
    /// An empty parameter list.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes an `application/x-www-form-urlencoded` string (a query without its `?`, or a
    /// body): `&`-separated `key=value`, `+` is a space, `%XX` a byte; empty segments are
    /// skipped and a segment without `=` is a key with an empty value. A malformed `%` escape
    /// is refused rather than guessed at, since the signature depends on the exact bytes.
    pub fn parse_form(input: &[u8]) -> Result<Self, FormError> {
        let mut params = Self::new();
        params.extend_form(input)?;
        Ok(params)
    }

    /// Adds the pairs of another form-encoded string (e.g. the body after the query).
    pub fn extend_form(&mut self, input: &[u8]) -> Result<(), FormError> {
        let mut offset = 0;
        for segment in input.split(|&b| b == b'&') {
            let start = offset;
            offset += segment.len() + 1;
            if segment.is_empty() {
                continue;
            }
            let (key, value) = match segment.iter().position(|&b| b == b'=') {
                Some(eq) => (&segment[..eq], &segment[eq + 1..]),
                None => (segment, &segment[segment.len()..]),
            };
            let key = decode_component(key, start)?;
            let value = decode_component(value, start + key_len_on_wire(segment))?;
            self.pairs.push((key, value));
        }
        Ok(())
    }

    /// The params of a JSON body as duo_client v4/v5 sends them (`json.dumps` of the params
    /// dict): an object whose values are strings, numbers, booleans (`true`/`false`, as
    /// duo_client's `normalize_params` spells them for v2) or arrays of those (one pair per
    /// element, like a repeated form key); `null` values are left out.
    pub fn from_json(body: &[u8]) -> Result<Self, FormError> {
        use serde_json::Value;
        fn scalar(v: &Value) -> Result<Option<String>, FormError> {
            match v {
                Value::String(s) => Ok(Some(s.clone())),
                Value::Number(n) => Ok(Some(n.to_string())),
                Value::Bool(b) => Ok(Some(b.to_string())),
                Value::Null => Ok(None),
                Value::Array(_) | Value::Object(_) => Err(FormError::BadJson),
            }
        }
        let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) else {
            return Err(FormError::BadJson);
        };
        let mut params = Self::new();
        for (key, value) in &map {
            let values = match value {
                Value::Array(items) => items.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
                v => vec![scalar(v)?],
            };
            for v in values.into_iter().flatten() {
                params.push(key.as_bytes(), v.into_bytes());
            }
        }
        Ok(params)
    }

    /// Appends another list's pairs.
    pub fn extend(&mut self, other: &Self) {
        self.pairs.extend(other.pairs.iter().cloned());
    }

    /// Adds one decoded pair.
    pub fn push(&mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.pairs.push((key.into(), value.into()));
    }

    /// The decoded pairs, in arrival order.
    #[must_use]
    pub fn pairs(&self) -> &[(Vec<u8>, Vec<u8>)] {
        &self.pairs
    }

    /// The first value of `key`, if present and valid UTF-8.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key.as_bytes())
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// How many values `key` has (the API handlers refuse repeated keys where Duo takes one).
    #[must_use]
    pub fn count(&self, key: &str) -> usize {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key.as_bytes())
            .count()
    }

    /// True when there are no pairs.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn encoded(&self) -> Vec<(String, String)> {
        self.pairs
            .iter()
            .map(|(k, v)| (encode_component(k), encode_component(v)))
            .collect()
    }

    /// The canonical parameter line of sig versions 1 (duo_client), 2, 4 and 5: every pair
    /// re-encoded Duo's way, sorted by encoded key then encoded value (duo_client's
    /// `canon_params`: it sorts the *encoded* strings), joined with `&`.
    #[must_use]
    pub fn canonical(&self) -> String {
        let mut encoded = self.encoded();
        encoded.sort();
        join(encoded.iter().map(|(k, v)| format!("{k}={v}")))
    }

    /// The canonical parameter line of duo_unix (1.x `/rest/v1`, and 2.x): each pair encoded as
    /// `key=value` and the strings sorted with `strcmp` (`_argv_to_qs` in lib/https.c). This
    /// differs from [`Params::canonical`] only when one key is a prefix of another and the
    /// longer one goes on with a byte below `=` (`%`, `-`, `.`, a digit): `a-b=1&a=2` here,
    /// `a=2&a-b=1` there.
    #[must_use]
    pub fn canonical_strcmp(&self) -> String {
        let mut lines: Vec<String> = self
            .encoded()
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        lines.sort();
        join(lines.into_iter())
    }
}

fn key_len_on_wire(segment: &[u8]) -> usize {
    segment
        .iter()
        .position(|&b| b == b'=')
        .map_or(segment.len(), |eq| eq + 1)
}

fn join(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join("&")
}

/// Encodes bytes as Duo's clients do: `A-Za-z0-9_~.-` kept, everything else `%XX` (uppercase
/// hex). Space is `%20`, never `+`.
#[must_use]
pub fn encode_component(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'~' | b'.' | b'-') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Decodes one form component: `+` is a space, `%XX` (either case) a byte, anything else itself.
/// `base` is the component's offset in the whole input, for the error.
pub fn decode_component(input: &[u8], base: usize) -> Result<Vec<u8>, FormError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = input.get(i + 1).and_then(|&b| hex_value(b));
                let lo = input.get(i + 2).and_then(|&b| hex_value(b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(FormError::BadEscape(base + i)),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_is_space_and_percent_is_a_byte() {
        let p = Params::parse_form(b"a=First+Last&b=%2B%e2%82%AC&c&&d=").unwrap();
        assert_eq!(
            p.pairs(),
            &[
                (b"a".to_vec(), b"First Last".to_vec()),
                (b"b".to_vec(), "+€".as_bytes().to_vec()),
                (b"c".to_vec(), Vec::new()),
                (b"d".to_vec(), Vec::new()),
            ]
        );
        assert_eq!(p.canonical(), "a=First%20Last&b=%2B%E2%82%AC&c=&d=");
    }

    #[test]
    fn bad_escapes_are_refused_with_their_offset() {
        assert_eq!(
            Params::parse_form(b"a=1&b=%4"),
            Err(FormError::BadEscape(6))
        );
        assert_eq!(Params::parse_form(b"a=%zz"), Err(FormError::BadEscape(2)));
        assert_eq!(Params::parse_form(b"%"), Err(FormError::BadEscape(0)));
    }

    #[test]
    fn strcmp_order_differs_from_key_order_on_prefixes() {
        let mut p = Params::new();
        p.push("a", "2");
        p.push("a-b", "1");
        assert_eq!(p.canonical(), "a=2&a-b=1");
        assert_eq!(p.canonical_strcmp(), "a-b=1&a=2");
    }

    #[test]
    fn repeated_keys_sort_by_encoded_value() {
        let mut p = Params::new();
        p.push("k", "~");
        p.push("k", "\u{80}");
        p.push("k", "b");
        // "%C2%80" < "b" < "~": duo_client sorts the encoded strings, not the raw ones.
        assert_eq!(p.canonical(), "k=%C2%80&k=b&k=~");
        assert_eq!(p.count("k"), 3);
        assert_eq!(p.get("k"), Some("~"));
    }

    #[test]
    fn json_bodies_become_params_like_duo_client_v2_would_send_them() {
        let p = Params::from_json(
            br#"{"username":"tux","device":["a","b"],"async":true,"n":5,"x":null}"#,
        )
        .unwrap();
        assert_eq!(
            p.canonical(),
            "async=true&device=a&device=b&n=5&username=tux"
        );
        for bad in [
            &b"[1]"[..],
            b"{\"a\":{\"b\":1}}",
            b"{\"a\":[[1]]}",
            b"not json",
            b"",
        ] {
            assert_eq!(Params::from_json(bad), Err(FormError::BadJson));
        }
    }
}
