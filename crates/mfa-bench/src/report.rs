//! The one table: a row per scenario, backend and generator, with the ratios that matter
//! beside it; and the same figures as JSON (`--json FILE`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::load::Outcome;

/// Who generated the load of a row.
pub const OURS: &str = "mfa-bench";
pub const WRK: &str = "wrk";

/// The peer's backend name in the table.
pub const PEER: &str = "privacyIDEA";

#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// What the row is compared with: `healthz`, `nginx`, `wrk`, `sqlite`, `privacyIDEA`.
    pub of: String,
    pub value: f64,
}

/// The slices of a long run compared for a slow-down: its first and its last this long.
const WINDOW: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub scenario: String,
    /// `sqlite`, `postgres`, `nginx` or `privacyIDEA`.
    pub backend: String,
    pub generator: String,
    /// Per second, of `unit`.
    pub rate: f64,
    pub unit: String,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Accepted answers (logins, approvals).
    pub count: u64,
    pub errors: u64,
    pub seconds: f64,
    pub error_samples: Vec<String>,
    pub notes: Vec<String>,
    pub ratios: Vec<Ratio>,
    /// Figures of their own: `rss_idle_mb`, `rss_pending_mb`, `all_answered_s`, ...
    pub extra: BTreeMap<String, f64>,
}

impl Row {
    pub fn new(scenario: &str, backend: &str, generator: &str, unit: &str) -> Self {
        Self {
            scenario: scenario.to_owned(),
            backend: backend.to_owned(),
            generator: generator.to_owned(),
            rate: 0.0,
            unit: unit.to_owned(),
            p50_ms: None,
            p99_ms: None,
            count: 0,
            errors: 0,
            seconds: 0.0,
            error_samples: Vec::new(),
            notes: Vec::new(),
            ratios: Vec::new(),
            extra: BTreeMap::new(),
        }
    }

    /// A row of the Rust generator's figures.
    pub fn from_outcome(scenario: &str, backend: &str, unit: &str, mut out: Outcome) -> Self {
        let mut row = Self::new(scenario, backend, OURS, unit);
        row.rate = out.rate();
        row.p50_ms = out.percentile_ms(50.0);
        row.p99_ms = out.percentile_ms(99.0);
        row.count = out.ok();
        row.errors = out.errors;
        row.seconds = out.elapsed.as_secs_f64();
        row.error_samples = std::mem::take(&mut out.samples);
        if out.ran_out {
            row.notes.push(format!(
                "fresh codes ran out after {:.1} s: figures over that time",
                row.seconds
            ));
        }
        if let Some((first, last)) = out.window_rates(WINDOW) {
            row.notes.push(format!(
                "first {0} s {first:.0}/s, last {0} s {last:.0}/s ({1:.2}x)",
                WINDOW.as_secs(),
                last / first.max(f64::MIN_POSITIVE)
            ));
            row.extra.insert("first_window_rate".into(), first);
            row.extra.insert("last_window_rate".into(), last);
        }
        row
    }

    /// A row that could not be measured at all (counted as an error).
    pub fn failed(scenario: &str, backend: &str, why: String) -> Self {
        let mut row = Self::new(scenario, backend, OURS, "req/s");
        row.errors = 1;
        row.error_samples.push(why);
        row
    }
}

/// Scenarios compared with `GET /healthz` of the same backend.
const AGAINST_HEALTHZ: [&str; 7] = [
    "verify hotp",
    crate::scenarios::otp::LARGE,
    "verify totp",
    "reject hotp",
    "reject totp",
    "preauth",
    "auth totp",
];

fn find<'a>(rows: &'a [Row], scenario: &str, backend: &str, generator: &str) -> Option<&'a Row> {
    rows.iter()
        .find(|r| r.scenario == scenario && r.backend == backend && r.generator == generator)
}

fn ratio(row: &Row, other: Option<&Row>, of: &str) -> Option<Ratio> {
    let other = other?;
    (other.rate > 0.0 && row.rate > 0.0).then(|| Ratio {
        of: of.to_owned(),
        value: row.rate / other.rate,
    })
}

