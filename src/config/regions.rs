//! The root blocks that say what the service is and where it runs: `service` and the
//! `region` blocks, with their per-region overrides of components.
//!
//! Invariant: regions come out only when every region decoded, exactly one is the primary,
//! their names are AWS regions and their CIDR blocks are pairwise disjoint.

use super::aws_names::{check_region, check_zone};
use super::component_kind::ComponentKind;
use super::decoder::{Decoder, EvaluatedBody};
use super::evaluator::Evaluator;
use super::reporter::{closest, did_you_mean};
use super::schema;
use super::scope::{BlockDecl, ROOT};
use super::source::{FileId, Loc};
use super::spec::{Region, Role, Service};
use hcl_edit::Span;
use ipnet::Ipv4Net;
use std::time::Duration;

/// A per-region override block: `region "r" { cluster "web" { ... } }`.
pub struct Override {
    pub region: String,
    pub kind: ComponentKind,
    pub component: String,
    pub loc: Loc,
    pub body: EvaluatedBody,
}

/// The single `service` block. Both `rto` and `rpo` are required; `tags` defaults to none;
/// `drill_every` (how old the last drill of a standby may be, for `check`) to no policy.
pub fn decode_service(ev: &mut Evaluator, first_file: FileId) -> Option<Service> {
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
    let rto = duration(&mut d, "rto", "how long a recovery may take, such as `15m`");
    let rpo = duration(
        &mut d,
        "rpo",
        "how much recent data a recovery may lose, such as `5m`",
    );
    let drill_every = d
        .has_value("drill_every")
        .then(|| {
            duration(
                &mut d,
                "drill_every",
                "how long a standby may go without a drill, such as `90d`",
            )
        })
        .filter(|d| !d.is_zero());
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
        drill_every,
    })
}

/// Tag keys a spec cannot set: standby's own (`Name`, `standby:*`, see `topology`) and the
/// `aws:` prefix AWS reserves for itself.
fn reserved_tag(key: &str) -> bool {
    crate::topology::is_own_tag(key) || key.to_ascii_lowercase().starts_with("aws:")
}

/// A required, positive duration; `meaning` completes "the objective is ..." in the help.
fn duration(d: &mut Decoder, name: &str, meaning: &str) -> Duration {
    let text = d.string(name, None);
    if !d.has_value(name) {
        return Duration::ZERO;
    }
    match humantime::parse_duration(&text) {
        Ok(Duration::ZERO) => d.invalid(
            name,
            format!("`{name}` must be longer than zero, got `{text}`"),
            format!("the objective is {meaning}"),
        ),
        Ok(duration) => return duration,
        Err(_) => d.invalid(
            name,
            format!("invalid duration `{text}` for `{name}`"),
            "write a duration such as `90s`, `15m` or `1h`".to_string(),
        ),
    }
    Duration::ZERO
}

/// Every region, with the per-region override blocks found in them. `None` when any
/// region failed or the primary is not exactly one.
pub fn decode_regions(
    ev: &mut Evaluator,
    first_file: FileId,
) -> (Option<Vec<Region>>, Vec<Override>) {
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
    all_ok &= disjoint_blocks(ev, &regions);
    let regions = all_ok.then(|| regions.into_iter().map(|(r, _)| r).collect());
    (regions, overrides)
}

/// Reports each region whose CIDR block overlaps an earlier region's: overlapping VPCs
/// cannot be peered, and a DR layout is peered sooner or later. True when none overlap.
fn disjoint_blocks(ev: &mut Evaluator, regions: &[(Region, &BlockDecl)]) -> bool {
    let mut ok = true;
    for (i, (region, decl)) in regions.iter().enumerate() {
        let Some((earlier, earlier_decl)) = regions[..i].iter().find(|(e, _)| {
            e.cidr.contains(&region.cidr.network()) || region.cidr.contains(&e.cidr.network())
        }) else {
            continue;
        };
        let cidr_loc = |d: &BlockDecl| d.attr("cidr").map_or(d.loc, |e| Loc::of(d.file, e.span()));
        let at = ev.reporter.sources.describe(cidr_loc(earlier_decl));
        let taken: Vec<Ipv4Net> = regions.iter().map(|(r, _)| r.cidr).collect();
        let help = match free_block(region.cidr, &taken) {
            Some(free) => format!("give each region its own block, such as `{free}`"),
            None => "give each region its own block".to_string(),
        };
        ev.reporter.error(
            cidr_loc(decl),
            format!(
                "CIDR block `{}` of region `{}` overlaps `{}` of region `{}` ({at})",
                region.cidr, region.name, earlier.cidr, earlier.name
            ),
            format!("{help}: overlapping VPCs cannot be peered"),
        );
        ok = false;
    }
    ok
}

