//! One socket's events reach the bus in the order they crossed the gateway.
//!
//! A recording is evidence, so a socket's records must be in the order the client
//! sent them (c2s) and the gateway emitted them (s2c). socketioxide does not give
//! that for free: it reads a socket's packets in order, but runs every message
//! handler as its own `tokio::spawn`ed task, so on the multi-threaded runtime the
//! handlers of one socket run in any order (20,000 back-to-back emits from one Node
//! client came out with ~900 adjacent inversions when each handler published for
//! itself).
//!
//! What *does* run in packet order is extraction: socketioxide calls a handler's
//! `FromMessageParts` extractors synchronously on the receive path, one packet after
//! the other, before it spawns the handler. So the [`Args`](crate::args::Args)
//! extractor takes the socket's next *slot* here; the handler later fills that slot
//! with its record (it still builds the record itself, because the ack reply and the
//! rooms it joined are only known then). Records leave a socket's queue for the bus
//! strictly in slot order: a filled slot waits until every earlier one is filled. A
//! slot whose handler ends without a record (an extractor after `Args` failed, a
//! handler that records nothing) is released by [`Slot`]'s `Drop`, so it never holds
//! the queue up. The one rule for handlers: fill the slot (`socket::answer`) before
//! awaiting anything, as every profile does, since the socket's later records wait
//! for it.
//!
//! Gateway emits to one socket, and its `connect` and `disconnect` records, take and
//! fill a slot in one step under the queue's lock, the emit itself included (see
//! [`Order::push`]), so s2c records are in emit order and sit after every c2s event
//! received before the emit. This is a reorder buffer rather than a lock around the
//! handlers: handlers still run concurrently, and only publishing waits.
//!
//! Room and namespace broadcasts are one record for all recipients; one gateway-wide
//! lock (`ProfileState::broadcasts`) is held across each broadcast's emit and
//! publish, so broadcasts are recorded in the order they were sent. They do not go
//! through the recipients' queues, so a broadcast can be published ahead of a
//! recipient's direct emit that is still waiting behind that socket's earlier
//! events.
//!
//! Across sockets nothing is reordered: records of different sockets are in the
//! order the gateway published them, which need not match arrival order on
//! different connections.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use sockscope_protocol::EventRecord;

use sockscope_bus::Bus;

/// A socket's queue of records waiting for their turn on the bus.
#[derive(Debug, Default)]
pub struct Order {
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    /// Slot number of `slots[0]`.
    first: u64,
    /// `None`: taken, not yet filled. `Some(None)`: released without a record.
    slots: VecDeque<Option<Option<EventRecord>>>,
}

impl Queue {
    /// Publishes the filled slots at the front, in order.
    fn flush(&mut self, bus: &Bus) {
        while let Some(Some(_)) = self.slots.front() {
            if let Some(Some(Some(rec))) = self.slots.pop_front() {
                bus.publish(rec);
            }
            self.first += 1;
        }
    }
}

impl Order {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding the lock leaves the queue consistent (every change
        // is one push, fill or pop), so a poisoned lock is used as is.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next slot: the place on the bus of an event received now, whose
    /// record is built later. Call it on the receive path, in packet order.
    pub fn take(self: &Arc<Self>, bus: &Bus) -> Slot {
        let mut q = self.lock();
        q.slots.push_back(None);
        let n = q.first + (q.slots.len() as u64 - 1);
        Slot {
            order: self.clone(),
            bus: bus.clone(),
            n,
            received_at: sockscope_bus::now_micros(),
            filled: false,
        }
    }

    /// Runs `act` (an emit, say) and queues the record it returns, if any, as one
    /// step: what happens under this lock is in the socket's order.
    pub fn push<T>(&self, bus: &Bus, act: impl FnOnce() -> (T, Option<EventRecord>)) -> T {
        let mut q = self.lock();
        let (out, rec) = act();
        if let Some(rec) = rec {
            q.slots.push_back(Some(Some(rec)));
            q.flush(bus);
        }
        out
    }

    fn fill(&self, bus: &Bus, n: u64, rec: Option<EventRecord>) {
        let mut q = self.lock();
        let Some(i) = n.checked_sub(q.first).and_then(|i| usize::try_from(i).ok()) else {
            return;
        };
        if let Some(slot) = q.slots.get_mut(i) {
            *slot = Some(rec);
        }
        q.flush(bus);
    }

    /// Slots taken and not yet published.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.lock().slots.len()
    }
}

