//! A parsed YAML or JSON document before it is decoded: a generic tree that keeps the order of
//! mapping keys and refuses duplicate keys, as calicoctl's strict YAML parsing does (serde_json
//! and serde_yaml_ng keep the last of duplicate keys).

use std::{collections::HashSet, fmt};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A YAML or JSON value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Raw {
    /// `null`, `~`, or nothing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer; i128 holds every i64 and u64.
    Int(i128),
    /// A number with a fraction or an exponent.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Raw>),
    /// A mapping, in document order; keys are unique.
    Map(Vec<(String, Raw)>),
}

impl Raw {
    /// What the value is, for error messages.
    pub(crate) fn describe(&self) -> String {
        match self {
            Self::Null => "null".into(),
            Self::Bool(b) => format!("boolean {b}"),
            Self::Int(i) => format!("number {i}"),
            Self::Float(f) => format!("number {f}"),
            Self::Str(s) => format!("string {s:?}"),
            Self::Seq(_) => "a list".into(),
            Self::Map(_) => "a mapping".into(),
        }
    }

    /// The text a scalar gives a string field: calicoctl converts YAML to JSON guided by the
    /// Go types, so `node: 123` becomes `"123"`. `None` for a sequence or a mapping.
    pub(crate) fn scalar_text(&self) -> Option<String> {
        match self {
            Self::Null => Some(String::new()),
            Self::Bool(b) => Some(b.to_string()),
            Self::Int(i) => Some(i.to_string()),
            Self::Float(f) => Some(f.to_string()),
            Self::Str(s) => Some(s.clone()),
            Self::Seq(_) | Self::Map(_) => None,
        }
    }
}

impl Raw {
    /// The value as serde_json holds it, for reading into the document types. Mapping keys
    /// keep their text; an integer too large for JSON's 64 bits becomes its text.
    pub(crate) fn into_json(self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => Value::Bool(b),
            Self::Int(i) => i64::try_from(i)
                .map(Value::from)
                .or_else(|_| u64::try_from(i).map(Value::from))
                .unwrap_or_else(|_| Value::String(i.to_string())),
            Self::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
            Self::Str(s) => Value::String(s),
            Self::Seq(items) => Value::Array(items.into_iter().map(Self::into_json).collect()),
            Self::Map(entries) => Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, v.into_json()))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::Int(v.into()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Raw, D::Error> {
        Raw::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        let mut seen = HashSet::new();
        while let Some(Key(key)) = map.next_key()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            entries.push((key, map.next_value()?));
        }
        Ok(Raw::Map(entries))
    }
}

/// A mapping key: YAML allows scalars of any type, which the YAML-to-JSON step stringifies.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a scalar mapping key")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
        Ok(Key(v.to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Key, E> {
        Ok(Key(v.to_owned()))
    }

    fn visit_unit<E>(self) -> Result<Key, E> {
        Ok(Key("null".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_keeps_key_order_and_types() {
        let raw: Raw = serde_yaml_ng::from_str("b: 1\na: [x, 2.5, true, null]\n").expect("yaml");
        let expected = Raw::Map(vec![
            ("b".into(), Raw::Int(1)),
            (
                "a".into(),
                Raw::Seq(vec![
                    Raw::Str("x".into()),
                    Raw::Float(2.5),
                    Raw::Bool(true),
                    Raw::Null,
                ]),
            ),
        ]);
        assert_eq!(raw, expected);
    }

    #[test]
    fn duplicate_keys_are_refused_in_yaml_and_json() {
        let yaml = serde_yaml_ng::from_str::<Raw>("a: 1\na: 2\n").expect_err("duplicate");
        assert!(yaml.to_string().contains("duplicate key \"a\""), "{yaml}");
        let json = serde_json::from_str::<Raw>(r#"{"a": 1, "a": 2}"#).expect_err("duplicate");
        assert!(json.to_string().contains("duplicate key \"a\""), "{json}");
    }

    #[test]
    fn scalars_give_string_fields_their_text() {
        assert_eq!(Raw::Int(123).scalar_text().as_deref(), Some("123"));
        assert_eq!(Raw::Null.scalar_text().as_deref(), Some(""));
        assert_eq!(Raw::Seq(vec![]).scalar_text(), None);
    }
}
