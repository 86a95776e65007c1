//! Reads the shape of a type from its serde `Deserialize`: the raw structs
//! the validator parses files with say, by the calls they make, which keys
//! a table has and what each value must be. A [`Tracer`] follows a path of
//! keys into the type and, where the path ends, answers the first call with
//! an error that carries the shape that call asked for.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// What one value of a file may be.
#[derive(Debug, Clone, PartialEq)]
pub enum Shape {
    Bool,
    /// A whole number; `false` when it may not be negative.
    Integer {
        signed: bool,
    },
    Number,
    /// Text; `form` is what the type's visitor says it expects.
    Text {
        form: String,
    },
    List(Box<Shape>),
    /// A list of exactly this many values.
    Tuple(usize, Box<Shape>),
    /// A table of any keys, each value of one shape.
    Map(Box<Shape>),
    /// A table of these keys only.
    Table {
        name: &'static str,
        keys: &'static [&'static str],
    },
    /// One of these words.
    Words(&'static [&'static str]),
    Optional(Box<Shape>),
    /// A type that reads whatever comes (`deserialize_any`): only its form is known.
    Any {
        form: String,
    },
}

/// The error a trace ends with: the shape found, or why none was.
#[derive(Debug)]
pub enum Found {
    Shape(Shape),
    Failed(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Found {}

impl de::Error for Found {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Found::Failed(msg.to_string())
    }
}

/// One step of a path into a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// A table's key.
    Key(&'static str),
    /// The value inside a list, a map or an optional value.
    Inner,
}

/// The shape of the value `path` leads to in `T`.
pub fn shape<'de, T: serde::Deserialize<'de>>(path: &[Step]) -> Result<Shape, String> {
    match T::deserialize(Tracer { path }) {
        Ok(_) => Err("the type read a value without asking for one".into()),
        Err(Found::Shape(s)) => Ok(s),
        Err(Found::Failed(why)) => Err(why),
    }
}

/// A deserializer that follows `path` and reports the shape at its end.
#[derive(Clone, Copy)]
struct Tracer<'p> {
    path: &'p [Step],
}

/// The form a visitor says it expects, as its `expecting` writes it.
fn form(v: &dyn de::Expected) -> String {
    format!("{v}")
}

impl<'p> Tracer<'p> {
    fn here(&self) -> bool {
        self.path.is_empty()
    }

    /// A leaf: its shape if the path ends here, else a failed trace.
    fn leaf<T>(&self, shape: Shape) -> Result<T, Found> {
        if self.here() {
            Err(Found::Shape(shape))
        } else {
            Err(Found::Failed(format!("the path goes on past a {shape:?} at {:?}", self.path)))
        }
    }

    /// Into a container's inner value, wrapping its shape when the path ends at the container.
    fn inner(&self, wrap: impl FnOnce(Shape) -> Shape) -> (Tracer<'p>, impl FnOnce(Found) -> Found) {
        let here = self.here();
        let next = if here { Tracer { path: self.path } } else { Tracer { path: &self.path[1..] } };
        let map = move |found: Found| match found {
            Found::Shape(s) if here => Found::Shape(wrap(s)),
            other => other,
        };
        (next, map)
    }
}

macro_rules! leaves {
    ($($method:ident => $shape:expr),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, _v: V) -> Result<V::Value, Found> {
            self.leaf($shape)
        })*
    };
}

impl<'de, 'p> Deserializer<'de> for Tracer<'p> {
    type Error = Found;

