//! The secret references of a value, found while serde serializes it: every struct or map of
//! exactly two entries, `env` and `tf_var`, both strings (a `SecretRef`, whatever holds it).
//! Nothing is built on the way: converting a 1,000-VM stack to a `serde_json` value first cost
//! a check 7–13 ms of CPU beside the render.

use serde::ser::{self, Impossible, Serialize};

use crate::stack::model::SecretRef;

/// Appends to `out` every secret reference inside `value`, in serialization order.
pub fn find(value: &impl Serialize, out: &mut Vec<SecretRef>) {
    // An error only comes from a `Serialize` impl of the model itself: nothing found below it.
    let _ = value.serialize(Walker { out });
}

#[derive(Debug)]
pub struct Stop;

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cannot serialize")
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Stop
    }
}

/// Walks a value, collecting the references it holds.
struct Walker<'a> {
    out: &'a mut Vec<SecretRef>,
}

/// A struct or map being walked: its entries so far, and the `env`/`tf_var` strings among them.
struct Entries<'a> {
    out: &'a mut Vec<SecretRef>,
    count: usize,
    env: Option<String>,
    tf_var: Option<String>,
    /// The key of the map entry whose value comes next.
    key: Option<String>,
}

impl<'a> Entries<'a> {
    fn new(out: &'a mut Vec<SecretRef>) -> Entries<'a> {
        Entries { out, count: 0, env: None, tf_var: None, key: None }
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: Option<&str>, value: &T) -> Result<(), Stop> {
        self.count += 1;
        match key {
            Some("env") => self.env = value.serialize(StringOf).ok().flatten(),
            Some("tf_var") => self.tf_var = value.serialize(StringOf).ok().flatten(),
            _ => {}
        }
        value.serialize(Walker { out: self.out })
    }

    fn end(self) -> Result<(), Stop> {
        if let (2, Some(env), Some(tf_var)) = (self.count, self.env, self.tf_var) {
            self.out.push(SecretRef { env, tf_var });
        }
        Ok(())
    }
}

/// Walks the items of a sequence, a tuple or a variant's fields.
struct Items<'a> {
    out: &'a mut Vec<SecretRef>,
}

impl Items<'_> {
    fn item<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        value.serialize(Walker { out: self.out })
    }
}

macro_rules! nothing_inside {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, _: $ty) -> Result<Self::Ok, Stop> { Ok(Default::default()) })*
    };
}

/// The scalars that hold no reference and are no string: nothing found in them, by both
/// serializers.
macro_rules! no_string_inside {
    () => {
        nothing_inside!(
            serialize_bool(bool),
            serialize_i8(i8),
            serialize_i16(i16),
            serialize_i32(i32),
            serialize_i64(i64),
            serialize_i128(i128),
            serialize_u8(u8),
            serialize_u16(u16),
            serialize_u32(u32),
            serialize_u64(u64),
            serialize_u128(u128),
            serialize_f32(f32),
            serialize_f64(f64),
            serialize_bytes(&[u8]),
            serialize_unit_struct(&'static str),
        );
    };
}

impl<'a> ser::Serializer for Walker<'a> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Items<'a>;
    type SerializeTuple = Items<'a>;
    type SerializeTupleStruct = Items<'a>;
    type SerializeTupleVariant = Items<'a>;
    type SerializeMap = Entries<'a>;
    type SerializeStruct = Entries<'a>;
    type SerializeStructVariant = Entries<'a>;

    no_string_inside!();
    nothing_inside!(serialize_char(char), serialize_str(&str));

    fn serialize_none(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, _: &'static str) -> Result<(), Stop> {
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Items<'a>, Stop> {
        Ok(Items { out: self.out })
    }
    fn serialize_tuple(self, _: usize) -> Result<Items<'a>, Stop> {
        Ok(Items { out: self.out })
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Items<'a>, Stop> {
        Ok(Items { out: self.out })
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Items<'a>, Stop> {
        Ok(Items { out: self.out })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Entries<'a>, Stop> {
        Ok(Entries::new(self.out))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Entries<'a>, Stop> {
        Ok(Entries::new(self.out))
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Entries<'a>, Stop> {
        Ok(Entries::new(self.out))
    }
}

/// The compound serializers whose items are walked alike (`Items`).
macro_rules! walk_items {
    ($($trait:ident::$method:ident),* $(,)?) => {
        $(impl ser::$trait for Items<'_> {
            type Ok = ();
            type Error = Stop;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
                self.item(value)
            }
            fn end(self) -> Result<(), Stop> {
                Ok(())
            }
        })*
    };
}

walk_items!(SerializeSeq::serialize_element, SerializeTuple::serialize_element, SerializeTupleStruct::serialize_field, SerializeTupleVariant::serialize_field);

impl ser::SerializeMap for Entries<'_> {
    type Ok = ();
    type Error = Stop;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        self.key = key.serialize(StringOf)?;
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        let key = self.key.take();
        self.entry(key.as_deref(), value)
    }
    fn end(self) -> Result<(), Stop> {
        Entries::end(self)
    }
}

/// A struct's and a struct variant's fields: entries keyed by the field's name.
macro_rules! walk_fields {
    ($($trait:ident),*) => {
        $(impl ser::$trait for Entries<'_> {
            type Ok = ();
            type Error = Stop;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Result<(), Stop> {
                self.entry(Some(key), value)
            }
            fn end(self) -> Result<(), Stop> {
                Entries::end(self)
            }
        })*
    };
}

