//! Who may use the gateway's HTTP API, and from which web pages.
//!
//! The HTTP routes (`/emit`, `/notify-users`, `/templates/send`, `/inspect`, the
//! profiles' broker routes) act on every socket of every tenant, so they are an
//! operator's tool. They need `Authorization: Bearer <api token>` whenever the gateway
//! verifies identities (a JWT key is set) or listens beyond loopback; a loopback
//! gateway in emulation mode stays open, as the gxdev server is.
//!
//! The token is the operator's (`--api-token`, `SOCKSCOPE_API_TOKEN`) or, when none is
//! given, generated at start and written (mode 0600) to a runtime file in the data dir,
//! one per port, that the local CLI (`templates send`, `inspect`) reads: the local
//! workflow needs no extra flag and the token never sits in shell history.
//!
//! Browsers: only listed origins (`--cors-origin`, plus `http(s)://localhost:*` and
//! `http(s)://127.0.0.1:*`) get CORS headers; any other origin gets none, so a page the
//! developer happens to visit can neither read `/inspect` nor send credentialed
//! requests.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::cors::{AllowCredentials, AllowOrigin, CorsLayer};

use crate::auth::strip_bearer;
use crate::http_api::error;

/// The API's access rule for one running gateway.
#[derive(Clone, Debug)]
pub struct ApiAccess {
    /// The token every request must carry; `None` when the API is open.
    token: Option<String>,
}

impl ApiAccess {
    /// The rule for a gateway on `ip` that verifies identities or not. `given` is the
    /// operator's token; one is generated when it is needed and not given.
    pub fn new(ip: IpAddr, verifies_identities: bool, given: Option<&str>) -> Self {
        let needed = verifies_identities || !ip.is_loopback();
        let token = match given.filter(|t| !t.is_empty()) {
            Some(t) => Some(t.to_owned()),
            None if needed => Some(generate()),
            None => None,
        };
        Self { token }
    }

    /// Whether requests need the token.
    pub fn required(&self) -> bool {
        self.token.is_some()
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Whether `authorization` (the header's value) carries this gateway's token.
    pub fn allows(&self, authorization: Option<&str>) -> bool {
        match &self.token {
            None => true,
            Some(t) => authorization.is_some_and(|given| {
                let given = given.trim();
                let bearer = given
                    .get(..7)
                    .is_some_and(|p| p.eq_ignore_ascii_case("bearer "));
                bearer && same(strip_bearer(given).as_bytes(), t.as_bytes())
            }),
        }
    }
}

/// Compares in time independent of where the first difference is.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 128 random bits, hex, with a prefix that makes the token recognisable in a leak.
fn generate() -> String {
    format!("ssk_{}", uuid::Uuid::new_v4().simple())
}

/// The axum middleware: `401 {code: "unauthorized", error}` without the token.
pub async fn require(State(access): State<ApiAccess>, req: Request, next: Next) -> Response {
    // Preflights carry no credentials by design; CORS answers them.
    if req.method() == Method::OPTIONS || access.allows(bearer_of(&req)) {
        return next.run(req).await;
    }
    let message = if bearer_of(&req).is_some() {
        "wrong API token"
    } else {
        "this gateway's HTTP API needs Authorization: Bearer <api token> (--api-token, SOCKSCOPE_API_TOKEN, or the token file `serve` printed)"
    };
    tracing::info!(path = %req.uri().path(), "HTTP API request refused: no valid API token");
    error(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

fn bearer_of(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
}

/// CORS for the listed origins plus local dev servers; nothing for any other origin.
pub fn cors(extra: &[String]) -> CorsLayer {
    let extra: Arc<Vec<String>> = Arc::new(
        extra
            .iter()
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect(),
    );
    let listed = move |origin: &HeaderValue| {
        origin
            .to_str()
            .is_ok_and(|o| is_local_origin(o) || extra.iter().any(|e| e == o))
    };
    let listed_too = listed.clone();
    // Credentials by predicate too: tower-http's plain `allow_credentials(true)` sends
    // the header to every origin.
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |o, _| listed(o)))
        .allow_credentials(AllowCredentials::predicate(move |o, _| listed_too(o)))
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
}

/// `http(s)://localhost[:port]` or `http(s)://127.0.0.1[:port]`, nothing after.
pub fn is_local_origin(origin: &str) -> bool {
    let Some(rest) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    let (host, port) = match rest.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    (host == "localhost" || host == "127.0.0.1")
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Where a gateway on `port` keeps its generated API token for the local CLI.
pub fn token_file(port: u16) -> Option<PathBuf> {
    directories::ProjectDirs::from("dev", "sockscope", "console")
        .map(|d| d.data_dir().join("run").join(format!("api-token-{port}")))
}

/// Writes `token` to [`token_file`] readable by this user only.
pub fn write_token_file(port: u16, token: &str) -> std::io::Result<PathBuf> {
    let path = token_file(port).ok_or_else(|| std::io::Error::other("no data dir"))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // An older file keeps its mode through `open`: set it again.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    std::io::Write::write_all(&mut file, token.as_bytes())?;
    Ok(path)
}

/// The token a gateway on `port` of this machine wrote, if any.
pub fn read_token_file(port: u16) -> Option<String> {
    let path = token_file(port)?;
    std::fs::read_to_string(path)
        .ok()
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_only_on_loopback_without_a_key() {
        let lo: IpAddr = [127, 0, 0, 1].into();
        let any: IpAddr = [0, 0, 0, 0].into();
        assert!(!ApiAccess::new(lo, false, None).required());
        assert!(ApiAccess::new(lo, true, None).required());
        assert!(ApiAccess::new(any, false, None).required());
        assert!(ApiAccess::new(lo, false, Some("t")).required());
    }

    #[test]
    fn only_the_right_bearer_passes() {
        let a = ApiAccess::new([127, 0, 0, 1].into(), true, Some("s3cret"));
        assert!(a.allows(Some("Bearer s3cret")));
        assert!(a.allows(Some("bearer s3cret")));
        assert!(!a.allows(Some("s3cret")));
        assert!(!a.allows(Some("Bearer s3cre")));
        assert!(!a.allows(Some("Bearer s3cretx")));
        assert!(!a.allows(None));
        let generated = ApiAccess::new([127, 0, 0, 1].into(), true, None);
        let t = generated.token().unwrap_or_default().to_owned();
        assert!(t.starts_with("ssk_") && t.len() > 30);
        assert!(generated.allows(Some(&format!("Bearer {t}"))));
    }

    #[test]
    fn local_origins() {
        for ok in [
            "http://localhost:5173",
            "https://127.0.0.1:3000",
            "http://localhost",
        ] {
            assert!(is_local_origin(ok), "{ok}");
        }
        for bad in [
            "http://evil.example",
            "http://localhost.evil.example",
            "http://localhost:80@evil",
            "http://127.0.0.1.nip.io",
            "null",
            "file://",
            "http://localhost:",
        ] {
            assert!(!is_local_origin(bad), "{bad}");
        }
    }
}
