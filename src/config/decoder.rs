//! Turns the evaluated attributes of one block into typed values, reporting wrong types,
//! out-of-range values and missing required attributes.
//!
//! Invariant: an attribute whose expression already failed to evaluate (`value: None`) is
//! never reported again, as missing or otherwise; it only makes the block fail.

use super::functions::parse_number;
use super::reporter::{did_you_mean, Reporter};
use super::source::Loc;
use super::var_type::describe;
use hcl::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct AttrValue {
    /// `None` when evaluating the expression failed (and was reported).
    pub value: Option<Value>,
    /// Where the value's expression starts.
    pub loc: Loc,
}

/// A block's attributes and nested blocks after evaluation.
#[derive(Debug, Clone, Default)]
pub struct EvaluatedBody {
    pub attrs: Vec<(String, AttrValue)>,
    pub blocks: Vec<(String, Loc, EvaluatedBody)>,
}

impl EvaluatedBody {
    /// `over`'s attributes and nested blocks replace this body's ones of the same name.
    pub fn merged_with(&self, over: &EvaluatedBody) -> EvaluatedBody {
        let mut out = self.clone();
        for (name, value) in &over.attrs {
            out.attrs.retain(|(n, _)| n != name);
            out.attrs.push((name.clone(), value.clone()));
        }
        for block in &over.blocks {
            out.blocks.retain(|(n, _, _)| *n != block.0);
            out.blocks.push(block.clone());
        }
        out
    }
}

pub struct Decoder<'a> {
    reporter: &'a mut Reporter,
    body: &'a EvaluatedBody,
    /// The block's location, for missing attributes.
    block: Loc,
    /// `cluster `web``, for messages.
    what: String,
    ok: bool,
}

impl<'a> Decoder<'a> {
    pub fn new(
        reporter: &'a mut Reporter,
        body: &'a EvaluatedBody,
        block: Loc,
        what: impl Into<String>,
    ) -> Self {
        Decoder {
            reporter,
            body,
            block,
            what: what.into(),
            ok: true,
        }
    }

    /// `Some(settings)` when nothing failed.
    pub fn done<T>(&self, value: T) -> Option<T> {
        self.ok.then_some(value)
    }

    fn attr(&self, name: &str) -> Option<&'a AttrValue> {
        self.body
            .attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The value of `name`, `None` when absent, null or failed (a failure fails the block).
    pub fn get(&mut self, name: &str) -> Option<Value> {
        let attr = self.attr(name)?;
        match &attr.value {
            None => {
                self.ok = false;
                None
            }
            Some(Value::Null) => None,
            Some(v) => Some(v.clone()),
        }
    }

    /// Whether `name` is set to a non-null value that evaluated.
    pub fn has_value(&self, name: &str) -> bool {
        self.attr(name)
            .is_some_and(|a| a.value.as_ref().is_some_and(|v| !v.is_null()))
    }

    fn loc(&self, name: &str) -> Loc {
        self.attr(name).map_or(self.block, |a| a.loc)
    }

    /// Reports a problem with the value of attribute `name`.
    pub fn invalid(&mut self, name: &str, message: String, help: String) {
        self.ok = false;
        let loc = self.loc(name);
        self.reporter.error(loc, message, help);
    }

    /// Reports a required attribute as missing, unless it is there but failed.
    pub fn missing(&mut self, name: &str, example: &str) {
        self.ok = false;
        if self.attr(name).is_some_and(|a| a.value.is_none()) {
            return;
        }
        self.reporter.error(
            self.block,
            format!("missing required attribute `{name}` in {}", self.what),
            format!("add `{name} = {example}` to the block"),
        );
    }

    fn wrong_type(&mut self, name: &str, expected: &str, got: &Value, example: &str) {
        self.invalid(
            name,
            format!("`{name}` must be {expected}, got {}", describe(got)),
            format!("write {expected}, for example `{name} = {example}`"),
        );
    }

    pub fn string(&mut self, name: &str, default: Option<&str>) -> String {
        self.optional_string(name)
            .or_else(|| default.map(str::to_string))
            .unwrap_or_else(|| {
                self.missing(name, "\"...\"");
                String::new()
            })
    }

