//! Every input that once panicked, hung or ate the machine's memory, run through the
//! built `sockscope` binary: each must end within its time limit, under a memory
//! limit, with a non-zero exit code, one error line on stderr (plus at most a usage
//! hint) and no panic. Positive controls show the same commands do run when the
//! value is in range.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The binary cargo built for this test, copied once: the target directory may be
/// shared with other builds that rewrite it while the tests run.
fn bin() -> &'static Path {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        let built = Path::new(env!("CARGO_BIN_EXE_sockscope"));
        let copy = sockscope_test_support::temp_dir("bad-input", "bin").join("sockscope");
        std::fs::copy(built, &copy).expect("copy the built binary");
        copy
    })
}

/// Virtual memory limit for each run (KiB): far below "GBs", far above a debug build's
/// needs.
const MEMORY_KIB: u64 = 3 * 1024 * 1024;

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary with `args` under the memory limit, killed after `limit`.
fn run(dir: &Path, args: &[&str], limit: Duration) -> Outcome {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB} && exec \"$0\" \"$@\""))
        .arg(bin())
        .args(args)
        .current_dir(dir)
        .env("SOCKSCOPE_DB", dir.join("test.db"))
        .env_remove("RUST_LOG")
        .env_remove("SOCKSCOPE_JWT_SECRET")
        .env_remove("SOCKET_IO_PORT")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sockscope");
    let started = Instant::now();
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sockscope {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    let stdout = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    Outcome {
        code,
        stdout,
        stderr,
        took,
    }
}

/// The contract for bad input.
fn assert_refused(case: &str, o: &Outcome, says: &str) {
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert!(
        o.code.is_some_and(|c| c != 0),
        "{case}: exit {:?}, stderr {:?}",
        o.code,
        o.stderr
    );
    assert!(
        !o.stderr.contains("panicked") && !o.stderr.contains("memory allocation"),
        "{case}: {}",
        o.stderr
    );
    assert!(
        (1..=2).contains(&lines.len()),
        "{case}: {} stderr lines: {:?}",
        lines.len(),
        o.stderr
    );
    assert!(
        lines[0].starts_with("sockscope: error: "),
        "{case}: {:?}",
        lines[0]
    );
    if let Some(hint) = lines.get(1) {
        assert!(hint.starts_with("usage: sockscope"), "{case}: {hint:?}");
    }
    assert!(
        o.stderr.len() < 1200,
        "{case}: stderr is {} bytes",
        o.stderr.len()
    );
    assert!(
        lines[0].contains(says),
        "{case}: {:?} does not say {says:?}",
        lines[0]
    );
}

/// A fresh folder per call: the tests of this file run in parallel threads of one
/// process, and each removes its folder at the end.
fn temp_dir() -> PathBuf {
    sockscope_test_support::unique_dir("bad-input")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write fixture");
    path.display().to_string()
}

const LIMIT: Duration = Duration::from_secs(30);
const HUGE: &str = "99999999999999999999";

