//! Mergeable reports: what `simulate --report-out` writes and `report merge` adds up.
//! A report's percentiles cannot be combined (the p99 of two runs is not the mean of
//! their p99s), so the file carries the latency histograms themselves (HdrHistogram
//! V2 compressed serialization, base64: the `HISTF...` form other HdrHistogram
//! implementations and log tools read) beside the counts; merging adds the histograms and
//! recomputes every percentile from the sum, which is exactly what one process that
//! recorded every sample would report.
//!
//! Files come from other machines, so reading one is bounded: its size, each
//! histogram's inflated size, and its header (bounds, precision and payload length
//! must be ours) are checked before anything is allocated for its counts.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use sockscope_protocol::{SimErrorCount, SimEventCount, SimulationReport};

use super::report::{self, summary, MAX_MICROS, SIGFIG};
use super::shard::Shard;
use super::RunOutcome;

/// The `format` field of every mergeable report.
pub const FORMAT: &str = "sockscope-simulation-report/1";
/// Largest report file read.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;
/// Most files one merge reads.
pub const MAX_FILES: usize = super::shard::MAX_SHARDS;

/// Why reports cannot be read or merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: larger than {MAX_FILE_BYTES} bytes, not a simulation report")]
    TooLarge { path: String },
    #[error("{path}: not a mergeable simulation report ({reason})")]
    NotAReport { path: String, reason: String },
    #[error("{path}: {which} histogram: {reason}")]
    BadHistogram {
        path: String,
        which: &'static str,
        reason: String,
    },
    #[error("cannot merge {path}: {reason}")]
    Mismatch { path: String, reason: String },
    #[error(
        "shard(s) {missing} of {count} missing: merge every shard's report (or pass --partial)"
    )]
    Incomplete { missing: String, count: usize },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("nothing to merge: name at least one report")]
    Empty,
    #[error("at most {MAX_FILES} reports per merge")]
    TooMany,
}

/// The three latency histograms, each HdrHistogram V2 compressed and base64 encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct EncodedHistograms {
    pub connect: String,
    pub ack: String,
    pub delivery: String,
}

/// A report that can be merged with the other shards' reports of the same run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardReport {
    pub format: String,
    /// Shards of the run (`N` of `--shard I/N`).
    pub shard_count: usize,
    /// The shard indexes this report covers (one for a shard, all for a full merge).
    pub shards: Vec<usize>,
    /// `--start-at`, Unix milliseconds, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at_ms: Option<u64>,
    /// The latest any covered shard started after `start_at`, in milliseconds.
    #[serde(default)]
    pub late_ms: u64,
    pub report: SimulationReport,
    pub histograms: EncodedHistograms,
}

/// Histograms in the order connect, ack, delivery.
type Triple = [Histogram<u64>; 3];
const NAMES: [&str; 3] = ["connect", "ack", "delivery"];

