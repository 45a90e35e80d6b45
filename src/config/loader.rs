//! Drives a load: reads the environment directory and the module directories it uses,
//! gathers variable values, evaluates everything, decodes the root blocks (`service`,
//! `region`, `standby`) and assembles the `Spec`.
//!
//! Invariant: a `Spec` comes out only when no diagnostic was reported; otherwise every
//! diagnostic found comes out, sorted by location.

use super::component_kind::{ComponentKind, Settings};
use super::decoder::{Decoder, EvaluatedBody};
use super::evaluator::{eval_standalone, Evaluator, Input, InputValue};
use super::reporter::{closest, did_you_mean, Reporter};
use super::schema;
use super::scope::{BlockDecl, Scope, ScopeId};
use super::source::{normalize, FileId, Loc};
use super::spec::{Backend, Component, ComponentName, DriftIgnore, Region, Role, Service, Spec};
use super::{Diagnostics, VarInputs};
use hcl_edit::expr::Expression;
use hcl_edit::structure::{Body, Structure};
use hcl_edit::Span;
use ipnet::Ipv4Net;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

const ROOT: ScopeId = 0;

/// A per-region override block: `region "r" { cluster "web" { ... } }`.
struct Override {
    region: String,
    kind: ComponentKind,
    component: String,
    loc: Loc,
    body: EvaluatedBody,
}

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
        let mut root = Scope {
            dir: shown_dir,
            ..Scope::default()
        };
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

    /// Reads and parses every `*.hcl` file of `dir`, sorted by name. Unreadable, non-UTF-8
    /// and syntactically wrong files are reported and left out.
    fn read_dir(&mut self, dir: &Path) -> std::io::Result<Vec<(FileId, Body)>> {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "hcl") && p.is_file())
            .collect();
        paths.sort();
        let mut files = Vec::new();
        for path in paths {
            if let Some(parsed) = self.read_file(&path) {
                files.push(parsed);
            }
        }
        Ok(files)
    }

    fn read_file(&mut self, path: &Path) -> Option<(FileId, Body)> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                let file = self.reporter.sources.add(path.to_path_buf(), String::new());
                self.reporter
                    .error(Loc::start(file), format!("cannot read the file: {e}"), None);
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
            let mut child = Scope {
                path,
                dir,
                parent: Some((scope, decl.name.clone())),
                ..Scope::default()
            };
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
            let Some((file, body)) = self.read_file(&shown) else {
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
                            Err((message, help)) => self.reporter.error(loc, message, help),
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

/// The single `service` block. Both `rto` and `rpo` are required; `tags` defaults to none.
fn decode_service(ev: &mut Evaluator, first_file: FileId) -> Option<Service> {
    let services = ev.scopes[ROOT].services.clone();
    let Some(decl) = services.first() else {
        ev.reporter.error(
            Loc::start(first_file),
            "the environment declares no `service`",
            "add `service \"NAME\" { rto = \"15m\"  rpo = \"5m\" }` to one of its files"
                .to_string(),
        );
        return None;
    };
    for extra in &services[1..] {
        let first = ev.reporter.sources.describe(decl.loc);
        ev.reporter.error(
            extra.loc,
            "more than one `service` in the environment",
            format!("an environment describes exactly one service, already declared at {first}; remove this one"),
        );
    }
    let body = ev.eval_body(ROOT, decl.file, &decl.block.body, &schema::SERVICE);
    let mut d = Decoder::new(
        &mut ev.reporter,
        &body,
        decl.loc,
        format!("service `{}`", decl.name),
    );
    let rto = duration(&mut d, "rto");
    let rpo = duration(&mut d, "rpo");
    let tags = d.string_map("tags");
    for key in tags.keys().filter(|k| reserved_tag(k)) {
        d.invalid(
            "tags",
            format!("tag `{key}` in `tags` is reserved"),
            "standby sets `Name` and the `standby:*` tags itself and AWS keeps `aws:*`: give the tag another key".to_string(),
        );
    }
    d.done(Service {
        name: decl.name.clone(),
        rto,
        rpo,
        tags,
    })
}

/// Tag keys a spec cannot set: standby's own (`Name`, `standby:*`, see `topology`) and the
/// `aws:` prefix AWS reserves for itself.
fn reserved_tag(key: &str) -> bool {
    crate::topology::is_own_tag(key) || key.to_ascii_lowercase().starts_with("aws:")
}

fn duration(d: &mut Decoder, name: &str) -> std::time::Duration {
    let text = d.string(name, None);
    if !d.has_value(name) {
        return std::time::Duration::ZERO;
    }
    humantime::parse_duration(&text).unwrap_or_else(|_| {
        d.invalid(
            name,
            format!("invalid duration `{text}` for `{name}`"),
            "write a duration such as `90s`, `15m` or `1h`".to_string(),
        );
        std::time::Duration::ZERO
    })
}

/// Every region, with the per-region override blocks found in them. `None` when any
/// region failed or the primary is not exactly one.
fn decode_regions(ev: &mut Evaluator, first_file: FileId) -> (Option<Vec<Region>>, Vec<Override>) {
    let decls = ev.scopes[ROOT].regions.clone();
    if decls.is_empty() {
        let loc = ev.scopes[ROOT]
            .services
            .first()
            .map_or(Loc::start(first_file), |s| s.loc);
        ev.reporter.error(
            loc,
            "the environment declares no region",
            "add `region \"us-east-1\" { role = \"primary\"  cidr = \"10.0.0.0/16\" }`".to_string(),
        );
        return (None, Vec::new());
    }
    let mut regions = Vec::new();
    let mut overrides = Vec::new();
    let mut all_ok = true;
    for decl in &decls {
        overrides.extend(decode_overrides(ev, decl));
        match decode_region(ev, decl) {
            Some(region) => regions.push((region, decl)),
            None => all_ok = false,
        }
    }
    let primaries: Vec<&(Region, &BlockDecl)> = regions
        .iter()
        .filter(|(r, _)| r.role == Role::Primary)
        .collect();
    match primaries.as_slice() {
        [] if all_ok => {
            ev.reporter.error(
                decls[0].loc,
                "no region has the role `primary`",
                "set `role = \"primary\"` on exactly one region".to_string(),
            );
            all_ok = false;
        }
        [first, rest @ ..] if !rest.is_empty() => {
            for (_, decl) in rest {
                let loc = decl
                    .attr("role")
                    .map_or(decl.loc, |e| Loc::of(decl.file, e.span()));
                ev.reporter.error(
                    loc,
                    format!("region `{}` is a second primary", decl.name),
                    format!(
                        "exactly one region is the primary, and `{}` already is; make this one \
                         `warm-standby` or `cold-standby`",
                        first.0.name
                    ),
                );
            }
            all_ok = false;
        }
        _ => {}
    }
    let regions = all_ok.then(|| regions.into_iter().map(|(r, _)| r).collect());
    (regions, overrides)
}

/// A region: `role` and `cidr` (an IPv4 block from /16 to /28) are required; `zones`
/// defaults to `<region>a` and `<region>b`, `capacity` to 0.5 (in (0, 1]).
fn decode_region(ev: &mut Evaluator, decl: &BlockDecl) -> Option<Region> {
    let name = decl.name.clone();
    if !valid_region_name(&name) {
        let loc = Loc::of(decl.file, decl.block.labels.first().and_then(Span::span));
        ev.reporter.error(
            loc,
            format!("`{name}` is not an AWS region name"),
            "write a region name such as `us-east-1` or `eu-west-1`".to_string(),
        );
        return None;
    }
    let body = ev.eval_body(ROOT, decl.file, &decl.block.body, &schema::REGION);
    let mut d = Decoder::new(
        &mut ev.reporter,
        &body,
        decl.loc,
        format!("region `{name}`"),
    );

    let role_text = d.string("role", None);
    let role = Role::parse_declared(&role_text);
    if role.is_none() && d.has_value("role") {
        let roles = ["primary", "warm-standby", "cold-standby"];
        let help = did_you_mean(
            &role_text,
            roles,
            "use `primary`, `warm-standby` or `cold-standby`",
        );
        d.invalid("role", format!("invalid role `{role_text}`"), help);
    }

    let cidr_text = d.string("cidr", None);
    let mut cidr = None;
    if d.has_value("cidr") {
        match cidr_text.parse::<Ipv4Net>() {
            Err(_) => d.invalid(
                "cidr",
                format!("invalid CIDR block `{cidr_text}`"),
                "write an IPv4 block such as `10.0.0.0/16`".to_string(),
            ),
            Ok(net) if net.trunc() != net => d.invalid(
                "cidr",
                format!("CIDR block `{cidr_text}` has host bits set"),
                format!("did you mean `{}`?", net.trunc()),
            ),
            Ok(net) if !(16..=28).contains(&net.prefix_len()) => d.invalid(
                "cidr",
                format!("CIDR block `{cidr_text}` is not between /16 and /28"),
                "a VPC block has a prefix length from /16 to /28, such as `10.0.0.0/16`"
                    .to_string(),
            ),
            Ok(net) => cidr = Some(net),
        }
    }

    let zones = d
        .string_list("zones")
        .unwrap_or_else(|| vec![format!("{name}a"), format!("{name}b")]);
    if d.has_value("zones") {
        if zones.is_empty() {
            d.invalid(
                "zones",
                "`zones` is empty".to_string(),
                format!("list at least one zone, such as `{name}a`"),
            );
        }
        for zone in &zones {
            let suffix = zone.strip_prefix(name.as_str());
            if !suffix.is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase())) {
                d.invalid(
                    "zones",
                    format!("invalid zone `{zone}` for region `{name}`"),
                    format!("a zone is the region name followed by a letter, such as `{name}a`"),
                );
            }
        }
    }

    let capacity = d.number("capacity", Some(0.5));
    if !(capacity > 0.0 && capacity <= 1.0) {
        d.invalid(
            "capacity",
            format!("`capacity` must be greater than 0 and at most 1, got {capacity}"),
            "capacity is the share of each cluster kept running in a standby, such as `0.5`"
                .to_string(),
        );
    }
    let cidr = cidr.unwrap_or_default();
    d.done((role, cidr)).and_then(|(role, cidr)| {
        Some(Region {
            name,
            role: role?,
            cidr,
            zones,
            capacity,
        })
    })
}

/// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`: lower-case words and a number.
fn valid_region_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('-').collect();
    parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

fn decode_overrides(ev: &mut Evaluator, decl: &BlockDecl) -> Vec<Override> {
    let mut out: Vec<Override> = Vec::new();
    for block in decl.block.body.blocks() {
        let (Some(kind), [label]) = (
            ComponentKind::parse(block.ident.as_str()),
            block.labels.as_slice(),
        ) else {
            continue;
        };
        let component = label.as_str().to_string();
        let loc = Loc::of(decl.file, label.span());
        if ev.scopes[ROOT].component(kind, &component).is_none() {
            let names: Vec<&str> = ev.scopes[ROOT]
                .components
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, c)| c.name.as_str())
                .collect();
            let help = match closest(&component, names) {
                Some(c) => format!("did you mean `{c}`?"),
                None => format!(
                    "declare `{} \"{component}\" {{ ... }}` at the top level first",
                    kind.as_str()
                ),
            };
            ev.reporter.error(
                loc,
                format!(
                    "region `{}` overrides {} `{component}`, which is not declared",
                    decl.name,
                    kind.as_str()
                ),
                help,
            );
            continue;
        }
        if out
            .iter()
            .any(|o| o.kind == kind && o.component == component)
        {
            ev.reporter.error(
                loc,
                format!(
                    "duplicate override of {} `{component}` in region `{}`",
                    kind.as_str(),
                    decl.name
                ),
                "merge the two blocks into one".to_string(),
            );
            continue;
        }
        let body = ev.eval_body(ROOT, decl.file, &block.body, kind.schema());
        out.push(Override {
            region: decl.name.clone(),
            kind,
            component,
            loc,
            body,
        });
    }
    out
}

