//! The live log's data: every event the window holds (up to [`CAPACITY`]) and the
//! positions of those matching the filters, kept up to date incrementally.
//!
//! At 10k events/s the table must not rescan 100k records per 50 ms batch: a batch
//! only tests its own records against the filters, and a full rescan happens only
//! when a filter changes. Positions are absolute (they count events dropped from the
//! front), so trimming the oldest events never renumbers the rest.

use sockscope_protocol::{Direction, EventRecord};

/// Events the window keeps; older ones fall off the front (recordings keep all).
pub const CAPACITY: usize = 150_000;

/// What the user filters on; empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub direction: Option<Direction>,
    pub source: String,
    pub namespace: String,
    pub event: String,
    pub tenant: String,
    pub room: String,
    /// Case-insensitive text anywhere: names, payload, tenant, user, rooms, the
    /// proxy's fault line.
    pub text: String,
}

fn contains_ci(hay: &str, needle_lower: &str) -> bool {
    needle_lower.is_empty() || hay.to_lowercase().contains(needle_lower)
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether `rec` passes every filter. Field filters are substring matches.
    pub fn matches(&self, rec: &EventRecord) -> bool {
        if self.direction.is_some_and(|d| d != rec.direction) {
            return false;
        }
        let field = |hay: &str, needle: &str| contains_ci(hay, &needle.trim().to_lowercase());
        if !field(&rec.source, &self.source)
            || !field(&rec.namespace, &self.namespace)
            || !field(&rec.event, &self.event)
            || !field(rec.tenant.as_deref().unwrap_or_default(), &self.tenant)
        {
            return false;
        }
        let room = self.room.trim().to_lowercase();
        if !room.is_empty() && !rec.rooms.iter().any(|r| contains_ci(r, &room)) {
            return false;
        }
        let text = self.text.trim().to_lowercase();
        if text.is_empty() {
            return true;
        }
        [
            rec.event.as_str(),
            rec.namespace.as_str(),
            rec.source.as_str(),
            rec.tenant.as_deref().unwrap_or_default(),
            rec.user.as_deref().unwrap_or_default(),
            rec.fault.as_deref().unwrap_or_default(),
        ]
        .iter()
        .any(|h| contains_ci(h, &text))
            || rec.rooms.iter().any(|r| contains_ci(r, &text))
            || contains_ci(&rec.args.to_string(), &text)
    }
}

/// The events and the filtered view over them.
#[derive(Debug, Clone, Default)]
pub struct LogModel {
    events: Vec<EventRecord>,
    /// Events dropped from the front so far.
    base: usize,
    filters: Filters,
    /// Absolute positions of matching events, oldest first.
    shown: Vec<usize>,
    capacity: usize,
}

