//! Integers as JSON writes them: `6` or `6.0`. JSON has one number type, and JSON Schema's
//! `integer` is any number with a zero fraction, so a field the document types as an integer
//! takes both; `6.5`, negatives and numbers out of the field's type are refused with a message
//! naming the value. For `#[serde(deserialize_with = "crate::whole::...")]`.

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// A whole number that fits `T`.
struct Whole<T>(T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(WholeVisitor(PhantomData)).map(Whole)
    }
}

struct WholeVisitor<T>(PhantomData<T>);

impl<T: TryFrom<u64>> Visitor<'_> for WholeVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole number in the field's range")
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        T::try_from(n).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        let unexpected = || E::invalid_value(de::Unexpected::Signed(n), &self);
        let n = u64::try_from(n).map_err(|_| unexpected())?;
        T::try_from(n).map_err(|_| unexpected())
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<T, E> {
        // 2^64 is the first f64 beyond u64; below it, a whole f64 converts exactly.
        const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
        if x.fract() != 0.0 || !(0.0..TWO_POW_64).contains(&x) {
            return Err(E::invalid_value(de::Unexpected::Float(x), &self));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.visit_u64(x as u64)
    }
}

/// A required whole number.
pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<T, D::Error> {
    Whole::deserialize(d).map(|w| w.0)
}

/// An optional whole number (`null` or absent: `None`; use with `#[serde(default)]`).
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(d: D) -> Result<Option<T>, D::Error> {
    Option::<Whole<T>>::deserialize(d).map(|o| o.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::required")]
        n: u8,
        #[serde(default, deserialize_with = "super::optional")]
        m: Option<u64>,
    }

    fn parse(json: &str) -> Result<(u8, Option<u64>), String> {
        serde_json::from_str::<Body>(json)
            .map(|b| (b.n, b.m))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_whole_number_is_taken_with_or_without_a_fraction() {
        assert_eq!(parse(r#"{"n": 6}"#), Ok((6, None)));
        assert_eq!(parse(r#"{"n": 6.0, "m": 7.0}"#), Ok((6, Some(7))));
        assert_eq!(parse(r#"{"n": 255, "m": null}"#), Ok((255, None)));
        assert_eq!(
            parse(r#"{"n": 0, "m": 18446744073709551615}"#),
            Ok((0, Some(u64::MAX)))
        );
    }

    #[test]
    fn fractions_negatives_and_too_large_numbers_are_refused_by_value() {
        for (json, shown) in [
            (r#"{"n": 6.5}"#, "6.5"),
            (r#"{"n": -1}"#, "-1"),
            (r#"{"n": 256}"#, "256"),
            (r#"{"n": 1e300}"#, "1e+300"),
            (r#"{"n": "6"}"#, "\"6\""),
            (r#"{"n": 1, "m": -0.5}"#, "-0.5"),
        ] {
            let e = parse(json).unwrap_err();
            assert!(e.contains("a whole number"), "{json}: {e}");
            assert!(e.contains(shown.trim_matches('"')), "{json}: {e}");
        }
    }
}
