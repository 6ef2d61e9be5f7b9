use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but unreserved characters is encoded (RFC 3986 `unreserved`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Substitutes `{name}` placeholders. Unknown placeholders are left as they are, so a typo
/// shows up in the output instead of vanishing. With `url_encode`, values are percent-encoded
/// (for templates that are URLs).
pub fn render_template(template: &str, vars: &[(&str, &str)], url_encode: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            vars.iter()
                .find(|(k, _)| *k == &after[..close])
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, v)) => {
                if url_encode {
                    out.extend(utf8_percent_encode(v, COMPONENT));
                } else {
                    out.push_str(v);
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitutes_and_encodes() {
        let vars = [
            ("username", "tux"),
            ("notification_message", "Login for tux & co?"),
        ];
        assert_eq!(
            render_template(
                "https://p/?u={username}&m={notification_message}",
                &vars,
                true
            ),
            "https://p/?u=tux&m=Login%20for%20tux%20%26%20co%3F"
        );
        assert_eq!(
            render_template("{username} wants in: {notification_message}", &vars, false),
            "tux wants in: Login for tux & co?"
        );
    }

    #[test]
    fn leaves_unknown_and_unclosed_placeholders() {
        let vars = [("a", "1")];
        assert_eq!(render_template("{a}{b}{", &vars, false), "1{b}{");
        assert_eq!(render_template("{{a}}", &vars, false), "{1}");
    }
}
