//! A scope is one directory's declarations: the environment root, or one instance of a
//! module. `Scope::collect` sorts a directory's parsed files into variables, locals,
//! outputs, components and modules, checking the schema and duplicate names.
//!
//! Invariant: within a scope, names are unique per kind (later duplicates are reported
//! and dropped) and every kept block passed the schema check of its kind.

use super::component_kind::ComponentKind;
use super::reporter::{did_you_mean, Reporter};
use super::schema::{self, check_block, TOP_LEVEL};
use super::source::{FileId, Loc};
use super::var_type::VarType;
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span;
use std::collections::HashMap;
use std::path::PathBuf;

pub type ScopeId = usize;

/// The environment's own scope; module instances follow it.
pub const ROOT: ScopeId = 0;

/// A labelled block, kept whole for later evaluation.
#[derive(Debug, Clone)]
pub struct BlockDecl {
    pub name: String,
    pub file: FileId,
    /// The block's keyword.
    pub loc: Loc,
    pub block: Block,
}

impl BlockDecl {
    pub fn attr(&self, name: &str) -> Option<&Expression> {
        self.block.body.get_attribute(name).map(|a| &a.value)
    }
}

#[derive(Debug, Clone)]
pub struct VariableDecl {
    pub decl: BlockDecl,
    pub ty: VarType,
}

#[derive(Debug, Clone)]
pub struct LocalDecl {
    pub name: String,
    pub file: FileId,
    pub loc: Loc,
    pub expr: Expression,
}

#[derive(Debug, Clone)]
pub struct ModuleDecl {
    pub decl: BlockDecl,
    /// The instantiated module; `None` when its source could not be loaded.
    pub child: Option<ScopeId>,
}

#[derive(Debug, Default)]
pub struct Scope {
    /// Module instance names from the root down; empty for the root.
    pub path: Vec<String>,
    pub dir: PathBuf,
    /// For a module instance: the scope holding its `module` block, and the block's name.
    pub parent: Option<(ScopeId, String)>,
    pub variables: Vec<VariableDecl>,
    pub locals: Vec<LocalDecl>,
    pub outputs: Vec<BlockDecl>,
    pub components: Vec<(ComponentKind, BlockDecl)>,
    pub modules: Vec<ModuleDecl>,
    /// Root only: `service`, `region` and `standby` blocks.
    pub services: Vec<BlockDecl>,
    pub regions: Vec<BlockDecl>,
    pub standby: Vec<BlockDecl>,
    /// Root only: `drift` blocks (ignore rules).
    pub drift: Vec<BlockDecl>,
    /// Position of each name in its vector: lookups stay constant-time in large specs.
    index: HashMap<Slot, HashMap<String, usize>>,
}

/// Which vector of a scope a name indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Slot {
    Variable,
    Local,
    Output,
    Module,
    Component(ComponentKind),
}

impl Scope {
    /// An empty scope: the root (`path` empty, no `parent`) or a module instance.
    pub fn new(path: Vec<String>, dir: PathBuf, parent: Option<(ScopeId, String)>) -> Scope {
        Scope {
            path,
            dir,
            parent,
            ..Scope::default()
        }
    }

    /// `module.x.` for module scopes, empty for the root: the prefix of addresses.
    pub fn prefix(&self) -> String {
        self.path.iter().map(|m| format!("module.{m}.")).collect()
    }

    pub fn is_root(&self) -> bool {
        self.parent.is_none()
    }

    fn position(&self, slot: Slot, name: &str) -> Option<usize> {
        self.index.get(&slot)?.get(name).copied()
    }

    fn remember(&mut self, slot: Slot, name: &str, position: usize) {
        self.index
            .entry(slot)
            .or_default()
            .insert(name.to_string(), position);
    }

    pub fn variable(&self, name: &str) -> Option<&VariableDecl> {
        self.position(Slot::Variable, name)
            .map(|i| &self.variables[i])
    }

    pub fn local(&self, name: &str) -> Option<&LocalDecl> {
        self.position(Slot::Local, name).map(|i| &self.locals[i])
    }

    pub fn output(&self, name: &str) -> Option<&BlockDecl> {
        self.position(Slot::Output, name).map(|i| &self.outputs[i])
    }

    pub fn component(&self, kind: ComponentKind, name: &str) -> Option<&BlockDecl> {
        self.position(Slot::Component(kind), name)
            .map(|i| &self.components[i].1)
    }

    pub fn module(&self, name: &str) -> Option<&ModuleDecl> {
        self.position(Slot::Module, name).map(|i| &self.modules[i])
    }

    /// Sorts the top-level blocks of `files` into this scope.
    pub fn collect(&mut self, reporter: &mut Reporter, files: &[(FileId, Body)]) {
        for (file, body) in files {
            for structure in body.iter() {
                match structure {
                    Structure::Attribute(attr) => reporter.error(
                        Loc::of(*file, attr.key.span()),
                        format!("unexpected attribute `{}` at the top level", attr.key.as_str()),
                        "attributes belong inside a block; to name a value, put it in `locals { ... }`".to_string(),
                    ),
                    Structure::Block(block) => self.add_block(reporter, *file, block),
                }
            }
        }
    }