    /// A string, or `None` when absent or null. Numbers and bools convert, as in Terraform.
    pub fn optional_string(&mut self, name: &str) -> Option<String> {
        match self.get(name)? {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.wrong_type(name, "a string", &other, "\"...\"");
                None
            }
        }
    }

    /// One of `choices` (or `default` when absent), with a suggestion for near misses.
    pub fn one_of(&mut self, name: &str, default: Option<&str>, choices: &[&str]) -> String {
        let s = self.string(name, default);
        let given = self
            .attr(name)
            .is_some_and(|a| matches!(a.value, Some(Value::String(_))));
        if given && !choices.contains(&s.as_str()) {
            let list = choices
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let help = did_you_mean(&s, choices.iter().copied(), format!("use one of {list}"));
            self.invalid(name, format!("invalid {name} `{s}`"), help);
        }
        s
    }

    /// A whole number in `min..=max`.
    pub fn whole(&mut self, name: &str, default: Option<i64>, min: i64, max: i64) -> i64 {
        let Some(value) = self.get(name) else {
            return default.unwrap_or_else(|| {
                self.missing(name, &min.max(1).to_string());
                min
            });
        };
        let number = match &value {
            Value::String(s) => parse_number(s),
            v => Some(v.clone()),
        };
        let Some(n) = number
            .as_ref()
            .and_then(Value::as_f64)
            .filter(|n| n.fract() == 0.0)
        else {
            self.wrong_type(name, "a whole number", &value, &min.max(1).to_string());
            return min;
        };
        if n < min as f64 || n > max as f64 {
            let bound = if n < min as f64 {
                format!("at least {min}")
            } else {
                format!("at most {max}")
            };
            self.invalid(
                name,
                format!("`{name}` must be {bound}, got {n}"),
                format!("use a whole number between {min} and {max}"),
            );
            return min;
        }
        n as i64
    }

    pub fn port(&mut self, name: &str, default: Option<u16>) -> u16 {
        let n = self.whole(name, default.map(i64::from), 1, 65_535);
        u16::try_from(n).unwrap_or(1)
    }

    pub fn number(&mut self, name: &str, default: Option<f64>) -> f64 {
        let Some(value) = self.get(name) else {
            return default.unwrap_or_else(|| {
                self.missing(name, "1");
                0.0
            });
        };
        let number = match &value {
            Value::String(s) => parse_number(s),
            v => Some(v.clone()),
        };
        match number.as_ref().and_then(Value::as_f64) {
            Some(n) => n,
            None => {
                self.wrong_type(name, "a number", &value, "0.5");
                0.0
            }
        }
    }

    pub fn bool(&mut self, name: &str, default: Option<bool>) -> bool {
        match self.get(name) {
            Some(Value::Bool(b)) => b,
            Some(Value::String(s)) if s == "true" || s == "false" => s == "true",
            Some(other) => {
                self.wrong_type(name, "a bool", &other, "true");
                false
            }
            None => default.unwrap_or_else(|| {
                self.missing(name, "true");
                false
            }),
        }
    }

    /// A list of strings, `None` when absent.
    pub fn string_list(&mut self, name: &str) -> Option<Vec<String>> {
        let value = self.get(name)?;
        let items = value
            .as_array()
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
        if items.is_none() {
            self.wrong_type(name, "a list of strings", &value, "[\"...\"]");
        }
        items
    }

    /// A map of strings (numbers and bools convert); empty when absent.
    pub fn string_map(&mut self, name: &str) -> BTreeMap<String, String> {
        let Some(value) = self.get(name) else {
            return BTreeMap::new();
        };
        let map = value.as_object().and_then(|o| {
            o.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(_) | Value::Bool(_) => Some((k.clone(), v.to_string())),
                    _ => None,
                })
                .collect()
        });
        map.unwrap_or_else(|| {
            self.wrong_type(name, "a map of strings", &value, "{ team = \"...\" }");
            BTreeMap::new()
        })
    }

    /// Decodes the nested block `name` with `f`; `None` when absent or when it failed.
    pub fn nested<T>(
        &mut self,
        name: &str,
        f: impl FnOnce(&mut Decoder) -> Option<T>,
    ) -> Option<T> {
        let (_, loc, body) = self.body.blocks.iter().find(|(n, _, _)| n == name)?;
        let what = format!("`{name}` of {}", self.what);
        let mut inner = Decoder::new(self.reporter, body, *loc, what);
        let result = f(&mut inner);
        if result.is_none() {
            self.ok = false;
        }
        result
    }
}
