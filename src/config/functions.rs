//! The spec's function library, with Terraform's semantics, as hcl-rs `FuncDef`s.
//!
//! Invariant: functions return `Err(message)` for bad arguments and never panic; messages
//! are lower-case phrases, shown in diagnostics as "call to `f` failed: <message>".

use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::{Map, Number, Value};
use ipnet::Ipv4Net;
use std::cell::RefCell;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::read::{read_regular, MAX_FILE_FUNCTION_BYTES};

/// Names of every function, for "did you mean" suggestions.
pub const NAMES: &[&str] = &[
    "ceil",
    "cidrsubnet",
    "coalesce",
    "concat",
    "contains",
    "file",
    "floor",
    "format",
    "join",
    "keys",
    "length",
    "lookup",
    "lower",
    "max",
    "merge",
    "min",
    "replace",
    "split",
    "tonumber",
    "toset",
    "tostring",
    "upper",
    "values",
];

thread_local! {
    // `FuncDef` takes plain function pointers, so `file` finds the directory of the file
    // being evaluated here rather than in a closure.
    static BASE_DIR: RefCell<PathBuf> = RefCell::new(PathBuf::from("."));
}

/// Runs `f` with `file(...)` paths resolved against `dir`.
pub fn with_base_dir<T>(dir: &Path, f: impl FnOnce() -> T) -> T {
    let previous = BASE_DIR.with(|b| b.replace(dir.to_path_buf()));
    let result = f();
    BASE_DIR.with(|b| *b.borrow_mut() = previous);
    result
}

/// A context declaring every function of the library.
pub fn context() -> Context<'static> {
    use ParamType::{Any, Number as Num, String as Str};
    let any_list = || ParamType::array_of(Any);
    let mut ctx = Context::new();
    let mut def =
        |name: &str, params: Vec<ParamType>, variadic: Option<ParamType>, f: hcl::eval::Func| {
            let mut builder = FuncDef::builder().params(params);
            if let Some(v) = variadic {
                builder = builder.variadic_param(v);
            }
            ctx.declare_func(name, builder.build(f));
        };
    def("file", vec![Str], None, file);
    def("format", vec![Str], Some(Any), format);
    def("join", vec![Str], Some(ParamType::array_of(Any)), join);
    def("split", vec![Str, Str], None, split);
    def("lower", vec![Str], None, lower);
    def("upper", vec![Str], None, upper);
    def("length", vec![Any], None, length);
    def(
        "merge",
        vec![],
        Some(ParamType::nullable(ParamType::object_of(Any))),
        merge,
    );
    def(
        "lookup",
        vec![ParamType::object_of(Any), Str],
        Some(Any),
        lookup,
    );
    def("concat", vec![], Some(any_list()), concat);
    def("contains", vec![any_list(), Any], None, contains);
    def("keys", vec![ParamType::object_of(Any)], None, keys);
    def("values", vec![ParamType::object_of(Any)], None, values);
    def("min", vec![], Some(Num), min);
    def("max", vec![], Some(Num), max);
    def("ceil", vec![Num], None, ceil);
    def("floor", vec![Num], None, floor);
    def("cidrsubnet", vec![Str, Num, Num], None, cidrsubnet);
    def("coalesce", vec![], Some(Any), coalesce);
    def("replace", vec![Str, Str, Str], None, replace);
    def("tostring", vec![Any], None, tostring);
    def("tonumber", vec![Any], None, tonumber);
    def("toset", vec![any_list()], None, toset);
    ctx
}

type Result = std::result::Result<Value, String>;

// Parameter types are checked by hcl-rs before a function runs; these helpers only
// turn the already-checked values into Rust types without unwrapping.
fn str_arg(args: &FuncArgs, i: usize) -> &str {
    args.get(i).and_then(Value::as_str).unwrap_or_default()
}

fn num_arg(args: &FuncArgs, i: usize) -> f64 {
    args.get(i).and_then(Value::as_f64).unwrap_or_default()
}

