//! One redaction policy for every value that leaves the network path.
//!
//! Sockscope sees credentials all the time: a token in a handshake URL, an
//! `accessToken` in a login ack, an `Authorization` value a client echoes. Recordings
//! are shared with a team, exports are mailed around and logs are pasted into
//! issues, so everything that leaves the network path goes through this module
//! first: the event bus (every record, before any subscriber sees it: CLI output,
//! the desktop UI, recordings), session rows (name, target, meta), JSON Lines and HAR
//! imports and exports, saved targets, the drift report, error messages and log
//! lines. There is exactly one definition of "secret", here.
//!
//! # The rules
//!
//! - **Keys**, at any depth of a JSON value: a key is secret when, lowercased (ASCII)
//!   and with `-`, `_`, `.` and spaces dropped, it *ends with* one of the normalised
//!   [`SECRET_KEYS`] (plus the keys added with [`add_keys`], i.e. `--redact-key`). So
//!   `token`, `accessToken`, `x-auth-token`, `api_key`, `X-Api-Key`, `userPassword`
//!   and `client_secret` are all secret. The value under a secret key becomes
//!   [`REDACTED`] whatever it is (a whole object or array included), except `null`
//!   and booleans, which cannot carry a secret. The price of "ends with" is some
//!   over-redaction: `nextPageToken`, `csrfToken`, `hasPassword` (unless a boolean)
//!   are redacted too. `session` alone is matched as the whole key only (see
//!   [`WHOLE_KEY_ONLY`]); `sessionId`, `session_token` are caught by their suffix.
//! - **Values**, whatever their key: a JWT-shaped string (`eyJ...` and two more
//!   base64url segments), also inside longer text, becomes [`REDACTED`];
//!   `Bearer <token>` becomes `Bearer [redacted]`.
//! - **Key-value text** inside a string: `key=value`, `key: value`, `"key":"value"`
//!   (also JSON escaped inside JSON, and log fields) whose key is secret by the rule
//!   above get their value replaced, so `"note": "password=hunter2"` and a logged
//!   `Authorization: Basic ...` header lose their secrets.
//! - **URLs** that say where Sockscope connects (session target, name and meta,
//!   saved targets, the drift report, log lines and error messages, see [`url`] and
//!   [`text`]) keep their scheme, host, port, path and query *keys*; userinfo,
//!   every query *value* and the fragment are dropped. A URL inside an event payload
//!   is data the application sent, so it only loses its userinfo and the values of
//!   secret-named query keys (and fragment pairs).
//! - **Identifiers** of a record (event name, rooms, tenant, user, socket id) only
//!   lose JWT- and Bearer-shaped values: they are addresses that a server-side
//!   replay must be able to use as recorded.
//!
//! Everything here is idempotent (redacting twice gives the same result) and never
//! panics, whatever the input (both checked by a property test).
//!
//! # What it cannot do
//!
//! A secret under a key it does not know, inside free text or in a URL path
//! (`"note": "the code is 4711"`, `/hooks/T0/SECRET`), is not recognised: add the key
//! with `--redact-key`, or do not record that traffic.

use std::borrow::Cow;
use std::io::Write;
use std::sync::{Arc, LazyLock, RwLock};

use regex::{Captures, Regex};
use serde_json::Value;
use sockscope_protocol::{EventRecord, SessionInfo, TargetProfile};

/// What a secret becomes.
pub const REDACTED: &str = "[redacted]";

/// Built-in secret key names (matched normalised and by suffix: see the module docs).
pub const SECRET_KEYS: &[&str] = &[
    "token",
    "tokens",
    "secret",
    "secrets",
    "password",
    "passwords",
    "passwd",
    "pwd",
    "apikey",
    "api_key",
    "api-key",
    "authorization",
    "cookie",
    "cookies",
    "set-cookie",
    "session",
    "sessionid",
    "credential",
    "credentials",
    "private_key",
    "access_key",
    "client_secret",
    "refresh_token",
    "id_token",
    "jwt",
];

/// The one built-in name matched only as the whole key: as a suffix it would take
/// `source_session` and `replay_session`, session *numbers* in Sockscope's own
/// metadata and in many applications' payloads. `sessionId`, `sessionToken` and
/// `userSessionId` are still caught (by `sessionid` and `token`).
const WHOLE_KEY_ONLY: &str = "session";

/// Which URL rule applies to URLs found in a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Where Sockscope connects: userinfo, every query value and the fragment go.
    Location,
    /// Inside an event payload: userinfo and secret-named query values go.
    Payload,
}

