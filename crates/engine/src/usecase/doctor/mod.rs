//! The connection doctor: `sockscope doctor URL` and the Connections panel's "Why
//! can't I connect?". It tries what a Socket.IO client can vary (Engine.IO v3/v4,
//! polling and websocket, the path, the namespace, the JSON and msgpack parsers,
//! TLS, CORS for a browser origin, the auth object) with raw requests, and answers
//! a [`DoctorReport`]: one check per thing tried, in plain words, and the settings
//! that connect as a `sockscope connect` line. Both front ends call [`diagnose`].
//!
//! The order follows what depends on what: the host and port answer; TLS (chain,
//! dates, name); an Engine.IO handshake at the path (else other common paths);
//! which revision and transports answer; a CONNECT to the namespace with each
//! parser and the auth; CORS for `origin`. A certificate that fails its checks does
//! not stop the rest: later probes skip the checks, so the report can say both
//! that the certificate is not trusted and what would connect past it.

mod join;
mod probe;
mod target;
mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use sockscope_client::connection::TlsOptions;
use sockscope_protocol::{
    DoctorCheck, DoctorOutcome, DoctorReport, DoctorRequest, Parser, WorkingSettings,
};

use join::{JoinRequest, Joined};
use probe::EngineAnswer;
use target::{Target, DEFAULT_PATH};

/// Why the doctor could not even start (bad input): everything else is a finding.
#[derive(Debug, thiserror::Error)]
pub enum DoctorError {
    #[error("bad URL {0}")]
    BadUrl(String),
    #[error("bad namespace {0:?}: it must start with /")]
    BadNamespace(String),
    #[error("bad auth: {0}")]
    BadAuth(String),
    /// An unusable `--ca-cert` / `--client-cert` file, named.
    #[error(transparent)]
    Tls(#[from] sockscope_client::Error),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[source] reqwest::Error),
}

impl DoctorError {
    pub fn code(&self) -> &'static str {
        match self {
            DoctorError::BadUrl(_) => "bad_url",
            DoctorError::BadNamespace(_) => "bad_namespace",
            DoctorError::BadAuth(_) => "bad_auth",
            DoctorError::Tls(e) => e.code(),
            DoctorError::Http(_) => "http_client",
        }
    }
}

/// Paths tried when nothing answers at the one given.
const COMMON_PATHS: &[&str] = &[
    "/socket.io/",
    "/socket/",
    "/io/",
    "/ws/",
    "/websocket/",
    "/realtime/",
    "/engine.io/",
];

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The report being written.
struct Report {
    checks: Vec<DoctorCheck>,
}

impl Report {
    fn add(&mut self, id: &str, title: &str, outcome: DoctorOutcome, detail: impl Into<String>) {
        let detail = detail.into();
        tracing::debug!(check = id, ?outcome, %detail, "doctor check");
        self.checks.push(DoctorCheck {
            id: id.to_owned(),
            title: title.to_owned(),
            outcome,
            detail,
        });
    }
}

/// The four handshakes at one path.
struct Handshakes {
    polling: [probe::PollAnswer; 2],
    websocket: [EngineAnswer; 2],
}

impl Handshakes {
    fn all(&self) -> [&EngineAnswer; 4] {
        [
            &self.polling[0].answer,
            &self.polling[1].answer,
            &self.websocket[0],
            &self.websocket[1],
        ]
    }

    /// Polling and websocket answered an open packet of revision `eio`.
    fn transports(&self, eio: u8) -> (bool, bool) {
        let i = usize::from(eio == 3);
        (
            self.polling[i].answer.open_eio() == Some(eio),
            self.websocket[i].open_eio() == Some(eio),
        )
    }
}

