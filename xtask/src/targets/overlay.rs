//! A template value that reads as one map made of two: `extra`'s value of a key, else `base`'s. The per-VM contexts use it to add what a template needs beside a VM's fields without
//! copying the VM (its value is the one converted with the stack) into a new map, whose
//! lookups would then compare keys as values.

use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};

#[derive(Debug)]
struct Overlay {
    extra: Value,
    base: Value,
}

/// `extra` over `base` (both maps; a key of `extra` hides the same key of `base`).
pub fn overlay(extra: Value, base: Value) -> Value {
    Value::from_object(Overlay { extra, base })
}

impl Object for Overlay {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        let found = |map: &Value| map.get_attr(name).ok().filter(|v| !v.is_undefined());
        found(&self.extra).or_else(|| found(&self.base))
    }

    /// The keys of `base`, then those of `extra` that `base` has not: the order of the
    /// `#[serde(flatten)]` map this replaces.
    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Value> = self.base.try_iter().map(Iterator::collect).unwrap_or_default();
        keys.extend(self.extra.try_iter().into_iter().flatten().filter(|k| self.base.get_item(k).is_ok_and(|v| v.is_undefined())));
        Enumerator::Values(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_hide_the_base_ones_and_come_after_them() {
        let base = Value::from_serialize(serde_json::json!({"name": "web", "cores": 2}));
        let extra = Value::from_serialize(serde_json::json!({"name": "web_module", "rules": [1]}));
        let both = overlay(extra, base);
        assert_eq!(both.get_attr("name").unwrap().as_str(), Some("web_module"));
        assert_eq!(both.get_attr("cores").unwrap().as_i64(), Some(2));
        assert!(both.get_attr("nothing").unwrap().is_undefined());
        let keys: Vec<String> = both.try_iter().unwrap().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["cores", "name", "rules"]);
    }
}