/// The redaction policy: the built-in key names plus any extra ones.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Normalised names; a key is secret when its normalised form ends with one.
    names: Vec<String>,
}

impl Default for Policy {
    fn default() -> Self {
        Self::with_keys(std::iter::empty::<&str>())
    }
}

/// Lowercase (ASCII) without the separators `-`, `_`, `.` and space.
fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !is_separator(*c))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn is_separator(c: char) -> bool {
    matches!(c, '-' | '_' | '.' | ' ')
}

/// Runs `f` on `key` normalised (lowercase ASCII, separators dropped), on the stack
/// for keys up to 64 bytes: the bus calls this for every key of every record.
/// Byte-wise, which equals [`normalise`]'s UTF-8 (separators are ASCII and non-ASCII
/// bytes are kept as they are).
fn with_normalised<R>(key: &str, f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 64];
    if key.len() > buf.len() {
        return f(normalise(key).as_bytes());
    }
    let mut n = 0;
    for &b in key.as_bytes() {
        if !matches!(b, b'-' | b'_' | b'.' | b' ') {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
    }
    f(&buf[..n])
}

impl Policy {
    /// The built-in names plus `extra` (empty names are ignored: they would make
    /// every key secret).
    pub fn with_keys<I, S>(extra: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut p = Self { names: Vec::new() };
        p.extend(SECRET_KEYS.iter().copied());
        p.extend(extra);
        p
    }

    fn extend<I, S>(&mut self, keys: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for k in keys {
            let n = normalise(k.as_ref());
            if !n.is_empty() && !self.names.contains(&n) {
                self.names.push(n);
            }
        }
    }

    /// Whether a value under `key` is a secret.
    pub fn is_secret_key(&self, key: &str) -> bool {
        with_normalised(key, |k| {
            !k.is_empty()
                && self.names.iter().any(|n| {
                    if n == WHOLE_KEY_ONLY {
                        k == n.as_bytes()
                    } else {
                        k.ends_with(n.as_bytes())
                    }
                })
        })
    }

    /// Redacts an event payload (args or an ack reply) in place.
    pub fn value(&self, v: &mut Value) {
        self.walk(v, Mode::Payload);
    }

    /// Redacts session metadata or another description of a connection in place:
    /// as [`Policy::value`], with the location rule for URLs in strings.
    pub fn meta(&self, v: &mut Value) {
        self.walk(v, Mode::Location);
    }

    fn walk(&self, v: &mut Value, mode: Mode) {
        match v {
            Value::Object(map) => {
                for (k, val) in map.iter_mut() {
                    if self.is_secret_key(k) {
                        blank(val);
                    } else {
                        self.walk(val, mode);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|x| self.walk(x, mode)),
            Value::String(s) => {
                if let Cow::Owned(clean) = self.scrub(s, mode) {
                    *s = clean;
                }
            }
            _ => {}
        }
    }

    /// Redacts everything a record carries: args and ack reply as payloads, the
    /// identifiers by value shape only.
    pub fn record(&self, r: &mut EventRecord) {
        self.value(&mut r.args);
        if let Some(reply) = r.ack.as_mut().and_then(|a| a.reply.as_mut()) {
            self.value(reply);
        }
        shape_in_place(&mut r.event);
        shape_in_place(&mut r.namespace);
        for room in &mut r.rooms {
            shape_in_place(room);
        }
        for s in [&mut r.socket_id, &mut r.tenant, &mut r.user]
            .into_iter()
            .flatten()
        {
            shape_in_place(s);
        }
    }

    /// Redacts a session row: name as text, target as a URL, meta as metadata.
    pub fn session(&self, s: &mut SessionInfo) {
        if let Cow::Owned(n) = self.text(&s.name) {
            s.name = n;
        }
        s.target = self.url(&s.target);
        self.meta(&mut s.meta);
    }

    /// Free text that leaves the process (a log line, an error message, a session
    /// name): URLs by the location rule, JWTs, Bearer tokens and secret key-value
    /// pairs.
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        self.scrub(s, Mode::Location)
    }

    /// A string inside an event payload (see the module docs).
    pub fn payload_text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        self.scrub(s, Mode::Payload)
    }

    /// A URL saying where Sockscope connects: scheme, host, port, path and query keys
    /// stay; userinfo, query values and the fragment go. Unchanged when there is
    /// nothing to drop.
    pub fn url(&self, raw: &str) -> String {
        self.url_with(raw, Mode::Location)
    }

    fn url_with(&self, raw: &str, mode: Mode) -> String {
        match url::Url::parse(raw) {
            Ok(parsed) => self.parsed_url(raw, parsed, mode),
            Err(_) => self.manual_url(raw, mode),
        }
    }

