//! `sockscope connect` (watch a real gateway) and `sockscope record` (the same, into
//! SQLite). Both print every event; `record` shows a live counter and stops after
//! `--duration`, `--count`, or Ctrl-C, then says what it wrote and what was lost, by
//! cause. Socket.IO by default; `--ws` speaks plain WebSocket (Jac-style gateways)
//! instead.
//!
//! The printer and the recording read the bus separately (see `capture`): a slow
//! terminal skips lines ("printer skipped N lines") and the recording keeps them. A
//! connection that ends with nothing to reconnect it (`--no-reconnect`, attempts
//! used up, `--ws`) stops the run, which exits non-zero saying why.

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::Value;
use sockscope_engine::connection::{
    ConnectOptions, Connection, ConnectionLosses, EioChoice, Transport, WsConnection, WsOptions,
    DEFAULT_MAX_PAYLOAD,
};
use sockscope_engine::usecase::{Capture, CaptureOptions, NewSession};
use sockscope_engine::Bus;
use sockscope_protocol::Parser;
use tokio::sync::broadcast::error::RecvError;

use crate::capture::{self, Printer};
use crate::db::DbArgs;
use crate::error::{CliError, Result};
use crate::redaction::RedactArgs;
use crate::signal::shutdown_signal;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum TransportArg {
    Websocket,
    Polling,
}

/// `--eio`: the Engine.IO revision.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub(crate) enum EioArg {
    /// v4, or v3 when the server answers with a v3 handshake.
    #[default]
    Auto,
    /// Socket.IO 2.x servers.
    #[value(name = "3")]
    V3,
    /// Socket.IO 3 and 4 servers.
    #[value(name = "4")]
    V4,
}

impl From<EioArg> for EioChoice {
    fn from(e: EioArg) -> Self {
        match e {
            EioArg::Auto => EioChoice::Auto,
            EioArg::V3 => EioChoice::V3,
            EioArg::V4 => EioChoice::V4,
        }
    }
}

/// `--parser`: the Socket.IO packet encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ParserArg {
    Json,
    /// socket.io-msgpack-parser.
    Msgpack,
}

impl From<ParserArg> for Parser {
    fn from(p: ParserArg) -> Self {
        match p {
            ParserArg::Json => Parser::Json,
            ParserArg::Msgpack => Parser::Msgpack,
        }
    }
}

/// `--ack-reply 'EVENT=JSON'` rules (EVENT may be `*`).
pub(crate) fn ack_replies(rules: &[String]) -> Result<Vec<(String, Value)>> {
    rules
        .iter()
        .map(|r| {
            let (event, json) = pair(r, '=', "--ack-reply")?;
            let data = serde_json::from_str(&json).map_err(|err| {
                CliError::Usage(format!("bad JSON in --ack-reply {event}: {err}"))
            })?;
            Ok((event, data))
        })
        .collect()
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
    /// Engine.IO revision: auto (v4, falling back to v3 when the server answers a
    /// v3 handshake), 3 (Socket.IO 2.x servers) or 4.
    #[arg(long, value_enum, default_value = "auto", conflicts_with = "ws")]
    eio: EioArg,
    /// Socket.IO parser: json (default) or msgpack (socket.io-msgpack-parser).
    #[arg(long, value_enum, default_value = "json", conflicts_with = "ws")]
    parser: ParserArg,
    /// Answer the server's ack requests for EVENT (or `*`: any) with this JSON
    /// (repeatable): 'question={"answer":42}'.
    #[arg(long = "ack-reply", value_name = "EVENT=JSON", conflicts_with = "ws")]
    ack_replies: Vec<String>,
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
    /// Largest event payload kept: bytes, or with a unit (64KiB, 4MiB). A bigger event
    /// is dropped, counted and recorded as an `error`. Socket.IO: at most 16MiB (the
    /// client's own limit, the default); --ws: at most 1GiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB")]
    max_payload: usize,
    #[command(flatten)]
    redact: RedactArgs,
    #[command(flatten)]
    tls: crate::tls_args::TlsArgs,
}

/// The most `--max-payload` may be with `--ws` (tungstenite then buffers that much).
const MAX_WS_PAYLOAD: usize = 1 << 30;