walk_fields!(SerializeStruct, SerializeStructVariant);

/// The string a value serializes as (`None` for any other value): a map key, `env`, `tf_var`.
struct StringOf;

impl ser::Serializer for StringOf {
    type Ok = Option<String>;
    type Error = Stop;
    type SerializeSeq = Impossible<Option<String>, Stop>;
    type SerializeTuple = Impossible<Option<String>, Stop>;
    type SerializeTupleStruct = Impossible<Option<String>, Stop>;
    type SerializeTupleVariant = Impossible<Option<String>, Stop>;
    type SerializeMap = Impossible<Option<String>, Stop>;
    type SerializeStruct = Impossible<Option<String>, Stop>;
    type SerializeStructVariant = Impossible<Option<String>, Stop>;

    no_string_inside!();

    fn serialize_char(self, c: char) -> Result<Option<String>, Stop> {
        Ok(Some(c.to_string()))
    }
    fn serialize_str(self, s: &str) -> Result<Option<String>, Stop> {
        Ok(Some(s.to_string()))
    }
    fn serialize_none(self) -> Result<Option<String>, Stop> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Option<String>, Stop> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Option<String>, Stop> {
        Ok(None)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Option<String>, Stop> {
        // What serde_json writes for a unit variant: its name.
        Ok(Some(variant.to_string()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, value: &T) -> Result<Option<String>, Stop> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(self, _: &'static str, _: u32, _: &'static str, _: &T) -> Result<Option<String>, Stop> {
        Ok(None)
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Stop> {
        Err(Stop)
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Stop> {
        Err(Stop)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Stop> {
        Err(Stop)
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeTupleVariant, Stop> {
        Err(Stop)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Stop> {
        Err(Stop)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Stop> {
        Err(Stop)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, _: &'static str, _: usize) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::Serialize;

    use super::*;

    /// What the scan used before: the value converted to JSON, then every object of exactly
    /// `env` and `tf_var`, both strings.
    fn through_json(value: &impl Serialize) -> Vec<SecretRef> {
        fn walk(v: &serde_json::Value, out: &mut Vec<SecretRef>) {
            match v {
                serde_json::Value::Object(map) => {
                    if let (2, Some(serde_json::Value::String(env)), Some(serde_json::Value::String(tf_var))) = (map.len(), map.get("env"), map.get("tf_var")) {
                        out.push(SecretRef { env: env.clone(), tf_var: tf_var.clone() });
                    }
                    map.values().for_each(|v| walk(v, out));
                }
                serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(&serde_json::to_value(value).unwrap(), &mut out);
        out
    }

    fn found(value: &impl Serialize) -> Vec<SecretRef> {
        let mut out = Vec::new();
        find(value, &mut out);
        out
    }

    fn secret(name: &str) -> SecretRef {
        SecretRef { env: name.to_string(), tf_var: name.to_lowercase() }
    }

    #[derive(Serialize)]
    struct Flat {
        name: String,
    }

    #[derive(Serialize)]
    enum Kind {
        Unit,
        Token(SecretRef),
        Pair { env: String, tf_var: String },
    }

    #[derive(Serialize)]
    struct Holder {
        direct: SecretRef,
        maybe: Option<SecretRef>,
        none: Option<SecretRef>,
        list: Vec<SecretRef>,
        /// env and tf_var, and a third entry: not a reference.
        three: BTreeMap<String, String>,
        /// exactly env and tf_var as a map: a reference.
        map: BTreeMap<String, String>,
        /// env is not a string: not a reference.
        numbered: BTreeMap<String, serde_json::Value>,
        kinds: Vec<Kind>,
        tuple: (u8, SecretRef),
        #[serde(flatten)]
        flat: Flat,
        #[serde(skip_serializing_if = "Option::is_none")]
        skipped: Option<u8>,
    }

    #[test]
    fn finds_what_the_json_walk_found_without_building_json() {
        let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
        let holder = Holder {
            direct: secret("A"),
            maybe: Some(secret("B")),
            none: None,
            list: vec![secret("C"), secret("D")],
            three: map(&[("env", "X"), ("tf_var", "x"), ("other", "y")]),
            map: map(&[("env", "E"), ("tf_var", "e")]),
            numbered: [("env".to_string(), serde_json::json!(1)), ("tf_var".to_string(), serde_json::json!("n"))].into(),
            kinds: vec![Kind::Unit, Kind::Token(secret("F")), Kind::Pair { env: "G".into(), tf_var: "g".into() }],
            tuple: (1, secret("H")),
            flat: Flat { name: "flat".into() },
            skipped: None,
        };
        let mut want = through_json(&holder);
        let mut got = found(&holder);
        let envs = |refs: &[SecretRef]| refs.iter().map(|r| r.env.clone()).collect::<Vec<_>>();
        assert_eq!(envs(&got), ["A", "B", "C", "D", "E", "F", "G", "H"], "{got:?}");
        want.sort_by(|a, b| a.env.cmp(&b.env));
        got.sort_by(|a, b| a.env.cmp(&b.env));
        assert_eq!(got, want);
    }
}
