//! Reading a desired resource's attributes, and building observed ones.

use crate::topology::Desired;
use anyhow::Context as _;
use serde_json::{Map, Value};

pub(crate) fn map<const N: usize>(pairs: [(&str, Value); N]) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

pub(crate) fn str_attr<'a>(d: &'a Desired, key: &str) -> anyhow::Result<&'a str> {
    d.attrs.get(key).and_then(Value::as_str).with_context(|| {
        format!(
            "{}: attribute `{key}` is missing or not a string",
            d.address
        )
    })
}
