//! Evaluates a loaded environment lazily: each variable, local, component and output is
//! computed once, on first reference, after what it references. References are resolved
//! here (with "did you mean" for undefined names); the expression itself is evaluated by
//! hcl-rs with a context holding exactly the values it references.
//!
//! Invariant: every item is computed at most once, an item reached again while it is being
//! computed is a reference cycle (reported once, where it closes), and an item whose
//! computation failed yields `None` without further diagnostics downstream.

use super::component_kind::{ComponentKind, Settings};
use super::decoder::{AttrValue, Decoder, EvaluatedBody};
use super::expression::evaluate;
use super::expression::parse_standalone;
use super::functions;
use super::references::{self, Namespace, Reference};
use super::reporter::{closest, did_you_mean, Reporter};
use super::schema::Schema;
use super::scope::{Scope, ScopeId};
use super::source::{FileId, Loc};
use super::spec::ComponentName;
use hcl::{Map, Value};
use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use hcl_edit::Span;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// A value for a root variable from the command line, the environment or a var file.
#[derive(Debug, Clone)]
pub enum InputValue {
    /// Text, parsed according to the variable's type.
    Text(String),
    /// An evaluated expression from a var file.
    Value(Value),
}

#[derive(Debug, Clone)]
pub struct Input {
    pub value: InputValue,
    /// Where the value was given, for diagnostics.
    pub loc: Loc,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Item {
    Var(String),
    Local(String),
    Component(ComponentKind, String),
    Output(String),
}

enum Slot {
    InProgress,
    Done(Option<Value>),
}

pub struct Evaluator {
    pub reporter: Reporter,
    pub scopes: Vec<Scope>,
    inputs: BTreeMap<String, Input>,
    slots: HashMap<(ScopeId, Item), Slot>,
    stack: Vec<(ScopeId, Item)>,
    /// Decoded components with their evaluated bodies (for per-region merges).
    components: HashMap<(ScopeId, ComponentKind, String), (Settings, EvaluatedBody)>,
}

impl Evaluator {
    pub fn new(reporter: Reporter, scopes: Vec<Scope>, inputs: BTreeMap<String, Input>) -> Self {
        Evaluator {
            reporter,
            scopes,
            inputs,
            slots: HashMap::new(),
            stack: Vec::new(),
            components: HashMap::new(),
        }
    }

    /// Computes every item of every scope, so unused ones are checked too.
    pub fn evaluate_all(&mut self) {
        for id in 0..self.scopes.len() {
            let scope = &self.scopes[id];
            let mut items: Vec<(Item, Loc)> = Vec::new();
            items.extend(
                scope
                    .variables
                    .iter()
                    .map(|v| (Item::Var(v.decl.name.clone()), v.decl.loc)),
            );
            items.extend(
                scope
                    .locals
                    .iter()
                    .map(|l| (Item::Local(l.name.clone()), l.loc)),
            );
            items.extend(
                scope
                    .components
                    .iter()
                    .map(|(k, c)| (Item::Component(*k, c.name.clone()), c.loc)),
            );
            items.extend(
                scope
                    .outputs
                    .iter()
                    .map(|o| (Item::Output(o.name.clone()), o.loc)),
            );
            for (item, loc) in items {
                self.value(id, item, loc);
            }
        }
    }

    /// A decoded component and its evaluated body, when it decoded cleanly.
    pub fn component(
        &self,
        scope: ScopeId,
        kind: ComponentKind,
        name: &str,
    ) -> Option<&(Settings, EvaluatedBody)> {
        self.components.get(&(scope, kind, name.to_string()))
    }

    /// The value of an output, after `evaluate_all`.
    pub fn output(&mut self, scope: ScopeId, name: &str, loc: Loc) -> Option<Value> {
        self.value(scope, Item::Output(name.to_string()), loc)
    }

    fn address(&self, scope: ScopeId, item: &Item) -> String {
        let prefix = self.scopes[scope].prefix();
        match item {
            Item::Var(n) => format!("{prefix}var.{n}"),
            Item::Local(n) => format!("{prefix}local.{n}"),
            Item::Component(k, n) => format!("{prefix}{}.{n}", k.as_str()),
            Item::Output(n) => format!("{prefix}output.{n}"),
        }
    }

