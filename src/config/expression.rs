//! Evaluation of one expression by hcl-rs: checked arithmetic, no NUL characters, and
//! hcl-rs errors turned into a message, a help and where to point.

use super::arith;
use super::functions;
use super::references;
use super::reporter::did_you_mean;
use hcl::eval::{ErrorKind, Evaluate};
use hcl::Value;
use hcl_edit::expr::Expression;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

/// Why an expression could not be evaluated.
pub(super) struct Failure {
    /// Where to point, when more precise than the expression's start.
    pub offset: Option<usize>,
    pub message: String,
    pub help: String,
}

/// Evaluates `expr` in `ctx` (which declares what it references), with `file(...)` paths
/// relative to `dir`. Arithmetic is checked (see `arith`) and strings holding a NUL
/// character are refused.
pub(super) fn evaluate(
    expr: &Expression,
    mut ctx: hcl::eval::Context,
    dir: &Path,
) -> Result<Value, Failure> {
    let checked: hcl::Expression = arith::rewrite(expr, &mut ctx).into();
    let result = functions::with_base_dir(dir, || {
        catch_unwind(AssertUnwindSafe(|| checked.evaluate(&ctx)))
    });
    match result {
        Ok(Ok(value)) if holds_nul(&value) => Err(Failure {
            offset: None,
            message: "a string in this value contains a NUL character".into(),
            help: "AWS refuses NUL characters in names and tags: remove the `\\u0000`".into(),
        }),
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(describe_eval_error(expr, e.kind())),
        // Not expected: arithmetic, the only known source of panics in hcl-rs, is checked.
        Err(_) => Err(Failure {
            offset: None,
            message: "this expression cannot be evaluated".into(),
            help: "simplify the expression".into(),
        }),
    }
}

fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        _ => false,
    }
}

/// Message, help and where to point, for an hcl-rs evaluation error in `expr`.
fn describe_eval_error(expr: &Expression, kind: &ErrorKind) -> Failure {
    let (message, help, offset) = match kind {
        ErrorKind::UndefinedVar(name) => (
            format!("unknown name `{name}`"),
            "references look like `var.NAME`, `local.NAME`, `cluster.NAME` or `module.NAME.OUTPUT`"
                .to_string(),
            None,
        ),
        ErrorKind::UndefinedFunc(name) => {
            let name = name.to_string();
            let help = did_you_mean(
                &name,
                functions::NAMES.iter().copied(),
                "see the function list in DESIGN.md",
            );
            let at = references::find_call(expr, &name);
            (format!("unknown function `{name}`"), help, at)
        }
        ErrorKind::FuncCall(name, message) => {
            let name = name.to_string();
            match arith::failed_operator(&name) {
                Some(at) => (message.clone(), arith::help(message).to_string(), Some(at)),
                None => (
                    format!("call to `{name}` failed: {message}"),
                    format!("check the arguments of `{name}`"),
                    references::find_call(expr, &name),
                ),
            }
        }
        ErrorKind::Unexpected(value, expected) => (
            format!("expected {expected}, got `{value}`"),
            "check the types of the values in this expression".to_string(),
            None,
        ),
        ErrorKind::NoSuchKey(key) => (
            format!("no key `{key}` in this object"),
            "check the key, or use `lookup(map, key, default)`".to_string(),
            None,
        ),
        ErrorKind::Index(i) => (
            format!("index {i} is out of range"),
            "check the length of the list with `length(...)`".to_string(),
            None,
        ),
        other => (
            other.to_string(),
            "check the operands of this expression".to_string(),
            None,
        ),
    };
    Failure {
        offset,
        message,
        help,
    }
}

/// Parses and evaluates text given for a variable (command line, environment) with the
/// function library only: no references.
pub(super) fn parse_standalone(text: &str, dir: &Path) -> Result<Value, String> {
    let expr = hcl_edit::parser::parse_expr(text)
        .map_err(|e| format!("cannot parse `{text}`: {}", e.message()))?;
    eval_standalone(&expr, dir).map_err(|f| f.message)
}

/// Evaluates an expression with the function library only (var files, typed CLI values).
pub(super) fn eval_standalone(expr: &Expression, dir: &Path) -> Result<Value, Failure> {
    evaluate(expr, functions::context(), dir)
}
