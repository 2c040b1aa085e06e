//! Binary attachments inside JSON records. A record stays plain JSON, so a binary
//! value travels as `{"_binary": "<base64>"}` ([`BINARY_MARKER`]); Socket.IO's JSON
//! parser sends it as `{"_placeholder": true, "num": N}` plus a binary frame. The
//! gateway, the clients and the HAR importer all read and write this one shape.

use serde_json::Value;

/// Marker key for a binary attachment inlined into a record.
pub const BINARY_MARKER: &str = "_binary";

/// Most binary attachments one packet may announce (a hostile count is refused
/// before anything waits for them).
pub const MAX_ATTACHMENTS: usize = 64;

/// Replaces every `{"_placeholder": true, "num": N}` in `v` with `attachment(N)`,
/// where it has one; the same walk serves live frames and imported captures.
pub fn replace_placeholders(v: &mut Value, attachment: &dyn Fn(usize) -> Option<Value>) {
    match v {
        Value::Object(map) => {
            let placeholder = map.get("_placeholder").and_then(Value::as_bool) == Some(true);
            let num = map.get("num").and_then(Value::as_u64);
            if let (true, Some(n)) = (placeholder, num) {
                if let Some(a) = usize::try_from(n).ok().and_then(attachment) {
                    *v = a;
                    return;
                }
            }
            map.values_mut()
                .for_each(|x| replace_placeholders(x, attachment));
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|x| replace_placeholders(x, attachment)),
        _ => {}
    }
}