    /// The item's value, computing it on first use; `at` is where it is referenced.
    fn value(&mut self, scope: ScopeId, item: Item, at: Loc) -> Option<Value> {
        let key = (scope, item);
        match self.slots.get(&key) {
            Some(Slot::Done(v)) => return v.clone(),
            Some(Slot::InProgress) => {
                let start = self.stack.iter().position(|k| *k == key).unwrap_or(0);
                let mut path: Vec<String> = self.stack[start..]
                    .iter()
                    .map(|(s, i)| format!("`{}`", self.address(*s, i)))
                    .collect();
                path.push(format!("`{}`", self.address(key.0, &key.1)));
                self.reporter.error(
                    at,
                    format!("reference cycle: {}", path.join(" -> ")),
                    "a value cannot depend on itself; remove one of these references".to_string(),
                );
                return None;
            }
            None => {}
        }
        self.slots.insert(key.clone(), Slot::InProgress);
        self.stack.push(key.clone());
        let value = self.compute(key.0, &key.1);
        self.stack.pop();
        self.slots.insert(key, Slot::Done(value.clone()));
        value
    }

    fn compute(&mut self, scope: ScopeId, item: &Item) -> Option<Value> {
        match item {
            Item::Var(name) => self.compute_var(scope, name),
            Item::Local(name) => {
                let local = self.scopes[scope].local(name)?.clone();
                self.eval_expr(scope, local.file, &local.expr)
            }
            Item::Output(name) => {
                let output = self.scopes[scope].output(name)?.clone();
                self.eval_expr(scope, output.file, output.attr("value")?)
            }
            Item::Component(kind, name) => {
                let decl = self.scopes[scope].component(*kind, name)?.clone();
                let body = self.eval_body(scope, decl.file, &decl.block.body, kind.schema());
                let what = format!("{} `{name}`", kind.as_str());
                let settings = Settings::decode(
                    *kind,
                    &mut Decoder::new(&mut self.reporter, &body, decl.loc, what),
                )?;
                let cname = ComponentName {
                    modules: self.scopes[scope].path.clone(),
                    name: name.clone(),
                };
                let value = settings.to_value(*kind, &cname);
                self.components
                    .insert((scope, *kind, name.clone()), (settings, body));
                Some(value)
            }
        }
    }

    fn compute_var(&mut self, scope: ScopeId, name: &str) -> Option<Value> {
        let var = self.scopes[scope].variable(name)?.clone();
        let ty = var.ty.clone();
        // The given value: from the inputs at the root, from the module block otherwise.
        let given: Option<(Option<Value>, Loc)> = match self.scopes[scope].parent.clone() {
            None => self.inputs.get(name).cloned().map(|input| {
                let value = match input.value {
                    InputValue::Value(v) => Some(v),
                    // Scalars convert from the text itself: `--var size=six` then reads
                    // "expected a number, got \"six\"".
                    InputValue::Text(t) if ty.is_scalar() => Some(Value::from(t)),
                    InputValue::Text(t) => match parse_standalone(&t, &self.scopes[scope].dir) {
                        Ok(v) => Some(v),
                        Err(e) => {
                            self.reporter.error(
                                input.loc,
                                format!("invalid value for variable `{name}`: {e}"),
                                format!("give {ty}, written as an HCL expression"),
                            );
                            None
                        }
                    },
                };
                (value, input.loc)
            }),
            Some((parent, module)) => {
                let decl = self.scopes[parent].module(&module)?.decl.clone();
                match decl.attr(name) {
                    Some(expr) => {
                        let loc = Loc::of(decl.file, expr.span());
                        Some((self.eval_expr(parent, decl.file, expr), loc))
                    }
                    None => None,
                }
            }
        };
        let (value, loc) = match given {
            Some((value, loc)) => (value?, loc),
            None => match var.decl.attr("default") {
                Some(expr) => {
                    let loc = Loc::of(var.decl.file, expr.span());
                    (self.eval_expr(scope, var.decl.file, expr)?, loc)
                }
                None => {
                    self.report_missing_var(scope, name, var.decl.loc);
                    return None;
                }
            },
        };
        match ty.convert(value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.reporter.error(
                    loc,
                    format!("invalid value for variable `{name}`: {e}"),
                    format!("variable `{name}` is declared with a type: give {ty}"),
                );
                None
            }
        }
    }

