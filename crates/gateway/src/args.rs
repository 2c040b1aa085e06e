//! Event arguments exactly as the client sent them.
//!
//! socketioxide's `Data<T>` extractor hands a handler the first argument only, but an
//! inspector must record every argument of every event. [`Args`] reads the raw packet
//! instead: all arguments as a JSON array, with binary attachments inlined as
//! `{"_binary": "<base64>"}` so a record stays plain JSON. With the msgpack parser
//! the packet's data is msgpack, read the same way (binary values inlined).
//!
//! Extraction runs on socketioxide's receive path in packet order, so [`Args`] also
//! takes the event's slot in its socket's bus order (see [`crate::order`]).

use std::collections::VecDeque;
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Value};
use socketioxide::adapter::Adapter;
use socketioxide::extract::State;
use socketioxide::handler::{FromMessageParts, Value as PacketValue};
use socketioxide::socket::Socket;

use crate::order::Slot;
use crate::stats::Stats;
use crate::Shared;

pub use sockscope_codec::binary::{replace_placeholders, BINARY_MARKER};

/// Every argument of an incoming event, as a JSON array, and the ack id the client
/// asked for, if any.
#[derive(Debug)]
pub struct Args {
    pub values: Value,
    pub ack_id: Option<i64>,
    /// The event's place in its socket's bus order, taken when the packet was read;
    /// `socket::answer` fills it. `None` for a socket the gateway did not accept.
    pub(crate) slot: Option<Slot>,
}

impl<A: Adapter> FromMessageParts<A> for Args {
    type Error = serde_json::Error;

    fn from_message_parts(
        s: &Arc<Socket<A>>,
        v: &mut PacketValue,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        let values = match v {
            PacketValue::Str(text, bins) => {
                let mut items: Vec<Value> = serde_json::from_str(text.as_str())?;
                // The first element is the event name.
                if !items.is_empty() {
                    items.remove(0);
                }
                let mut args = Value::Array(items);
                if let Some(bins) = bins {
                    inline_binaries(&mut args, bins);
                }
                args
            }
            // The msgpack parser's event data: `[event, ...args]` as msgpack.
            PacketValue::Bytes(b) => match sockscope_codec::wire::msgpack_value(b) {
                Some(Value::Array(mut items)) if !items.is_empty() => {
                    items.remove(0);
                    Value::Array(items)
                }
                _ => json!([binary(b)]),
            },
        };
        // Taken last, once the packet is known to be good: a bad packet never
        // becomes a handler, and its slot would only be released again.
        let shared = State::<Arc<Shared>>::from_message_parts(s, v, ack_id).ok();
        let slot = match (s.extensions.get::<Arc<Stats>>(), shared) {
            (Some(stats), Some(State(shared))) => Some(stats.order.take(&shared.bus)),
            _ => None,
        };
        Ok(Args {
            values,
            ack_id: *ack_id,
            slot,
        })
    }
}

fn binary(b: &[u8]) -> Value {
    json!({ BINARY_MARKER: base64::engine::general_purpose::STANDARD.encode(b) })
}

/// Replaces Socket.IO's `{"_placeholder": true, "num": N}` with attachment N.
fn inline_binaries(v: &mut Value, bins: &VecDeque<bytes::Bytes>) {
    replace_placeholders(v, &|n| bins.get(n).map(|b| binary(b)));
}