    fn add_block(&mut self, reporter: &mut Reporter, file: FileId, block: &Block) {
        let kind = block.ident.as_str();
        let Some((_, schema)) = TOP_LEVEL.iter().find(|(k, _)| *k == kind) else {
            let what = "a spec file".to_string();
            return schema::unknown_block(
                reporter,
                file,
                block,
                TOP_LEVEL.iter().map(|(k, _)| *k),
                &what,
            );
        };
        if !check_block(reporter, file, block, schema) {
            return;
        }
        let loc = Loc::of(file, block.ident.span());
        let name = block
            .labels
            .first()
            .map(|l| l.as_str().to_string())
            .unwrap_or_default();
        let decl = BlockDecl {
            name: name.clone(),
            file,
            loc,
            block: block.clone(),
        };
        if matches!(kind, "service" | "region" | "standby" | "drift") && !self.is_root() {
            return reporter.error(
                loc,
                format!("`{kind}` blocks are declared at the environment root only"),
                "move this block to the environment directory that uses the module".to_string(),
            );
        }
        if !matches!(kind, "locals" | "standby" | "service" | "region" | "drift")
            && !valid_name(&name)
        {
            let label_loc = Loc::of(file, block.labels.first().and_then(Span::span));
            return reporter.error(
                label_loc,
                format!("invalid name `{name}` for {kind}"),
                "names start with a letter and hold only letters, digits, `_` and `-`".to_string(),
            );
        }
        match kind {
            "locals" => self.add_locals(reporter, file, &block.body),
            "variable" => {
                if self.check_unique(reporter, &decl, self.variable(&name).map(|v| v.decl.loc)) {
                    let ty = variable_type(reporter, &decl);
                    self.remember(Slot::Variable, &name, self.variables.len());
                    self.variables.push(VariableDecl { decl, ty });
                }
            }
            "output" => {
                if decl.attr("value").is_none() {
                    reporter.error(
                        loc,
                        format!("missing required attribute `value` in output `{name}`"),
                        "add `value = ...` to the block".to_string(),
                    );
                } else if self.check_unique(reporter, &decl, self.output(&name).map(|o| o.loc)) {
                    self.remember(Slot::Output, &name, self.outputs.len());
                    self.outputs.push(decl);
                }
            }
            "module" => {
                if self.check_unique(reporter, &decl, self.module(&name).map(|m| m.decl.loc)) {
                    self.remember(Slot::Module, &name, self.modules.len());
                    self.modules.push(ModuleDecl { decl, child: None });
                }
            }
            "service" => self.services.push(decl),
            "standby" => self.standby.push(decl),
            "drift" => self.drift.push(decl),
            "region" => {
                let first = self.regions.iter().find(|r| r.name == name).map(|r| r.loc);
                if self.check_unique(reporter, &decl, first) {
                    self.regions.push(decl);
                }
            }
            other => {
                let Some(kind) = ComponentKind::parse(other) else {
                    return;
                };
                if self.check_unique(reporter, &decl, self.component(kind, &name).map(|c| c.loc)) {
                    self.remember(Slot::Component(kind), &name, self.components.len());
                    self.components.push((kind, decl));
                }
            }
        }
    }

    fn add_locals(&mut self, reporter: &mut Reporter, file: FileId, body: &Body) {
        for attr in body.attributes() {
            let name = attr.key.as_str().to_string();
            let loc = Loc::of(file, attr.key.span());
            if let Some(first) = self.local(&name) {
                let at = reporter.sources.describe(first.loc);
                reporter.error(
                    loc,
                    format!("duplicate local `{name}`"),
                    format!("`{name}` is already defined at {at}; rename or remove one"),
                );
                continue;
            }
            self.remember(Slot::Local, &name, self.locals.len());
            self.locals.push(LocalDecl {
                name,
                file,
                loc,
                expr: attr.value.clone(),
            });
        }
    }

    /// Reports `decl` as a duplicate when `first` is set; true when it is unique.
    fn check_unique(&self, reporter: &mut Reporter, decl: &BlockDecl, first: Option<Loc>) -> bool {
        let Some(first) = first else { return true };
        let at = reporter.sources.describe(first);
        let kind = decl.block.ident.as_str();
        reporter.error(
            decl.loc,
            format!("duplicate {kind} `{}`", decl.name),
            format!(
                "{kind} `{}` is already declared at {at}; rename or remove one",
                decl.name
            ),
        );
        false
    }
}

/// The declared type of a variable; `any` when absent or invalid (invalid is reported).
fn variable_type(reporter: &mut Reporter, decl: &BlockDecl) -> VarType {
    let Some(expr) = decl.attr("type") else {
        return VarType::Any;
    };
    VarType::parse(expr).unwrap_or_else(|message| {
        reporter.error(
            Loc::of(decl.file, expr.span()),
            message,
            help_for_type(expr),
        );
        VarType::Any
    })
}

fn help_for_type(expr: &Expression) -> String {
    let written = match expr {
        Expression::Variable(v) => v.as_str().to_string(),
        Expression::FuncCall(c) => c.name.name.as_str().to_string(),
        _ => String::new(),
    };
    let known = ["string", "number", "bool", "any", "list", "set", "map"];
    did_you_mean(
        &written,
        known,
        "write a type such as `string` or `list(string)`",
    )
}

/// A name that can be referenced: `cluster.NAME` must be a valid identifier.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