impl ShardReport {
    /// The mergeable report of one run (or shard).
    pub fn from_run(
        outcome: &RunOutcome,
        shard: Shard,
        start_at: Option<std::time::SystemTime>,
    ) -> Self {
        let start_at_ms = start_at
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| u64::try_from(d.as_millis()).ok());
        Self {
            format: FORMAT.to_owned(),
            shard_count: shard.count,
            shards: vec![shard.index],
            start_at_ms,
            late_ms: u64::try_from(outcome.late.as_millis()).unwrap_or(u64::MAX),
            report: outcome.report.clone(),
            histograms: encode(&outcome.histograms),
        }
    }

    /// Reads and checks one report file.
    pub fn load(path: &Path) -> Result<(Self, Triple), MergeError> {
        let shown = path.display().to_string();
        let read = |source| MergeError::Read {
            path: shown.clone(),
            source,
        };
        let size = std::fs::metadata(path).map_err(read)?.len();
        if size > MAX_FILE_BYTES {
            return Err(MergeError::TooLarge { path: shown });
        }
        let text = std::fs::read_to_string(path).map_err(read)?;
        Self::parse(&text, &shown)
    }

    /// Parses and checks report text; errors name `path`.
    pub fn parse(text: &str, path: &str) -> Result<(Self, Triple), MergeError> {
        let not = |reason: String| MergeError::NotAReport {
            path: path.to_owned(),
            reason,
        };
        let r: ShardReport = serde_json::from_str(text)
            .map_err(|e| not(crate::limits::clip_message(&e.to_string())))?;
        if r.format != FORMAT {
            return Err(not(format!(
                "format {:?}, expected {FORMAT:?}",
                crate::limits::clip_message(&r.format)
            )));
        }
        if r.shard_count == 0 || r.shard_count > super::shard::MAX_SHARDS {
            return Err(not(format!("shard_count {}", r.shard_count)));
        }
        if r.shards.is_empty() || r.shards.iter().any(|&i| i >= r.shard_count) {
            return Err(not(format!(
                "shards {:?} do not fit shard_count {}",
                r.shards.iter().take(10).collect::<Vec<_>>(),
                r.shard_count
            )));
        }
        let rep = &r.report;
        if rep.connected.checked_add(rep.failed) != Some(rep.clients) {
            return Err(not(format!(
                "connected {} + failed {} != clients {}",
                rep.connected, rep.failed, rep.clients
            )));
        }
        let h = &r.histograms;
        let triple = [
            decode(&h.connect).map_err(|reason| bad_histogram(path, 0, reason))?,
            decode(&h.ack).map_err(|reason| bad_histogram(path, 1, reason))?,
            decode(&h.delivery).map_err(|reason| bad_histogram(path, 2, reason))?,
        ];
        Ok((r, triple))
    }

    /// Writes the report as JSON, atomically (a temporary file renamed into
    /// place), so a merge waiting for it never reads half a file.
    pub fn write(&self, path: &Path) -> Result<(), MergeError> {
        let write = |source| MergeError::Write {
            path: path.display().to_string(),
            source,
        };
        let text =
            serde_json::to_string_pretty(self).map_err(|e| write(std::io::Error::other(e)))?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".partial");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, text + "\n").map_err(write)?;
        std::fs::rename(&tmp, path).map_err(write)
    }
}

fn bad_histogram(path: &str, which: usize, reason: String) -> MergeError {
    MergeError::BadHistogram {
        path: path.to_owned(),
        which: NAMES[which],
        reason,
    }
}

fn encode(h: &Triple) -> EncodedHistograms {
    let one = |h: &Histogram<u64>| {
        let mut buf = Vec::new();
        // Serializing to a Vec fails only on a histogram V2 cannot express, which
        // ours (1 µs .. 1 h, 3 digits) is not; an empty string then fails the merge.
        match V2DeflateSerializer::new().serialize(h, &mut buf) {
            Ok(_) => base64::engine::general_purpose::STANDARD.encode(&buf),
            Err(e) => {
                tracing::warn!(error = ?e, "histogram not serialized");
                String::new()
            }
        }
    };
    EncodedHistograms {
        connect: one(&h[0]),
        ack: one(&h[1]),
        delivery: one(&h[2]),
    }
}

/// V2's header: cookie, payload length, normalizing offset, significant digits,
/// lowest and highest trackable values, conversion ratio (40 bytes, big endian).
const V2_HEADER: usize = 40;
// (The base cookies with the word-size flag 0x10, as hdrhistogram writes them.)
const V2_COOKIE: u32 = 0x1c84_9313;
/// The compressed form: cookie and compressed length, then zlib data of a V2 encoding.
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9314;
/// Largest inflated histogram accepted: ours (1 µs .. 1 h, 3 digits) has about
/// 24,000 counters of at most 9 bytes each.
const MAX_INFLATED: u64 = 1024 * 1024;