fn number(f: f64) -> Result {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a finite number".into())
}

/// Reads a regular file of at most `MAX_FILE_FUNCTION_BYTES` of text, relative to the
/// directory of the file being evaluated.
fn file(args: FuncArgs) -> Result {
    let rel = str_arg(&args, 0);
    let path = BASE_DIR.with(|b| b.borrow().join(rel));
    let shown = path.display();
    let bytes =
        read_regular(&path, MAX_FILE_FUNCTION_BYTES).map_err(|e| format!("`{shown}` {e}"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("`{shown}` is not valid UTF-8 text"))?;
    if text.contains('\0') {
        return Err(format!("`{shown}` contains a NUL byte; `file` reads text"));
    }
    Ok(Value::from(text))
}

/// Terraform's `format`: `%s`, `%d`, `%v`, `%q` (quoted), `%f` and `%%`.
fn format(args: FuncArgs) -> Result {
    let spec = str_arg(&args, 0);
    let mut rest = args.iter().skip(1);
    let mut out = String::new();
    let mut chars = spec.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next().ok_or("format string ends with a lone `%`")?;
        if verb == '%' {
            out.push('%');
            continue;
        }
        let arg = rest
            .next()
            .ok_or_else(|| format!("not enough arguments for `%{verb}`"))?;
        match verb {
            's' | 'v' => out.push_str(
                &to_plain_string(arg).ok_or_else(|| format!("`%{verb}` cannot format `{arg}`"))?,
            ),
            'd' => match arg.as_f64() {
                Some(n) if n.fract() == 0.0 => out.push_str(&format!("{n:.0}")),
                _ => return Err(format!("`%d` needs a whole number, got `{arg}`")),
            },
            'f' => match arg.as_f64() {
                Some(n) => out.push_str(&format!("{n:.6}")),
                None => return Err(format!("`%f` needs a number, got `{arg}`")),
            },
            'q' => {
                let s =
                    to_plain_string(arg).ok_or_else(|| format!("`%q` cannot format `{arg}`"))?;
                out.push_str(&serde_json::Value::String(s).to_string());
            }
            other => {
                return Err(format!(
                    "unsupported verb `%{other}`; use %s, %d, %f, %q, %v or %%"
                ))
            }
        }
    }
    if rest.next().is_some() {
        return Err("too many arguments for the format string".into());
    }
    Ok(Value::from(out))
}

/// A primitive as Terraform converts it to a string; `None` for collections and null.
fn to_plain_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn join(args: FuncArgs) -> Result {
    let sep = str_arg(&args, 0);
    let mut parts = Vec::new();
    for list in args.iter().skip(1) {
        for v in list.as_array().into_iter().flatten() {
            parts.push(
                to_plain_string(v)
                    .ok_or_else(|| format!("cannot join `{v}`; elements must be strings"))?,
            );
        }
    }
    Ok(Value::from(parts.join(sep)))
}

fn split(args: FuncArgs) -> Result {
    let (sep, s) = (str_arg(&args, 0), str_arg(&args, 1));
    if sep.is_empty() {
        return Ok(Value::from(
            s.chars().map(|c| c.to_string()).collect::<Vec<_>>(),
        ));
    }
    Ok(Value::from(
        s.split(sep).map(str::to_string).collect::<Vec<_>>(),
    ))
}

fn lower(args: FuncArgs) -> Result {
    Ok(Value::from(str_arg(&args, 0).to_lowercase()))
}

fn upper(args: FuncArgs) -> Result {
    Ok(Value::from(str_arg(&args, 0).to_uppercase()))
}

fn length(args: FuncArgs) -> Result {
    let n = match &args[0] {
        Value::String(s) => s.chars().count(),
        Value::Array(a) => a.len(),
        Value::Object(o) => o.len(),
        other => return Err(format!("cannot take the length of `{other}`")),
    };
    Ok(Value::from(n as u64))
}

