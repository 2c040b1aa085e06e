//! JSON Schema inference from every occurrence of a payload.
//!
//! A [`Shape`] folds in each value seen for one message (or one field of it) and turns
//! into a JSON Schema at the end. The rules, chosen so that a contract is neither
//! looser nor stricter than what the recording shows:
//! - **types**: every JSON type seen; integers and fractions together are `number`;
//!   several types become a `type` list (scalars) or an `anyOf` (objects/arrays).
//! - **required**: an object field present in every occurrence of its object.
//! - **enum**: a string with 2 to [`ENUM_MAX`] distinct values, each seen at least
//!   [`ENUM_MIN_REPEAT`] times and at most [`ENUM_MAX_LEN`] characters long: a small,
//!   closed set rather than free text that happened to repeat. One value seen many
//!   times is not an enum (it is as likely the one user or entity of the recording).
//! - **format**: `date-time`, `uuid` or `email` when every string seen has it (checked
//!   by the `jsonschema` crate's format validators, not by our own parser).
//! - **arrays**: one `items` schema folded from every element of every occurrence.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// Most distinct values a string may take and still become an `enum`.
pub const ENUM_MAX: usize = 8;
/// Fewest times each value of an `enum` must have been seen.
pub const ENUM_MIN_REPEAT: u64 = 2;
/// Longest string that may be an `enum` value.
pub const ENUM_MAX_LEN: usize = 64;
/// Most distinct field names kept per object: payloads keyed by ids (a map of
/// entities) would otherwise grow the contract, and memory, without bound. Names
/// past this are not described (the schema still allows them).
pub const MAX_FIELDS: usize = 256;
/// The formats detected, in the order they are tried.
const FORMATS: [&str; 3] = ["date-time", "uuid", "email"];

/// Everything seen of one value position.
#[derive(Debug, Clone, Default)]
pub struct Shape {
    /// Occurrences, of any type.
    pub seen: u64,
    null: u64,
    boolean: u64,
    integer: u64,
    fraction: u64,
    string: Option<Strings>,
    array: Option<Arrays>,
    object: Option<Objects>,
}

#[derive(Debug, Clone)]
struct Strings {
    count: u64,
    /// Distinct values and their counts; `None` once the set is no longer small.
    values: Option<BTreeMap<String, u64>>,
    /// Formats every string so far satisfies.
    formats: Vec<&'static str>,
}

#[derive(Debug, Clone, Default)]
struct Arrays {
    items: Box<Shape>,
}

#[derive(Debug, Clone, Default)]
struct Objects {
    count: u64,
    fields: BTreeMap<String, Shape>,
}

fn format_validators() -> &'static [(&'static str, jsonschema::Validator)] {
    static CHECKS: OnceLock<Vec<(&'static str, jsonschema::Validator)>> = OnceLock::new();
    CHECKS.get_or_init(|| {
        FORMATS
            .iter()
            .filter_map(|f| {
                jsonschema::options()
                    .should_validate_formats(true)
                    .build(&json!({ "type": "string", "format": f }))
                    .ok()
                    .map(|v| (*f, v))
            })
            .collect()
    })
}

fn formats_of(s: &str) -> Vec<&'static str> {
    let v = Value::String(s.to_owned());
    format_validators()
        .iter()
        .filter(|(_, check)| check.is_valid(&v))
        .map(|(f, _)| *f)
        .collect()
}

impl Shape {
    /// Folds one more occurrence in.
    pub fn add(&mut self, v: &Value) {
        self.seen += 1;
        match v {
            Value::Null => self.null += 1,
            Value::Bool(_) => self.boolean += 1,
            Value::Number(n) => {
                if n.is_i64() || n.is_u64() {
                    self.integer += 1;
                } else {
                    self.fraction += 1;
                }
            }
            Value::String(s) => self.add_string(s),
            Value::Array(items) => {
                let a = self.array.get_or_insert_with(Arrays::default);
                for item in items {
                    a.items.add(item);
                }
            }
            Value::Object(fields) => {
                let o = self.object.get_or_insert_with(Objects::default);
                o.count += 1;
                for (k, v) in fields {
                    if let Some(shape) = o.fields.get_mut(k) {
                        shape.add(v);
                    } else if o.fields.len() < MAX_FIELDS {
                        o.fields.entry(k.clone()).or_default().add(v);
                    }
                }
            }
        }
    }

    fn add_string(&mut self, s: &str) {
        let st = self.string.get_or_insert_with(|| Strings {
            count: 0,
            values: Some(BTreeMap::new()),
            formats: formats_of(s),
        });
        if st.count > 0 && !st.formats.is_empty() {
            let now = formats_of(s);
            st.formats.retain(|f| now.contains(f));
        }
        st.count += 1;
        if let Some(values) = &mut st.values {
            if s.chars().count() > ENUM_MAX_LEN {
                st.values = None;
            } else {
                *values.entry(s.to_owned()).or_default() += 1;
                if values.len() > ENUM_MAX {
                    st.values = None;
                }
            }
        }
    }