/// `standby { backend "s3" { bucket, key, region, kms_key_id } }`: `bucket`, `key` and
/// `region` are required. `Some(None)` when there is no backend.
fn decode_backend(ev: &mut Evaluator) -> Option<Option<Backend>> {
    let decls = ev.scopes[ROOT].standby.clone();
    for extra in decls.iter().skip(1) {
        ev.reporter.error(
            extra.loc,
            "duplicate `standby` block",
            "keep a single `standby` block".to_string(),
        );
    }
    let Some(decl) = decls.first() else {
        return Some(None);
    };
    let Some(block) = decl.block.body.get_blocks("backend").next() else {
        return Some(None);
    };
    let kind = block.labels.first().map(|l| l.as_str()).unwrap_or_default();
    if kind != "s3" {
        let loc = Loc::of(decl.file, block.labels.first().and_then(Span::span));
        ev.reporter.error(
            loc,
            format!("unsupported backend `{kind}`"),
            "use `backend \"s3\" { ... }`".to_string(),
        );
        return None;
    }
    let body = ev.eval_body(ROOT, decl.file, &block.body, &schema::BACKEND);
    let loc = Loc::of(decl.file, block.ident.span());
    let mut d = Decoder::new(&mut ev.reporter, &body, loc, "backend `s3`");
    let bucket = d.string("bucket", None);
    let key = d.string("key", None);
    let region = d.string("region", None);
    let kms_key_id = d.optional_string("kms_key_id");
    d.done(Some(Backend {
        bucket,
        key,
        region,
        kms_key_id,
    }))
}

