//! Checked arithmetic for spec expressions.
//!
//! hcl-rs evaluates `+ - * / %` with Rust's operators on its `Number` (hcl-primitives
//! `number.rs`): `1 % 0` and `i64::MIN % -1` panic, integer overflow panics in debug
//! builds and wraps in release builds, and `1 / 0` yields an infinite "number" that trips a
//! debug assertion. So before hcl-rs sees an expression, every arithmetic operation in it
//! is rewritten into a call of a checked function whose name carries the operator and its
//! byte offset: a failure comes back as an error that points at the operator.
//!
//! Invariant: a rewritten expression holds no arithmetic operator, and the functions it
//! calls return errors, never panic, never produce a non-finite number.

use super::var_type::describe;
use hcl::eval::{Context, FuncArgs, FuncDef, ParamType};
use hcl::{Number, Value};
use hcl_edit::expr::{BinaryOperator, Expression, FuncCall, FuncName};
use hcl_edit::template::ForTemplateExpr;
use hcl_edit::visit_mut::{visit_expr_mut, visit_for_template_expr_mut, VisitMut};
use hcl_edit::{Ident, Span};

const PREFIX: &str = "__standby_arith_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Op {
    fn of(operator: BinaryOperator) -> Option<Op> {
        match operator {
            BinaryOperator::Plus => Some(Op::Add),
            BinaryOperator::Minus => Some(Op::Sub),
            BinaryOperator::Mul => Some(Op::Mul),
            BinaryOperator::Div => Some(Op::Div),
            BinaryOperator::Mod => Some(Op::Rem),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Rem => "rem",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Rem => "%",
        }
    }

    fn func(self) -> hcl::eval::Func {
        match self {
            Op::Add => |a| apply(Op::Add, &a),
            Op::Sub => |a| apply(Op::Sub, &a),
            Op::Mul => |a| apply(Op::Mul, &a),
            Op::Div => |a| apply(Op::Div, &a),
            Op::Rem => |a| apply(Op::Rem, &a),
        }
    }
}

/// `expr` with its arithmetic rewritten into checked calls, declared in `ctx`.
pub fn rewrite(expr: &Expression, ctx: &mut Context) -> Expression {
    let mut rewriter = Rewriter::default();
    let mut out = expr.clone();
    rewriter.visit_expr_mut(&mut out);
    for (name, op) in rewriter.calls {
        let def = FuncDef::builder()
            .params([ParamType::Any, ParamType::Any])
            .build(op.func());
        ctx.declare_func(Ident::new_unchecked(name), def);
    }
    out
}

/// The byte offset of the operator a failed checked call stands for, from its name.
pub fn failed_operator(function: &str) -> Option<usize> {
    let rest = function.strip_prefix(PREFIX)?;
    let (_, offset) = rest.split_once('_')?;
    offset.parse().ok()
}

#[derive(Default)]
struct Rewriter {
    calls: Vec<(String, Op)>,
}

impl VisitMut for Rewriter {
    // hcl-edit's default walk skips the collection of a `%{ for }` directive.
    fn visit_for_template_expr_mut(&mut self, node: &mut ForTemplateExpr) {
        self.visit_expr_mut(&mut node.collection_expr);
        visit_for_template_expr_mut(self, node);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expression) {
        visit_expr_mut(self, expr);
        let Expression::BinaryOp(binary) = expr else {
            return;
        };
        let Some(op) = Op::of(*binary.operator.value()) else {
            return;
        };
        let offset = binary
            .operator
            .span()
            .or_else(|| binary.span())
            .map_or(0, |s| s.start);
        let name = format!("{PREFIX}{}_{offset}", op.name());
        let lhs = std::mem::replace(&mut binary.lhs_expr, Expression::null());
        let rhs = std::mem::replace(&mut binary.rhs_expr, Expression::null());
        let call = FuncCall::new(
            FuncName::new(Ident::new_unchecked(name.clone())),
            vec![lhs, rhs].into(),
        );
        *expr = Expression::FuncCall(Box::new(call));
        self.calls.push((name, op));
    }
}

