//! Drives a load: reads the environment directory and the module directories it uses,
//! gathers variable values, evaluates everything, decodes the root blocks (`service`,
//! `region`, `standby`) and assembles the `Spec`.
//!
//! Invariant: a `Spec` comes out only when no diagnostic was reported; otherwise every
//! diagnostic found comes out, sorted by location.

use super::component_kind::{ComponentKind, Settings};
use super::decoder::Decoder;
use super::evaluator::{Evaluator, Input, InputValue};
use super::expression::eval_standalone;
use super::read::{read_regular, FileRole, MAX_SPEC_FILE_BYTES};
use super::regions::{decode_regions, decode_service, Override};
use super::reporter::{did_you_mean, Reporter};
use super::root_blocks::{decode_backend, decode_drift_ignores};
use super::scope::{BlockDecl, Scope, ScopeId, ROOT};
use super::source::{normalize, FileId, Loc};
use super::spec::{Component, ComponentName, Spec};
use super::{Diagnostics, VarInputs};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[derive(Default)]
pub struct Loader {
    reporter: Reporter,
    scopes: Vec<Scope>,
}

impl Loader {
    pub fn load(mut self, env_dir: &Path, vars: &VarInputs) -> Result<Spec, Diagnostics> {
        let shown_dir = normalize(env_dir);
        let canonical = match env_dir.canonicalize() {
            Ok(p) if p.is_dir() => p,
            Ok(_) => return Err(self.directory_error(&shown_dir, "is not a directory")),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(self.directory_error(&shown_dir, "does not exist"))
            }
            Err(e) => return Err(self.directory_error(&shown_dir, &format!("cannot be read: {e}"))),
        };
        let environment = canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let files = match self.read_dir(&shown_dir) {
            Ok(files) if !files.is_empty() => files,
            // Every file failed to read or parse: those diagnostics say it all.
            Ok(_) if self.reporter.has_errors() => return Err(self.reporter.finish()),
            Ok(_) => return Err(self.directory_error(&shown_dir, "holds no .hcl files")),
            Err(e) => return Err(self.directory_error(&shown_dir, &format!("cannot be read: {e}"))),
        };
        let first_file = files[0].0;
        let mut root = Scope::new(Vec::new(), shown_dir, None);
        root.collect(&mut self.reporter, &files);
        self.scopes.push(root);
        self.instantiate_modules(ROOT, vec![canonical.clone()]);
        let inputs = self.read_inputs(vars);

