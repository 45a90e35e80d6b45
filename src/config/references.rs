//! Finds what an expression refers to (`var.x`, `local.x`, `cluster.web`, `module.m.out`)
//! before it is evaluated, so undefined names and cycles get precise locations.
//!
//! Invariant: only traversals rooted at a reserved namespace are references; any other
//! bare name (a `for` variable, say) is left to hcl-rs's evaluator.

use super::component_kind::ComponentKind;
use hcl_edit::expr::{Expression, FuncCall, TraversalOperator};
use hcl_edit::template::ForTemplateExpr;
use hcl_edit::visit::{visit_expr, visit_for_template_expr, visit_func_call, Visit};
use hcl_edit::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    Var,
    Local,
    Module,
    Component(ComponentKind),
}

impl Namespace {
    pub fn parse(s: &str) -> Option<Namespace> {
        match s {
            "var" => Some(Namespace::Var),
            "local" => Some(Namespace::Local),
            "module" => Some(Namespace::Module),
            other => ComponentKind::parse(other).map(Namespace::Component),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Namespace::Var => "var",
            Namespace::Local => "local",
            Namespace::Module => "module",
            Namespace::Component(k) => k.as_str(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub namespace: Namespace,
    /// `x` in `var.x`; `None` for a bare `var`, which is an error.
    pub name: Option<String>,
    /// The attribute right after the name (`out` in `module.m.out`), with its offset.
    pub attr: Option<(String, usize)>,
    /// Byte offset of the reference in its file.
    pub offset: usize,
}

/// Every reference in `expr`, in source order.
pub fn collect(expr: &Expression) -> Vec<Reference> {
    let mut c = Collector::default();
    c.visit_expr(expr);
    c.refs
}

/// Byte offset of the first call of function `name` in `expr`, to point errors at it.
pub fn find_call(expr: &Expression, name: &str) -> Option<usize> {
    struct Finder<'n> {
        name: &'n str,
        found: Option<usize>,
    }
    impl Visit for Finder<'_> {
        fn visit_func_call(&mut self, call: &FuncCall) {
            if self.found.is_none() && call.name.name.as_str() == self.name {
                self.found = call.span().map(|s| s.start);
            }
            visit_func_call(self, call);
        }
    }
    let mut f = Finder { name, found: None };
    f.visit_expr(expr);
    f.found
}

#[derive(Default)]
struct Collector {
    refs: Vec<Reference>,
}

impl Visit for Collector {
    // hcl-edit's default walk skips the collection of a `%{ for }` directive.
    fn visit_for_template_expr(&mut self, node: &ForTemplateExpr) {
        self.visit_expr(&node.collection_expr);
        visit_for_template_expr(self, node);
    }

    fn visit_expr(&mut self, expr: &Expression) {
        let offset = expr.span().map_or(0, |s| s.start);
        match expr {
            Expression::Variable(v) => match Namespace::parse(v.as_str()) {
                Some(namespace) => self.refs.push(Reference {
                    namespace,
                    name: None,
                    attr: None,
                    offset,
                }),
                None => visit_expr(self, expr),
            },
            Expression::Traversal(t) => {
                let namespace = match &t.expr {
                    Expression::Variable(v) => Namespace::parse(v.as_str()),
                    _ => None,
                };
                let Some(namespace) = namespace else {
                    return visit_expr(self, expr);
                };
                let attr_at = |i: usize| match t.operators.get(i).map(|op| op.value()) {
                    Some(TraversalOperator::GetAttr(id)) => Some((
                        id.as_str().to_string(),
                        id.span().map_or(offset, |s| s.start),
                    )),
                    _ => None,
                };
                let name = attr_at(0).map(|(n, _)| n);
                let attr = if name.is_some() { attr_at(1) } else { None };
                self.refs.push(Reference {
                    namespace,
                    name,
                    attr,
                    offset,
                });
                // Index expressions inside the traversal may hold references too.
                for op in &t.operators {
                    if let TraversalOperator::Index(e) = op.value() {
                        self.visit_expr(e);
                    }
                }
            }
            _ => visit_expr(self, expr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(src: &str) -> Vec<(String, Option<String>, Option<String>)> {
        let expr = hcl_edit::parser::parse_expr(src).unwrap();
        collect(&expr)
            .into_iter()
            .map(|r| {
                (
                    r.namespace.as_str().to_string(),
                    r.name,
                    r.attr.map(|a| a.0),
                )
            })
            .collect()
    }

    #[test]
    fn finds_references_in_templates_calls_and_indexes() {
        let got = refs(
            r#""${var.a}-${local.b}" == join(",", module.m.out[local.i]) ? cluster.web.port : 0"#,
        );
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            got,
            vec![
                ("var".into(), s("a"), None),
                ("local".into(), s("b"), None),
                ("module".into(), s("m"), s("out")),
                ("local".into(), s("i"), None),
                ("cluster".into(), s("web"), s("port")),
            ]
        );
    }

    #[test]
    fn ignores_other_names_and_flags_bare_namespaces() {
        assert_eq!(refs("[for x in [1] : x]"), vec![]);
        assert_eq!(refs("var"), vec![("var".into(), None, None)]);
        assert_eq!(
            refs(r#""%{ for s in var.l }${s}%{ endfor }""#),
            vec![("var".into(), Some("l".into()), None)]
        );
    }

    #[test]
    fn finds_calls() {
        let expr = hcl_edit::parser::parse_expr(r#"upper(format("%d", 1))"#).unwrap();
        assert_eq!(find_call(&expr, "format"), Some(6));
    }
}
