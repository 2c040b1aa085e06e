//! How events are printed: one human-readable line each, or one JSON object a line
//! for scripts (`--json`).

use std::io::Write;

use sockscope_protocol::{AckInfo, EventRecord};

/// Writes one event as a line; `json` selects JSON Lines.
pub fn event_line(out: &mut impl Write, rec: &EventRecord, json: bool) -> std::io::Result<()> {
    if json {
        serde_json::to_writer(&mut *out, rec)?;
        return writeln!(out);
    }
    write!(
        out,
        "{} {} {} {} {}",
        clock(rec.ts),
        rec.direction.as_str(),
        rec.namespace,
        rec.event,
        rec.args
    )?;
    if let Some(id) = &rec.socket_id {
        write!(out, " socket={id}")?;
    }
    if let Some(t) = &rec.tenant {
        write!(out, " tenant={t}")?;
    }
    if let Some(u) = &rec.user {
        write!(out, " user={u}")?;
    }
    if !rec.rooms.is_empty() {
        write!(out, " rooms={}", rec.rooms.join(","))?;
    }
    match &rec.ack {
        Some(AckInfo {
            reply: Some(reply),
            latency_us,
            ..
        }) => {
            write!(out, " ack={reply}")?;
            if let Some(us) = latency_us {
                write!(out, " ack_ms={:.1}", *us as f64 / 1000.0)?;
            }
        }
        // The server asked for an ack and no --ack-reply rule answered it.
        Some(AckInfo {
            id: Some(id),
            reply: None,
            ..
        }) => write!(out, " ack=unanswered(id {id})")?,
        _ => {}
    }
    if let Some(f) = &rec.fault {
        write!(out, " fault={f:?}")?;
    }
    writeln!(out)
}

/// `HH:MM:SS.mmm` (UTC) of a unix-microseconds timestamp.
fn clock(ts_micros: i64) -> String {
    let ms = ts_micros.div_euclid(1000);
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

/// `value` as one pretty JSON document and a newline (`--json`).
pub fn pretty_json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(std::io::Error::other)?;
    writeln!(out)
}

/// A command's final report on stdout: one JSON document with `--json`, else the
/// human text `human` writes.
pub fn report<T: serde::Serialize>(
    value: &T,
    json: bool,
    human: impl FnOnce(&mut std::io::StdoutLock<'static>, &T) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        pretty_json(&mut out, value)?;
    } else {
        human(&mut out, value)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sockscope_protocol::Direction;
    use sockscope_test_support::Event;

    fn rec() -> EventRecord {
        Event::new("hello", json!([{"a": 1}]))
            .seq(3)
            .ts(3_723_004_000) // 01:02:03.004
            .direction(Direction::C2s)
            .socket("s1")
            .tenant("acme")
            .build()
    }

    #[test]
    fn human_line_has_time_direction_and_payload() {
        let mut out = Vec::new();
        event_line(&mut out, &rec(), false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "01:02:03.004 c2s / hello [{\"a\":1}] socket=s1 tenant=acme\n"
        );
    }

    #[test]
    fn json_line_round_trips() {
        let mut out = Vec::new();
        event_line(&mut out, &rec(), true).unwrap();
        let back: EventRecord = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, rec());
    }
}
