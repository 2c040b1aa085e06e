//! `sockscope connect` (watch a real gateway) and `sockscope record` (the same, into
//! SQLite). Both print every event; `record` shows a live counter and stops after
//! `--duration`, `--count`, or Ctrl-C, then says what it wrote and dropped.
//! Socket.IO by default; `--ws` speaks plain WebSocket (Jac-style gateways) instead.

use std::io::Write;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::Value;
use sockscope_engine::connection::{
    ConnectOptions, Connection, Transport, WsConnection, WsOptions,
};
use sockscope_engine::store::Recorder;
use sockscope_engine::Bus;
use tokio::sync::broadcast::error::RecvError;

use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::output;
use crate::redaction::RedactArgs;
use crate::serve::shutdown_signal;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TransportArg {
    Websocket,
    Polling,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// The gateway, e.g. http://localhost:4004
    url: String,
    #[arg(long, short = 'n', default_value = "/")]
    namespace: String,
    /// The handshake's auth object, e.g. '{"token":"..."}', or @FILE holding it (or
    /// a bare token, sent as auth.token). Default: the SOCKSCOPE_AUTH environment
    /// variable (JSON or a bare token), so a token need not appear in `ps` or history.
    #[arg(long, value_name = "JSON|@FILE", conflicts_with = "ws")]
    auth: Option<String>,
    /// Extra handshake header (repeatable).
    #[arg(long = "header", value_name = "K:V")]
    headers: Vec<String>,
    /// Extra query parameter (repeatable).
    #[arg(long = "query", value_name = "K=V")]
    query: Vec<String>,
    /// websocket or polling (default: polling upgraded to websocket).
    #[arg(long, value_enum, conflicts_with = "ws")]
    transport: Option<TransportArg>,
    /// Emitted after every (re)connect, in order (repeatable): 'subscribe={"room":"a"}'.
    #[arg(long = "emit", value_name = "EVENT=JSON", conflicts_with = "ws")]
    emits: Vec<String>,
    /// Plain WebSocket instead of Socket.IO (Jac-style gateways): URL is ws://,
    /// wss://, http:// or https:// with the endpoint's path, e.g. .../websocket.
    #[arg(long)]
    ws: bool,
    /// With --ws: a JSON message sent once connected, in order (repeatable):
    /// '{"type":"walker","walker":"w","response":true}'.
    #[arg(long = "send", value_name = "JSON", requires = "ws")]
    sends: Vec<String>,
    /// Do not reconnect when the connection drops.
    #[arg(long)]
    no_reconnect: bool,
    /// Give up after this many reconnection attempts (0 = keep trying).
    #[arg(long, default_value_t = 0, value_name = "N", conflicts_with = "ws")]
    reconnect_attempts: u8,
    /// First delay between reconnection attempts in milliseconds (backs off to 4x).
    #[arg(long, default_value_t = 500, value_name = "MS", conflicts_with = "ws", value_parser = crate::numbers::millis)]
    reconnect_delay: u64,
    /// Print events as JSON Lines.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    redact: RedactArgs,
}

#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    connect: ConnectArgs,
    /// Session name (default: the URL and namespace).
    #[arg(long)]
    name: Option<String>,
    /// Stop after this long: 10s, 500ms, 2m.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Stop after this many events.
    #[arg(long)]
    count: Option<u64>,
    #[command(flatten)]
    db: DbArgs,
}

/// A duration flag (see `numbers::duration`): range-checked, never panics.
pub fn parse_duration(s: &str) -> std::result::Result<Duration, String> {
    crate::numbers::duration(s)
}

/// Where an auth file may come from is the user's choice; how much of it is read is
/// not (`--auth @/dev/zero` must not allocate without bound).
const AUTH_FILE_MAX: u64 = 1 << 20;

/// The handshake's auth object, or a one-line error: `--auth JSON`, `--auth @FILE`
/// (JSON, or a bare token sent as `auth.token`), else `SOCKSCOPE_AUTH` (the same
/// forms as a file). Error messages never quote the content.
pub(crate) fn parse_auth(auth: Option<&str>) -> Result<Option<Value>> {
    match auth {
        Some(a) => match a.strip_prefix('@') {
            Some(path) => {
                auth_value(&read_auth_file(path)?, &format!("--auth file {path}")).map(Some)
            }
            None => serde_json::from_str::<Value>(a)
                .map(Some)
                .map_err(|e| CliError::Usage(format!("bad JSON in --auth: {e}"))),
        },
        None => match std::env::var("SOCKSCOPE_AUTH") {
            Ok(v) if !v.trim().is_empty() => auth_value(&v, "SOCKSCOPE_AUTH").map(Some),
            _ => Ok(None),
        },
    }
}