/// Fills in every row's ratios from the others.
pub fn add_ratios(rows: &mut [Row]) {
    let snapshot = rows.to_vec();
    for row in rows.iter_mut() {
        let mut ratios = Vec::new();
        let (s, b, g) = (
            row.scenario.as_str(),
            row.backend.as_str(),
            row.generator.as_str(),
        );
        if AGAINST_HEALTHZ.contains(&s) {
            ratios.extend(ratio(row, find(&snapshot, "healthz", b, g), "healthz"));
        }
        if s == crate::scenarios::otp::LARGE {
            ratios.extend(ratio(
                row,
                find(&snapshot, "verify hotp", b, g),
                "verify hotp",
            ));
        }
        if s == "healthz" {
            ratios.extend(ratio(
                row,
                find(&snapshot, "return 200", "nginx", g),
                "nginx",
            ));
        }
        if g == OURS && (s == "healthz" || s == "return 200") {
            ratios.extend(ratio(row, find(&snapshot, s, b, WRK), "wrk"));
        }
        if b == "postgres" {
            ratios.extend(ratio(row, find(&snapshot, s, "sqlite", g), "sqlite"));
        }
        let ours = b == "sqlite" || b == "postgres";
        if ours && (s == "verify hotp" || s == "reject hotp") {
            ratios.extend(ratio(row, find(&snapshot, s, PEER, g), PEER));
        }
        row.ratios = ratios;
    }
}

fn fmt_rate(rate: f64) -> String {
    let whole = rate.round() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

fn fmt_ms(ms: Option<f64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) if ms >= 100.0 => format!("{ms:.0}"),
        Some(ms) if ms >= 10.0 => format!("{ms:.1}"),
        Some(ms) => format!("{ms:.2}"),
    }
}

fn fmt_remarks(row: &Row) -> String {
    let mut parts: Vec<String> = row
        .ratios
        .iter()
        .map(|r| format!("{:.2}x {}", r.value, r.of))
        .collect();
    parts.extend(row.notes.iter().cloned());
    parts.join("; ")
}

/// The table, as printed.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<18} {:<11} {:<9} {:>9} {:<11} {:>8} {:>8} {:>6}  {}\n",
        "scenario",
        "backend",
        "load",
        "rate",
        "unit",
        "p50 ms",
        "p99 ms",
        "errors",
        "ratios, notes"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<18} {:<11} {:<9} {:>9} {:<11} {:>8} {:>8} {:>6}  {}\n",
            row.scenario,
            row.backend,
            row.generator,
            fmt_rate(row.rate),
            row.unit,
            fmt_ms(row.p50_ms),
            fmt_ms(row.p99_ms),
            row.errors,
            fmt_remarks(row)
        ));
    }
    out
}

/// Every error message kept, one line per row that had errors.
pub fn error_lines(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.errors > 0)
        .map(|r| {
            format!(
                "{} / {} / {}: {} errors: {}",
                r.scenario,
                r.backend,
                r.generator,
                r.errors,
                r.error_samples.join(" | ")
            )
        })
        .collect()
}

#[derive(Serialize)]
pub struct JsonReport<'a> {
    pub seconds: f64,
    pub connections: usize,
    pub cores: usize,
    pub rows: &'a [Row],
    pub skipped: &'a [String],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: &str, b: &str, g: &str, rate: f64) -> Row {
        let mut r = Row::new(s, b, g, "req/s");
        r.rate = rate;
        r
    }

    #[test]
    fn ratios_compare_like_with_like() {
        let mut rows = vec![
            row("return 200", "nginx", OURS, 40_000.0),
            row("return 200", "nginx", WRK, 50_000.0),
            row("healthz", "sqlite", OURS, 20_000.0),
            row("healthz", "postgres", OURS, 10_000.0),
            row("verify hotp", "sqlite", OURS, 2_000.0),
            row("verify hotp", "postgres", OURS, 1_000.0),
            row("verify hotp", PEER, OURS, 500.0),
        ];
        add_ratios(&mut rows);
        let of = |i: usize| -> Vec<(String, String)> {
            rows[i]
                .ratios
                .iter()
                .map(|r| (r.of.clone(), format!("{:.2}", r.value)))
                .collect()
        };
        assert_eq!(of(0), vec![("wrk".into(), "0.80".into())]);
        assert_eq!(of(2), vec![("nginx".into(), "0.50".into())]);
        assert_eq!(
            of(5),
            vec![
                ("healthz".into(), "0.10".into()),
                ("sqlite".into(), "0.50".into()),
                ("privacyIDEA".into(), "2.00".into())
            ]
        );
        assert!(of(6).is_empty());
    }

    #[test]
    fn rates_are_grouped_by_thousands() {
        assert_eq!(fmt_rate(38885.4), "38 885");
        assert_eq!(fmt_rate(999.0), "999");
        assert_eq!(fmt_rate(1234567.0), "1 234 567");
    }
}