    /// The JSON Schema of everything folded in (`{}` when nothing was).
    pub fn schema(&self) -> Value {
        let mut scalar_types: Vec<&str> = Vec::new();
        let mut composite: Vec<Value> = Vec::new();
        let mut extra = Map::new();
        if self.null > 0 {
            scalar_types.push("null");
        }
        if self.boolean > 0 {
            scalar_types.push("boolean");
        }
        if self.fraction > 0 {
            scalar_types.push("number");
        } else if self.integer > 0 {
            scalar_types.push("integer");
        }
        if let Some(st) = &self.string {
            scalar_types.push("string");
            if let Some(f) = st.formats.first() {
                extra.insert("format".into(), json!(f));
            } else if let Some(values) = &st.values {
                // `enum` constrains every type, so it is only written for a value
                // that was never anything but a string (a tuple argument folded
                // into one `items` shape mixes strings with numbers).
                let only_strings = self.null + self.boolean + self.integer + self.fraction == 0
                    && self.array.is_none()
                    && self.object.is_none();
                if only_strings
                    && values.len() >= 2
                    && values.values().all(|n| *n >= ENUM_MIN_REPEAT)
                {
                    extra.insert("enum".into(), json!(values.keys().collect::<Vec<_>>()));
                }
            }
        }
        if let Some(a) = &self.array {
            let mut s = Map::new();
            s.insert("type".into(), json!("array"));
            if a.items.seen > 0 {
                s.insert("items".into(), a.items.schema());
            }
            composite.push(Value::Object(s));
        }
        if let Some(o) = &self.object {
            let mut s = Map::new();
            s.insert("type".into(), json!("object"));
            let props: Map<String, Value> = o
                .fields
                .iter()
                .map(|(k, shape)| (k.clone(), shape.schema()))
                .collect();
            let required: Vec<&String> = o
                .fields
                .iter()
                .filter(|(_, shape)| shape.seen == o.count)
                .map(|(k, _)| k)
                .collect();
            s.insert("properties".into(), Value::Object(props));
            if !required.is_empty() {
                s.insert("required".into(), json!(required));
            }
            composite.push(Value::Object(s));
        }
        let scalar = if scalar_types.is_empty() {
            None
        } else {
            let mut s = Map::new();
            s.insert(
                "type".into(),
                if scalar_types.len() == 1 {
                    json!(scalar_types[0])
                } else {
                    json!(scalar_types)
                },
            );
            s.extend(extra);
            Some(Value::Object(s))
        };
        match (scalar, composite.len()) {
            (None, 0) => json!({}),
            (Some(s), 0) => s,
            (None, 1) => composite.remove(0),
            (s, _) => json!({ "anyOf": s.into_iter().chain(composite).collect::<Vec<_>>() }),
        }
    }
}

/// How a message's argument list maps to its payload: one argument is the payload
/// itself (the common `emit(event, obj)`), otherwise the whole list is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arguments {
    Single,
    List,
}

impl Arguments {
    pub fn as_str(self) -> &'static str {
        match self {
            Arguments::Single => "single",
            Arguments::List => "list",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(Arguments::Single),
            "list" => Some(Arguments::List),
            _ => None,
        }
    }

    /// The payload value of one recorded argument list under this mapping.
    pub fn payload<'a>(self, args: &'a Value) -> std::borrow::Cow<'a, Value> {
        match (self, args) {
            (Arguments::Single, Value::Array(a)) if a.len() == 1 => {
                std::borrow::Cow::Borrowed(&a[0])
            }
            (Arguments::Single, Value::Array(a)) if a.is_empty() => {
                std::borrow::Cow::Owned(Value::Null)
            }
            (Arguments::List, Value::Array(_)) => std::borrow::Cow::Borrowed(args),
            (_, v) if !v.is_array() => std::borrow::Cow::Borrowed(v),
            _ => std::borrow::Cow::Borrowed(args),
        }
    }
}

/// Every argument list of one message, folded as it comes (a long session is never
/// held in memory): the payload schema and the first occurrence as the example.
#[derive(Debug, Clone, Default)]
pub struct Payloads {
    count: usize,
    /// Every occurrence had exactly one argument.
    all_single: bool,
    /// The lone argument of each occurrence (meaningful while `all_single`).
    single: Shape,
    /// The whole argument list of each occurrence.
    list: Shape,
    first: Option<Value>,
}

