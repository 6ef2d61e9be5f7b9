//! Keys for operating mfad: the log format and the metrics token.

use serde::{Deserialize, Serialize};

/// `log_format`: how mfad writes its log lines (to stderr).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (tracing's default format).
    #[default]
    Text,
    /// One JSON object a line, its fields at the top level (`message`, `level`, ...).
    Json,
}

/// A secret from the config file (the metrics token): never shown by `Debug`, and never quoted
/// by a config error. Empty means unset.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that compares it.
    pub fn expose(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(self.0.as_str())
    }

    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() {
            "Secret(..)"
        } else {
            "Secret(unset)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_debug_print() {
        let s = Secret::new("hunter2hunter2hunter2");
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(s.expose(), Some("hunter2hunter2hunter2"));
        assert_eq!(Secret::default().expose(), None);
    }
}