impl LogModel {
    pub fn new() -> Self {
        Self::with_capacity(CAPACITY)
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            ..Self::default()
        }
    }

    /// Appends a batch, testing only the new records.
    pub fn extend(&mut self, batch: impl IntoIterator<Item = EventRecord>) {
        let filtering = !self.filters.is_empty();
        for rec in batch {
            let pos = self.base + self.events.len();
            if !filtering || self.filters.matches(&rec) {
                self.shown.push(pos);
            }
            self.events.push(rec);
        }
        if self.events.len() > self.capacity {
            // Trim in chunks so the front is not shifted on every batch.
            let excess = self.events.len() - self.capacity + self.capacity / 10;
            let excess = excess.min(self.events.len());
            self.events.drain(..excess);
            self.base += excess;
            let keep_from = self.shown.partition_point(|&p| p < self.base);
            self.shown.drain(..keep_from);
        }
    }

    /// Replaces everything (a recording opened in the Recordings panel).
    pub fn replace(&mut self, events: Vec<EventRecord>) {
        self.events.clear();
        self.shown.clear();
        self.base = 0;
        self.extend(events);
    }

    pub fn clear(&mut self) {
        self.base += self.events.len();
        self.events.clear();
        self.shown.clear();
    }

    /// Sets the filters and rescans when they changed.
    pub fn set_filters(&mut self, filters: Filters) {
        if filters == self.filters {
            return;
        }
        self.filters = filters;
        let base = self.base;
        self.shown = self
            .events
            .iter()
            .enumerate()
            .filter(|(_, r)| self.filters.is_empty() || self.filters.matches(r))
            .map(|(i, _)| base + i)
            .collect();
    }

    pub fn total(&self) -> usize {
        self.events.len()
    }

    pub fn shown_len(&self) -> usize {
        self.shown.len()
    }

    /// The `k`-th shown event counting from the newest (0 = newest).
    pub fn newest(&self, k: usize) -> Option<&EventRecord> {
        let pos = *self.shown.get(self.shown.len().checked_sub(k + 1)?)?;
        self.events.get(pos - self.base)
    }

    /// Shown events `from..to` counted from the newest, for one screen of rows.
    pub fn window(&self, from: usize, to: usize) -> Vec<EventRecord> {
        (from..to.min(self.shown.len()))
            .filter_map(|k| self.newest(k).cloned())
            .collect()
    }

    pub fn by_seq(&self, seq: u64) -> Option<&EventRecord> {
        // Bus sequence numbers increase along the vector, so search by them.
        let i = self.events.partition_point(|r| r.seq < seq);
        self.events.get(i).filter(|r| r.seq == seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use sockscope_test_support::Event;

    fn rec(seq: u64, event: &str, dir: Direction, tenant: &str) -> EventRecord {
        Event::new(event, json!([{ "n": seq }]))
            .seq(seq)
            .direction(dir)
            .namespace("/dashboard")
            .rooms([format!("tenant:{tenant}:orders")])
            .tenant(tenant)
            .build()
    }

    #[test]
    fn filters_apply_to_new_batches_and_to_old_events_when_they_change() {
        let mut m = LogModel::with_capacity(1_000);
        m.extend((1..=10).map(|i| {
            let dir = if i % 2 == 0 {
                Direction::S2c
            } else {
                Direction::C2s
            };
            rec(
                i,
                if i <= 5 { "tick" } else { "order" },
                dir,
                if i <= 3 { "acme" } else { "globex" },
            )
        }));
        assert_eq!(m.shown_len(), 10);
        assert_eq!(m.newest(0).map(|r| r.seq), Some(10));
        m.set_filters(Filters {
            event: "ORD".into(),
            direction: Some(Direction::S2c),
            ..Filters::default()
        });
        assert_eq!(
            m.window(0, 10).iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![10, 8, 6]
        );
        m.extend([
            rec(11, "order", Direction::C2s, "acme"),
            rec(12, "order", Direction::S2c, "acme"),
        ]);
        assert_eq!(m.newest(0).map(|r| r.seq), Some(12));
        assert_eq!(m.shown_len(), 4);
        m.set_filters(Filters {
            tenant: "acme".into(),
            room: "orders".into(),
            text: "\"n\":2".into(),
            ..Filters::default()
        });
        assert_eq!(
            m.window(0, 10).iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![2]
        );
        m.set_filters(Filters::default());
        assert_eq!(m.shown_len(), 12);
        assert_eq!(m.by_seq(7).map(|r| r.event.as_str()), Some("order"));
        assert!(m.by_seq(99).is_none());
    }

    #[test]
    fn the_oldest_fall_off_past_capacity_and_positions_stay_right() {
        let mut m = LogModel::with_capacity(100);
        m.set_filters(Filters {
            event: "even".into(),
            ..Filters::default()
        });
        for chunk in (1..=1_000_u64).collect::<Vec<_>>().chunks(37) {
            m.extend(chunk.iter().map(|&i| {
                rec(
                    i,
                    if i % 2 == 0 { "even" } else { "odd" },
                    Direction::S2c,
                    "t",
                )
            }));
        }
        assert!(m.total() <= 100, "{}", m.total());
        assert_eq!(m.newest(0).map(|r| r.seq), Some(1_000));
        assert_eq!(m.newest(1).map(|r| r.seq), Some(998));
        let last = m.newest(m.shown_len() - 1).map(|r| r.seq);
        assert!(last.is_some_and(|s| s % 2 == 0 && s > 800), "{last:?}");
        m.clear();
        assert_eq!(m.shown_len(), 0);
        m.extend([rec(1_001, "even", Direction::S2c, "t")]);
        assert_eq!(m.newest(0).map(|r| r.seq), Some(1_001));
    }

    #[test]
    fn the_text_filter_finds_the_events_a_proxy_rule_touched() {
        let mut m = LogModel::with_capacity(100);
        let mut dropped = Event::new("secret", json!([1]))
            .seq(1)
            .source("proxy:1")
            .build();
        dropped.fault = Some("dropped by rule 1 (drop event=secret)".into());
        let passed = Event::new("public", json!([2]))
            .seq(2)
            .source("proxy:1")
            .build();
        m.extend([dropped, passed]);
        m.set_filters(Filters {
            text: "DROPPED".into(),
            ..Filters::default()
        });
        assert_eq!(
            m.window(0, 10).iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![1]
        );
        m.set_filters(Filters {
            source: "proxy:".into(),
            ..Filters::default()
        });
        assert_eq!(m.shown_len(), 2);
    }
}
