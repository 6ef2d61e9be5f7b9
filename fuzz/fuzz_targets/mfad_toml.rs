//! `mfad.toml` (mfa_config::parse, as mfad and mfac read it).
//!
//! A configuration that parses serializes to TOML that parses back to the same configuration
//! (model.rs keeps sub-tables last for that); an error is one line, and the line it names is
//! one of the text's.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use mfa_config::ConfigError;
use mfa_fuzz::{assert_one_line, text};

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    match mfa_config::parse(text, Path::new("mfad.toml")) {
        Ok(config) => {
            let written = toml::to_string(&config)
                .unwrap_or_else(|e| panic!("the parsed config does not serialize: {e}"));
            let again = mfa_config::parse(&written, Path::new("written.toml"))
                .unwrap_or_else(|e| panic!("{written:?} (written from {text:?}) fails: {e}"));
            assert_eq!(again, config, "{written}");
        }
        Err(e) => {
            assert_one_line(&e.to_string());
            let ConfigError::Invalid { line, .. } = e else {
                panic!("parse gave a non-parse error: {e}");
            };
            if let Some(line) = line {
                let lines = text.split('\n').count();
                assert!((1..=lines).contains(&line), "line {line} of {lines}");
            }
        }
    }
});