fn merge(args: FuncArgs) -> Result {
    let mut out = Map::new();
    for obj in args.iter().filter_map(Value::as_object) {
        for (k, v) in obj {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn lookup(args: FuncArgs) -> Result {
    let key = str_arg(&args, 1);
    if args.len() > 3 {
        return Err("expected a map, a key and at most one default".into());
    }
    match (args[0].as_object().and_then(|m| m.get(key)), args.get(2)) {
        (Some(v), _) => Ok(v.clone()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!(
            "the map has no key `{key}` and no default was given"
        )),
    }
}

fn concat(args: FuncArgs) -> Result {
    Ok(Value::Array(
        args.iter()
            .filter_map(Value::as_array)
            .flatten()
            .cloned()
            .collect(),
    ))
}

fn contains(args: FuncArgs) -> Result {
    let list = args[0].as_array().map_or(&[][..], Vec::as_slice);
    Ok(Value::from(list.contains(&args[1])))
}

fn sorted_entries(v: &Value) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = v.as_object().into_iter().flatten().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn keys(args: FuncArgs) -> Result {
    Ok(Value::from(
        sorted_entries(&args[0])
            .into_iter()
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>(),
    ))
}

fn values(args: FuncArgs) -> Result {
    Ok(Value::Array(
        sorted_entries(&args[0])
            .into_iter()
            .map(|(_, v)| v.clone())
            .collect(),
    ))
}

fn extreme(args: &FuncArgs, pick: fn(f64, f64) -> f64) -> Result {
    let nums: Vec<f64> = args.iter().filter_map(Value::as_f64).collect();
    match nums.split_first() {
        Some((first, rest)) => {
            // Keep the argument itself so integers stay integers.
            let best = rest.iter().fold(*first, |a, b| pick(a, *b));
            let original = args.iter().find(|v| v.as_f64() == Some(best)).cloned();
            original.map_or_else(|| number(best), Ok)
        }
        None => Err("needs at least one number".into()),
    }
}

fn min(args: FuncArgs) -> Result {
    extreme(&args, f64::min)
}

fn max(args: FuncArgs) -> Result {
    extreme(&args, f64::max)
}

fn ceil(args: FuncArgs) -> Result {
    number(num_arg(&args, 0).ceil())
}

fn floor(args: FuncArgs) -> Result {
    number(num_arg(&args, 0).floor())
}

/// Terraform's `cidrsubnet` for IPv4: the `netnum`th subnet of `prefix` with `newbits`
/// more prefix bits.
fn cidrsubnet(args: FuncArgs) -> Result {
    let prefix = str_arg(&args, 0);
    let net: Ipv4Net = prefix
        .parse()
        .map_err(|_| format!("`{prefix}` is not an IPv4 CIDR block"))?;
    let (newbits, netnum) = (num_arg(&args, 1), num_arg(&args, 2));
    if newbits.fract() != 0.0 || newbits < 0.0 || netnum.fract() != 0.0 || netnum < 0.0 {
        return Err("newbits and netnum must be whole numbers of at least 0".into());
    }
    // In floating point first: a huge `newbits` must not overflow the addition.
    if f64::from(net.prefix_len()) + newbits > 32.0 {
        return Err(format!(
            "not enough address space: /{} plus {newbits} bits exceeds /32",
            net.prefix_len()
        ));
    }
    let new_len = u32::from(net.prefix_len()) + newbits as u32;
    let count = 1u64 << (new_len - u32::from(net.prefix_len()));
    if netnum >= count as f64 {
        return Err(format!(
            "netnum {netnum} does not fit in {newbits} bits (at most {})",
            count - 1
        ));
    }
    let host_bits = 32 - new_len;
    let base = u64::from(u32::from(net.network()));
    let addr = base + ((netnum as u64) << host_bits);
    let addr =
        Ipv4Addr::from(u32::try_from(addr).map_err(|_| "the subnet is out of range".to_string())?);
    let subnet = Ipv4Net::new(addr, new_len as u8).map_err(|e| e.to_string())?;
    Ok(Value::from(subnet.to_string()))
}

fn coalesce(args: FuncArgs) -> Result {
    args.iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .cloned()
        .ok_or_else(|| "no non-null, non-empty argument".into())
}

fn replace(args: FuncArgs) -> Result {
    let (s, from, to) = (str_arg(&args, 0), str_arg(&args, 1), str_arg(&args, 2));
    if from.is_empty() {
        return Err("the substring to replace is empty".into());
    }
    Ok(Value::from(s.replace(from, to)))
}

fn tostring(args: FuncArgs) -> Result {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        v => to_plain_string(v)
            .map(Value::from)
            .ok_or_else(|| format!("cannot convert `{v}` to a string")),
    }
}

fn tonumber(args: FuncArgs) -> Result {
    match &args[0] {
        Value::Null => Ok(Value::Null),
        Value::Number(n) => Ok(Value::Number(*n)),
        Value::String(s) => {
            parse_number(s).ok_or_else(|| format!("cannot convert \"{s}\" to a number"))
        }
        v => Err(format!("cannot convert `{v}` to a number")),
    }
}

/// A number written as text, integers kept exact.
pub fn parse_number(s: &str) -> Option<Value> {
    let s = s.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::Number(Number::from(i)));
    }
    s.parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
}