/// `drift { ignore "ADDRESS" { attributes, reason, until } }`, from every `drift` block:
/// `reason` is required, `until` is a `YYYY-MM-DD` date and `attributes` only names keys
/// some resource kind manages. Problems are reported; the rules that decoded come back.
fn decode_drift_ignores(ev: &mut Evaluator) -> Vec<DriftIgnore> {
    let decls = ev.scopes[ROOT].drift.clone();
    let mut out = Vec::new();
    for decl in &decls {
        for block in decl.block.body.get_blocks("ignore") {
            let Some(label) = block.labels.first() else {
                continue;
            };
            let address = label.as_str().trim().to_string();
            let label_loc = Loc::of(decl.file, label.span());
            if address.is_empty() || address.contains(char::is_whitespace) {
                ev.reporter.error(
                    label_loc,
                    format!("invalid address `{address}` in a drift ignore rule"),
                    "write an address prefix as `--target` takes it, such as `region.us-east-1.cluster.web`".to_string(),
                );
            }
            let body = ev.eval_body(ROOT, decl.file, &block.body, &schema::DRIFT_IGNORE);
            let loc = Loc::of(decl.file, block.ident.span());
            let mut d = Decoder::new(&mut ev.reporter, &body, loc, format!("ignore `{address}`"));
            let reason = d.string("reason", None);
            if d.has_value("reason") && reason.trim().is_empty() {
                d.invalid(
                    "reason",
                    "`reason` is empty".to_string(),
                    "say why this drift is accepted, such as `reason = \"autoscaling experiments\"`".to_string(),
                );
            }
            let attributes = d.string_list("attributes").unwrap_or_default();
            for key in &attributes {
                if !crate::topology::ATTRIBUTE_KEYS.contains(&key.as_str()) {
                    let help = did_you_mean(
                        key,
                        crate::topology::ATTRIBUTE_KEYS.iter().copied(),
                        format!(
                            "standby manages only {}",
                            crate::topology::ATTRIBUTE_KEYS
                                .iter()
                                .map(|k| format!("`{k}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                    d.invalid(
                        "attributes",
                        format!("unknown attribute `{key}` in ignore `{address}`"),
                        help,
                    );
                }
            }
            let until = d.optional_string("until").and_then(|text| {
                let format = time::macros::format_description!("[year]-[month]-[day]");
                match time::Date::parse(&text, &format) {
                    Ok(date) => Some(date),
                    Err(_) => {
                        d.invalid(
                            "until",
                            format!("invalid date `{text}` for `until`"),
                            "write the last day the rule applies as `YYYY-MM-DD`, such as `2026-12-31`".to_string(),
                        );
                        None
                    }
                }
            });
            if let Some(rule) = d.done(DriftIgnore {
                address,
                attributes,
                reason,
                until,
            }) {
                out.push(rule);
            }
        }
    }
    out
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