/// Diagnoses `req` (see the module doc). Bad input is an error; everything the
/// server does is in the report.
///
/// # Errors
/// A URL, namespace or auth object that cannot be used, or an unreadable TLS file.
pub async fn diagnose(req: &DoctorRequest) -> Result<DoctorReport, DoctorError> {
    let target = Target::parse(&req.url, req.path.as_deref())?;
    let namespace = match req.namespace.trim() {
        "" => "/".to_owned(),
        ns if ns.starts_with('/') && ns.len() <= 256 => ns.to_owned(),
        ns => return Err(DoctorError::BadNamespace(ns.to_owned())),
    };
    if let Some(a) = &req.auth {
        if !a.is_object() {
            return Err(DoctorError::BadAuth(
                "the auth must be a JSON object, e.g. {\"token\":\"...\"}".to_owned(),
            ));
        }
    }
    let tls_opts = TlsOptions::from_target(&req.tls);
    if !tls_opts.is_default() {
        tls_opts.connector()?;
    }
    let mut report = Report { checks: Vec::new() };
    let shown_url = target::redacted(&req.url);
    tracing::info!(url = %shown_url, path = %target.path, %namespace, "doctor: looking at a gateway");
    let done = |report: Report, summary: String| DoctorReport {
        url: shown_url.clone(),
        checks: report.checks,
        works: None,
        connect_with: None,
        summary,
    };

    // 1. The host and port.
    let addr = match reach(&target).await {
        Ok(addr) => {
            report.add(
                "reach",
                "Host and port",
                DoctorOutcome::Ok,
                format!(
                    "{}:{} accepts TCP connections ({addr})",
                    target.host, target.port
                ),
            );
            addr
        }
        Err(why) => {
            report.add("reach", "Host and port", DoctorOutcome::Fail, why.clone());
            return Ok(done(report, why));
        }
    };

    // 2. TLS.
    let mut effective = tls_opts.clone();
    if target.tls {
        let host = target.host.clone();
        let opts = tls_opts.clone();
        let findings = tokio::task::spawn_blocking(move || tls::diagnose(&host, addr, &opts)).await;
        let findings = match findings {
            Ok(f) => f?,
            Err(e) => {
                let why = format!("the TLS check stopped: {e}");
                report.add(
                    "tls_chain",
                    "TLS certificate chain",
                    DoctorOutcome::Fail,
                    why.clone(),
                );
                return Ok(done(report, why));
            }
        };
        report.add(
            "tls_chain",
            "TLS certificate chain",
            findings.chain.0,
            findings.chain.1.clone(),
        );
        report.add(
            "tls_expiry",
            "TLS certificate dates",
            findings.expiry.0,
            findings.expiry.1,
        );
        report.add(
            "tls_name",
            "TLS certificate name",
            findings.name.0,
            findings.name.1,
        );
        if findings.fatal {
            return Ok(done(report, findings.chain.1));
        }
        effective.insecure = findings.needs_insecure;
    } else if !tls_opts.is_default() {
        report.add(
            "tls_chain",
            "TLS",
            DoctorOutcome::Skipped,
            "the URL is http://, so the TLS options given are not used",
        );
    }
    let http = reqwest::Client::builder()
        .use_preconfigured_tls(effective.connector()?)
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        .map_err(DoctorError::Http)?;
    let ws_tls = || effective.ws_connector().ok().flatten();

    // v3 servers read the handshake data from the query string.
    let v3_query = auth_query(req.auth.as_ref());

    // 3. The path: the four handshakes there, else other common paths.
    let mut target = target;
    let mut shakes = handshakes(&http, &target, &ws_tls, &v3_query).await;
    if shakes.all().iter().all(|a| a.nothing_here()) {
        let at = target.path.clone();
        let what = nothing_words(&shakes.polling[0].answer);
        match find_path(&http, &target, &v3_query).await {
            Some(found) => {
                report.add(
                    "path",
                    "Engine.IO path",
                    DoctorOutcome::Fail,
                    format!("nothing speaks Engine.IO at {at} ({what}); the server answers at {found}: use that path"),
                );
                target = target.with_path(&found);
                shakes = handshakes(&http, &target, &ws_tls, &v3_query).await;
            }
            None => {
                let why = format!(
                    "nothing speaks Engine.IO at {at} ({what}): the path is wrong (no common path answered either), or this is not a Socket.IO server; pass the server's `path` option with --path or in the URL"
                );
                report.add("path", "Engine.IO path", DoctorOutcome::Fail, why.clone());
                return Ok(done(report, why));
            }
        }
    } else {
        report.add(
            "path",
            "Engine.IO path",
            DoctorOutcome::Ok,
            format!("the server answers Engine.IO at {}", target.path),
        );
    }
    let names = [
        ("polling_v4", "Engine.IO v4 over polling"),
        ("polling_v3", "Engine.IO v3 over polling"),
        ("websocket_v4", "Engine.IO v4 over websocket"),
        ("websocket_v3", "Engine.IO v3 over websocket"),
    ];
    for (i, answer) in shakes.all().into_iter().enumerate() {
        let (id, title) = names[i];
        let eio = if i % 2 == 0 { 4 } else { 3 };
        let transport = if i < 2 { "polling" } else { "websocket" };
        let (outcome, words) = handshake_words(answer, eio, transport, &target.path);
        report.add(id, title, outcome, words);
    }

    // 4. The revision and transports.
    let eio = if shakes.transports(4) != (false, false) {
        4
    } else if shakes.transports(3) != (false, false) {
        3
    } else {
        let why = "no Engine.IO handshake succeeded (see above)".to_owned();
        return Ok(done(report, why));
    };
    let (polling_ok, ws_ok) = shakes.transports(eio);

    // 5. The namespace, the parser and the auth.
    let join_query = if eio == 3 {
        v3_query.clone()
    } else {
        Vec::new()
    };
    let mut parser_found = None;
    let mut refused = None;
    for parser in [Parser::Json, Parser::Msgpack] {
        let jr = JoinRequest {
            target: &target,
            eio,
            parser,
            namespace: &namespace,
            auth: req.auth.as_ref(),
            query: &join_query,
        };
        let joined = if ws_ok {
            join::over_websocket(&jr, ws_tls()).await
        } else {
            join::over_polling(&http, &jr).await
        };
        let (id, title) = match parser {
            Parser::Json => ("parser_json", "JSON parser (the default)"),
            Parser::Msgpack => ("parser_msgpack", "msgpack parser"),
        };
        match joined {
            Joined::Yes => {
                report.add(
                    id,
                    title,
                    DoctorOutcome::Ok,
                    format!(
                        "the server answered a CONNECT encoded with the {} parser",
                        parser.name()
                    ),
                );
                parser_found = Some(parser);
                break;
            }
            Joined::Refused(message) => {
                report.add(id, title, DoctorOutcome::Ok, format!("the server read a CONNECT encoded with the {} parser (and answered it with an error)", parser.name()));
                parser_found = Some(parser);
                refused = Some(message);
                break;
            }
            Joined::No(why) => {
                report.add(
                    id,
                    title,
                    DoctorOutcome::Fail,
                    format!(
                        "the server did not answer a CONNECT encoded with the {} parser: {why}",
                        parser.name()
                    ),
                );
            }
        }
    }
    let Some(parser) = parser_found else {
        let why =
            "the server answered neither a JSON nor a msgpack CONNECT: it may use another parser"
                .to_owned();
        return Ok(done(report, why));
    };
    let auth_sent = auth_words(req.auth.as_ref(), eio);
    match &refused {
        None => {
            report.add(
                "namespace",
                "Namespace",
                DoctorOutcome::Ok,
                format!("joined {namespace}"),
            );
            let words = match &auth_sent {
                Some(sent) => format!("the server accepted the auth sent ({sent})"),
                None => "the server asked for no auth".to_owned(),
            };
            report.add("auth", "Auth", DoctorOutcome::Ok, words);
        }
        Some(message) if message.eq_ignore_ascii_case("Invalid namespace") => {
            report.add(
                "namespace",
                "Namespace",
                DoctorOutcome::Fail,
                format!("the server has no namespace {namespace} (it answered \"{message}\"): check the namespace"),
            );
            report.add(
                "auth",
                "Auth",
                DoctorOutcome::Skipped,
                "not known until the namespace is joined",
            );
        }
        Some(message) => {
            report.add(
                "namespace",
                "Namespace",
                DoctorOutcome::Ok,
                format!("{namespace} exists (the server ran its connection checks on it)"),
            );
            let words = match &auth_sent {
                Some(sent) => format!("the server refused the connection: \"{message}\". Auth was sent ({sent}): the token is wrong, expired or not what this server expects"),
                None => format!("the server refused the connection: \"{message}\". No auth was sent: pass a token (--token T or --auth JSON)"),
            };
            report.add("auth", "Auth", DoctorOutcome::Fail, words);
        }
    }

    // 6. CORS for a browser origin.
    if let Some(origin) = req
        .origin
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
    {
        let (outcome, words) = cors(
            &http,
            ws_tls(),
            &target,
            eio,
            polling_ok,
            origin,
            &join_query,
        )
        .await;
        report.add("cors", "CORS", outcome, words);
    } else {
        report.add(
            "cors",
            "CORS",
            DoctorOutcome::Skipped,
            "no origin given (--origin): CORS concerns browsers only",
        );
    }

    if let Some(message) = refused {
        let summary =
            match report.checks.iter().find(|c| {
                c.outcome == DoctorOutcome::Fail && (c.id == "namespace" || c.id == "auth")
            }) {
                Some(c) => c.detail.clone(),
                None => format!("the server refused the connection: {message}"),
            };
        return Ok(done(report, summary));
    }

    // 7. The settings that connect.
    let transport = match (polling_ok, ws_ok) {
        (true, true) => "any",
        (true, false) => "polling",
        _ => "websocket",
    };
    let works = WorkingSettings {
        eio,
        transport: transport.to_owned(),
        path: target.path.clone(),
        parser,
        namespace: namespace.clone(),
        insecure: effective.insecure,
        ca_cert: if effective.insecure {
            None
        } else {
            req.tls.ca_cert.clone().filter(|c| !c.trim().is_empty())
        },
        auth: req.auth.is_some(),
    };
    let (line, caveat) = connect_line(&target, &works, &req.tls, req.auth.as_ref());
    let mut summary =
        format!(
        "connects with Engine.IO v{eio} ({}), {}, path {}, the {} parser, namespace {namespace}{}",
        if eio == 3 { "Socket.IO 2.x" } else { "Socket.IO 3/4" },
        match transport {
            "any" => "polling and websocket",
            "polling" => "polling only",
            _ => "websocket only",
        },
        target.path,
        parser.name(),
        if works.insecure { ", certificate checks off" } else { "" },
    );
    if let Some(c) = report
        .checks
        .iter()
        .find(|c| c.id == "cors" && c.outcome == DoctorOutcome::Fail)
    {
        summary.push_str(&format!("; but from a browser: {}", c.detail));
    }
    if let Some(c) = caveat {
        summary.push_str("; ");
        summary.push_str(&c);
    }
    Ok(DoctorReport {
        url: shown_url,
        checks: report.checks,
        works: Some(works),
        connect_with: Some(line),
        summary,
    })
}