/// The first block as large as `block`, in the same /8, that overlaps none of `taken`.
fn free_block(block: Ipv4Net, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    let space = Ipv4Net::new(block.network(), 8).ok()?.trunc();
    space.subnets(block.prefix_len()).ok()?.find(|candidate| {
        taken
            .iter()
            .all(|t| !t.contains(&candidate.network()) && !candidate.contains(&t.network()))
    })
}

/// A region: `role` and `cidr` (an IPv4 block from /16 to /28) are required; `zones`
/// defaults to `<region>a` and `<region>b`, `capacity` to 0.5 (in (0, 1]).
fn decode_region(ev: &mut Evaluator, decl: &BlockDecl) -> Option<Region> {
    let name = decl.name.clone();
    if let Err((message, help)) = check_region(&name) {
        let loc = Loc::of(decl.file, decl.block.labels.first().and_then(Span::span));
        ev.reporter.error(loc, message, help);
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

    let cidr = decode_cidr(&mut d);
    let zones = decode_zones(&mut d, &name);

    let capacity = d.number("capacity", Some(0.5));
    if !(capacity > 0.0 && capacity <= 1.0) {
        d.invalid(
            "capacity",
            format!("`capacity` must be greater than 0 and at most 1, got {capacity}"),
            "capacity is the share of each cluster kept running in a standby, such as `0.5`"
                .to_string(),
        );
    }
    d.done((role, cidr)).and_then(|(role, cidr)| {
        Some(Region {
            name,
            role: role?,
            cidr: cidr?,
            zones,
            capacity,
        })
    })
}

/// `cidr`: an IPv4 block from /16 to /28 without host bits. Required.
fn decode_cidr(d: &mut Decoder) -> Option<Ipv4Net> {
    let text = d.string("cidr", None);
    if !d.has_value("cidr") {
        return None;
    }
    match text.parse::<Ipv4Net>() {
        Err(_) => d.invalid(
            "cidr",
            format!("invalid CIDR block `{text}`"),
            "write an IPv4 block such as `10.0.0.0/16`".to_string(),
        ),
        Ok(net) if net.trunc() != net => d.invalid(
            "cidr",
            format!("CIDR block `{text}` has host bits set"),
            format!("did you mean `{}`?", net.trunc()),
        ),
        Ok(net) if !(16..=28).contains(&net.prefix_len()) => d.invalid(
            "cidr",
            format!("CIDR block `{text}` is not between /16 and /28"),
            "a VPC block has a prefix length from /16 to /28, such as `10.0.0.0/16`".to_string(),
        ),
        Ok(net) => return Some(net),
    }
    None
}

/// `zones`: distinct zones of `region`; defaults to `<region>a` and `<region>b`.
fn decode_zones(d: &mut Decoder, region: &str) -> Vec<String> {
    let Some(zones) = d.string_list("zones") else {
        return vec![format!("{region}a"), format!("{region}b")];
    };
    if zones.is_empty() {
        d.invalid(
            "zones",
            "`zones` is empty".to_string(),
            format!("list at least one zone, such as `{region}a`"),
        );
    }
    for (i, zone) in zones.iter().enumerate() {
        if let Err((message, help)) = check_zone(zone, region) {
            d.invalid("zones", message, help);
        } else if zones[..i].contains(zone) {
            d.invalid(
                "zones",
                format!("zone `{zone}` is listed twice"),
                "each zone gets one subnet: list it once".to_string(),
            );
        }
    }
    zones
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