fn decode(text: &str) -> Result<Histogram<u64>, String> {
    let packed = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| format!("not base64 ({e})"))?;
    let be32 = |b: &[u8], i: usize| {
        b.get(i..i + 4)
            .map(|w| u32::from_be_bytes([w[0], w[1], w[2], w[3]]))
    };
    if be32(&packed, 0) != Some(V2_DEFLATE_COOKIE) {
        return Err("not a compressed HdrHistogram V2 encoding".into());
    }
    if be32(&packed, 4).and_then(|n| usize::try_from(n).ok()) != Some(packed.len() - 8) {
        return Err("compressed length does not match the data".into());
    }
    let mut bytes = Vec::new();
    flate2::read::ZlibDecoder::new(&packed[8..])
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("does not inflate ({e})"))?;
    if bytes.len() as u64 > MAX_INFLATED {
        return Err(format!("inflates to more than {MAX_INFLATED} bytes"));
    }
    if bytes.len() < V2_HEADER {
        return Err("shorter than a V2 header".into());
    }
    let u32_at =
        |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[i..i + 8]);
        u64::from_be_bytes(b)
    };
    if u32_at(0) != V2_COOKIE {
        return Err("the inflated data is not an HdrHistogram V2 encoding".into());
    }
    if usize::try_from(u32_at(4)).ok() != Some(bytes.len() - V2_HEADER) {
        return Err("payload length does not match the data".into());
    }
    if u32_at(12) != u32::from(SIGFIG) || u64_at(16) != 1 || u64_at(24) != MAX_MICROS {
        return Err(format!(
            "bounds {}..{} at {} digits, expected 1..{MAX_MICROS} at {SIGFIG}",
            u64_at(16),
            u64_at(24),
            u32_at(12)
        ));
    }
    Deserializer::new()
        .deserialize(&mut Cursor::new(&bytes))
        .map_err(|e| format!("{e:?}"))
}

/// Adds up reports of the same run. Counts are summed, event and error tables
/// merged by name, histograms added and every percentile recomputed from them; the
/// elapsed time is the longest shard's, rates are totals over it.
pub fn merge(
    parts: Vec<(String, ShardReport, Triple)>,
    partial: bool,
) -> Result<(ShardReport, Triple), MergeError> {
    if parts.len() > MAX_FILES {
        return Err(MergeError::TooMany);
    }
    let mut parts = parts.into_iter();
    let Some((_, first, mut hist)) = parts.next() else {
        return Err(MergeError::Empty);
    };
    let mut covered: BTreeMap<usize, ()> = first.shards.iter().map(|&i| (i, ())).collect();
    if covered.len() != first.shards.len() {
        return Err(MergeError::Mismatch {
            path: "the first report".into(),
            reason: "it lists a shard twice".into(),
        });
    }
    let mut out = first;
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut events: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    add_tables(&out.report, &mut errors, &mut events);
    let mut targets = vec![out.report.target.clone()];
    for (path, next, h) in parts {
        let mismatch = |reason: String| MergeError::Mismatch {
            path: path.clone(),
            reason,
        };
        if next.report.scenario != out.report.scenario {
            return Err(mismatch(format!(
                "scenario {:?}, the others ran {:?}",
                next.report.scenario, out.report.scenario
            )));
        }
        if next.shard_count != out.shard_count {
            return Err(mismatch(format!(
                "shard count {}, the others have {}",
                next.shard_count, out.shard_count
            )));
        }
        if next.start_at_ms != out.start_at_ms {
            return Err(mismatch(format!(
                "start time {:?}, the others {:?} (reports of different runs?)",
                next.start_at_ms, out.start_at_ms
            )));
        }
        for &i in &next.shards {
            if covered.insert(i, ()).is_some() {
                return Err(mismatch(format!(
                    "shard {i} is already in the merge (the same report twice?)"
                )));
            }
        }
        for (into, from) in hist.iter_mut().zip(h.iter()) {
            into.add(from)
                .map_err(|e| mismatch(format!("histograms do not add: {e:?}")))?;
        }
        add_tables(&next.report, &mut errors, &mut events);
        let (a, b) = (&mut out.report, &next.report);
        a.clients += b.clients;
        a.connected += b.connected;
        a.failed += b.failed;
        a.events_sent += b.events_sent;
        a.events_received += b.events_received;
        a.acks_ok += b.acks_ok;
        a.acks_timed_out += b.acks_timed_out;
        a.errors += b.errors;
        a.elapsed_ms = a.elapsed_ms.max(b.elapsed_ms);
        a.embedded |= b.embedded;
        if !targets.contains(&b.target) {
            targets.push(b.target.clone());
        }
        out.late_ms = out.late_ms.max(next.late_ms);
    }
    if !partial && covered.len() != out.shard_count {
        let missing: Vec<String> = (0..out.shard_count)
            .filter(|i| !covered.contains_key(i))
            .take(20)
            .map(|i| i.to_string())
            .collect();
        return Err(MergeError::Incomplete {
            missing: missing.join(", "),
            count: out.shard_count,
        });
    }
    out.shards = covered.into_keys().collect();
    let r = &mut out.report;
    r.target = targets.join(",");
    r.errors_by_kind = errors
        .into_iter()
        .map(|(kind, count)| SimErrorCount { kind, count })
        .collect();
    r.events = events
        .into_iter()
        .map(|(event, (sent, received))| SimEventCount {
            event,
            sent,
            received,
        })
        .collect();
    let secs = Duration::from_millis(r.elapsed_ms).as_secs_f64().max(1e-3);
    r.sent_per_sec = r.events_sent as f64 / secs;
    r.received_per_sec = r.events_received as f64 / secs;
    r.connect_latency = summary(&hist[0]);
    r.ack_latency = summary(&hist[1]);
    r.delivery_latency = summary(&hist[2]);
    out.histograms = encode(&hist);
    Ok((out, hist))
}

