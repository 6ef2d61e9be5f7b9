use std::fmt::Display;

use anyhow::Context as _;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use serde::Serialize;

pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(value).context("cannot encode JSON")?
    );
    Ok(())
}

/// A QR code drawn with half-block characters, two modules a character cell, light on dark
/// terminals and dark on light alike (it draws its own quiet zone).
pub fn qr_for_terminal(data: &str) -> anyhow::Result<String> {
    let code = QrCode::new(data.as_bytes()).context("cannot draw the QR code")?;
    Ok(code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

/// A list: one JSON array with `--json`, else a table of `header` and one `row` per item.
pub fn print_list<T: Serialize>(
    json: bool,
    items: &[T],
    header: &[&str],
    row: impl Fn(&T) -> Vec<String>,
) -> anyhow::Result<()> {
    if json {
        return print_json(&items);
    }
    let rows: Vec<Vec<String>> = items.iter().map(row).collect();
    print_table(header, &rows);
    Ok(())
}

/// One item: its JSON with `--json`, else one `key: value` line a field, the values lined up
/// two spaces after the longest key.
pub fn print_item<T: Serialize>(
    json: bool,
    item: &T,
    fields: &[(&str, String)],
) -> anyhow::Result<()> {
    if json {
        return print_json(item);
    }
    let width = fields.iter().map(|(key, _)| key.len()).max().unwrap_or(0) + ":  ".len();
    for (key, value) in fields {
        println!("{:<width$}{value}", format!("{key}:"));
    }
    Ok(())
}

/// What a command that acted on one thing prints: `{"<key>": id, "result": result}` with
/// `--json`, else `text`.
pub fn print_done(
    json: bool,
    key: &str,
    id: impl Serialize,
    result: &str,
    text: impl Display,
) -> anyhow::Result<()> {
    if json {
        return print_json(&serde_json::json!({ key: id, "result": result }));
    }
    println!("{text}");
    Ok(())
}

/// A secret just made, shown once: what it is, the secret on a line of its own, what to do
/// with it.
pub fn print_new_token(what: &str, token: &str, usage: impl Display) {
    println!("{what} (shown once; mfad keeps only a hash):");
    println!();
    println!("  {token}");
    println!();
    println!("{usage}");
}

/// An item with the API token just made for it (shown once), as one JSON object.
#[derive(Serialize)]
pub struct WithToken<'a, T> {
    #[serde(flatten)]
    pub item: T,
    pub api_token: &'a str,
}

/// A list for people to read: comma-separated, or "none".
pub fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// Prints rows under a header, columns padded to their widest cell.
fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}
