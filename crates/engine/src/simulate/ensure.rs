//! Conditions on a simulation report that fail the run (`simulate --ensure COND`, exit
//! 1 naming the condition; the Simulator panel's Ensure box), so a load test can gate CI.
//! In the engine so the CLI and the desktop app share one grammar.
//!
//! Grammar: `METRIC[(FN)] OP NUMBER[UNIT]`, spaces allowed between the parts.
//! - latencies `connect`, `ack`, `delivery` need FN `p50`, `p95`, `p99`, `max` or
//!   `mean`; the number is milliseconds unless UNIT is `us`, `ms` or `s`.
//! - `connected`: the fraction of clients that connected (0..1, or `99%`).
//! - counts: `errors` (or `errors(KIND)` for one kind, e.g. `errors(connect_error)`),
//!   `failed`, `acks_ok`, `acks_timed_out`, `sent`, `received`.
//! - rates: `sent_per_sec`, `received_per_sec`.
//!
//! OP is one of `<`, `<=`, `>`, `>=`, `==`, `!=`.

use sockscope_protocol::{LatencySummary, SimulationReport};

/// One parsed condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Ensure {
    /// As the user wrote it, for messages.
    pub text: String,
    metric: Metric,
    op: Op,
    /// In the metric's own unit (ms for latencies, a fraction for `connected`).
    value: f64,
}

#[derive(Debug, Clone, PartialEq)]
enum Metric {
    Latency(&'static str, &'static str),
    Connected,
    Count(&'static str),
    ErrorsOf(String),
    Rate(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

const LATENCIES: [&str; 3] = ["connect", "ack", "delivery"];
const FUNCTIONS: [&str; 5] = ["p50", "p95", "p99", "max", "mean"];
const COUNTS: [&str; 6] = [
    "errors",
    "failed",
    "acks_ok",
    "acks_timed_out",
    "sent",
    "received",
];
const RATES: [&str; 2] = ["sent_per_sec", "received_per_sec"];

fn bad(text: &str, why: &str) -> String {
    format!("--ensure {text:?}: {why}")
}

/// Parses one `--ensure` value (the clap value parser).
pub fn parse(text: &str) -> Result<Ensure, String> {
    let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let op_at = s
        .find(['<', '>', '=', '!'])
        .ok_or_else(|| bad(text, "no comparison (<, <=, >, >=, ==, !=)"))?;
    let (lhs, rest) = s.split_at(op_at);
    let (op, rhs) = [
        ("<=", Op::Le),
        (">=", Op::Ge),
        ("==", Op::Eq),
        ("!=", Op::Ne),
        ("<", Op::Lt),
        (">", Op::Gt),
    ]
    .iter()
    .find_map(|(sym, op)| rest.strip_prefix(sym).map(|r| (*op, r)))
    .ok_or_else(|| bad(text, "unknown comparison"))?;
    let (name, func) = match lhs.split_once('(') {
        Some((n, f)) => (
            n,
            Some(
                f.strip_suffix(')')
                    .ok_or_else(|| bad(text, "unclosed '('"))?,
            ),
        ),
        None => (lhs, None),
    };
    let metric = if let Some(l) = LATENCIES.iter().find(|l| **l == name) {
        let f = func.ok_or_else(|| {
            bad(
                text,
                &format!("{name} is a latency: say which, e.g. p99({name})"),
            )
        })?;
        // `p99(delivery)` and `delivery(p99)` both read naturally.
        let f = FUNCTIONS.iter().find(|x| **x == f).ok_or_else(|| {
            bad(
                text,
                &format!("unknown function {f:?} (p50, p95, p99, max, mean)"),
            )
        })?;
        Metric::Latency(l, f)
    } else if let Some(f) = FUNCTIONS.iter().find(|f| **f == name) {
        let arg = func.unwrap_or("");
        let l = LATENCIES.iter().find(|l| **l == arg).ok_or_else(|| {
            bad(
                text,
                &format!("{name}() takes connect, ack or delivery, not {arg:?}"),
            )
        })?;
        Metric::Latency(l, f)
    } else if name == "errors" && func.is_some() {
        Metric::ErrorsOf(func.unwrap_or_default().to_owned())
    } else if func.is_some()
        && (name == "connected" || COUNTS.contains(&name) || RATES.contains(&name))
    {
        return Err(bad(text, &format!("{name} takes no argument")));
    } else if name == "connected" && func.is_none() {
        Metric::Connected
    } else if let Some(c) = COUNTS.iter().find(|c| **c == name && func.is_none()) {
        Metric::Count(c)
    } else if let Some(r) = RATES.iter().find(|r| **r == name && func.is_none()) {
        Metric::Rate(r)
    } else {
        return Err(bad(
            text,
            &format!(
                "unknown metric {name:?} (p50|p95|p99|max|mean(connect|ack|delivery), connected, {}, {})",
                COUNTS.join(", "),
                RATES.join(", ")
            ),
        ));
    };
    let split = rhs
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == '+' || c == 'e'))
        .unwrap_or(rhs.len());
    let (number, unit) = rhs.split_at(split);
    let number: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| bad(text, &format!("{number:?} is not a number")))?;
    let value = match (&metric, unit) {
        (Metric::Latency(..), "" | "ms") => number,
        (Metric::Latency(..), "s") => number * 1000.0,
        (Metric::Latency(..), "us") => number / 1000.0,
        (Metric::Connected, "") => number,
        (Metric::Connected, "%") => number / 100.0,
        (_, "") => number,
        (_, u) => return Err(bad(text, &format!("unit {u:?} does not fit this metric"))),
    };
    Ok(Ensure {
        text: text.trim().to_owned(),
        metric,
        op,
        value,
    })
}