    fn parsed_url(&self, raw: &str, mut u: url::Url, mode: Mode) -> String {
        let mut changed = false;
        if !u.username().is_empty() || u.password().is_some() {
            // Fails only for URLs that cannot have userinfo, which then have none.
            let _ = u.set_username("");
            let _ = u.set_password(None);
            changed = true;
        }
        if let Some(q) = u.query().map(str::to_owned) {
            let clean = self.pairs(&q, mode);
            if clean != q {
                u.set_query(Some(&clean));
                changed = true;
            }
        }
        if let Some(f) = u.fragment().map(str::to_owned) {
            match mode {
                Mode::Location => {
                    u.set_fragment(None);
                    changed = true;
                }
                Mode::Payload => {
                    let clean = self.pairs(&f, mode);
                    if clean != f {
                        u.set_fragment(Some(&clean));
                        changed = true;
                    }
                }
            }
        }
        if changed {
            u.to_string()
        } else {
            raw.to_owned()
        }
    }

    /// For what `url` cannot parse (`127.0.0.1:4004/?token=x`, `/socket.io/?a=b`):
    /// the same rule on the raw text.
    fn manual_url(&self, raw: &str, mode: Mode) -> String {
        let (before_fragment, fragment) = match raw.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (raw, None),
        };
        let (base, query) = match before_fragment.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (before_fragment, None),
        };
        let (scheme, rest) = match base.split_once("://") {
            Some((s, r)) => (Some(s), r),
            None => (None, base),
        };
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let rest = match rest[..authority_end].rfind('@') {
            Some(at) => &rest[at + 1..],
            None => rest,
        };
        let mut out = String::with_capacity(raw.len());
        if let Some(s) = scheme {
            out.push_str(s);
            out.push_str("://");
        }
        out.push_str(rest);
        if let Some(q) = query {
            out.push('?');
            out.push_str(&self.pairs(q, mode));
        }
        if let (Mode::Payload, Some(f)) = (mode, fragment) {
            out.push('#');
            out.push_str(&self.pairs(f, mode));
        }
        out
    }

    /// `a=1&token=x`: every value (location) or the secret-named ones (payload)
    /// become [`REDACTED`]; keys, order and empty values stay.
    fn pairs(&self, q: &str, mode: Mode) -> String {
        q.split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) if !v.is_empty() && v != REDACTED => {
                    let secret = match mode {
                        Mode::Location => true,
                        Mode::Payload => {
                            let key: String = url::form_urlencoded::parse(k.as_bytes())
                                .next()
                                .map(|(k, _)| k.into_owned())
                                .unwrap_or_default();
                            self.is_secret_key(&key)
                        }
                    };
                    if secret {
                        format!("{k}={REDACTED}")
                    } else {
                        pair.to_owned()
                    }
                }
                _ => pair.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("&")
    }

    /// Every rule that applies to a string, in order: URLs, JWTs, Bearer tokens,
    /// secret key-value pairs.
    fn scrub<'a>(&self, s: &'a str, mode: Mode) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(s);
        if out.contains("://") {
            out = apply(out, &URL, |c: &Captures<'_>| self.url_with(&c[0], mode));
        }
        out = shape(out);
        if out.contains([':', '=']) {
            if let Some(clean) = self.key_values(&out) {
                out = Cow::Owned(clean);
            }
        }
        out
    }

    /// Replaces the values of `key=value` / `key: value` / `"key":"value"` pairs
    /// whose key is secret; `None` when there are none.
    fn key_values(&self, s: &str) -> Option<String> {
        let bytes = s.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b':' || bytes[i] == b'=' {
                let key = key_before(s, i);
                if !key.is_empty() && self.is_secret_key(key) {
                    if let Some((start, end)) = value_after(s, i + 1) {
                        let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                        o.push_str(&s[copied..start]);
                        o.push_str(REDACTED);
                        copied = end;
                        i = end;
                        continue;
                    }
                }
            }
            i += 1;
        }
        out.map(|mut o| {
            o.push_str(&s[copied..]);
            o
        })
    }
}

/// The value under a secret key.
fn blank(val: &mut Value) {
    match val {
        Value::Null | Value::Bool(_) => {}
        Value::String(s) if s == REDACTED => {}
        _ => *val = Value::String(REDACTED.to_owned()),
    }
}