/// Resolves the host and opens a TCP connection, or says why not in words.
async fn reach(target: &Target) -> Result<SocketAddr, String> {
    let host_port = format!("{}:{}", target.host, target.port);
    let addrs: Vec<SocketAddr> =
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::lookup_host(host_port.as_str()))
            .await
        {
            Ok(Ok(a)) => a.collect(),
            Ok(Err(e)) => {
                return Err(format!(
                    "cannot resolve the host name {} ({e}): check its spelling and the DNS",
                    target.host
                ))
            }
            Err(_) => {
                return Err(format!(
                    "resolving {} took longer than {} s: check the DNS",
                    target.host,
                    CONNECT_TIMEOUT.as_secs()
                ))
            }
        };
    let mut last = format!("{} resolves to no address", target.host);
    for addr in addrs {
        match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
            Ok(Ok(_)) => return Ok(addr),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                last = format!(
                    "nothing listens on {host_port} (connection refused): is the server running, and on this port?"
                );
            }
            Ok(Err(e)) => last = format!("cannot connect to {host_port} ({addr}): {e}"),
            Err(_) => {
                last = format!(
                    "{host_port} did not answer within {} s: a firewall, or the wrong host or port",
                    CONNECT_TIMEOUT.as_secs()
                );
            }
        }
    }
    Err(last)
}