/// `--max-payload`: bytes, or a number with B, KiB, MiB or GiB (K/M/G and KB/MB/GB
/// mean the same binary units).
pub(crate) fn parse_size(s: &str) -> std::result::Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad size {s:?} (use bytes or 64KiB, 16MiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("bad size unit in {s:?} (B, KiB, MiB or GiB)")),
    };
    let bytes = n
        .checked_mul(scale)
        .filter(|b| *b >= 1)
        .ok_or_else(|| format!("size {s:?} out of range (1 byte to 1GiB)"))?;
    usize::try_from(bytes).map_err(|_| format!("size {s:?} out of range (1 byte to 1GiB)"))
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
    /// Resolves with the reason once the connection is gone and nothing will bring
    /// it back.
    async fn ended(&self) -> String {
        match self {
            Client::SocketIo(c) => c.ended().await,
            Client::Ws(c) => c.ended().await,
        }
    }

    fn losses(&self) -> ConnectionLosses {
        match self {
            Client::SocketIo(c) => c.losses(),
            Client::Ws(c) => c.losses(),
        }
    }

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
        let mut target = target;
        let conn = Connection::open(opts, bus.clone(), CONNECT_TIMEOUT).await?;
        eprintln!("{}", conn.protocol_line());
        if let (Value::Object(meta), Value::Object(protocol)) = (&mut target.meta, conn.protocol())
        {
            meta.extend(protocol);
        }
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
    /// What every command that connects does first: applies the redaction and TLS
    /// flags and checks the connection flags, so bad flags fail before anything
    /// connects.
    fn prepare(&self) -> Result<()> {
        self.redact.apply();
        self.tls.announce();
        if self.ws {
            self.ws_options()?;
        } else {
            self.options()?;
        }
        Ok(())
    }

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
        if self.max_payload > MAX_WS_PAYLOAD {
            return Err(CliError::Usage(format!(
                "--max-payload {} is over the 1GiB maximum for --ws",
                self.max_payload
            )));
        }
        Ok(WsOptions {
            url: self.url.clone(),
            headers: self.headers()?,
            query: self.query()?,
            on_connect,
            max_payload: self.max_payload,
            tls: self.tls.options()?,
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
        if self.max_payload > DEFAULT_MAX_PAYLOAD {
            return Err(CliError::Usage(format!(
                "--max-payload {} is over 16MiB ({DEFAULT_MAX_PAYLOAD} bytes), the most the Socket.IO client accepts",
                self.max_payload
            )));
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
            max_payload: self.max_payload,
            tls: self.tls.options()?,
            eio: self.eio.into(),
            parser: self.parser.into(),
            ack_replies: ack_replies(&self.ack_replies)?,
        })
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn connect(args: ConnectArgs) -> Result<()> {
    args.prepare()?;
    let bus = Bus::new();
    let mut rx = bus.subscribe();
    let (conn, target) = Client::open(&args, &bus).await?;
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut printer = Printer::start(args.json, None, " (the terminal is slower than the events)")?;
    let mut lost = None;
    {
        let ended = conn.ended();
        tokio::pin!(ended);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                why = &mut ended => {
                    lost = Some(why);
                    break;
                }
                next = rx.recv() => match next {
                    Ok(rec) => printer.print(&rec)?,
                    Err(RecvError::Lagged(n)) => printer.skip(n),
                    Err(RecvError::Closed) => break,
                }
            }
        }
    }
    // What reached the bus before the end (the disconnect and error records).
    while let Ok(rec) = rx.try_recv() {
        printer.print(&rec)?;
    }
    let losses = conn.losses();
    conn.close().await;
    let skipped = printer.finish()?;
    if skipped > 0 || losses != ConnectionLosses::default() {
        eprintln!(
            "printer skipped {skipped} lines; connection lost {}, oversized {}",
            losses.connection_lost, losses.oversized
        );
    }
    match lost {
        Some(reason) => Err(CliError::Ended {
            url: target.url,
            reason,
        }),
        None => Ok(()),
    }
}

/// Resolves once `duration` (counted from this call) is over; never without one.
/// The `--duration` of `watch` and `record`.
fn time_up(duration: Option<Duration>) -> impl std::future::Future<Output = ()> {
    let deadline = duration.map(|d| tokio::time::Instant::now() + d);
    async move {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }
}

/// What [`watch`] saw: events passed on, and events the bus dropped before they
/// could be (the consumer fell behind).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Watched {
    pub events: u64,
    pub skipped: u64,
}