fn read_auth_file(path: &str) -> Result<String> {
    use std::io::Read;
    let file_error = |source| CliError::File {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(file_error)?;
    let mut text = String::new();
    file.take(AUTH_FILE_MAX + 1)
        .read_to_string(&mut text)
        .map_err(file_error)?;
    if text.len() as u64 > AUTH_FILE_MAX {
        return Err(CliError::Usage(format!(
            "--auth file {path} is larger than {AUTH_FILE_MAX} bytes"
        )));
    }
    Ok(text)
}

/// JSON when it looks like JSON (`{`, `[`, `"`), else a bare token.
fn auth_value(text: &str, origin: &str) -> Result<Value> {
    let t = text.trim();
    if t.is_empty() {
        return Err(CliError::Usage(format!("{origin} is empty")));
    }
    if t.starts_with(['{', '[', '"']) {
        return serde_json::from_str::<Value>(t)
            .map_err(|e| CliError::Usage(format!("bad JSON in {origin}: {e}")));
    }
    Ok(serde_json::json!({ "token": t }))
}

pub(crate) fn pair(s: &str, sep: char, what: &str) -> Result<(String, String)> {
    s.split_once(sep)
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| {
            CliError::Usage(format!(
                "bad {what} {:?}: expected K{sep}V",
                sockscope_engine::limits::quote(s)
            ))
        })
}

/// The client a `connect`/`record` run holds: Socket.IO or plain WebSocket.
enum Client {
    SocketIo(Connection),
    Ws(WsConnection),
}

/// What a run connected to, for the session row (the store redacts it again).
struct Target {
    url: String,
    /// Default session name.
    label: String,
    /// The connection profile minus secrets.
    meta: Value,
}

impl Client {
    async fn open(args: &ConnectArgs, bus: &Bus) -> Result<(Client, Target)> {
        if args.ws {
            let opts = args.ws_options()?;
            let target = Target {
                url: opts.url.clone(),
                label: opts.url.clone(),
                meta: opts.describe(),
            };
            let conn = WsConnection::open(opts, bus.clone(), CONNECT_TIMEOUT).await?;
            return Ok((Client::Ws(conn), target));
        }
        let opts = args.options()?;
        let target = Target {
            url: opts.url.clone(),
            // The URL's query (a token, often) stays out of the default name.
            label: format!(
                "{}{}",
                sockscope_engine::redact::url_base(&opts.url).trim_end_matches('/'),
                opts.namespace
            ),
            meta: opts.describe(),
        };
        let conn = Connection::open(opts, bus.clone(), CONNECT_TIMEOUT).await?;
        Ok((Client::SocketIo(conn), target))
    }

    async fn close(self) {
        match self {
            Client::SocketIo(c) => c.close().await,
            Client::Ws(c) => c.close().await,
        }
    }
}

impl ConnectArgs {
    fn ws_options(&self) -> Result<WsOptions> {
        let mut on_connect = Vec::new();
        for m in &self.sends {
            on_connect.push(serde_json::from_str::<Value>(m).map_err(|e| {
                CliError::Usage(format!(
                    "bad JSON in --send {:?}: {}",
                    sockscope_engine::limits::quote(m),
                    sockscope_engine::limits::clip_message(&e.to_string())
                ))
            })?);
        }
        Ok(WsOptions {
            url: self.url.clone(),
            headers: self.headers()?,
            query: self.query()?,
            on_connect,
        })
    }

    fn headers(&self) -> Result<Vec<(String, String)>> {
        self.headers
            .iter()
            .map(|h| pair(h, ':', "--header"))
            .collect()
    }

    fn query(&self) -> Result<Vec<(String, String)>> {
        self.query.iter().map(|q| pair(q, '=', "--query")).collect()
    }

    fn options(&self) -> Result<ConnectOptions> {
        let auth = parse_auth(self.auth.as_deref())?;
        let mut on_connect = Vec::new();
        for e in &self.emits {
            let (event, json) = pair(e, '=', "--emit")?;
            let data = serde_json::from_str(&json).map_err(|err| {
                CliError::Usage(format!("bad JSON template in --emit {event}: {err}"))
            })?;
            on_connect.push((event, data));
        }
        Ok(ConnectOptions {
            url: self.url.clone(),
            namespace: self.namespace.clone(),
            auth,
            headers: self.headers()?,
            query: self.query()?,
            transport: match self.transport {
                None => Transport::Any,
                Some(TransportArg::Websocket) => Transport::Websocket,
                Some(TransportArg::Polling) => Transport::Polling,
            },
            reconnect: !self.no_reconnect,
            reconnect_attempts: self.reconnect_attempts,
            reconnect_delay_ms: self.reconnect_delay,
            on_connect,
        })
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn connect(args: ConnectArgs) -> Result<()> {
    args.redact.apply();
    let bus = Bus::new();
    let mut rx = bus.subscribe();
    let (conn, _) = Client::open(&args, &bus).await?;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            next = rx.recv() => match next {
                Ok(rec) => {
                    let mut out = std::io::stdout().lock();
                    output::event_line(&mut out, &rec, args.json)?;
                    out.flush()?;
                }
                Err(RecvError::Lagged(n)) => tracing::warn!(skipped = n, "printing fell behind"),
                Err(RecvError::Closed) => break,
            }
        }
    }
    conn.close().await;
    Ok(())
}

