//! A minimal BSON encoder (bsonspec.org 1.1) for the legacy `/rest/v1/*.bson` answers: the
//! element types those answers use and nothing else. Why not the `bson` crate: see Cargo.toml.

use thiserror::Error;

/// Why a document could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BsonError {
    /// An element name contains a NUL byte (names are C strings).
    #[error("a BSON element name contains a NUL byte")]
    NulInName,
    /// The document would be larger than BSON's int32 length allows.
    #[error("the BSON document is too large")]
    TooLarge,
}

/// A BSON value of the kinds Duo's answers carry.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// UTF-8 string (0x02).
    String(String),
    /// Embedded document (0x03).
    Document(Document),
    /// Array (0x04): a document keyed "0", "1", ...
    Array(Vec<Value>),
    /// Boolean (0x08).
    Bool(bool),
    /// Null (0x0A).
    Null,
    /// 32-bit integer (0x10); duo_unix reads `code` only as this.
    Int32(i32),
    /// 64-bit integer (0x12).
    Int64(i64),
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}
impl From<i32> for Value {
    fn from(n: i32) -> Self {
        Self::Int32(n)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Int64(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}
impl From<Document> for Value {
    fn from(d: Document) -> Self {
        Self::Document(d)
    }
}

impl Value {
    /// The value as JSON.
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Self::String(s) => J::String(s.clone()),
            Self::Document(d) => d.to_json(),
            Self::Array(items) => J::Array(items.iter().map(Self::to_json).collect()),
            Self::Bool(b) => J::Bool(*b),
            Self::Null => J::Null,
            Self::Int32(n) => J::from(*n),
            Self::Int64(n) => J::from(*n),
        }
    }
}

/// An ordered BSON document.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Document {
    elements: Vec<(String, Value)>,
}

impl Document {
    /// An empty document.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an element (builder style).
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.insert(name, value);
        self
    }

    /// Appends an element.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        self.elements.push((name.into(), value.into()));
    }

    /// The elements in order.
    #[must_use]
    pub fn elements(&self) -> &[(String, Value)] {
        &self.elements
    }

    /// The same document as a JSON object (Auth API v2 answers are built as documents too).
    #[must_use]
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.elements
                .iter()
                .map(|(n, v)| (n.clone(), v.to_json()))
                .collect(),
        )
    }

    /// The encoded document.
    pub fn to_bytes(&self) -> Result<Vec<u8>, BsonError> {
        let mut out = Vec::new();
        write_document(&mut out, self.elements.iter().map(|(n, v)| (n.as_str(), v)))?;
        Ok(out)
    }
}

fn write_document<'a>(
    out: &mut Vec<u8>,
    elements: impl Iterator<Item = (&'a str, &'a Value)>,
) -> Result<(), BsonError> {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    for (name, value) in elements {
        write_element(out, name, value)?;
    }
    out.push(0);
    let len = i32::try_from(out.len() - start).map_err(|_| BsonError::TooLarge)?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn write_element(out: &mut Vec<u8>, name: &str, value: &Value) -> Result<(), BsonError> {
    let tag = match value {
        Value::String(_) => 0x02,
        Value::Document(_) => 0x03,
        Value::Array(_) => 0x04,
        Value::Bool(_) => 0x08,
        Value::Null => 0x0A,
        Value::Int32(_) => 0x10,
        Value::Int64(_) => 0x12,
    };
    out.push(tag);
    if name.as_bytes().contains(&0) {
        return Err(BsonError::NulInName);
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
    match value {
        Value::String(s) => {
            let len = i32::try_from(s.len() + 1).map_err(|_| BsonError::TooLarge)?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(s.as_bytes());
            out.push(0);
        }
        Value::Document(d) => {
            write_document(out, d.elements.iter().map(|(n, v)| (n.as_str(), v)))?;
        }
        Value::Array(items) => {
            let names: Vec<String> = (0..items.len()).map(|i| i.to_string()).collect();
            write_document(out, names.iter().map(String::as_str).zip(items.iter()))?;
        }
        Value::Bool(b) => out.push(u8::from(*b)),
        Value::Null => {}
        Value::Int32(n) => out.extend_from_slice(&n.to_le_bytes()),
        Value::Int64(n) => out.extend_from_slice(&n.to_le_bytes()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_example_encodes_byte_for_byte() {
        // bsonspec.org/faq.html: {"hello": "world"}
        let doc = Document::new().with("hello", "world");
        assert_eq!(
            doc.to_bytes().unwrap(),
            b"\x16\x00\x00\x00\x02hello\x00\x06\x00\x00\x00world\x00\x00"
        );
        assert_eq!(Document::new().to_bytes().unwrap(), b"\x05\x00\x00\x00\x00");
    }

    #[test]
    fn nul_in_a_name_is_refused() {
        let doc = Document::new().with("a\0b", 1);
        assert_eq!(doc.to_bytes(), Err(BsonError::NulInName));
    }
}