async fn handshakes(
    http: &reqwest::Client,
    target: &Target,
    ws_tls: &impl Fn() -> Option<tokio_tungstenite::Connector>,
    v3_query: &[(String, String)],
) -> Handshakes {
    let (p4, p3, w4, w3) = tokio::join!(
        probe::polling(http, target, 4, &[], &[]),
        probe::polling(http, target, 3, &[], v3_query),
        probe::websocket(target, 4, ws_tls(), &[], &[]),
        probe::websocket(target, 3, ws_tls(), &[], v3_query),
    );
    Handshakes {
        polling: [p4, p3],
        websocket: [w4, w3],
    }
}

/// The first common path (other than the target's) where a polling handshake of
/// either revision answers.
async fn find_path(
    http: &reqwest::Client,
    target: &Target,
    v3_query: &[(String, String)],
) -> Option<String> {
    let candidates: Vec<Target> = COMMON_PATHS
        .iter()
        .filter(|p| **p != target.path)
        .map(|p| target.with_path(p))
        .collect();
    let answers = futures_util::future::join_all(candidates.iter().map(|t| async move {
        let (a, b) = tokio::join!(
            probe::polling(http, t, 4, &[], &[]),
            probe::polling(http, t, 3, &[], v3_query)
        );
        (a.answer.open_eio().is_some() || b.answer.open_eio().is_some()).then(|| t.path.clone())
    }))
    .await;
    answers.into_iter().flatten().next()
}