/// A URL with a scheme, up to the first character that cannot be in one unquoted
/// (whitespace, quotes, angle brackets, backslash, backtick, an ANSI escape).
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"[A-Za-z][A-Za-z0-9+.-]{0,15}://[^\s"'<>\\`\x1b]+"#).expect("static regex")
});
/// A JWT (JWS compact form): three base64url segments, the first a JSON header.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*").expect("static regex")
});
/// `Bearer <token68>`.
static BEARER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*").expect("static regex"));

/// JWTs and Bearer tokens, whatever surrounds them.
fn shape(s: Cow<'_, str>) -> Cow<'_, str> {
    let mut out = s;
    if out.contains("eyJ") {
        out = apply(out, &JWT, REDACTED);
    }
    if contains_ignore_case(&out, "bearer") {
        out = apply(out, &BEARER, |c: &Captures<'_>| {
            format!("{} {REDACTED}", &c[1])
        });
    }
    out
}

fn shape_in_place(s: &mut String) {
    if let Cow::Owned(clean) = shape(Cow::Borrowed(s.as_str())) {
        *s = clean;
    }
}

fn contains_ignore_case(s: &str, needle: &str) -> bool {
    s.as_bytes()
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// `re.replace_all` over a `Cow`, keeping it borrowed when nothing matched.
fn apply<'a>(text: Cow<'a, str>, re: &Regex, rep: impl regex::Replacer) -> Cow<'a, str> {
    match text {
        Cow::Borrowed(b) => re.replace_all(b, rep),
        Cow::Owned(o) => Cow::Owned(re.replace_all(&o, rep).into_owned()),
    }
}

/// The key that ends just before the separator at `sep`: skips spaces, a closing
/// quote (JSON, escaped JSON) and ANSI colour codes (log fields), then takes the run
/// of `[A-Za-z0-9_.-]`.
fn key_before(s: &str, sep: usize) -> &str {
    let b = s.as_bytes();
    let mut end = sep;
    loop {
        match end.checked_sub(1).map(|j| b[j]) {
            Some(b' ' | b'\t' | b'"' | b'\'' | b'\\') => end -= 1,
            Some(b'm') => match ansi_start(b, end) {
                Some(start) => end = start,
                None => break,
            },
            _ => break,
        }
    }
    let mut start = end;
    while start > 0
        && (b[start - 1].is_ascii_alphanumeric() || matches!(b[start - 1], b'_' | b'.' | b'-'))
    {
        start -= 1;
    }
    &s[start..end]
}

/// If `b[..end]` ends with an ANSI SGR sequence (`ESC [ digits ; m`), where it starts.
fn ansi_start(b: &[u8], end: usize) -> Option<usize> {
    let mut j = end.checked_sub(1)?; // the 'm'
    while j > 0 && (b[j - 1].is_ascii_digit() || b[j - 1] == b';') {
        j -= 1;
    }
    (j >= 2 && b[j - 1] == b'[' && b[j - 2] == 0x1b).then(|| j - 2)
}

/// Skips an ANSI SGR sequence starting at `i`, if there is one.
fn skip_ansi(b: &[u8], i: usize) -> usize {
    if b.get(i) == Some(&0x1b) && b.get(i + 1) == Some(&b'[') {
        let mut j = i + 2;
        while j < b.len() && (b[j].is_ascii_digit() || b[j] == b';') {
            j += 1;
        }
        if b.get(j) == Some(&b'm') {
            return j + 1;
        }
    }
    i
}

/// The byte range of the value after a separator, or `None` when there is nothing
/// to redact there (no value, a structure whose keys are judged one by one, or a
/// value that is already [`REDACTED`]).
fn value_after(s: &str, from: usize) -> Option<(usize, usize)> {
    let b = s.as_bytes();
    let mut i = from;
    loop {
        let next = skip_ansi(b, i);
        if next != i {
            i = next;
        } else if matches!(b.get(i), Some(b' ' | b'\t')) {
            i += 1;
        } else {
            break;
        }
    }
    let rest = &s[i..];
    let (start, end) = if let Some(inner) = rest.strip_prefix("\\\"") {
        let len = inner.find("\\\"").unwrap_or(inner.len());
        (i + 2, i + 2 + len)
    } else if let Some(q @ (b'"' | b'\'')) = b.get(i).copied() {
        let len = rest[1..].find(q as char).unwrap_or(rest.len() - 1);
        (i + 1, i + 1 + len)
    } else if b.get(i).is_none_or(|c| matches!(c, b'[' | b'{' | b'(')) {
        return None;
    } else {
        // An auth scheme and its credentials go together: `Basic dXNlcjpwdw==`.
        let word_end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        let scheme = ["basic", "bearer", "digest", "negotiate", "token"]
            .iter()
            .any(|w| rest[..word_end].eq_ignore_ascii_case(w));
        let from = if scheme && word_end < rest.len() {
            let after = &rest[word_end..];
            i + word_end + (after.len() - after.trim_start().len())
        } else {
            i
        };
        let len = if s[from..].starts_with(REDACTED) {
            REDACTED.len()
        } else {
            s[from..]
                .find(|c: char| {
                    c.is_whitespace()
                        || matches!(
                            c,
                            ',' | ';'
                                | '&'
                                | '"'
                                | '\''
                                | '\\'
                                | '}'
                                | ']'
                                | ')'
                                | '<'
                                | '>'
                                | '\u{1b}'
                        )
                })
                .unwrap_or(s.len() - from)
        };
        (i, from + len)
    };
    let value = &s[start..end];
    (!value.is_empty() && value != REDACTED && !value.starts_with('[')).then_some((start, end))
}