impl Payloads {
    pub fn add(&mut self, args: &Value) {
        if self.count == 0 {
            self.all_single = true;
            self.first = Some(args.clone());
        }
        self.count += 1;
        match args.as_array() {
            Some(a) if a.len() == 1 && self.all_single => self.single.add(&a[0]),
            _ => self.all_single = false,
        }
        self.list.add(args);
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// `Single` when every occurrence carried exactly one argument.
    pub fn arguments(&self) -> Arguments {
        if self.count > 0 && self.all_single {
            Arguments::Single
        } else {
            Arguments::List
        }
    }

    /// The payload schema folded from every occurrence.
    pub fn schema(&self) -> Value {
        match self.arguments() {
            Arguments::Single => self.single.schema(),
            Arguments::List => self.list.schema(),
        }
    }

    /// The first occurrence's payload (already redacted by the store).
    pub fn example(&self) -> Option<Value> {
        let mode = self.arguments();
        self.first.as_ref().map(|a| mode.payload(a).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infer(values: &[Value]) -> Value {
        let mut s = Shape::default();
        for v in values {
            s.add(v);
        }
        s.schema()
    }

    #[test]
    fn required_only_when_present_everywhere() {
        let s = infer(&[json!({"a": 1, "b": "x"}), json!({"a": 2})]);
        assert_eq!(s["type"], "object");
        assert_eq!(s["required"], json!(["a"]));
        assert_eq!(s["properties"]["a"], json!({"type": "integer"}));
        assert_eq!(s["properties"]["b"]["type"], "string");
    }

    #[test]
    fn integers_and_fractions_are_numbers_and_mixed_scalars_list_types() {
        assert_eq!(infer(&[json!(1), json!(1.5)]), json!({"type": "number"}));
        assert_eq!(
            infer(&[json!(1), json!(null)]),
            json!({"type": ["null", "integer"]})
        );
    }

    #[test]
    fn no_enum_when_the_strings_share_a_slot_with_other_types() {
        let mixed = infer(&[json!("a"), json!("a"), json!(1), json!("b"), json!("b")]);
        assert!(mixed.get("enum").is_none(), "{mixed}");
    }

    #[test]
    fn enum_needs_a_small_set_each_value_repeated() {
        let repeated = infer(&[json!("a"), json!("b"), json!("a"), json!("b")]);
        assert_eq!(repeated["enum"], json!(["a", "b"]));
        // A value seen once: not known to be closed.
        let once = infer(&[json!("a"), json!("b"), json!("a")]);
        assert!(once.get("enum").is_none(), "{once}");
        // One value however often: a constant of this recording, not a closed set.
        let one = infer(&[json!("a"), json!("a"), json!("a")]);
        assert!(one.get("enum").is_none(), "{one}");
        // Nine distinct values: too many.
        let many: Vec<Value> = (0..18).map(|i| json!(format!("v{}", i / 2))).collect();
        assert!(infer(&many).get("enum").is_none());
    }

    #[test]
    fn formats_hold_only_when_every_value_has_them() {
        let dt = infer(&[
            json!("2024-01-02T03:04:05Z"),
            json!("2025-06-07T08:09:10.5+02:00"),
        ]);
        assert_eq!(dt["format"], "date-time");
        let id = infer(&[json!("6f1c9a52-3b0e-4c55-9d3a-2f1f5e8a7b10")]);
        assert_eq!(id["format"], "uuid");
        let mail = infer(&[json!("ops@example.com")]);
        assert_eq!(mail["format"], "email");
        let mixed = infer(&[json!("2024-01-02T03:04:05Z"), json!("soon")]);
        assert!(mixed.get("format").is_none(), "{mixed}");
    }

    #[test]
    fn arrays_fold_every_element_and_objects_mix_with_scalars_via_any_of() {
        let s = infer(&[json!([1, 2]), json!([3.5])]);
        assert_eq!(s, json!({"type": "array", "items": {"type": "number"}}));
        let s = infer(&[json!({"a": 1}), json!("x")]);
        assert_eq!(s["anyOf"][0]["type"], "string");
        assert_eq!(s["anyOf"][1]["type"], "object");
    }

    #[test]
    fn objects_describe_at_most_max_fields_names() {
        let wide: Map<String, Value> = (0..MAX_FIELDS + 50)
            .map(|i| (format!("k{i:04}"), json!(i)))
            .collect();
        let s = infer(&[Value::Object(wide)]);
        let props = s["properties"].as_object().expect("properties");
        assert_eq!(props.len(), MAX_FIELDS);
    }

    #[test]
    fn single_argument_messages_use_the_argument_as_payload() {
        let mut p = Payloads::default();
        p.add(&json!([{"id": 1}]));
        p.add(&json!([{"id": 2}]));
        assert_eq!(p.arguments(), Arguments::Single);
        assert_eq!(p.schema()["required"], json!(["id"]));
        p.add(&json!([{"id": 3}, "extra"]));
        assert_eq!(p.arguments(), Arguments::List);
        assert_eq!(p.schema()["type"], "array");
    }
}