fn nothing_words(a: &EngineAnswer) -> String {
    match a {
        EngineAnswer::Refused { status, message } => format!("HTTP {status}: {message}"),
        EngineAnswer::NoAnswer => format!("no answer within {} s", probe::PROBE_TIMEOUT.as_secs()),
        EngineAnswer::NotEngineIo(body) => format!("an answer that is not Engine.IO: {body}"),
        EngineAnswer::Failed(e) => e.clone(),
        EngineAnswer::Open { .. } => "an open packet".to_owned(),
    }
}

/// One handshake's line.
fn handshake_words(
    a: &EngineAnswer,
    eio: u8,
    transport: &str,
    path: &str,
) -> (DoctorOutcome, String) {
    use DoctorOutcome::{Fail, Ok};
    match a {
        EngineAnswer::Open { eio: got, .. } if *got == eio => (Ok, format!("the server answers the v{eio} handshake over {transport}")),
        EngineAnswer::Open { .. } => (Fail, format!("asked for v{eio}, the server answered with an Engine.IO v3 handshake: it is a Socket.IO 2.x server")),
        EngineAnswer::Refused { status, message } => {
            let lower = message.to_ascii_lowercase();
            let why = if lower.contains("transport unknown") {
                format!("the server does not offer {transport} (its `transports` option leaves it out)")
            } else if lower.contains("unsupported protocol version") {
                format!("the server does not speak Engine.IO v{eio}")
            } else if *status == 403 {
                "the server refused the request (its allowRequest or origin check)".to_owned()
            } else if *status == 404 {
                format!("nothing at {path}")
            } else {
                "the server refused the handshake".to_owned()
            };
            let message = if message.is_empty() { String::new() } else { format!(" \"{message}\"") };
            (Fail, format!("{why} (HTTP {status}{message})"))
        }
        EngineAnswer::NoAnswer => (Fail, format!("no answer within {} s", probe::PROBE_TIMEOUT.as_secs())),
        EngineAnswer::Failed(e) => (Fail, e.clone()),
        EngineAnswer::NotEngineIo(body) => (Fail, format!("the answer is not an Engine.IO handshake: {body}")),
    }
}

/// The auth object's top-level scalars as query pairs (how Socket.IO 2.x clients
/// send handshake data).
fn auth_query(auth: Option<&Value>) -> Vec<(String, String)> {
    let Some(Value::Object(o)) = auth else {
        return Vec::new();
    };
    o.iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(_) | Value::Bool(_) => Some((k.clone(), v.to_string())),
            _ => None,
        })
        .collect()
}

/// How the auth travelled, naming keys only.
fn auth_words(auth: Option<&Value>, eio: u8) -> Option<String> {
    let keys: Vec<String> = auth?.as_object()?.keys().cloned().collect();
    let keys = if keys.is_empty() {
        "no keys".to_owned()
    } else {
        keys.join(", ")
    };
    Some(if eio == 3 {
        format!("{keys}, in the handshake query as Socket.IO 2.x expects")
    } else {
        format!("auth.{}", keys.replace(", ", ", auth."))
    })
}