#[test]
fn every_bad_input_is_one_line_and_no_panic() {
    let dir = temp_dir();
    // A session with one client event (session 1) for the replay cases.
    let jsonl = write(
        &dir,
        "one.jsonl",
        r#"{"seq":1,"ts":1,"source":"x","direction":"c2s","namespace":"/","event":"save","args":[{"a":1}],"ack":null}"#,
    );
    let o = run(&dir, &["sessions", "import", &jsonl], LIMIT);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let scenario = |name: &str, body: &str| write(&dir, name, body);
    let think = scenario(
        "think.json",
        r#"{"name":"t","steps":[{"think":{"min_ms":0,"max_ms":18446744073709551615}}]}"#,
    );
    let rate_big = scenario(
        "rate1.json",
        r#"{"name":"t","rate":1e308,"steps":[{"emit":{"event":"a"}}]}"#,
    );
    let rate_small = scenario(
        "rate2.json",
        r#"{"name":"t","rate":1e-300,"steps":[{"emit":{"event":"a"}}]}"#,
    );
    let loops = scenario(
        "loops.json",
        r#"{"name":"t","steps":[{"loop":{"count":4294967295,"steps":[{"loop":{"count":4294967295,"steps":[]}}]}}]}"#,
    );
    let big_string = format!(
        "{{\"seq\":1,\"ts\":1,\"source\":\"x\",\"direction\":\"{}\",\"namespace\":\"/\",\"event\":\"e\",\"args\":[]}}\n",
        "x".repeat(20_000_000)
    );
    let big_jsonl = write(&dir, "big.jsonl", &big_string);
    let big_scenario = write(
        &dir,
        "big.json",
        &format!("{{\"name\":\"t\",\"profile\":{}}}", "1".repeat(20_000_000)),
    );

    let sim = ["simulate", "analytics-dashboard", "--embedded"];
    let target = ["--target", "http://127.0.0.1:1"];
    // Contracts: text that is neither YAML nor JSON, a YAML alias bomb (a billion
    // "x" if expanded), a document that is not AsyncAPI 3, a payload schema that is
    // not a schema.
    let not_yaml = write(&dir, "not.yaml", "asyncapi: [unclosed\n");
    let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
    for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
        .iter()
        .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
    {
        let refs = vec![format!("*{prev}"); 10].join(", ");
        bomb.push_str(&format!("{name}: &{name} [{refs}]\n"));
    }
    let bomb = write(&dir, "bomb.yaml", &bomb);
    let openapi = write(&dir, "openapi.json", r#"{"openapi": "3.1.0"}"#);
    let bad_schema = write(
        &dir,
        "bad-schema.yaml",
        "asyncapi: 3.0.0\nchannels:\n  root:\n    address: /\n    messages:\n      m:\n        name: tick\n        payload: {type: 5}\noperations:\n  send_tick:\n    action: send\n    channel: {$ref: '#/channels/root'}\n    messages: [{$ref: '#/channels/root/messages/m'}]\n",
    );
    let contract_db = format!("{}/contracts.db", dir.display());
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "contract diff: not YAML",
            vec!["contract", "diff", &not_yaml, &not_yaml],
            "is not a YAML or JSON document",
        ),
        (
            "contract diff: alias bomb",
            vec!["contract", "diff", &bomb, &bomb],
            "is not a YAML or JSON document",
        ),
        (
            "contract check: not AsyncAPI 3",
            vec![
                "contract",
                "check",
                "1",
                "--against",
                &openapi,
                "--db",
                &contract_db,
            ],
            "not an AsyncAPI 3 contract",
        ),
        (
            "contract check: bad payload schema",
            vec![
                "contract",
                "check",
                "1",
                "--against",
                &bad_schema,
                "--db",
                &contract_db,
            ],
            "invalid payload schema for send_tick",
        ),
        (
            "contract infer: no such session",
            vec!["contract", "infer", "42", "--db", &contract_db],
            "42",
        ),
        (
            "clap: bad --ensure",
            vec![
                "simulate",
                "analytics-dashboard",
                "--embedded",
                "--ensure",
                "p99(delivery)",
            ],
            "no comparison",
        ),
        (
            "record --duration",
            vec!["record", "http://127.0.0.1:1", "--duration", HUGE],
            "'--duration",
        ),
        (
            "simulate --duration h",
            [&sim[..], &["--duration", "4000000000000000h"]].concat(),
            "30days",
        ),
        (
            "simulate --duration",
            [&sim[..], &["--duration", HUGE]].concat(),
            "30days",
        ),
        (
            "simulate --ramp",
            [&sim[..], &["--ramp", HUGE]].concat(),
            "'--ramp",
        ),
        (
            "simulate --connect-timeout",
            [&sim[..], &["--connect-timeout", HUGE]].concat(),
            "'--connect-timeout",
        ),
        (
            "simulate --clients",
            [&sim[..], &["--clients", "99999999999"]].concat(),
            "allowed range is 1 to 100000",
        ),
        (
            "simulate --rate",
            [&sim[..], &["--rate", "1e308"]].concat(),
            "'--rate",
        ),
        (
            "simulate --tick-ms",
            [&sim[..], &["--tick-ms", HUGE]].concat(),
            "'--tick-ms",
        ),
        (
            "simulate --entities",
            [&sim[..], &["--entities", "0"]].concat(),
            "'--entities",
        ),
        (
            "replay --speed",
            [&["replay", "1"][..], &target, &["--speed", "1e-300"]].concat(),
            "allowed range is 0.001",
        ),
        (
            "replay --loop",
            [&["replay", "1"][..], &target, &["--loop", "4294967295"]].concat(),
            "allowed range is 1 to 100000",
        ),
        (
            "replay --max-gap",
            [&["replay", "1"][..], &target, &["--max-gap", HUGE]].concat(),
            "'--max-gap",
        ),
        (
            "replay --ack-timeout",
            [&["replay", "1"][..], &target, &["--ack-timeout", HUGE]].concat(),
            "'--ack-timeout",
        ),
        (
            "replay --settle",
            [&["replay", "1"][..], &target, &["--settle", HUGE]].concat(),
            "'--settle",
        ),
        (
            "replay --wait-timeout",
            vec!["replay", "1", "--mode", "server", "--wait-timeout", HUGE],
            "'--wait-timeout",
        ),
        (
            "replay --start-delay",
            vec!["replay", "1", "--mode", "server", "--start-delay", HUGE],
            "'--start-delay",
        ),
        (
            "replay --wait-clients",
            vec!["replay", "1", "--mode", "server", "--wait-clients", HUGE],
            "'--wait-clients",
        ),
        (
            "replay --set $[999]",
            [&["replay", "1"][..], &target, &["--set", "$[999].a=1"]].concat(),
            "would change nothing",
        ),
        (
            "connect --reconnect-delay",
            vec![
                "connect",
                "http://127.0.0.1:1",
                "--reconnect-delay",
                "4611686018427387904",
            ],
            "allowed range is 0 to 86400000",
        ),
        (
            "serve --tick-ms",
            vec!["serve", "--port", "0", "--tick-ms", HUGE],
            "'--tick-ms",
        ),
        (
            "scenario think",
            vec!["simulate", "--file", &think, "--embedded"],
            "think max_ms must be between 0 and 86400000",
        ),
        (
            "scenario rate 1e308",
            vec!["simulate", "--file", &rate_big, "--embedded"],
            "rate must be between 0.001 and 1000, got 1e308",
        ),
        (
            "scenario rate 1e-300",
            vec!["simulate", "--file", &rate_small, "--embedded"],
            "got 1e-300",
        ),
        (
            "scenario nested loops",
            vec!["simulate", "--file", &loops, "--embedded"],
            "at most 1000000",
        ),
        (
            "scenario 20 MB number",
            vec!["simulate", "--file", &big_scenario, "--embedded"],
            "bad scenario",
        ),
        (
            "import /dev/zero",
            vec!["sessions", "import", "/dev/zero"],
            "line longer than 67108864 bytes",
        ),
        (
            "import /dev/zero as HAR",
            vec!["sessions", "import", "/dev/zero", "--format", "har"],
            "line longer than",
        ),
        (
            "import --max-line",
            vec!["sessions", "import", &jsonl, "--max-line", "10"],
            "line longer than 10 bytes",
        ),
        (
            "import 20 MB bad string",
            vec!["sessions", "import", &big_jsonl],
            "characters left out",
        ),
        (
            "serve --templates /nonexistent",
            vec!["serve", "--port", "0", "--templates", "/nonexistent"],
            "cannot read templates folder /nonexistent",
        ),
        (
            "clap: unknown flag",
            vec!["sessions", "list", "--bogus"],
            "unexpected argument '--bogus'",
        ),
        (
            "clap: missing argument",
            vec!["simulate", "--embedded", "--clients"],
            "a value is required for '--clients",
        ),
        (
            "clap: missing target",
            vec!["simulate", "ai-chat"],
            "--target",
        ),
        (
            "clap: bad enum",
            vec!["sessions", "export", "1", "--format", "xml"],
            "one of: jsonl, har",
        ),
    ];
    for (case, args, says) in &cases {
        let o = run(&dir, args, LIMIT);
        assert_refused(case, &o, says);
        if case.starts_with("clap") || args.contains(&HUGE) {
            assert!(
                o.stderr
                    .lines()
                    .nth(1)
                    .is_some_and(|h| h.starts_with("usage: sockscope ")),
                "{case}: no usage hint: {}",
                o.stderr
            );
        }
        assert!(o.took < LIMIT, "{case}");
    }
    // Positive controls: the same flags in range run (or get as far as the network).
    let o = run(
        &dir,
        &[
            "simulate",
            "ai-chat",
            "--embedded",
            "--clients",
            "2",
            "--duration",
            "1s",
            "--ramp",
            "0s",
            "--json",
        ],
        LIMIT,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let report: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("a JSON report");
    assert_eq!(report["connected"], 2, "{report}");
    let o = run(
        &dir,
        &["sessions", "import", &jsonl, "--max-line", "1000"],
        LIMIT,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let o = run(
        &dir,
        &[
            &["replay", "1"][..],
            &target,
            &["--set", "$.a=2", "--loop", "100000", "--speed", "0.001"],
        ]
        .concat(),
        LIMIT,
    );
    // Gets past every check to the (closed) port.
    assert_refused("replay in range", &o, "127.0.0.1:1");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_har_export_of_ack_id_2_pow_64_minus_1_is_whole_and_imports_back() {
    let dir = temp_dir();
    let jsonl = write(
        &dir,
        "ack.jsonl",
        r#"{"seq":1,"ts":1,"source":"x","direction":"c2s","namespace":"/","event":"e","args":[],"ack":{"id":18446744073709551615,"reply":null}}
{"seq":2,"ts":2,"source":"x","direction":"c2s","namespace":"/","event":"f","args":[],"ack":{"reply":{"ok":true}}}"#,
    );
    let o = run(&dir, &["sessions", "import", &jsonl], LIMIT);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let har = dir.join("out.har").display().to_string();
    let o = run(
        &dir,
        &["sessions", "export", "1", "--format", "har", "-o", &har],
        LIMIT,
    );
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"));
    let text = std::fs::read_to_string(&har).expect("export");
    assert!(text.contains("18446744073709551615"), "{text}");
    let o = run(&dir, &["sessions", "import", &har, "--json"], LIMIT);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let imported: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("JSON");
    assert_eq!(imported["events"], 2, "{imported}");
    // A failed export leaves nothing: an unknown session writes no file.
    let none = dir.join("none.har");
    let o = run(
        &dir,
        &["sessions", "export", "9", "-o", &none.display().to_string()],
        LIMIT,
    );
    assert_refused("export unknown session", &o, "no session 9");
    assert!(!none.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A gateway that completes the Engine.IO and Socket.IO handshakes, then sends the
/// frame `4é` (a multibyte character where a packet type belongs).
fn bad_frame_gateway() -> (String, std::thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    listener
        .set_nonblocking(true)
        .expect("nonblocking listener");
    let handle = std::thread::spawn(move || {
        let started = Instant::now();
        let mut conns = Vec::new();
        while started.elapsed() < Duration::from_secs(20) {
            match listener.accept() {
                Ok((stream, _)) => conns.push(std::thread::spawn(move || serve_one(stream))),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
            conns.retain(|c| !c.is_finished());
            if started.elapsed() > Duration::from_secs(3) && conns.is_empty() {
                break;
            }
        }
    });
    (url, handle)
}

/// One WebSocket connection: Engine.IO OPEN, the namespace CONNECT answered, then
/// the bad frame.
fn serve_one(stream: std::net::TcpStream) {
    use tokio_tungstenite::tungstenite::{accept, Message};
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    // The simulator's reachability probe connects and closes: not a WebSocket.
    let Ok(mut ws) = accept(stream) else { return };
    let open = r#"0{"sid":"e","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}"#;
    if ws.send(Message::text(open)).is_err() {
        return;
    }
    // The client's namespace CONNECT.
    if ws.read().is_err() {
        return;
    }
    let _ = ws.send(Message::text(r#"40{"sid":"s1"}"#));
    let _ = ws.send(Message::text("4é"));
    // Let the client see it and leave.
    while ws.read().is_ok() {}
}

#[test]
fn a_bad_server_frame_fails_its_client_and_the_run() {
    let dir = temp_dir();
    let (url, gateway) = bad_frame_gateway();
    let o = run(
        &dir,
        &[
            "simulate",
            "ai-chat",
            "--target",
            &url,
            "--clients",
            "1",
            "--duration",
            "2s",
            "--ramp",
            "0s",
            "--json",
        ],
        LIMIT,
    );
    assert_refused("server frame 4é", &o, "1 bad_frame");
    let report: serde_json::Value =
        serde_json::from_str(o.stdout.trim()).expect("the report is printed");
    assert_eq!(report["connected"], 0, "{report}");
    assert_eq!(report["failed"], 1, "{report}");
    let _ = gateway.join();
    std::fs::remove_dir_all(&dir).ok();
}
