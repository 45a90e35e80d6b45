//! A variable's declared `type` (`string`, `number`, `bool`, `any`, `list(T)`, `set(T)`,
//! `map(T)`) and the Terraform-style conversions of values into it.
//!
//! Invariant: `convert` returns a value of exactly the declared shape or a message saying
//! what did not fit; strings on the command line become typed values only through here.

use super::functions::parse_number;
use hcl::Value;
use hcl_edit::expr::Expression;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VarType {
    Any,
    String,
    Number,
    Bool,
    List(Box<VarType>),
    Set(Box<VarType>),
    Map(Box<VarType>),
}

impl VarType {
    /// Reads a type expression such as `list(string)`; the message says what was wrong.
    pub fn parse(expr: &Expression) -> Result<VarType, String> {
        const HINT: &str =
            "expected `string`, `number`, `bool`, `any`, `list(T)`, `set(T)` or `map(T)`";
        match expr {
            Expression::Variable(v) => match v.as_str() {
                "any" => Ok(VarType::Any),
                "string" => Ok(VarType::String),
                "number" => Ok(VarType::Number),
                "bool" => Ok(VarType::Bool),
                other => Err(format!("unknown type `{other}`; {HINT}")),
            },
            Expression::FuncCall(call) => {
                let name = call.name.name.as_str();
                let args: Vec<&Expression> = call.args.iter().collect();
                let [inner] = args.as_slice() else {
                    return Err(format!("`{name}(...)` takes exactly one element type"));
                };
                let inner = Box::new(VarType::parse(inner)?);
                match name {
                    "list" => Ok(VarType::List(inner)),
                    "set" => Ok(VarType::Set(inner)),
                    "map" => Ok(VarType::Map(inner)),
                    other => Err(format!("unknown type `{other}(...)`; {HINT}")),
                }
            }
            _ => Err(format!("invalid type; {HINT}")),
        }
    }

    /// Whether text from the command line or the environment converts as it is; other
    /// types (collections) parse it as an HCL expression first.
    pub fn is_scalar(&self) -> bool {
        matches!(
            self,
            VarType::String | VarType::Number | VarType::Bool | VarType::Any
        )
    }

    /// Converts `value` like Terraform: numbers and bools become strings, numeric and
    /// boolean strings become numbers and bools, collections convert element-wise.
    pub fn convert(&self, value: Value) -> Result<Value, String> {
        match (self, value) {
            (_, Value::Null) => Ok(Value::Null),
            (VarType::Any, v) => Ok(v),
            (VarType::String, v @ Value::String(_)) => Ok(v),
            (VarType::String, Value::Number(n)) => Ok(Value::from(n.to_string())),
            (VarType::String, Value::Bool(b)) => Ok(Value::from(b.to_string())),
            (VarType::Number, v @ Value::Number(_)) => Ok(v),
            (VarType::Number, Value::String(s)) => {
                parse_number(&s).ok_or_else(|| format!("expected a number, got \"{s}\""))
            }
            (VarType::Bool, v @ Value::Bool(_)) => Ok(v),
            (VarType::Bool, Value::String(s)) if s == "true" || s == "false" => {
                Ok(Value::from(s == "true"))
            }
            (VarType::List(t) | VarType::Set(t), Value::Array(items)) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    let item = t.convert(item)?;
                    if matches!(self, VarType::List(_)) || !out.contains(&item) {
                        out.push(item);
                    }
                }
                Ok(Value::Array(out))
            }
            (VarType::Map(t), Value::Object(entries)) => {
                let mut out = hcl::Map::new();
                for (k, v) in entries {
                    let v = t.convert(v).map_err(|e| format!("in key `{k}`: {e}"))?;
                    out.insert(k, v);
                }
                Ok(Value::Object(out))
            }
            (t, v) => Err(format!("expected {t}, got {}", describe(&v))),
        }
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VarType::Any => f.write_str("any"),
            VarType::String => f.write_str("a string"),
            VarType::Number => f.write_str("a number"),
            VarType::Bool => f.write_str("a bool"),
            VarType::List(t) => write!(f, "a list of {}", plural(t)),
            VarType::Set(t) => write!(f, "a set of {}", plural(t)),
            VarType::Map(t) => write!(f, "a map of {}", plural(t)),
        }
    }
}

fn plural(t: &VarType) -> String {
    match t {
        VarType::Any => "anything".into(),
        other => {
            let s = other.to_string();
            let s = s.strip_prefix("a ").unwrap_or(&s).to_string();
            format!("{s}s")
        }
    }
}

/// A short description of a value for messages: `string "six"`, `a list`, ...
pub fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("bool {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => format!("string \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(src: &str) -> VarType {
        VarType::parse(&hcl_edit::parser::parse_expr(src).unwrap()).unwrap()
    }

    #[test]
    fn parses_type_expressions() {
        assert_eq!(ty("string"), VarType::String);
        assert_eq!(ty("list(number)"), VarType::List(Box::new(VarType::Number)));
        assert_eq!(
            ty("map(list(bool))"),
            VarType::Map(Box::new(VarType::List(Box::new(VarType::Bool))))
        );
        assert!(VarType::parse(&hcl_edit::parser::parse_expr("strin").unwrap()).is_err());
        assert!(
            VarType::parse(&hcl_edit::parser::parse_expr("list(string, number)").unwrap()).is_err()
        );
    }

    #[test]
    fn converts_like_terraform() {
        assert_eq!(
            VarType::Number.convert(Value::from("6")),
            Ok(Value::from(6u64))
        );
        assert_eq!(
            VarType::String.convert(Value::from(6u64)),
            Ok(Value::from("6"))
        );
        assert_eq!(
            VarType::Bool.convert(Value::from("true")),
            Ok(Value::from(true))
        );
        assert_eq!(
            VarType::Number.convert(Value::from("six")),
            Err("expected a number, got \"six\"".to_string())
        );
        assert_eq!(
            ty("list(string)").convert(Value::from(1u64)),
            Err("expected a list of strings, got number 1".to_string())
        );
        assert_eq!(
            ty("set(number)").convert(Value::from(vec![1u64, 1, 2])),
            Ok(Value::from(vec![1u64, 2]))
        );
    }
}