async fn cors(
    http: &reqwest::Client,
    ws_tls: Option<tokio_tungstenite::Connector>,
    target: &Target,
    eio: u8,
    polling_ok: bool,
    origin: &str,
    query: &[(String, String)],
) -> (DoctorOutcome, String) {
    let headers = [("Origin".to_owned(), origin.to_owned())];
    if !polling_ok {
        // Browsers do not apply CORS to WebSockets; the server may still check Origin.
        return match probe::websocket(target, eio, ws_tls, &headers, query).await {
            EngineAnswer::Open { .. } => (DoctorOutcome::Ok, format!("the server takes WebSocket handshakes from {origin} (browsers do not apply CORS to WebSockets)")),
            other => (DoctorOutcome::Fail, format!("the server refuses WebSocket handshakes from {origin}: {}", nothing_words(&other))),
        };
    }
    let answer = probe::polling(http, target, eio, &headers, query).await;
    match (&answer.answer, answer.allow_origin.as_deref()) {
        (EngineAnswer::Open { .. }, Some(allowed)) if allowed == "*" || allowed == origin => {
            (DoctorOutcome::Ok, format!("the server allows origin {origin} (Access-Control-Allow-Origin: {allowed})"))
        }
        (EngineAnswer::Open { .. }, Some(allowed)) => (DoctorOutcome::Fail, format!(
            "the server does not allow origin {origin}: it answers Access-Control-Allow-Origin: {allowed}, so a page at {origin} cannot use polling; add {origin} to the server's cors origins"
        )),
        (EngineAnswer::Open { .. }, None) => (DoctorOutcome::Fail, format!(
            "the server does not allow origin {origin}: its answer has no Access-Control-Allow-Origin header, so a page at {origin} cannot use polling; add {origin} to the server's cors origins (WebSocket-only clients are not subject to CORS)"
        )),
        (other, _) => (DoctorOutcome::Fail, format!(
            "the server refuses requests from origin {origin}: {}",
            nothing_words(other)
        )),
    }
}

/// The `sockscope connect` line for `works`, and what it cannot express.
fn connect_line(
    target: &Target,
    works: &WorkingSettings,
    tls: &sockscope_protocol::TargetTls,
    auth: Option<&Value>,
) -> (String, Option<String>) {
    let mut line = format!("sockscope connect {}", target.connect_url(&works.path));
    let mut caveats = Vec::new();
    if works.namespace != "/" {
        line.push_str(&format!(" --namespace {}", works.namespace));
    }
    if works.eio == 3 {
        line.push_str(" --eio 3");
    }
    match works.transport.as_str() {
        "polling" => line.push_str(" --transport polling"),
        "websocket" => line.push_str(" --transport websocket"),
        _ => {}
    }
    if works.parser == Parser::Msgpack {
        line.push_str(" --parser msgpack");
    }
    if let Some(Value::Object(o)) = auth {
        let shape: Vec<String> = o.keys().map(|k| format!("\"{k}\":\"…\"")).collect();
        line.push_str(&format!(" --auth '{{{}}}'", shape.join(",")));
    }
    if works.insecure {
        line.push_str(" --insecure");
    } else if let Some(ca) = &works.ca_cert {
        line.push_str(&format!(" --ca-cert {ca}"));
    }
    if let (Some(c), Some(k)) = (&tls.client_cert, &tls.client_key) {
        if !c.trim().is_empty() {
            line.push_str(&format!(" --client-cert {c} --client-key {k}"));
        }
    }
    let native = works.eio == 3 || works.parser == Parser::Msgpack;
    if native && works.path != DEFAULT_PATH {
        caveats.push(format!(
            "note: sockscope's own client (used for --eio 3 and --parser msgpack) always uses {DEFAULT_PATH}, so this path needs a Socket.IO 4 JSON setup"
        ));
    }
    if native && works.transport == "polling" {
        caveats.push("note: sockscope's own client (used for --eio 3 and --parser msgpack) speaks websocket only, which this server does not offer".to_owned());
    }
    let caveat = (!caveats.is_empty()).then(|| caveats.join("; "));
    (line, caveat)
}