    fn report_missing_var(&mut self, scope: ScopeId, name: &str, var_loc: Loc) {
        match self.scopes[scope].parent.clone() {
            None => self.reporter.error(
                var_loc,
                format!("variable `{name}` has no value"),
                format!(
                    "pass `--var {name}=...`, set it in a `--var-file` or in `STANDBY_VAR_{name}`, \
                     or give the variable a `default`"
                ),
            ),
            Some((parent, module)) => {
                let Some(decl) = self.scopes[parent].module(&module).map(|m| m.decl.loc) else {
                    return;
                };
                self.reporter.error(
                    decl,
                    format!("module `{module}` needs a value for variable `{name}`"),
                    format!("add `{name} = ...` to the module block, or give the variable a `default` in the module"),
                );
            }
        }
    }

    /// Evaluates the attributes (and unlabelled nested blocks) of a body that `schema`
    /// allows; the schema check already reported the others.
    pub fn eval_body(
        &mut self,
        scope: ScopeId,
        file: FileId,
        body: &Body,
        schema: &Schema,
    ) -> EvaluatedBody {
        let mut out = EvaluatedBody::default();
        for attr in body.attributes() {
            let name = attr.key.as_str();
            if schema.any_attrs || schema.attrs.contains(&name) {
                let value = self.eval_expr(scope, file, &attr.value);
                out.attrs.push((
                    name.to_string(),
                    AttrValue {
                        value,
                        loc: Loc::of(file, attr.value.span()),
                    },
                ));
            }
        }
        for block in body.blocks() {
            let kind = block.ident.as_str();
            let nested = schema
                .blocks
                .iter()
                .find(|(n, s)| *n == kind && s.labels == 0);
            if let Some((_, nested)) = nested {
                let inner = self.eval_body(scope, file, &block.body, nested);
                out.blocks
                    .push((kind.to_string(), Loc::of(file, block.ident.span()), inner));
            }
        }
        out
    }

