//! `sockscope-bench ceiling`: the raw-websocket ceiling for `cargo xtask bench
//! gateway`: what an expert would write to push one frame to every socket as fast as
//! possible, speaking just enough Engine.IO v4 / Socket.IO v5 for the fan-out harness
//! (open packet, namespace join, pongs) and nothing else.
//!
//! - The websocket handshake is answered by hand (tungstenite's accept key), then the
//!   socket is a plain `TcpStream` with `TCP_NODELAY`, split into its halves.
//! - `POST /emit` (keep-alive) encodes the `42[...]` packet once, as a complete
//!   websocket frame (header and payload, unmasked), and sends that `Bytes` on a
//!   broadcast channel: no per-socket encoding, copying, rooms, adapter or acks.
//! - Every connection has its own writer task that owns the write half (no lock):
//!   it takes every frame already waiting and writes them with one vectored write.
//!   A reader task parses the client's (masked, small) frames and hands replies to
//!   the writer.
//!
//! Whatever a real socket.io server does beyond this is what its figure costs against
//! this one. Prints `listening on URL`, then serves until killed.

use std::io::IoSlice;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, mpsc};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// Frames a slow socket may fall behind before it lags (and misses some).
const BACKLOG: usize = 1024;
/// Largest request head or client frame this server reads.
const MAX_HEAD: usize = 16 << 10;

pub async fn run() -> Result<serde_json::Value, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on http://{addr}");
    let (tx, _) = broadcast::channel::<Bytes>(BACKLOG);
    let sids = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, _) = listener.accept().await.map_err(|e| e.to_string())?;
        let _ = stream.set_nodelay(true);
        let (tx, sids) = (tx.clone(), sids.clone());
        tokio::spawn(async move {
            let _ = connection(stream, tx, &sids).await;
        });
    }
}

/// A complete unmasked websocket text frame carrying `payload`.
fn text_frame(payload: &[u8]) -> Bytes {
    let mut f = BytesMut::with_capacity(payload.len() + 10);
    f.put_u8(0x81);
    match payload.len() {
        n if n < 126 => f.put_u8(n as u8),
        n if n <= usize::from(u16::MAX) => {
            f.put_u8(126);
            f.put_u16(n as u16);
        }
        n => {
            f.put_u8(127);
            f.put_u64(n as u64);
        }
    }
    f.put_slice(payload);
    f.freeze()
}

/// Reads one HTTP request head (and body, by `content-length`) from `buf`+`stream`.
/// Returns the lower-cased head and the body, leaving any bytes after them in `buf`.
async fn request(
    stream: &mut OwnedReadHalf,
    buf: &mut BytesMut,
) -> std::io::Result<Option<(String, Bytes)>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = head
                .to_ascii_lowercase()
                .lines()
                .find_map(|l| l.strip_prefix("content-length:").map(str::to_owned))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                let mut req = buf.split_to(end + 4 + len);
                let body = req.split_off(end + 4).freeze();
                return Ok(Some((head, body)));
            }
        }
        if buf.len() > MAX_HEAD + (1 << 20) {
            return Ok(None);
        }
        if stream.read_buf(buf).await? == 0 {
            return Ok(None);
        }
    }
}