static GLOBAL: LazyLock<RwLock<Arc<Policy>>> =
    LazyLock::new(|| RwLock::new(Arc::new(Policy::default())));

/// The process-wide policy every path uses.
pub fn policy() -> Arc<Policy> {
    match GLOBAL.read() {
        Ok(p) => p.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Adds secret key names to the process-wide policy (`--redact-key`).
pub fn add_keys<I, S>(keys: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut slot = match GLOBAL.write() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    let mut p = Policy::clone(&slot);
    p.extend(keys);
    *slot = Arc::new(p);
}

/// The environment variable naming extra secret keys for every command and the
/// desktop app (comma-separated), so a team's own key names need not be repeated
/// with `--redact-key` on each run.
pub const KEYS_ENV: &str = "SOCKSCOPE_REDACT_KEYS";

/// Adds the keys named in [`KEYS_ENV`], if set.
pub fn add_keys_from_env() {
    if let Ok(v) = std::env::var(KEYS_ENV) {
        add_keys(split_keys(&v));
    }
}

fn split_keys(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|k| !k.is_empty())
}

/// [`Policy::value`] with the process-wide policy.
pub fn value(v: &mut Value) {
    policy().value(v);
}

/// [`Policy::meta`] with the process-wide policy.
pub fn meta(v: &mut Value) {
    policy().meta(v);
}

/// [`Policy::record`] with the process-wide policy.
pub fn record(r: &mut EventRecord) {
    policy().record(r);
}

/// [`Policy::session`] with the process-wide policy.
pub fn session(s: &mut SessionInfo) {
    policy().session(s);
}

/// [`Policy::text`] with the process-wide policy, as an owned string.
pub fn text(s: &str) -> String {
    policy().text(s).into_owned()
}

/// [`Policy::url`] with the process-wide policy.
pub fn url(raw: &str) -> String {
    policy().url(raw)
}

/// [`Policy::is_secret_key`] with the process-wide policy.
pub fn is_secret_key(key: &str) -> bool {
    policy().is_secret_key(key)
}

/// `scheme://host[:port]/path` of a URL: no userinfo, query or fragment.
pub fn url_base(raw: &str) -> String {
    let clean = url(raw);
    clean
        .split(['?', '#'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// A saved target as it may be stored: the URL's userinfo and fragment dropped and
/// its query moved to the query list, secret-named auth fields, headers and query
/// parameters dropped, everything else redacted as payload.
pub fn target(p: &TargetProfile) -> TargetProfile {
    let policy = policy();
    let mut p = p.clone();
    p.name = policy.text(&p.name).into_owned();
    let raw = p.url.trim().to_owned();
    let (base, query) = match raw.split_once('?') {
        Some((b, q)) => (b.to_owned(), Some(q.split('#').next().unwrap_or_default())),
        None => (raw.clone(), None),
    };
    p.url = url_base(&base);
    if let Some(q) = query {
        let mut from_url: Vec<(String, String)> = url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        from_url.append(&mut p.query);
        p.query = from_url;
    }
    let keep = |(k, v): &mut (String, String)| {
        if policy.is_secret_key(k.trim()) {
            return false;
        }
        *v = policy.payload_text(v).into_owned();
        true
    };
    p.query.retain_mut(keep);
    p.headers.retain_mut(keep);
    if let Value::Object(map) = &mut p.auth {
        map.retain(|k, _| !policy.is_secret_key(k));
    }
    policy.value(&mut p.auth);
    for e in &mut p.on_connect {
        policy.value(&mut e.data);
    }
    p.has_token = false;
    p
}

/// A `Write` that redacts what goes through it as [`text`]: the log writer, so
/// neither our log lines nor a dependency's (URLs with tokens, raw frames) carry a
/// secret. `tracing-subscriber` writes each event with one `write_all`.
#[derive(Debug)]
pub struct LogWriter<W> {
    inner: W,
}

impl<W: Write> LogWriter<W> {
    pub fn new(inner: W) -> Self {
        Self { inner }
    }
}

impl<W: Write> Write for LogWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let raw = String::from_utf8_lossy(buf);
        let clean = policy().text(&raw).into_owned();
        self.inner.write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Handshake headers whose values are credentials, on top of the secret keys.
const SECRET_HEADERS: &[&str] = &[
    "proxy-authorization",
    "x-api-key",
    "x-csrf-token",
    "x-xsrf-token",
    "set-cookie",
];

/// Headers with every credential-bearing value replaced by [`REDACTED`].
pub fn redact_headers(headers: &Value) -> Value {
    let mut h = headers.clone();
    value(&mut h);
    if let Value::Object(map) = &mut h {
        for (k, v) in map.iter_mut() {
            if SECRET_HEADERS.iter().any(|s| k.eq_ignore_ascii_case(s)) {
                *v = Value::String(REDACTED.to_owned());
            }
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use sockscope_protocol::{AckInfo, Direction};

    const JWT_SAMPLE: &str = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbm4ifQ.c2lnbmF0dXJl-_x";

    fn p() -> Policy {
        Policy::default()
    }

    #[test]
    fn every_listed_key_and_its_compound_forms_are_secret() {
        let p = p();
        for k in SECRET_KEYS {
            assert!(p.is_secret_key(k), "{k}");
            assert!(p.is_secret_key(&k.to_uppercase()), "{k}");
        }
        for k in [
            "accessToken",
            "access_token",
            "x-api-key",
            "X-Api-Key",
            "apiKey",
            "userPassword",
            "Set-Cookie",
            "client_secret",
            "refreshToken",
            "ID_TOKEN",
            "x-auth-token",
            "sessionId",
            "session_id",
            "privateKey",
            "aws.secret_access_key",
            "Proxy-Authorization",
            "dbCredentials",
            "Session",
            "userSessionId",
            "sessionToken",
        ] {
            assert!(p.is_secret_key(k), "{k}");
        }
        for k in [
            "user",
            "theme",
            "tokenType",
            "passwordHint",
            "key",
            "room",
            "tenantId",
            "source_session",
            "",
        ] {
            assert!(!p.is_secret_key(k), "{k}");
        }
    }

    #[test]
    fn the_environment_list_is_comma_separated() {
        let keys: Vec<&str> = split_keys(" tenantSig, ,x-sig ,").collect();
        assert_eq!(keys, vec!["tenantSig", "x-sig"]);
    }

    #[test]
    fn extra_keys_are_normalised_and_empty_ones_ignored() {
        let p = Policy::with_keys(["X-Tenant-Sig", "", "--"]);
        assert!(p.is_secret_key("xTenantSig"));
        assert!(p.is_secret_key("my_x_tenant_sig"));
        assert!(!p.is_secret_key("tenantSig"));
        assert!(
            !p.is_secret_key("user"),
            "an empty extra key must not match all"
        );
    }

    #[test]
    fn secret_keys_are_redacted_at_any_depth_in_objects_and_arrays() {
        let mut v = json!([{
            "user": "ann",
            "accessToken": "tok-1",
            "settings": {"db": {"password": "pw-1", "host": "db"}, "theme": "dark"},
            "list": [{"apiKey": "k-1"}, {"x-api-key": 42}],
            "session": {"id": "s-1", "user": "ann"},
            "Authorization": ["Basic abc"],
            "token": null,
            "hasToken": true,
        }]);
        p().value(&mut v);
        let s = v.to_string();
        for secret in ["tok-1", "pw-1", "k-1", "42", "s-1", "Basic abc"] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert_eq!(v[0]["user"], "ann");
        assert_eq!(v[0]["settings"]["db"]["host"], "db");
        assert_eq!(v[0]["settings"]["theme"], "dark");
        assert_eq!(v[0]["session"], REDACTED);
        assert_eq!(v[0]["token"], Value::Null);
        assert_eq!(v[0]["hasToken"], true);
    }

    #[test]
    fn jwts_and_bearer_tokens_are_redacted_whatever_the_key() {
        let p = p();
        let mut v = json!({
            "note": format!("your token is {JWT_SAMPLE}, keep it"),
            "raw": JWT_SAMPLE,
            "auth_header": "Bearer opaque.value-1",
            "h": "bearer   xyz==",
        });
        p.value(&mut v);
        let s = v.to_string();
        assert!(
            !s.contains("c2lnbmF0dXJl") && !s.contains("opaque") && !s.contains("xyz"),
            "{s}"
        );
        assert_eq!(v["note"], format!("your token is {REDACTED}, keep it"));
        assert_eq!(v["raw"], REDACTED);
        assert_eq!(v["auth_header"], format!("Bearer {REDACTED}"));
    }

    #[test]
    fn key_value_text_loses_secret_values() {
        let p = p();
        for (input, gone, kept) in [
            ("password=hunter2 user=ann", "hunter2", "user=ann"),
            (
                r#"{"accessToken":"abc","user":"ann"}"#,
                "abc",
                r#""user":"ann""#,
            ),
            (r#"msg {\"apiKey\":\"k9\",\"id\":1}"#, "k9", r#"\"id\":1"#),
            (
                "Authorization: Basic dXNlcjpwdw== next",
                "dXNlcjpwdw",
                "next",
            ),
            ("a:token=x1;b=2", "x1", "b=2"),
            (
                "\x1b[3mtoken\x1b[0m\x1b[2m=\x1b[0mt0p \x1b[3mok\x1b[0m=1",
                "t0p",
                "ok",
            ),
            ("session: 5", "5", "session"),
            (
                r"authorization: Bearer abc\r\n",
                "abc",
                r"authorization: [redacted]\r",
            ),
        ] {
            let out = p.payload_text(input);
            assert!(!out.contains(gone), "{gone} left in {out}");
            assert!(out.contains(kept), "{kept} lost in {out}");
        }
        assert_eq!(
            p.payload_text("time 12:00:01 tenant:acme"),
            "time 12:00:01 tenant:acme"
        );
    }

    #[test]
    fn location_urls_keep_host_path_and_query_keys_only() {
        let p = p();
        assert_eq!(
            p.url("https://user:pw@staging.example.com:8443/gw?token=abc&channel=ops#frag"),
            "https://staging.example.com:8443/gw?token=[redacted]&channel=[redacted]"
        );
        assert_eq!(p.url("http://127.0.0.1:3069"), "http://127.0.0.1:3069");
        assert_eq!(
            p.url("127.0.0.1:1/x?token=a&b"),
            "127.0.0.1:1/x?token=[redacted]&b"
        );
        assert_eq!(p.url("/socket.io/?EIO=4"), "/socket.io/?EIO=[redacted]");
        assert_eq!(p.url(""), "");
        let t = p.text("connected url=http://u:SECRETPW@h:1/?token=SECRETQ namespace=/");
        assert!(!t.contains("SECRET"), "{t}");
        assert!(t.contains("http://h:1/?token=[redacted]"), "{t}");
    }

    #[test]
    fn payload_urls_keep_non_secret_query_values() {
        let p = p();
        let out = p.payload_text("see https://u:pw@h/a?page=2&access_token=zz#id_token=yy&x=1");
        assert!(
            !out.contains("pw@") && !out.contains("zz") && !out.contains("yy"),
            "{out}"
        );
        assert!(out.contains("page=2") && out.contains("x=1"), "{out}");
    }

    #[test]
    fn records_sessions_and_targets_are_covered() {
        let p = p();
        let mut r = EventRecord {
            seq: 1,
            ts: 1,
            source: "connection:1".into(),
            direction: Direction::C2s,
            namespace: "/".into(),
            event: "login".into(),
            args: json!([{"password": "pw"}]),
            ack: Some(AckInfo {
                id: Some(1),
                reply: Some(json!({"reply": {"refresh_token": "rt"}, "latency_ms": 1.0})),
                latency_us: None,
            }),
            socket_id: None,
            rooms: vec![format!("user:{JWT_SAMPLE}"), "session:abc".into()],
            tenant: Some("acme".into()),
            user: Some(format!("Bearer {JWT_SAMPLE}")),
            fault: None,
        };
        p.record(&mut r);
        let s = serde_json::to_string(&r).unwrap_or_default();
        assert!(
            !s.contains("\"pw\"") && !s.contains("\"rt\"") && !s.contains("c2lnbmF0"),
            "{s}"
        );
        assert_eq!(r.rooms[1], "session:abc", "identifiers keep their shape");

        let mut info = SessionInfo {
            id: 1,
            name: "http://h:1/?token=abc/dashboard".into(),
            kind: "connection".into(),
            target: "http://h:1/?token=abc".into(),
            started_at: 0,
            ended_at: None,
            meta: json!({"url": "http://h:1/?token=abc&x=1", "auth_keys": ["token"]}),
            events: 0,
            state: Default::default(),
        };
        p.session(&mut info);
        let s = serde_json::to_string(&info).unwrap_or_default();
        assert!(!s.contains("abc"), "{s}");
        assert!(
            s.contains("auth_keys") && s.contains("token=[redacted]"),
            "{s}"
        );
    }

    #[test]
    fn a_saved_target_keeps_no_secret_and_keeps_its_parameters() {
        let t = TargetProfile {
            name: "staging".into(),
            url: "http://me:pw@h:4004/gw?token=abc&channel_id=ops".into(),
            auth: json!({"token": "t", "firebase_id": "fb", "apiKey": "k"}),
            headers: vec![
                ("X-Api-Key".into(), "hk".into()),
                ("X-Team".into(), "blue".into()),
            ],
            query: vec![("session".into(), "sq".into())],
            has_token: true,
            ..TargetProfile::default()
        };
        let clean = target(&t);
        let s = serde_json::to_string(&clean).unwrap_or_default();
        for gone in ["pw", "abc", "\"t\"", "\"k\"", "hk", "sq"] {
            assert!(!s.contains(gone), "{gone} in {s}");
        }
        assert_eq!(clean.url, "http://h:4004/gw");
        assert_eq!(
            clean.query,
            vec![("channel_id".to_owned(), "ops".to_owned())]
        );
        assert_eq!(
            clean.headers,
            vec![("X-Team".to_owned(), "blue".to_owned())]
        );
        assert_eq!(clean.auth, json!({"firebase_id": "fb"}));
        assert!(!clean.has_token);
    }

    #[test]
    fn the_log_writer_redacts_each_write() {
        let mut out = Vec::new();
        let mut w = LogWriter::new(&mut out);
        let line = format!("INFO connected url=http://h/?token=q1 jwt={JWT_SAMPLE}\n");
        let n = w.write(line.as_bytes()).unwrap_or_default();
        assert_eq!(n, line.len());
        let s = String::from_utf8_lossy(&out);
        assert!(!s.contains("q1") && !s.contains("c2lnbmF0"), "{s}");
        assert!(s.ends_with('\n'));
    }

    /// JSON whose keys and strings are drawn from secret-looking and ordinary
    /// material, so the property test exercises every rule.
    fn arb_json() -> impl Strategy<Value = Value> {
        let key = prop_oneof![
            Just("token".to_owned()),
            Just("accessToken".to_owned()),
            Just("x-api-key".to_owned()),
            Just("user".to_owned()),
            "[a-zA-Z_-]{0,12}",
        ];
        let text = prop_oneof![
            Just(format!("a {JWT_SAMPLE} b")),
            Just("Bearer abc.def".to_owned()),
            Just("http://u:p@h:1/p?token=x&a=b#f=1".to_owned()),
            Just("password=x; Authorization: Basic y".to_owned()),
            Just("[redacted]".to_owned()),
            ".{0,40}",
            "[a-z:=/?&#@ \"'\\\\\\[\\]{}]{0,40}",
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            text.prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..6)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn redaction_never_panics_and_is_idempotent(v in arb_json(), s in ".{0,80}") {
            let p = p();
            let mut once = v.clone();
            p.value(&mut once);
            let mut twice = once.clone();
            p.value(&mut twice);
            prop_assert_eq!(&once, &twice);

            let mut m = v;
            p.meta(&mut m);
            let mut m2 = m.clone();
            p.meta(&mut m2);
            prop_assert_eq!(&m, &m2);

            let t1 = p.text(&s).into_owned();
            prop_assert_eq!(p.text(&t1).into_owned(), t1.clone());
            let u1 = p.url(&s);
            prop_assert_eq!(p.url(&u1), u1.clone());
        }

        #[test]
        fn no_value_under_a_secret_key_survives(v in arb_json()) {
            let p = p();
            let mut out = v;
            p.value(&mut out);
            fn check(p: &Policy, v: &Value) -> bool {
                match v {
                    Value::Object(m) => m.iter().all(|(k, x)| {
                        if p.is_secret_key(k) {
                            matches!(x, Value::Null | Value::Bool(_)) || x == REDACTED
                        } else {
                            check(p, x)
                        }
                    }),
                    Value::Array(a) => a.iter().all(|x| check(p, x)),
                    Value::String(s) => !s.contains("c2lnbmF0dXJl") && !s.contains("p@h"),
                    _ => true,
                }
            }
            prop_assert!(check(&p, &out), "{}", out);
        }
    }
}