/// Removes duplicates; a set of strings comes out sorted, as Terraform orders it.
fn toset(args: FuncArgs) -> Result {
    let mut out: Vec<Value> = Vec::new();
    for v in args[0].as_array().into_iter().flatten() {
        if !out.contains(v) {
            out.push(v.clone());
        }
    }
    if out.iter().all(Value::is_string) {
        out.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
    }
    Ok(Value::Array(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval(src: &str) -> std::result::Result<Value, String> {
        let expr: hcl::Expression = src.parse().map_err(|e: hcl::Error| e.to_string())?;
        expr.evaluate(&context()).map_err(|e| e.to_string())
    }

    fn ok(src: &str) -> Value {
        eval(src).unwrap_or_else(|e| panic!("{src}: {e}"))
    }

    fn json(src: &str) -> String {
        serde_json::to_string(&ok(src)).unwrap()
    }

    #[test]
    fn file_reads_relative_to_the_base_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("motd.txt"), "hello").unwrap();
        assert_eq!(
            with_base_dir(dir.path(), || ok(r#"file("motd.txt")"#)),
            Value::from("hello")
        );
        let err = with_base_dir(dir.path(), || eval(r#"file("missing.txt")"#)).unwrap_err();
        assert!(err.contains("missing.txt` does not exist"), "{err}");
        let err = eval(r#"file("/dev/zero")"#).unwrap_err();
        assert!(
            err.contains("is a character device, not a regular file"),
            "{err}"
        );
    }

    #[test]
    fn format_verbs() {
        assert_eq!(
            ok(r#"format("%s-%d-%v-%q-%%", "a", 3, true, "b")"#),
            Value::from("a-3-true-\"b\"-%")
        );
        assert_eq!(ok(r#"format("%f", 1.5)"#), Value::from("1.500000"));
        assert!(eval(r#"format("%d", "x")"#).is_err());
        assert!(eval(r#"format("%s %s", "x")"#).is_err());
        assert!(eval(r#"format("%s", "x", "y")"#).is_err());
        assert!(eval(r#"format("%")"#).is_err());
    }

    #[test]
    fn join_and_split() {
        assert_eq!(ok(r#"join(",", ["a", "b"], ["c"])"#), Value::from("a,b,c"));
        assert_eq!(json(r#"split(",", "a,b,,c")"#), r#"["a","b","","c"]"#);
    }

    #[test]
    fn lower_upper() {
        assert_eq!(ok(r#"lower("AbÉ")"#), Value::from("abé"));
        assert_eq!(ok(r#"upper("abé")"#), Value::from("ABÉ"));
    }

    #[test]
    fn length_counts_characters_elements_and_keys() {
        assert_eq!(ok(r#"length("héllo")"#), Value::from(5u64));
        assert_eq!(ok("length([1, 2])"), Value::from(2u64));
        assert_eq!(ok("length({a = 1})"), Value::from(1u64));
        assert!(eval("length(3)").is_err());
    }

    #[test]
    fn merge_later_wins() {
        assert_eq!(
            json("merge({a = 1, b = 2}, {b = 3}, null)"),
            r#"{"a":1,"b":3}"#
        );
    }

    #[test]
    fn lookup_with_and_without_default() {
        assert_eq!(ok(r#"lookup({a = "x"}, "a")"#), Value::from("x"));
        assert_eq!(ok(r#"lookup({a = "x"}, "b", "d")"#), Value::from("d"));
        assert!(eval(r#"lookup({a = "x"}, "b")"#).is_err());
    }

    #[test]
    fn concat_and_contains() {
        assert_eq!(json("concat([1], [2, 3], [])"), "[1,2,3]");
        assert_eq!(ok(r#"contains(["a", "b"], "b")"#), Value::from(true));
        assert_eq!(ok(r#"contains(["a"], "c")"#), Value::from(false));
    }

    #[test]
    fn keys_and_values_are_sorted_by_key() {
        assert_eq!(json("keys({b = 1, a = 2})"), r#"["a","b"]"#);
        assert_eq!(json("values({b = 1, a = 2})"), "[2,1]");
    }

    #[test]
    fn min_max_ceil_floor() {
        assert_eq!(json("min(3, 1.5, 2)"), "1.5");
        assert_eq!(json("max(3, 1, 2)"), "3");
        assert!(eval("max()").is_err());
        assert_eq!(json("ceil(1.2)"), "2");
        assert_eq!(json("floor(-1.2)"), "-2");
    }

    #[test]
    fn cidrsubnet_like_terraform() {
        assert_eq!(
            ok(r#"cidrsubnet("10.0.0.0/16", 8, 2)"#),
            Value::from("10.0.2.0/24")
        );
        assert_eq!(
            ok(r#"cidrsubnet("10.1.0.0/16", 4, 15)"#),
            Value::from("10.1.240.0/20")
        );
        assert_eq!(
            ok(r#"cidrsubnet("172.16.0.0/12", 4, 2)"#),
            Value::from("172.18.0.0/16")
        );
        assert!(eval(r#"cidrsubnet("10.0.0.0/16", 8, 256)"#).is_err());
        assert!(eval(r#"cidrsubnet("10.0.0.0/30", 8, 0)"#).is_err());
        assert!(eval(r#"cidrsubnet("nope", 8, 0)"#).is_err());
        assert!(eval(r#"cidrsubnet("10.0.0.0/16", -1, 0)"#).is_err());
        assert!(eval(r#"cidrsubnet("10.0.0.0/16", 4294967295, 0)"#).is_err());
        assert!(eval(r#"cidrsubnet("10.0.0.0/16", 1e300, 1e300)"#).is_err());
    }

    #[test]
    fn coalesce_skips_null_and_empty() {
        assert_eq!(ok(r#"coalesce(null, "", "b", "c")"#), Value::from("b"));
        assert!(eval(r#"coalesce(null, "")"#).is_err());
    }

    #[test]
    fn replace_substrings() {
        assert_eq!(ok(r#"replace("a-b-c", "-", "_")"#), Value::from("a_b_c"));
    }

    #[test]
    fn conversions() {
        assert_eq!(ok("tostring(5)"), Value::from("5"));
        assert_eq!(ok("tostring(true)"), Value::from("true"));
        assert!(eval("tostring([1])").is_err());
        assert_eq!(json(r#"tonumber("42")"#), "42");
        assert_eq!(json(r#"tonumber("0.5")"#), "0.5");
        assert!(eval(r#"tonumber("six")"#).is_err());
        assert_eq!(json(r#"toset(["b", "a", "b"])"#), r#"["a","b"]"#);
    }
}