async fn connection(
    stream: TcpStream,
    tx: broadcast::Sender<Bytes>,
    sids: &AtomicU64,
) -> std::io::Result<()> {
    let (mut read, mut write) = stream.into_split();
    let mut buf = BytesMut::with_capacity(4096);
    let Some((head, body)) = request(&mut read, &mut buf).await? else {
        return Ok(());
    };
    if head.starts_with("POST") {
        // `POST /emit`, then any more requests on the same (keep-alive) connection.
        let mut next = Some((head, body));
        while let Some((_, body)) = next {
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            let packet = format!(
                "42{}",
                serde_json::json!([body["event"].as_str().unwrap_or("tick"), body["data"]])
            );
            let _ = tx.send(text_frame(packet.as_bytes()));
            write
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}")
                .await?;
            next = request(&mut read, &mut buf).await?;
        }
        return Ok(());
    }
    let key = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let accept = derive_accept_key(key.as_bytes());
    write
        .write_all(
            format!(
                "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\
                 sec-websocket-accept: {accept}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await?;
    let sid = sids.fetch_add(1, Ordering::Relaxed);
    let open = format!(
        r#"0{{"sid":"c{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    write.write_all(&text_frame(open.as_bytes())).await?;
    let (reply_tx, reply_rx) = mpsc::channel::<Bytes>(16);
    let writer = tokio::spawn(writer(write, tx.subscribe(), reply_rx));
    let _ = reader(read, buf, sid, reply_tx).await;
    writer.abort();
    Ok(())
}

/// Owns the write half: every frame waiting (broadcast or reply) in one write.
async fn writer(
    mut write: OwnedWriteHalf,
    mut frames: broadcast::Receiver<Bytes>,
    mut replies: mpsc::Receiver<Bytes>,
) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(16);
    loop {
        tokio::select! {
            f = frames.recv() => match f {
                Ok(f) => batch.push(f),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            r = replies.recv() => match r {
                Some(r) => batch.push(r),
                None => return,
            },
        }
        while let Ok(f) = frames.try_recv() {
            batch.push(f);
        }
        let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|b| IoSlice::new(b)).collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match write.write_vectored(rest).await {
                Ok(0) | Err(_) => return,
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
            }
        }
        batch.clear();
    }
}

/// Parses the client's frames (masked, text): answers the namespace join and pings.
async fn reader(
    mut read: OwnedReadHalf,
    mut buf: BytesMut,
    sid: u64,
    replies: mpsc::Sender<Bytes>,
) -> std::io::Result<()> {
    loop {
        while let Some((opcode, payload)) = client_frame(&mut buf) {
            if opcode == 0x8 {
                return Ok(());
            }
            let reply = match &payload[..] {
                b"40" => format!(r#"40{{"sid":"n{sid}"}}"#),
                b"2" => "3".to_owned(),
                _ => continue,
            };
            if replies.send(text_frame(reply.as_bytes())).await.is_err() {
                return Ok(());
            }
        }
        if buf.len() > MAX_HEAD || read.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

/// Takes one complete client frame (opcode, unmasked payload) off `buf`, if there is one.
fn client_frame(buf: &mut BytesMut) -> Option<(u8, Vec<u8>)> {
    if buf.len() < 2 {
        return None;
    }
    let opcode = buf[0] & 0x0f;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut at) = match buf[1] & 0x7f {
        126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
        127 if buf.len() >= 10 => {
            let mut n = [0u8; 8];
            n.copy_from_slice(&buf[2..10]);
            (usize::try_from(u64::from_be_bytes(n)).ok()?, 10)
        }
        126 | 127 => return None,
        n => (usize::from(n), 2),
    };
    let mask = if masked {
        if buf.len() < at + 4 {
            return None;
        }
        let m = [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]];
        at += 4;
        Some(m)
    } else {
        None
    };
    if buf.len() < at + len {
        return None;
    }
    let frame = buf.split_to(at + len);
    let mut payload = frame[at..].to_vec();
    if let Some(m) = mask {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= m[i % 4];
        }
    }
    Some((opcode, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_through_the_client_parser() {
        let f = text_frame(b"40");
        assert_eq!(&f[..], b"\x81\x0240");
        // A masked client frame "2" (mask 1,2,3,4).
        let mut buf = BytesMut::from(&[0x81u8, 0x81, 1, 2, 3, 4, b'2' ^ 1, 0x81][..]);
        assert_eq!(client_frame(&mut buf), Some((1, b"2".to_vec())));
        assert_eq!(&buf[..], &[0x81]);
        assert_eq!(client_frame(&mut buf), None);
        let long = text_frame(&[b'x'; 300]);
        assert_eq!(&long[..4], &[0x81, 126, 1, 44]);
    }
}
