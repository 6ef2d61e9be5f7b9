//! The server's base URL and the URLs derived from it (API paths, the WebSocket).

use anyhow::bail;
use url::Url;

/// A validated mfad base URL: http:// or https://, no query or fragment; may carry a path
/// prefix (mfad behind a reverse proxy under `/mfa/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    base: Url,
}

impl Endpoint {
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let s = s.trim();
        let base = match Url::parse(s) {
            Ok(u) => u,
            Err(url::ParseError::RelativeUrlWithoutBase) => bail!(
                "server URL {s:?} has no scheme: write it as http://HOST:PORT or https://HOST"
            ),
            Err(e) => bail!("server URL {s:?} is not a URL: {e}"),
        };
        if !matches!(base.scheme(), "http" | "https") {
            bail!(
                "server URL {s:?} must start with http:// or https:// (the WebSocket URL is derived from it)"
            );
        }
        if base.host().is_none() {
            bail!("server URL {s:?} names no host");
        }
        if base.query().is_some() || base.fragment().is_some() {
            bail!("server URL {s:?} must not have a query (?...) or fragment (#...)");
        }
        if !base.username().is_empty() || base.password().is_some() {
            bail!("server URL {s:?} must not carry a user name or password");
        }
        Ok(Self { base })
    }

    pub fn is_tls(&self) -> bool {
        self.base.scheme() == "https"
    }

    /// The base URL as given, without a trailing slash (how it is shown and stored).
    pub fn display(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// The API URL for `path` (which starts with `/`), under the base path.
    pub fn http_url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        let prefix = self.base.path().trim_end_matches('/');
        url.set_path(&format!("{prefix}{path}"));
        url
    }

    /// `GET /v1/client/ws`: ws:// for http://, wss:// for https://.
    pub fn ws_url(&self) -> Url {
        let mut url = self.http_url("/v1/client/ws");
        let scheme = if self.is_tls() { "wss" } else { "ws" };
        // Both are "special" schemes with the same default ports, so this cannot fail; keep
        // the http(s) URL if it ever did, and the handshake will say what is wrong.
        let _ = url.set_scheme(scheme);
        url
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn http_becomes_ws_and_https_becomes_wss() {
        for (base, ws) in [
            ("http://127.0.0.1:8420", "ws://127.0.0.1:8420/v1/client/ws"),
            ("http://127.0.0.1:8420/", "ws://127.0.0.1:8420/v1/client/ws"),
            (
                "https://mfa.example.org",
                "wss://mfa.example.org/v1/client/ws",
            ),
            (
                "https://mfa.example.org:443/",
                "wss://mfa.example.org/v1/client/ws",
            ),
            (
                "https://mfa.example.org:8443",
                "wss://mfa.example.org:8443/v1/client/ws",
            ),
            (
                "http://example.org/mfa/",
                "ws://example.org/mfa/v1/client/ws",
            ),
            (
                "http://example.org/mfa",
                "ws://example.org/mfa/v1/client/ws",
            ),
            ("http://[::1]:8420", "ws://[::1]:8420/v1/client/ws"),
            ("  HTTP://Example.ORG  ", "ws://example.org/v1/client/ws"),
        ] {
            assert_eq!(
                Endpoint::parse(base).unwrap().ws_url().as_str(),
                ws,
                "{base}"
            );
        }
    }

    #[test]
    fn api_paths_go_under_the_base_path() {
        let e = Endpoint::parse("https://example.org/mfa/").unwrap();
        assert_eq!(
            e.http_url("/v1/client/enroll").as_str(),
            "https://example.org/mfa/v1/client/enroll"
        );
        assert_eq!(e.display(), "https://example.org/mfa");
        assert!(e.is_tls());
        let e = Endpoint::parse("http://127.0.0.1:8420").unwrap();
        assert_eq!(
            e.http_url("/v1/client/requests/abc").as_str(),
            "http://127.0.0.1:8420/v1/client/requests/abc"
        );
        assert_eq!(e.display(), "http://127.0.0.1:8420");
        assert!(!e.is_tls());
    }

    #[test]
    fn refuses_what_is_not_an_http_base_url() {
        for (bad, says) in [
            ("127.0.0.1:8420", "http://"),
            ("mfa.example.org", "no scheme"),
            ("ftp://mfa.example.org", "http:// or https://"),
            ("ws://mfa.example.org", "http:// or https://"),
            ("http://", "not a URL"),
            ("http://x/?a=b", "query"),
            ("http://x/#top", "fragment"),
            ("http://u:p@x/", "password"),
            ("", "no scheme"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }
}
