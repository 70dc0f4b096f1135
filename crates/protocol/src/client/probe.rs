//! The parser's first pass: reads only `type` and `id` of a client message and checks
//! that no top-level key appears twice (`{"type":"ping","type":"publish"}`: which one
//! counts differs between JSON parsers, so the message is refused with 117
//! `duplicate_key` instead of guessed at).
//!
//! Cost on the common path: keys are borrowed from the text (owned only when a key
//! holds an escape) and compared against the few already seen, kept on the stack up to
//! [`KEYS_ON_STACK`]; a message with more keys than that spills to a `Vec`. Values other
//! than `type` and `id` are skipped without being decoded, as before.

use std::{borrow::Cow, fmt};

use serde::{
    Deserialize, Deserializer,
    de::{IgnoredAny, MapAccess, Visitor},
};
use serde_json::value::RawValue;

/// Keys remembered without allocating; a protocol message has at most five.
pub(super) const KEYS_ON_STACK: usize = 8;

/// What the first pass reads.
pub(super) struct Probe<'a> {
    /// The raw `type` value (the last one when a duplicate was found).
    pub(super) kind: Option<&'a RawValue>,
    /// The raw `id` value.
    pub(super) id: Option<&'a RawValue>,
    /// The first top-level key that appeared twice, if any.
    pub(super) duplicate: Option<String>,
}

/// A key as written, decoded: borrowed unless it holds an escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The keys seen so far: keys borrowed from the text on the stack, the rest (past
/// [`KEYS_ON_STACK`], or holding an escape) in a `Vec`.
struct SeenKeys<'a> {
    stack: [&'a str; KEYS_ON_STACK],
    len: usize,
    spilled: Vec<Cow<'a, str>>,
}

impl<'a> SeenKeys<'a> {
    fn new() -> Self {
        Self {
            stack: [""; KEYS_ON_STACK],
            len: 0,
            spilled: Vec::new(),
        }
    }

    /// Remembers `key`, or hands it back when it was already there.
    fn insert(&mut self, key: Cow<'a, str>) -> Result<(), Cow<'a, str>> {
        let on_stack = self.stack.get(..self.len).unwrap_or_default();
        let seen = on_stack.contains(&key.as_ref()) || self.spilled.contains(&key);
        if seen {
            return Err(key);
        }
        match key {
            Cow::Borrowed(key) if self.len < KEYS_ON_STACK => {
                self.stack[self.len] = key;
                self.len += 1;
            }
            key => self.spilled.push(key),
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Probe<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProbeVisitor;
        impl<'de> Visitor<'de> for ProbeVisitor {
            type Value = Probe<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut probe = Probe {
                    kind: None,
                    id: None,
                    duplicate: None,
                };
                let mut seen = SeenKeys::new();
                while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
                    let slot = match key.as_ref() {
                        "type" => Some(&mut probe.kind),
                        "id" => Some(&mut probe.id),
                        _ => None,
                    };
                    match slot {
                        Some(slot) => *slot = Some(map.next_value::<&'de RawValue>()?),
                        None => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                    if probe.duplicate.is_none()
                        && let Err(key) = seen.insert(key)
                    {
                        probe.duplicate = Some(key.into_owned());
                    }
                }
                Ok(probe)
            }
        }
        deserializer.deserialize_map(ProbeVisitor)
    }
}