    leaves!(
        deserialize_bool => Shape::Bool,
        deserialize_i8 => Shape::Integer { signed: true },
        deserialize_i16 => Shape::Integer { signed: true },
        deserialize_i32 => Shape::Integer { signed: true },
        deserialize_i64 => Shape::Integer { signed: true },
        deserialize_u8 => Shape::Integer { signed: false },
        deserialize_u16 => Shape::Integer { signed: false },
        deserialize_u32 => Shape::Integer { signed: false },
        deserialize_u64 => Shape::Integer { signed: false },
        deserialize_f32 => Shape::Number,
        deserialize_f64 => Shape::Number,
    );

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Any { form: form(&v) })
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Text { form: form(&v) })
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Text { form: form(&v) })
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Text { form: form(&v) })
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Any { form: form(&v) })
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Any { form: form(&v) })
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        let (next, map) = self.inner(|s| Shape::Optional(Box::new(s)));
        v.visit_some(next).map_err(map)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Any { form: form(&v) })
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Any { form: form(&v) })
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, v: V) -> Result<V::Value, Found> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        let (next, map) = self.inner(|s| Shape::List(Box::new(s)));
        v.visit_seq(One { item: Some(next) }).map_err(map)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Found> {
        let (next, map) = self.inner(|s| Shape::Tuple(len, Box::new(s)));
        v.visit_seq(One { item: Some(next) }).map_err(map)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, _: &'static str, len: usize, v: V) -> Result<V::Value, Found> {
        self.deserialize_tuple(len, v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        let (next, map) = self.inner(|s| Shape::Map(Box::new(s)));
        v.visit_map(Entry { key: Some("key"), value: next }).map_err(map)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        keys: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Found> {
        // `toml::Spanned<T>` is read as a table of its own around the value;
        // the value is what a file writes.
        if name == "$__serde_spanned_private_Spanned" {
            return v.visit_map(Entry { key: Some("$__serde_spanned_private_value"), value: self });
        }
        match self.path.split_first() {
            None => Err(Found::Shape(Shape::Table { name, keys })),
            Some((Step::Key(key), rest)) if keys.contains(key) => {
                v.visit_map(Entry { key: Some(key), value: Tracer { path: rest } })
            }
            Some((step, _)) => Err(Found::Failed(format!("{name} has no {step:?}; it has {keys:?}"))),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        _v: V,
    ) -> Result<V::Value, Found> {
        self.leaf(Shape::Words(variants))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Text { form: form(&v) })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Found> {
        self.leaf(Shape::Any { form: form(&v) })
    }
}

/// A list of one value: the traced one.
struct One<'p> {
    item: Option<Tracer<'p>>,
}

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = Found;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Found> {
        match self.item.take() {
            Some(tracer) => seed.deserialize(tracer).map(Some),
            None => Ok(None),
        }
    }
}

/// A table of one key, whose value is the traced one.
struct Entry<'p> {
    key: Option<&'static str>,
    value: Tracer<'p>,
}

impl<'de> MapAccess<'de> for Entry<'_> {
    type Error = Found;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Found> {
        match self.key.take() {
            Some(key) => seed.deserialize(de::value::BorrowedStrDeserializer::<Found>::new(key)).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Found> {
        seed.deserialize(self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::raw::RawTarget;

    #[test]
    fn a_trace_finds_tables_keys_and_the_forms_of_values() {
        let Ok(Shape::Table { keys, .. }) = shape::<RawTarget>(&[]) else { panic!("a table") };
        assert!(keys.contains(&"listen") && keys.contains(&"fault"));
        assert_eq!(
            shape::<RawTarget>(&[Step::Key("listen")]),
            Ok(Shape::Text { form: "an IP address and port such as \"127.0.0.1:9001\"".into() })
        );
        assert_eq!(shape::<RawTarget>(&[Step::Key("protocol")]), Ok(Shape::Words(&["http", "tcp"])));
        let Ok(Shape::Optional(inner)) = shape::<RawTarget>(&[Step::Key("max_connections")]) else { panic!() };
        assert_eq!(*inner, Shape::Integer { signed: false });
        let Ok(Shape::List(fault)) = shape::<RawTarget>(&[Step::Key("fault")]) else { panic!("a list") };
        assert!(matches!(*fault, Shape::Table { name: "RawFault", .. }));
        let status = shape::<RawTarget>(&[Step::Key("fault"), Step::Inner, Step::Key("status")]);
        assert_eq!(status, Ok(Shape::Optional(Box::new(Shape::Integer { signed: true }))));
    }
}