fn apply(op: Op, args: &FuncArgs) -> Result<Value, String> {
    let symbol = op.symbol();
    let (Some(Value::Number(a)), Some(Value::Number(b))) = (args.first(), args.get(1)) else {
        let got: Vec<String> = args.iter().map(describe).collect();
        return Err(format!(
            "`{symbol}` needs two numbers, got {}",
            got.join(" and ")
        ));
    };
    let (a, b) = (*a, *b);
    if matches!(op, Op::Div | Op::Rem) && b.as_f64() == Some(0.0) {
        let what = if op == Op::Div {
            "division"
        } else {
            "remainder"
        };
        return Err(format!("{what} by zero in `{a} {symbol} {b}`"));
    }
    let exact = match (integer(a), integer(b)) {
        (Some(x), Some(y)) if op != Op::Div => Some(match op {
            Op::Add => x.checked_add(y),
            Op::Sub => x.checked_sub(y),
            Op::Mul => x.checked_mul(y),
            _ => x.checked_rem(y),
        }),
        _ => None,
    };
    let result = match exact {
        Some(n) => n.and_then(from_integer),
        None => {
            let (x, y) = (
                a.as_f64().unwrap_or(f64::NAN),
                b.as_f64().unwrap_or(f64::NAN),
            );
            let f = match op {
                Op::Add => x + y,
                Op::Sub => x - y,
                Op::Mul => x * y,
                Op::Div => x / y,
                Op::Rem => x % y,
            };
            Number::from_f64(f)
        }
    };
    result
        .map(Value::Number)
        .ok_or_else(|| format!("`{a} {symbol} {b}` is out of range"))
}

/// How to fix the failure `message` of a checked operation.
pub fn help(message: &str) -> &'static str {
    if message.contains(" by zero ") {
        "the divisor is zero: check the values this operation is given"
    } else if message.ends_with("is out of range") {
        "whole numbers run from -9223372036854775808 to 18446744073709551615 and decimals must be finite"
    } else {
        "arithmetic takes two numbers: check the values this operation is given"
    }
}

fn integer(n: Number) -> Option<i128> {
    if n.is_f64() {
        return None;
    }
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn from_integer(n: i128) -> Option<Number> {
    if let Ok(u) = u64::try_from(n) {
        return Some(Number::from(u));
    }
    i64::try_from(n).ok().map(Number::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::eval::Evaluate;

    fn eval(src: &str) -> Result<Value, String> {
        let parsed = hcl_edit::parser::parse_expr(src).unwrap();
        let mut ctx = Context::new();
        let rewritten: hcl::Expression = rewrite(&parsed, &mut ctx).into();
        rewritten.evaluate(&ctx).map_err(|e| match e.kind() {
            hcl::eval::ErrorKind::FuncCall(name, message) => {
                format!("{message} @{:?}", failed_operator(&name.to_string()))
            }
            other => other.to_string(),
        })
    }

    #[test]
    fn arithmetic_keeps_hcl_semantics() {
        let ok = |src: &str| serde_json::to_string(&eval(src).unwrap()).unwrap();
        assert_eq!(ok("1 + 2 * 3"), "7");
        assert_eq!(ok("7 / 2"), "3.5");
        assert_eq!(ok("6 / 3"), "2");
        assert_eq!(ok("7 % 3"), "1");
        assert_eq!(ok("-7 % 3"), "-1");
        assert_eq!(ok("1 - 3"), "-2");
        assert_eq!(ok("0.5 + 1"), "1.5");
        assert_eq!(ok("18446744073709551615 - 1"), "18446744073709551614");
        assert_eq!(ok("[for x in [1, 2] : x * 10]"), "[10,20]");
        assert_eq!(ok(r#""%{ for x in [1 + 1] }${x * 2}%{ endfor }""#), "\"4\"");
        assert_eq!(ok("true ? 2 - 1 : 0"), "1");
    }

    #[test]
    fn failures_are_errors_at_the_operator() {
        assert_eq!(
            eval("1 / 0").unwrap_err(),
            "division by zero in `1 / 0` @Some(2)"
        );
        assert_eq!(
            eval("[1, 2 % 0]").unwrap_err(),
            "remainder by zero in `2 % 0` @Some(6)"
        );
        assert!(eval("1.5 % 0.0")
            .unwrap_err()
            .starts_with("remainder by zero"));
        for src in [
            "18446744073709551615 + 1",
            "-9223372036854775808 - 1",
            "-9223372036854775808 % -1 - 9223372036854775808 * 4",
            "4294967296 * 4294967296",
            "1e308 * 10",
            "1e308 / 1e-308",
            "-1e308 - 1e308",
        ] {
            let err = eval(src).unwrap_err();
            assert!(err.contains("is out of range"), "{src}: {err}");
        }
        assert_eq!(ok_json("-9223372036854775808 % -1"), "0");
        assert!(eval(r#""a" + 1"#)
            .unwrap_err()
            .starts_with("`+` needs two numbers, got string \"a\" and number 1"));
    }

    fn ok_json(src: &str) -> String {
        serde_json::to_string(&eval(src).unwrap()).unwrap()
    }
}