    /// Evaluates `expr`, written in `file`, in `scope`. `None` when it failed (reported).
    pub fn eval_expr(&mut self, scope: ScopeId, file: FileId, expr: &Expression) -> Option<Value> {
        let mut namespaces: BTreeMap<&'static str, Map<String, Value>> = BTreeMap::new();
        let mut ok = true;
        for r in references::collect(expr) {
            match self.resolve(scope, file, &r) {
                Some(value) => {
                    let name = r.name.clone().unwrap_or_default();
                    namespaces
                        .entry(r.namespace.as_str())
                        .or_default()
                        .insert(name, value);
                }
                None => ok = false,
            }
        }
        if !ok {
            return None;
        }
        let mut ctx = functions::context();
        for (ns, values) in namespaces {
            ctx.declare_var(ns, Value::Object(values));
        }
        let dir = self
            .reporter
            .sources
            .path(file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        match evaluate(expr, ctx, &dir) {
            Ok(value) => Some(value),
            Err(failure) => {
                let offset = failure
                    .offset
                    .or_else(|| expr.span().map(|s| s.start))
                    .unwrap_or_default();
                self.reporter
                    .error(Loc { file, offset }, failure.message, failure.help);
                None
            }
        }
    }

    /// The value a reference stands for: `var.x` gives x's value, `module.m` an object of
    /// m's referenced outputs. Reports undefined names.
    fn resolve(&mut self, scope: ScopeId, file: FileId, r: &Reference) -> Option<Value> {
        let loc = Loc {
            file,
            offset: r.offset,
        };
        let ns = r.namespace.as_str();
        let Some(name) = r.name.clone() else {
            self.reporter.error(
                loc,
                format!("`{ns}` must be followed by a name"),
                format!("write `{ns}.NAME`"),
            );
            return None;
        };
        let s = &self.scopes[scope];
        let item = match r.namespace {
            Namespace::Var => s.variable(&name).map(|_| Item::Var(name.clone())),
            Namespace::Local => s.local(&name).map(|_| Item::Local(name.clone())),
            Namespace::Component(kind) => s
                .component(kind, &name)
                .map(|_| Item::Component(kind, name.clone())),
            Namespace::Module => return self.resolve_module(scope, loc, &name, r.attr.as_ref()),
        };
        let Some(item) = item else {
            self.report_undefined(scope, loc, r.namespace, &name);
            return None;
        };
        let value = self.value(scope, item, loc)?;
        if let (Namespace::Component(kind), Some((attr, offset))) = (r.namespace, &r.attr) {
            let keys: Vec<String> = value
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            if !keys.contains(attr) {
                let list = keys
                    .iter()
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(", ");
                self.reporter.error(
                    Loc {
                        file,
                        offset: *offset,
                    },
                    format!("{} `{name}` has no attribute `{attr}`", kind.as_str()),
                    did_you_mean(
                        attr,
                        keys.iter().map(String::as_str),
                        format!("it has {list}"),
                    ),
                );
                return None;
            }
        }
        Some(value)
    }

    /// Reports `ns.name` as undefined, suggesting a close name of the same namespace.
    fn report_undefined(&mut self, scope: ScopeId, loc: Loc, namespace: Namespace, name: &str) {
        let s = &self.scopes[scope];
        let ns = namespace.as_str();
        let (what, candidates, fallback): (&str, Vec<&str>, String) = match namespace {
            Namespace::Var => (
                "variable",
                s.variables.iter().map(|v| v.decl.name.as_str()).collect(),
                format!("declare it with `variable \"{name}\" {{ ... }}`"),
            ),
            Namespace::Local => (
                "local",
                s.locals.iter().map(|l| l.name.as_str()).collect(),
                "define it in a `locals { ... }` block".to_string(),
            ),
            Namespace::Component(kind) => (
                ns,
                s.components
                    .iter()
                    .filter(|(k, _)| *k == kind)
                    .map(|(_, c)| c.name.as_str())
                    .collect(),
                format!("declare it with `{ns} \"{name}\" {{ ... }}`"),
            ),
            Namespace::Module => return,
        };
        let help = match closest(name, candidates) {
            Some(c) => format!("did you mean `{ns}.{c}`?"),
            None => fallback,
        };
        self.reporter
            .error(loc, format!("undefined {what} `{ns}.{name}`"), help);
    }

    fn resolve_module(
        &mut self,
        scope: ScopeId,
        loc: Loc,
        name: &str,
        attr: Option<&(String, usize)>,
    ) -> Option<Value> {
        let s = &self.scopes[scope];
        let Some(module) = s.module(name) else {
            let names: Vec<&str> = s.modules.iter().map(|m| m.decl.name.as_str()).collect();
            let help = match closest(name, names) {
                Some(c) => format!("did you mean `module.{c}`?"),
                None => format!("declare it with `module \"{name}\" {{ source = \"...\" }}`"),
            };
            self.reporter
                .error(loc, format!("undefined module `module.{name}`"), help);
            return None;
        };
        // A module whose source failed to load was reported already.
        let child = module.child?;
        let outputs: Vec<String> = self.scopes[child]
            .outputs
            .iter()
            .map(|o| o.name.clone())
            .collect();
        let wanted: Vec<String> = match attr {
            Some((out, offset)) if !outputs.contains(out) => {
                let help = did_you_mean(
                    out,
                    outputs.iter().map(String::as_str),
                    format!("declare it in the module with `output \"{out}\" {{ value = ... }}`"),
                );
                let at = Loc {
                    file: loc.file,
                    offset: *offset,
                };
                self.reporter
                    .error(at, format!("module `{name}` has no output `{out}`"), help);
                return None;
            }
            Some((out, _)) => vec![out.clone()],
            None => outputs,
        };
        let mut object = Map::new();
        for out in wanted {
            let value = self.value(child, Item::Output(out.clone()), loc)?;
            object.insert(out, value);
        }
        Some(Value::Object(object))
    }
}

#[cfg(test)]
mod tests;