        let mut ev = Evaluator::new(self.reporter, self.scopes, inputs);
        ev.evaluate_all();
        let service = decode_service(&mut ev, first_file);
        let (regions, overrides) = decode_regions(&mut ev, first_file);
        let backend = decode_backend(&mut ev);
        let drift_ignores = decode_drift_ignores(&mut ev);
        let spec = assemble(&mut ev, overrides).and_then(
            |(clusters, databases, buckets, dns, outputs)| {
                Some(Spec {
                    environment,
                    env_dir: canonical,
                    service: service?,
                    regions: regions?,
                    clusters,
                    databases,
                    buckets,
                    dns,
                    outputs,
                    backend: backend?,
                    drift_ignores,
                })
            },
        );
        match spec {
            Some(spec) if !ev.reporter.has_errors() => Ok(spec),
            _ => Err(ev.reporter.finish()),
        }
    }

    fn directory_error(mut self, dir: &Path, problem: &str) -> Diagnostics {
        let file = self.reporter.sources.add(dir.to_path_buf(), String::new());
        self.reporter.error(
            Loc::start(file),
            format!("the environment directory `{}` {problem}", dir.display()),
            "an environment is a directory of `*.hcl` files, one of which holds the `service` block".to_string(),
        );
        self.reporter.finish()
    }

    /// Reads and parses every `*.hcl` entry of `dir`, sorted by name. Entries that are not
    /// readable regular files (dangling links, FIFOs, directories ...), non-UTF-8 and
    /// syntactically wrong files are reported and left out, never skipped silently.
    fn read_dir(&mut self, dir: &Path) -> std::io::Result<Vec<(FileId, Body)>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            if let Some(parsed) = self.read_file(&path, FileRole::Spec) {
                files.push(parsed);
            }
        }
        Ok(files)
    }

    fn read_file(&mut self, path: &Path, role: FileRole) -> Option<(FileId, Body)> {
        let bytes = match read_regular(path, MAX_SPEC_FILE_BYTES) {
            Ok(b) => b,
            Err(e) => {
                let file = self.reporter.sources.add(path.to_path_buf(), String::new());
                let help = role.help(&e);
                self.reporter
                    .error(Loc::start(file), format!("the {} {e}", role.noun()), help);
                return None;
            }
        };
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let offset = e.utf8_error().valid_up_to();
                let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
                let file = self.reporter.sources.add(path.to_path_buf(), lossy);
                self.reporter.error(
                    Loc { file, offset },
                    "the file is not valid UTF-8 text",
                    "spec files are UTF-8 text; is this a binary file with a `.hcl` name?"
                        .to_string(),
                );
                return None;
            }
        };
        if let Some(offset) = text.find('\0') {
            let file = self.reporter.sources.add(path.to_path_buf(), text);
            self.reporter.error(
                Loc { file, offset },
                "the file contains a NUL byte",
                "spec files are text: remove the NUL byte (is this a binary file with a `.hcl` name?)"
                    .to_string(),
            );
            return None;
        }
        let parsed = catch_unwind(AssertUnwindSafe(|| hcl_edit::parser::parse_body(&text)));
        let file = self.reporter.sources.add(path.to_path_buf(), text);
        match parsed {
            Ok(Ok(body)) => Some((file, body)),
            Ok(Err(e)) => {
                let message = format!("syntax error: {}", e.message());
                let (line, column) = (e.location().line(), e.location().column());
                let help =
                    "blocks look like `kind \"name\" { key = value }`; check brackets and quotes"
                        .to_string();
                self.reporter
                    .error_at_line(file, line, column, message, help);
                None
            }
            Err(_) => {
                self.reporter
                    .error(Loc::start(file), "the file cannot be parsed", None);
                None
            }
        }
    }

    /// Loads the module directories used by `scope`, recursively; `ancestry` holds the
    /// directories of the enclosing instances, to stop a module including itself.
    fn instantiate_modules(&mut self, scope: ScopeId, ancestry: Vec<PathBuf>) {
        for i in 0..self.scopes[scope].modules.len() {
            let decl = self.scopes[scope].modules[i].decl.clone();
            let Some(dir) = self.module_dir(&decl) else {
                continue;
            };
            let Ok(canonical) = dir.canonicalize() else {
                continue;
            };
            if ancestry.contains(&canonical) {
                self.reporter.error(
                    source_loc(&decl),
                    format!("module `{}` includes itself", decl.name),
                    "a module cannot use its own directory, directly or through other modules"
                        .to_string(),
                );
                continue;
            }
            let files = match self.read_dir(&dir) {
                Ok(files) if !files.is_empty() => files,
                _ => {
                    self.reporter.error(
                        source_loc(&decl),
                        format!(
                            "the module directory `{}` holds no .hcl files",
                            dir.display()
                        ),
                        "point `source` at a directory of `*.hcl` files".to_string(),
                    );
                    continue;
                }
            };
            let mut path = self.scopes[scope].path.clone();
            path.push(decl.name.clone());
            let mut child = Scope::new(path, dir, Some((scope, decl.name.clone())));
            child.collect(&mut self.reporter, &files);
            self.check_module_arguments(&decl, &child);
            self.scopes.push(child);
            let id = self.scopes.len() - 1;
            self.scopes[scope].modules[i].child = Some(id);
            let mut inner = ancestry.clone();
            inner.push(canonical);
            self.instantiate_modules(id, inner);
        }
    }

    /// The directory `source` names, relative to the file holding the module block.
    fn module_dir(&mut self, decl: &BlockDecl) -> Option<PathBuf> {
        let Some(expr) = decl.attr("source") else {
            self.reporter.error(
                decl.loc,
                format!(
                    "missing required attribute `source` in module `{}`",
                    decl.name
                ),
                "add `source = \"../../modules/NAME\"`, the module's directory".to_string(),
            );
            return None;
        };
        let Expression::String(source) = expr else {
            self.reporter.error(
                source_loc(decl),
                "a module `source` must be a literal string",
                "write the directory as a plain string, without references or templates"
                    .to_string(),
            );
            return None;
        };
        let base = self
            .reporter
            .sources
            .path(decl.file)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let dir = normalize(&base.join(source.as_str()));
        if !dir.is_dir() {
            self.reporter.error(
                source_loc(decl),
                format!("the module directory `{}` does not exist", dir.display()),
                "`source` is a directory relative to the file holding the module block".to_string(),
            );
            return None;
        }
        Some(dir)
    }

    /// Every argument of a module block must be one of the module's variables.
    fn check_module_arguments(&mut self, decl: &BlockDecl, child: &Scope) {
        for attr in decl.block.body.attributes() {
            let name = attr.key.as_str();
            if name == "source" || child.variable(name).is_some() {
                continue;
            }
            let names: Vec<&str> = child
                .variables
                .iter()
                .map(|v| v.decl.name.as_str())
                .collect();
            let help = did_you_mean(
                name,
                names.iter().copied(),
                format!(
                    "declare `variable \"{name}\" {{}}` in the module, or remove this argument"
                ),
            );
            self.reporter.error(
                Loc::of(decl.file, attr.key.span()),
                format!("module `{}` has no variable `{name}`", decl.name),
                help,
            );
        }
    }

    /// Values for the root variables, later sources overriding earlier ones:
    /// `STANDBY_VAR_*`, then var files in order, then `--var` in order.
    fn read_inputs(&mut self, vars: &VarInputs) -> BTreeMap<String, Input> {
        let mut inputs = BTreeMap::new();
        for (name, text) in &vars.env {
            let file = self
                .reporter
                .sources
                .add("<environment>".into(), format!("STANDBY_VAR_{name}={text}"));
            self.add_input(
                &mut inputs,
                name,
                InputValue::Text(text.clone()),
                Loc::start(file),
            );
        }
        for path in &vars.files {
            let shown = normalize(path);
            let Some((file, body)) = self.read_file(&shown, FileRole::Var) else {
                continue;
            };
            let dir = shown.parent().map(Path::to_path_buf).unwrap_or_default();
            for structure in body.iter() {
                match structure {
                    Structure::Attribute(attr) => {
                        let loc = Loc::of(file, attr.value.span());
                        match eval_standalone(&attr.value, &dir) {
                            Ok(value) => {
                                let key_loc = Loc::of(file, attr.key.span());
                                self.add_input(
                                    &mut inputs,
                                    attr.key.as_str(),
                                    InputValue::Value(value),
                                    key_loc,
                                );
                            }
                            Err(failure) => {
                                let loc = failure.offset.map_or(loc, |offset| Loc { file, offset });
                                self.reporter.error(loc, failure.message, failure.help);
                            }
                        }
                    }
                    Structure::Block(block) => self.reporter.error(
                        Loc::of(file, block.ident.span()),
                        "var files hold only `name = value` attributes",
                        "move this block to the environment directory".to_string(),
                    ),
                }
            }
        }
        for (name, text) in &vars.cli {
            let file = self
                .reporter
                .sources
                .add("<command line>".into(), format!("--var {name}={text}"));
            self.add_input(
                &mut inputs,
                name,
                InputValue::Text(text.clone()),
                Loc::start(file),
            );
        }
        inputs
    }

    fn add_input(
        &mut self,
        inputs: &mut BTreeMap<String, Input>,
        name: &str,
        value: InputValue,
        loc: Loc,
    ) {
        let root = &self.scopes[ROOT];
        if root.variable(name).is_none() {
            let names = root.variables.iter().map(|v| v.decl.name.as_str());
            let help = did_you_mean(
                name,
                names,
                format!("declare it with `variable \"{name}\" {{ ... }}` in the environment, or drop this value"),
            );
            self.reporter.error(
                loc,
                format!("a value is given for the undeclared variable `{name}`"),
                help,
            );
            return;
        }
        inputs.insert(name.to_string(), Input { value, loc });
    }
}