/// A reserved place in a socket's order. Fill it with [`Slot::publish`]; dropping
/// it unfilled gives the place up.
pub struct Slot {
    order: Arc<Order>,
    bus: Bus,
    n: u64,
    /// When the packet was read: the record's `ts` unless it has one.
    received_at: i64,
    filled: bool,
}

impl Slot {
    /// Publishes `rec` on the bus as soon as every earlier slot of the socket is,
    /// stamped with the time its packet was read (so a socket's c2s timestamps
    /// follow its order, however late a handler ran).
    pub fn publish(mut self, mut rec: EventRecord) {
        if rec.ts == 0 {
            rec.ts = self.received_at;
        }
        self.filled = true;
        self.order.fill(&self.bus, self.n, Some(rec));
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.filled {
            self.order.fill(&self.bus, self.n, None);
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("n", &self.n)
            .field("filled", &self.filled)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sockscope_test_support::Event;

    fn rec(i: u64) -> EventRecord {
        Event::new("n", json!([i])).build()
    }

    fn drain(rx: &mut tokio::sync::broadcast::Receiver<EventRecord>) -> Vec<u64> {
        let mut out = Vec::new();
        while let Ok(r) = rx.try_recv() {
            out.push(r.args[0].as_u64().unwrap_or(u64::MAX));
        }
        out
    }

    #[test]
    fn records_wait_for_earlier_slots_and_released_slots_do_not_block() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let order = Arc::new(Order::default());
        let (a, b, c, d) = (
            order.take(&bus),
            order.take(&bus),
            order.take(&bus),
            order.take(&bus),
        );
        d.publish(rec(3));
        b.publish(rec(1));
        assert!(drain(&mut rx).is_empty(), "nothing passes slot 0");
        order.push(&bus, || ((), Some(rec(4))));
        a.publish(rec(0));
        assert_eq!(drain(&mut rx), vec![0, 1]);
        drop(c);
        assert_eq!(drain(&mut rx), vec![3, 4]);
        assert_eq!(order.waiting(), 0);
        // Control: with nothing waiting, a push goes straight out.
        order.push(&bus, || ((), Some(rec(5))));
        assert_eq!(drain(&mut rx), vec![5]);
        // A push with no record takes no place.
        order.push(&bus, || ((), None));
        assert_eq!(order.waiting(), 0);
    }

    #[test]
    fn a_record_is_stamped_when_its_slot_was_taken() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let order = Arc::new(Order::default());
        let early = order.take(&bus);
        let taken = sockscope_bus::now_micros();
        std::thread::sleep(std::time::Duration::from_millis(5));
        early.publish(rec(0));
        let r = rx.try_recv().expect("published");
        assert!(
            r.ts <= taken,
            "ts {} is after the slot was taken ({taken})",
            r.ts
        );
    }

    #[test]
    fn slots_filled_from_many_threads_publish_in_slot_order() {
        let bus = Bus::new();
        let mut rx = bus.subscribe();
        let order = Arc::new(Order::default());
        let n = 4_000u64;
        let slots: Vec<Slot> = (0..n).map(|_| order.take(&bus)).collect();
        // Four threads fill interleaved slots, each from its end backwards.
        let mut parts: Vec<Vec<(u64, Slot)>> = (0..4).map(|_| Vec::new()).collect();
        for (i, s) in (0..n).zip(slots) {
            parts[(i % 4) as usize].push((i, s));
        }
        let threads: Vec<_> = parts
            .into_iter()
            .map(|mut part| {
                std::thread::spawn(move || {
                    while let Some((i, s)) = part.pop() {
                        if i % 97 == 0 {
                            drop(s);
                        } else {
                            s.publish(rec(i));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            assert!(t.join().is_ok());
        }
        let got = drain(&mut rx);
        let want: Vec<u64> = (0..n).filter(|i| i % 97 != 0).collect();
        assert_eq!(got, want);
        assert_eq!(order.waiting(), 0);
    }
}