pub async fn record(args: RecordArgs) -> Result<()> {
    args.connect.redact.apply();
    // Bad flags fail before anything connects.
    if args.connect.ws {
        args.connect.ws_options()?;
    } else {
        args.connect.options()?;
    }
    let store = args.db.open()?;
    let bus = Bus::new();
    let mut rx = bus.subscribe();
    // Connect first: an unreachable target leaves no empty session behind.
    let (conn, target) = Client::open(&args.connect, &bus).await?;
    let name = args.name.clone().unwrap_or(target.label);
    let session = store.create_session(&name, "connection", &target.url, target.meta)?;
    let recorder = Recorder::start(&store, session)?;
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    let started = Instant::now();
    let deadline = args.duration.map(|d| tokio::time::Instant::now() + d);
    let until = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(until);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut seen: u64 = 0;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = &mut until => break,
            next = rx.recv() => match next {
                Ok(rec) => {
                    if !args.connect.json {
                        bar.suspend(|| {
                            let mut out = std::io::stdout().lock();
                            output::event_line(&mut out, &rec, false)
                        })?;
                    } else {
                        let mut out = std::io::stdout().lock();
                        output::event_line(&mut out, &rec, true)?;
                    }
                    recorder.record(rec);
                    seen += 1;
                    bar.set_message(format!("recording session {session}: {seen} events"));
                    bar.tick();
                    if args.count.is_some_and(|c| seen >= c) {
                        break;
                    }
                }
                Err(RecvError::Lagged(n)) => recorder.note_dropped(n),
                Err(RecvError::Closed) => break,
            }
        }
    }
    conn.close().await;
    bar.finish_and_clear();
    let stats = recorder.finish()?;
    eprintln!(
        "session {} \"{}\": {} events written, {} dropped, {:.1}s -> {}",
        stats.session_id,
        name,
        stats.written,
        stats.dropped,
        started.elapsed().as_secs_f64(),
        store.path().display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_pairs_parse_or_say_why() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5x").is_err());
        assert_eq!(pair("a:b:c", ':', "h").unwrap(), ("a".into(), "b:c".into()));
        assert!(pair("nope", '=', "--query").is_err());
    }

    #[test]
    fn auth_comes_inline_from_a_file_or_as_a_bare_token() {
        assert_eq!(
            parse_auth(Some(r#"{"token":"t"}"#)).unwrap(),
            Some(serde_json::json!({"token": "t"}))
        );
        assert!(parse_auth(Some("{")).is_err());
        let dir = std::env::temp_dir().join(format!("sockscope-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let json = dir.join("auth.json");
        std::fs::write(
            &json,
            "{\"token\": \"from-file\", \"firebase_id\": \"fb\"}\n",
        )
        .unwrap();
        let bare = dir.join("token.txt");
        std::fs::write(&bare, "  eyJ.a.b\n").unwrap();
        let empty = dir.join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let big = dir.join("big");
        std::fs::write(&big, vec![b'a'; (AUTH_FILE_MAX + 1) as usize]).unwrap();
        let at = |p: &std::path::Path| format!("@{}", p.display());
        assert_eq!(
            parse_auth(Some(&at(&json))).unwrap(),
            Some(serde_json::json!({"token": "from-file", "firebase_id": "fb"}))
        );
        assert_eq!(
            parse_auth(Some(&at(&bare))).unwrap(),
            Some(serde_json::json!({"token": "eyJ.a.b"}))
        );
        let empty_err = parse_auth(Some(&at(&empty))).unwrap_err().to_string();
        assert!(empty_err.contains("is empty"), "{empty_err}");
        let big_err = parse_auth(Some(&at(&big))).unwrap_err().to_string();
        assert!(big_err.contains("larger than"), "{big_err}");
        let missing = parse_auth(Some(&at(&dir.join("missing")))).unwrap_err();
        assert!(missing.to_string().contains("missing"), "{missing}");
        // A bad file's error names the file, never its content.
        std::fs::write(&json, "{\"token\": \"leak-me\"").unwrap();
        let bad = parse_auth(Some(&at(&json))).unwrap_err().to_string();
        assert!(
            bad.contains("bad JSON in --auth file") && !bad.contains("leak-me"),
            "{bad}"
        );
        assert_eq!(
            auth_value("tok", "SOCKSCOPE_AUTH").unwrap(),
            serde_json::json!({"token": "tok"})
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
