//! `sockscope-bench ceiling`: the raw-websocket ceiling for `cargo xtask bench
//! gateway`. A minimal tokio-tungstenite server that speaks just enough Engine.IO v4
//! / Socket.IO v5 for the fan-out harness (open packet, namespace join, pongs) and,
//! on `POST /emit`, sends every connected socket the same pre-encoded `42[...]`
//! frame (frames already waiting go out in one write): no rooms, no adapter, no
//! per-socket encoding, no acks. Whatever a real
//! socket.io server does beyond this is what its figure costs against this one.
//!
//! Prints `listening on URL`, then serves until killed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

pub async fn run() -> Result<serde_json::Value, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    // Room for a burst of broadcasts per socket before a slow one lags.
    let (tx, _) = broadcast::channel::<Utf8Bytes>(1024);
    let sids = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (tx, sids) = (tx.clone(), sids.clone());
        tokio::spawn(async move {
            let mut head = [0u8; 4];
            if stream.peek(&mut head).await.is_err() {
                return;
            }
            if &head == b"POST" {
                let _ = emit(stream, &tx).await;
            } else {
                socket(stream, tx.subscribe(), sids.fetch_add(1, Ordering::Relaxed)).await;
            }
        });
    }
}

/// One `POST /emit {event, data}`: encode once, broadcast the frame, answer 200.
async fn emit(mut stream: TcpStream, tx: &broadcast::Sender<Utf8Bytes>) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
        let len = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        if buf.len() < end + 4 + len {
            continue;
        }
        let body: serde_json::Value =
            serde_json::from_slice(&buf[end + 4..end + 4 + len]).unwrap_or_default();
        let frame = format!(
            "42{}",
            serde_json::json!([body["event"].as_str().unwrap_or("tick"), body["data"]])
        );
        let _ = tx.send(frame.into());
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
            .await?;
        return stream.shutdown().await;
    }
}

/// One websocket: handshake, join, then frames from the broadcast.
async fn socket(stream: TcpStream, mut rx: broadcast::Receiver<Utf8Bytes>, sid: u64) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let open = format!(
        r#"0{{"sid":"c{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    if sink.send(Message::Text(open.into())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            frame = rx.recv() => match frame {
                Ok(f) => {
                    // Queue every frame already waiting, then one flush (one write).
                    if sink.feed(Message::Text(f)).await.is_err() {
                        return;
                    }
                    while let Ok(f) = rx.try_recv() {
                        if sink.feed(Message::Text(f)).await.is_err() {
                            return;
                        }
                    }
                    if sink.flush().await.is_err() {
                        return;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            msg = source.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let reply = match t.as_str() {
                        "40" => format!(r#"40{{"sid":"n{sid}"}}"#),
                        "2" => "3".to_owned(),
                        _ => continue,
                    };
                    if sink.send(Message::Text(reply.into())).await.is_err() {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}