fn add_tables(
    r: &SimulationReport,
    errors: &mut BTreeMap<String, u64>,
    events: &mut BTreeMap<String, (u64, u64)>,
) {
    for e in &r.errors_by_kind {
        *errors.entry(e.kind.clone()).or_default() += e.count;
    }
    for e in &r.events {
        let slot = events.entry(e.event.clone()).or_default();
        slot.0 += e.sent;
        slot.1 += e.received;
    }
}

/// An empty set of histograms (for tests and callers building reports by hand).
pub fn empty_histograms() -> Triple {
    [
        report::histogram(),
        report::histogram(),
        report::histogram(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(index: usize, samples: std::ops::Range<u64>) -> (String, ShardReport, Triple) {
        let mut h = empty_histograms();
        for ms in samples.clone() {
            h[2].saturating_record(ms * 1000);
        }
        let n = samples.end - samples.start;
        let report = SimulationReport {
            scenario: "s".into(),
            target: "http://t".into(),
            clients: 2,
            connected: 2,
            events_received: n,
            errors: 1,
            errors_by_kind: vec![SimErrorCount {
                kind: "wait_timeout".into(),
                count: 1,
            }],
            events: vec![SimEventCount {
                event: "tick".into(),
                sent: 0,
                received: n,
            }],
            elapsed_ms: 1000 + index as u64,
            delivery_latency: summary(&h[2]),
            ..SimulationReport::default()
        };
        let outcome = RunOutcome {
            report,
            histograms: h,
            late: Duration::ZERO,
        };
        let r = ShardReport::from_run(&outcome, Shard { index, count: 2 }, None);
        // Through the text form, as files are.
        let text = serde_json::to_string(&r).expect("json");
        let (r, h) = ShardReport::parse(&text, "p").expect("parses");
        (format!("shard{index}"), r, h)
    }

    #[test]
    fn merged_percentiles_are_those_of_all_samples() {
        let (merged, _) = merge(vec![part(0, 1..51), part(1, 51..101)], false).expect("merge");
        let r = &merged.report;
        assert_eq!((r.clients, r.connected, r.errors), (4, 4, 2));
        assert_eq!(r.errors_by_kind[0].count, 2);
        assert_eq!(r.events[0].received, 100);
        assert_eq!(r.elapsed_ms, 1001);
        assert_eq!(r.delivery_latency.count, 100);
        // Every sample 1..=100 ms: p50 is 50 ms and p99 99 ms, where averaging the
        // shards' p99s would say (50 + 100) / 2.
        assert!((r.delivery_latency.p50_ms - 50.0).abs() < 0.1, "{r:?}");
        assert!((r.delivery_latency.p99_ms - 99.0).abs() < 0.1, "{r:?}");
        assert_eq!(merged.shards, vec![0, 1]);
    }

    #[test]
    fn bad_merges_are_refused() {
        assert!(matches!(
            merge(vec![part(0, 1..3), part(0, 1..3)], false),
            Err(MergeError::Mismatch { .. })
        ));
        assert!(matches!(
            merge(vec![part(1, 1..3)], false),
            Err(MergeError::Incomplete { .. })
        ));
        // Positive control: the same lone shard is fine when partial is asked for.
        assert!(merge(vec![part(1, 1..3)], true).is_ok());
        let mut other = part(1, 1..3);
        other.1.report.scenario = "other".into();
        assert!(matches!(
            merge(vec![part(0, 1..3), other], false),
            Err(MergeError::Mismatch { .. })
        ));
    }

    #[test]
    fn hostile_histograms_are_refused_before_allocating() {
        use std::io::Write;
        let (_, good, h) = part(0, 1..3);
        // An inner V2 encoding claiming a 4 GB payload, properly compressed.
        let mut inner = Vec::new();
        hdrhistogram::serialization::V2Serializer::new()
            .serialize(&h[2], &mut inner)
            .expect("v2");
        inner[4..8].copy_from_slice(&u32::MAX.to_be_bytes());
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&inner).expect("deflate");
        let body = z.finish().expect("deflate");
        let mut packed = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
        packed.extend_from_slice(&(body.len() as u32).to_be_bytes());
        packed.extend_from_slice(&body);
        let mut evil = good.clone();
        evil.histograms.delivery = base64::engine::general_purpose::STANDARD.encode(&packed);
        let text = serde_json::to_string(&evil).expect("json");
        let e = ShardReport::parse(&text, "evil.json").expect_err("refused");
        assert!(e.to_string().contains("payload length"), "{e}");
        // A deflate bomb: 64 MB of zeros compress to a few kB.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![0u8; 64 << 20]).expect("deflate");
        let body = z.finish().expect("deflate");
        let mut packed = V2_DEFLATE_COOKIE.to_be_bytes().to_vec();
        packed.extend_from_slice(&(body.len() as u32).to_be_bytes());
        packed.extend_from_slice(&body);
        let mut bomb = good.clone();
        bomb.histograms.connect = base64::engine::general_purpose::STANDARD.encode(&packed);
        let text = serde_json::to_string(&bomb).expect("json");
        let e = ShardReport::parse(&text, "bomb.json").expect_err("refused");
        assert!(e.to_string().contains("inflates to more than"), "{e}");
        for broken in ["", "!!", "AAAA"] {
            let mut r = good.clone();
            r.histograms.ack = broken.into();
            let text = serde_json::to_string(&r).expect("json");
            assert!(ShardReport::parse(&text, "b.json").is_err(), "{broken}");
        }
        let mut wrong = good.clone();
        wrong.format = "other/1".into();
        let text = serde_json::to_string(&wrong).expect("json");
        assert!(ShardReport::parse(&text, "w.json").is_err());
        // Positive control: the untouched report parses.
        let text = serde_json::to_string(&good).expect("json");
        assert!(ShardReport::parse(&text, "g.json").is_ok());
    }
}