/// Connects as `connect` does and passes every event both ways to `each` until
/// `duration` is over, `count` events were seen, Ctrl-C, or the connection ends for
/// good (an error naming why). For live checks (`contract live`).
pub(crate) async fn watch(
    args: &ConnectArgs,
    duration: Option<Duration>,
    count: Option<u64>,
    mut each: impl FnMut(&sockscope_protocol::EventRecord) -> Result<()>,
) -> Result<Watched> {
    args.prepare()?;
    let bus = Bus::new();
    let mut rx = bus.subscribe();
    let (conn, target) = Client::open(args, &bus).await?;
    let until = time_up(duration);
    tokio::pin!(until);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let mut seen = Watched::default();
    let mut lost = None;
    {
        let ended = conn.ended();
        tokio::pin!(ended);
        loop {
            if count.is_some_and(|c| seen.events >= c) {
                break;
            }
            tokio::select! {
                _ = &mut stop => break,
                _ = &mut until => break,
                why = &mut ended => {
                    lost = Some(why);
                    break;
                }
                next = rx.recv() => match next {
                    Ok(rec) => {
                        seen.events += 1;
                        each(&rec)?;
                    }
                    Err(RecvError::Lagged(n)) => seen.skipped += n,
                    Err(RecvError::Closed) => break,
                }
            }
        }
    }
    conn.close().await;
    match lost {
        Some(reason) => Err(CliError::Ended {
            url: target.url,
            reason,
        }),
        None => Ok(seen),
    }
}

pub async fn record(args: RecordArgs) -> Result<()> {
    args.connect.prepare()?;
    let store = args.db.open()?;
    let bus = Bus::new();
    // The recording and the printer each have their own subscription, both taken
    // before connecting so the first events are kept.
    let record_rx = bus.subscribe();
    let mut rx = bus.subscribe();
    // Connect first: an unreachable target leaves no empty session behind.
    let (conn, target) = Client::open(&args.connect, &bus).await?;
    let name = args.name.clone().unwrap_or(target.label);
    let new = NewSession {
        name: name.clone(),
        kind: "connection".to_owned(),
        target: target.url.clone(),
        meta: target.meta,
    };
    let limit = CaptureOptions {
        limit: args.count,
        ..CaptureOptions::default()
    };
    let mut capture = Capture::into_session(&store, &new, record_rx, limit)?;
    let session = capture.session_id();
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    let started = Instant::now();
    let until = time_up(args.duration);
    tokio::pin!(until);
    let stop = shutdown_signal();
    tokio::pin!(stop);
    let bar_for_lines = (!args.connect.json).then(|| bar.clone());
    let mut printer = Printer::start(
        args.connect.json,
        bar_for_lines,
        " (the recording keeps them)",
    )?;
    let mut lost = None;
    let mut printing = true;
    {
        let ended = conn.ended();
        tokio::pin!(ended);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = &mut until => break,
                _ = capture.full() => break,
                why = &mut ended => {
                    lost = Some(why);
                    break;
                }
                next = rx.recv(), if printing => match next {
                    Ok(rec) => {
                        printer.print(&rec)?;
                        bar.set_message(format!("recording session {session}: {} events", capture.seen()));
                        bar.tick();
                    }
                    Err(RecvError::Lagged(n)) => printer.skip(n),
                    Err(RecvError::Closed) => printing = false,
                }
            }
        }
    }
    let losses = conn.losses();
    conn.close().await;
    let skipped = printer.finish()?;
    bar.finish_and_clear();
    let stats = capture.stop().await?;
    let printer = if skipped > 0 {
        format!(" (printer skipped {skipped} lines)")
    } else {
        String::new()
    };
    eprintln!(
        "session {} \"{}\": {}, {:.1}s -> {}{printer}",
        stats.session_id,
        name,
        capture::summary(&stats, losses.connection_lost, losses.oversized),
        started.elapsed().as_secs_f64(),
        store.path().display()
    );
    match lost {
        Some(reason) => Err(CliError::Ended {
            url: target.url,
            reason,
        }),
        None => Ok(()),
    }
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
    fn sizes_parse_with_binary_units_or_say_why() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert!(parse_size("0").is_err());
        assert!(parse_size("ten").is_err());
        assert!(parse_size("5TiB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("18446744073709551615GiB").is_err());
    }

    #[test]
    fn auth_comes_inline_from_a_file_or_as_a_bare_token() {
        assert_eq!(
            parse_auth(Some(r#"{"token":"t"}"#)).unwrap(),
            Some(serde_json::json!({"token": "t"}))
        );
        assert!(parse_auth(Some("{")).is_err());
        let dir = sockscope_test_support::temp_dir("auth", "parse");
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