fn latency<'a>(r: &'a SimulationReport, which: &str) -> &'a LatencySummary {
    match which {
        "connect" => &r.connect_latency,
        "ack" => &r.ack_latency,
        _ => &r.delivery_latency,
    }
}

impl Ensure {
    /// The metric's value in this report.
    pub fn actual(&self, r: &SimulationReport) -> f64 {
        match &self.metric {
            Metric::Latency(l, f) => {
                let s = latency(r, l);
                match *f {
                    "p50" => s.p50_ms,
                    "p95" => s.p95_ms,
                    "p99" => s.p99_ms,
                    "max" => s.max_ms,
                    _ => s.mean_ms,
                }
            }
            Metric::Connected => {
                if r.clients == 0 {
                    0.0
                } else {
                    r.connected as f64 / r.clients as f64
                }
            }
            Metric::Count(c) => {
                (match *c {
                    "errors" => r.errors,
                    "failed" => r.failed,
                    "acks_ok" => r.acks_ok,
                    "acks_timed_out" => r.acks_timed_out,
                    "sent" => r.events_sent,
                    _ => r.events_received,
                }) as f64
            }
            Metric::ErrorsOf(kind) => r
                .errors_by_kind
                .iter()
                .filter(|e| &e.kind == kind)
                .map(|e| e.count)
                .sum::<u64>() as f64,
            Metric::Rate(r2) => {
                if *r2 == "sent_per_sec" {
                    r.sent_per_sec
                } else {
                    r.received_per_sec
                }
            }
        }
    }

    /// Whether the condition holds for this report.
    pub fn holds(&self, r: &SimulationReport) -> bool {
        let a = self.actual(r);
        match self.op {
            Op::Lt => a < self.value,
            Op::Le => a <= self.value,
            Op::Gt => a > self.value,
            Op::Ge => a >= self.value,
            Op::Eq => a == self.value,
            Op::Ne => a != self.value,
        }
    }

    /// "was X" with the metric's unit, for the failure message.
    pub fn describe_actual(&self, r: &SimulationReport) -> String {
        let a = self.actual(r);
        match self.metric {
            Metric::Latency(..) => format!("{a:.2}ms"),
            Metric::Connected => format!("{a:.4} ({} of {})", r.connected, r.clients),
            Metric::Rate(_) => format!("{a:.2}/s"),
            _ => format!("{a}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> SimulationReport {
        SimulationReport {
            clients: 100,
            connected: 99,
            failed: 1,
            errors: 1,
            errors_by_kind: vec![sockscope_protocol::SimErrorCount {
                kind: "connect_error".into(),
                count: 1,
            }],
            delivery_latency: LatencySummary {
                count: 10,
                p99_ms: 42.0,
                ..LatencySummary::default()
            },
            ..SimulationReport::default()
        }
    }

    #[test]
    fn the_issue_examples_parse_and_evaluate() {
        let r = report();
        assert!(parse("p99(delivery)<50ms").expect("parse").holds(&r));
        assert!(!parse("p99(delivery) < 0.04s").expect("parse").holds(&r));
        assert!(parse("delivery(p99)<42001us").expect("parse").holds(&r));
        assert!(!parse("errors==0").expect("parse").holds(&r));
        assert!(parse("errors(connect_error)<=1").expect("parse").holds(&r));
        assert!(parse("connected>=0.99").expect("parse").holds(&r));
        assert!(!parse("connected>99.5%").expect("parse").holds(&r));
    }

    #[test]
    fn bad_conditions_say_why() {
        for (text, why) in [
            ("p99(delivery)", "no comparison"),
            ("delivery<5", "say which"),
            ("p42(delivery)<5", "unknown metric"),
            ("latency<5", "unknown metric"),
            ("errors<=x", "not a number"),
            ("errors==0ms", "does not fit"),
            ("p99(ws)<5", "takes connect, ack or delivery"),
        ] {
            let e = parse(text).expect_err(text);
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
