//! The gateway the doctor looks at, read once from the form or the command line:
//! scheme, host, port, the Engine.IO path and the URL's own query, which every
//! probe builds its request URLs from.

use super::DoctorError;

/// Socket.IO's default path, the one `io(url)` uses.
pub const DEFAULT_PATH: &str = "/socket.io/";

/// A parsed target.
#[derive(Debug, Clone)]
pub struct Target {
    /// Whether the server is reached over TLS (`https` / `wss`).
    pub tls: bool,
    /// The host as given (no brackets around an IPv6 address).
    pub host: String,
    pub port: u16,
    /// `host:port` as it goes in a URL (brackets kept).
    pub authority: String,
    /// The Engine.IO path, `/` at both ends.
    pub path: String,
    /// The URL's own query pairs (a `?token=` some gateways read), sent along.
    pub query: Vec<(String, String)>,
}

impl Target {
    /// Reads `url` (`http(s)://` or `ws(s)://`); `path` overrides the URL's path.
    pub fn parse(url: &str, path: Option<&str>) -> Result<Self, DoctorError> {
        let bad = |why: &str| DoctorError::BadUrl(format!("{}: {why}", redacted(url)));
        let parsed = url::Url::parse(url.trim()).map_err(|e| bad(&e.to_string()))?;
        let tls = match parsed.scheme() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(bad("the scheme must be http, https, ws or wss")),
        };
        let host = parsed
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad("no host"))?;
        let port = parsed
            .port_or_known_default()
            .ok_or_else(|| bad("no port"))?;
        let bare = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let authority = format!("{host}:{port}");
        let path = match path.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => normalise(p),
            None if parsed.path() != "/" && !parsed.path().is_empty() => normalise(parsed.path()),
            None => DEFAULT_PATH.to_owned(),
        };
        if path.len() > 512 || path.contains(['?', '#']) {
            return Err(bad("the path must be a plain path such as /socket.io/"));
        }
        let query = parsed
            .query_pairs()
            .filter(|(k, _)| k != "EIO" && k != "transport" && k != "sid")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Ok(Self {
            tls,
            host: bare,
            port,
            authority,
            path,
            query,
        })
    }

    /// `http(s)://host:port` (what the polling probes start from).
    pub fn http_base(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.authority
        )
    }

    /// `ws(s)://host:port`.
    pub fn ws_base(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "wss" } else { "ws" },
            self.authority
        )
    }

    /// The URL a user types for this target with `path` (the path left out when it
    /// is the default), for the suggested `sockscope connect` line.
    pub fn connect_url(&self, path: &str) -> String {
        if path == DEFAULT_PATH {
            self.http_base()
        } else {
            format!("{}{path}", self.http_base())
        }
    }

    /// The same target on another path.
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            path: normalise(path),
            ..self.clone()
        }
    }

    /// The query string of an Engine.IO request: revision, transport, `extra` pairs
    /// and the URL's own query.
    pub fn engine_query(&self, eio: u8, transport: &str, extra: &[(String, String)]) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("EIO", &eio.to_string());
        q.append_pair("transport", transport);
        for (k, v) in self.query.iter().chain(extra) {
            q.append_pair(k, v);
        }
        q.finish()
    }
}

/// `/x` and `x/` become `/x/`: engine.io matches the path with its trailing slash.
fn normalise(path: &str) -> String {
    let p = path.trim().trim_matches('/');
    if p.is_empty() {
        "/".to_owned()
    } else {
        format!("/{p}/")
    }
}

/// A URL fit for an error message or a report: no userinfo, no query values.
pub fn redacted(url: &str) -> String {
    sockscope_bus::redact::url(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ports_are_read() {
        let t = Target::parse("https://example.com", None).unwrap();
        assert!(t.tls);
        assert_eq!((t.port, t.path.as_str()), (443, DEFAULT_PATH));
        let t = Target::parse("http://127.0.0.1:9/custom?token=x", None).unwrap();
        assert_eq!(t.path, "/custom/");
        assert_eq!(t.query, vec![("token".to_owned(), "x".to_owned())]);
        assert_eq!(t.connect_url(&t.path), "http://127.0.0.1:9/custom/");
        let t = Target::parse("ws://[::1]:9/", Some("io")).unwrap();
        assert_eq!((t.host.as_str(), t.path.as_str()), ("::1", "/io/"));
        assert_eq!(t.http_base(), "http://[::1]:9");
        assert!(Target::parse("ftp://x", None).is_err());
        assert!(Target::parse("nonsense", None).is_err());
    }
}