fn source_loc(decl: &BlockDecl) -> Loc {
    decl.attr("source")
        .map_or(decl.loc, |e| Loc::of(decl.file, e.span()))
}

type Assembled = (
    Vec<Component<super::spec::ClusterSettings>>,
    Vec<Component<super::spec::DatabaseSettings>>,
    Vec<Component<super::spec::BucketSettings>>,
    Vec<Component<super::spec::DnsSettings>>,
    BTreeMap<String, serde_json::Value>,
);

/// The typed components of every scope (root first, then module instances depth-first
/// in declaration order), with overrides merged, and the root outputs.
fn assemble(ev: &mut Evaluator, overrides: Vec<Override>) -> Option<Assembled> {
    let mut per_region: BTreeMap<(ComponentKind, String), BTreeMap<String, Settings>> =
        BTreeMap::new();
    for o in overrides {
        let Some((_, base)) = ev.component(ROOT, o.kind, &o.component) else {
            continue;
        };
        let merged = base.merged_with(&o.body);
        let what = format!(
            "{} `{}` in region `{}`",
            o.kind.as_str(),
            o.component,
            o.region
        );
        if let Some(s) = Settings::decode(
            o.kind,
            &mut Decoder::new(&mut ev.reporter, &merged, o.loc, what),
        ) {
            per_region
                .entry((o.kind, o.component))
                .or_default()
                .insert(o.region, s);
        }
    }
    let mut out: Assembled = Default::default();
    for id in 0..ev.scopes.len() {
        let components = ev.scopes[id].components.clone();
        for (kind, decl) in components {
            let Some((settings, _)) = ev.component(id, kind, &decl.name).cloned() else {
                continue;
            };
            let name = ComponentName {
                modules: ev.scopes[id].path.clone(),
                name: decl.name.clone(),
            };
            let regional = if id == ROOT {
                per_region.remove(&(kind, decl.name.clone()))
            } else {
                None
            };
            let regional = regional.unwrap_or_default();
            match settings {
                Settings::Cluster(settings) => out.0.push(Component {
                    name,
                    settings,
                    per_region: of_kind(regional, |s| {
                        if let Settings::Cluster(s) = s {
                            Some(s)
                        } else {
                            None
                        }
                    }),
                }),
                Settings::Database(settings) => out.1.push(Component {
                    name,
                    settings,
                    per_region: of_kind(regional, |s| {
                        if let Settings::Database(s) = s {
                            Some(s)
                        } else {
                            None
                        }
                    }),
                }),
                Settings::Bucket(settings) => out.2.push(Component {
                    name,
                    settings,
                    per_region: of_kind(regional, |s| {
                        if let Settings::Bucket(s) = s {
                            Some(s)
                        } else {
                            None
                        }
                    }),
                }),
                Settings::Dns(settings) => out.3.push(Component {
                    name,
                    settings,
                    per_region: of_kind(regional, |s| {
                        if let Settings::Dns(s) = s {
                            Some(s)
                        } else {
                            None
                        }
                    }),
                }),
            }
        }
    }
    let outputs = ev.scopes[ROOT].outputs.clone();
    for o in outputs {
        let value = ev.output(ROOT, &o.name, o.loc)?;
        match serde_json::to_value(&value) {
            Ok(json) => {
                out.4.insert(o.name.clone(), json);
            }
            Err(e) => ev.reporter.error(
                o.loc,
                format!("output `{}` cannot be converted: {e}", o.name),
                None,
            ),
        }
    }
    Some(out)
}

/// The per-region settings of one kind (overrides decode with the component's kind).
fn of_kind<S>(
    regional: BTreeMap<String, Settings>,
    pick: fn(Settings) -> Option<S>,
) -> BTreeMap<String, S> {
    regional
        .into_iter()
        .filter_map(|(region, s)| pick(s).map(|s| (region, s)))
        .collect()
}
