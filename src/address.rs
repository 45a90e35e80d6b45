//! Resource addresses such as `region.us-east-1.cluster.web.instance[3]`: parsed and printed
//! here and nowhere else.
//!
//! Invariant: an address is the one name a resource has in plans, state, `--target` and
//! error messages; it is derived from the spec alone, never from AWS identifiers (except
//! `unmanaged.<kind>.<id>`, which names what standby does not manage). It depends on nothing
//! else in the crate.
//!
//! The text of an address is rendered once, when it is built, and kept: ordering, equality
//! and hashing are those of the text, so state files stay sorted as they always were.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A resource address, or a prefix of one (`--target region.us-east-1.cluster.web`).
#[derive(Debug, Clone)]
pub struct Address {
    text: String,
    parts: Result<Parts, AddressError>,
}

impl PartialEq for Address {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Address {}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Address {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.text.cmp(&other.text)
    }
}

impl std::hash::Hash for Address {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.text.hash(h)
    }
}

/// Where an address lives: the first part of its text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `region.<region>.…`: a resource in one region.
    Region(String),
    /// Anything not under a region: hosted zones and their records, IAM roles.
    Global,
    /// `unmanaged.<kind>.<aws id>`: found with the environment's tags but no address tag.
    Unmanaged { kind: String, id: Option<String> },
}

/// One dot-separated name of an address, optionally indexed (`instance[3]`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Segment {
    pub name: String,
    pub index: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Parts {
    scope: Scope,
    /// Module instance names from the root down (`module.x.` in the text).
    modules: Vec<String>,
    /// The component's kind and name, then what lies inside it.
    path: Vec<Segment>,
}

/// Why a text is not an address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressError(String);

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressError {}

impl Address {
    /// An address read from outside (a state file, a tag, the command line): kept even when
    /// it does not parse, so the check that reads it can say what is wrong (`problem`).
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let parts = parse(&text);
        Address { text, parts }
    }

    /// `region.<region>`: everything in a region, and the start of a regional address.
    pub fn region_scope(region: &str) -> Self {
        Self::from_parts(Parts {
            scope: Scope::Region(region.to_string()),
            modules: Vec::new(),
            path: Vec::new(),
        })
    }

    /// A component: `[region.<r>.][module.<m>.]<kind>.<name>`.
    pub fn component(region: Option<&str>, modules: &[String], kind: &str, name: &str) -> Self {
        let scope = match region {
            Some(r) => Scope::Region(r.to_string()),
            None => Scope::Global,
        };
        Self::from_parts(Parts {
            scope,
            modules: modules.to_vec(),
            path: vec![Segment::named(kind), Segment::named(name)],
        })
    }

    /// `unmanaged.<kind>.<aws id>`: how a resource without a `standby:address` tag is named.
    pub fn unmanaged(kind: &str, id: &str) -> Self {
        Self::from_parts(Parts {
            scope: Scope::Unmanaged {
                kind: kind.to_string(),
                id: Some(id.to_string()),
            },
            modules: Vec::new(),
            path: Vec::new(),
        })
    }

    /// A child address: `self.<name>`.
    pub fn child(&self, name: &str) -> Self {
        debug_assert!(!name.contains(['.', '[']), "{name:?} is one name");
        match &self.parts {
            Ok(p) => {
                let mut p = p.clone();
                p.path.push(Segment::named(name));
                Self::from_parts(p)
            }
            Err(_) => Address::new(format!("{}.{name}", self.text)),
        }
    }

    /// An indexed address: `self[i]`.
    pub fn index(&self, i: usize) -> Self {
        match &self.parts {
            Ok(p) if p.path.last().is_some_and(|s| s.index.is_none()) => {
                let mut p = p.clone();
                p.path.last_mut().expect("checked").index = Some(i);
                Self::from_parts(p)
            }
            _ => Address::new(format!("{}[{i}]", self.text)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// What is wrong with an address read from outside; `None` for a resource address.
    pub fn problem(&self) -> Option<&AddressError> {
        self.parts.as_ref().err()
    }

    pub fn scope(&self) -> Option<&Scope> {
        self.parts.as_ref().ok().map(|p| &p.scope)
    }

    /// The region of a `region.<r>.` address.
    pub fn region(&self) -> Option<&str> {
        match self.scope()? {
            Scope::Region(r) => Some(r),
            _ => None,
        }
    }

    /// The region a resource serves: its scope's region, or for a global resource kept per
    /// region the region its address ends with (`dns.api.record.us-east-1`).
    pub fn served_region(&self) -> Option<&str> {
        match self.scope()? {
            Scope::Region(r) => Some(r),
            Scope::Global => self.path().last().map(|s| s.name.as_str()),
            Scope::Unmanaged { .. } => None,
        }
    }

    pub fn is_unmanaged(&self) -> bool {
        matches!(self.scope(), Some(Scope::Unmanaged { .. }))
    }

    /// Module instance names from the root down.
    pub fn modules(&self) -> &[String] {
        self.parts.as_ref().map_or(&[], |p| &p.modules)
    }

    /// The component's kind and name, then what lies inside it.
    pub fn path(&self) -> &[Segment] {
        self.parts.as_ref().map_or(&[], |p| &p.path)
    }

    /// The index of an indexed resource (`instance[3]`).
    pub fn index_of(&self) -> Option<usize> {
        self.path().last()?.index
    }

    /// Whether `--target self` selects `other`: equal, or `other` lies inside `self`.
    pub fn contains(&self, other: &Address) -> bool {
        other.text == self.text
            || other
                .text
                .strip_prefix(&self.text)
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    }

    /// `self` moved from inside `from` to inside `to` (`state mv`); `None` when `self` does
    /// not lie inside `from`.
    pub fn moved(&self, from: &Address, to: &Address) -> Option<Address> {
        from.contains(self)
            .then(|| Address::new(format!("{to}{}", &self.text[from.text.len()..])))
    }

    fn from_parts(parts: Parts) -> Self {
        Address {
            text: render(&parts),
            parts: Ok(parts),
        }
    }
}

impl Segment {
    fn named(name: &str) -> Self {
        Segment {
            name: name.to_string(),
            index: None,
        }
    }
}

/// The one place an address becomes text.
fn render(p: &Parts) -> String {
    let mut words: Vec<String> = Vec::new();
    match &p.scope {
        Scope::Region(r) => words.extend(["region".to_string(), r.clone()]),
        Scope::Global => {}
        Scope::Unmanaged { kind, id } => {
            words.extend(["unmanaged".to_string(), kind.clone()]);
            words.extend(id.clone());
        }
    }
    for m in &p.modules {
        words.extend(["module".to_string(), m.clone()]);
    }
    for s in &p.path {
        words.push(match s.index {
            Some(i) => format!("{}[{i}]", s.name),
            None => s.name.clone(),
        });
    }
    words.join(".")
}

/// The one place text becomes an address: dot-separated names of letters, digits, `-` and
/// `_`, each optionally indexed (`instance[3]`), at least two of them; a `region.` address
/// names its region and continues after it. `unmanaged.<kind>.` is followed by an AWS id as
/// AWS spells it.
fn parse(text: &str) -> Result<Parts, AddressError> {
    let err = |s: String| Err(AddressError(s));
    if let Some(rest) = text.strip_prefix("unmanaged.") {
        let (kind, id) = match rest.split_once('.') {
            Some((k, id)) => (k, Some(id.to_string())),
            None => (rest, None),
        };
        if kind.is_empty() || id.as_deref() == Some("") {
            return err(format!("{text:?} names no kind and id"));
        }
        let scope = Scope::Unmanaged {
            kind: kind.to_string(),
            id,
        };
        return Ok(Parts {
            scope,
            modules: Vec::new(),
            path: Vec::new(),
        });
    }
    let segments = text
        .split('.')
        .map(segment)
        .collect::<Result<Vec<_>, _>>()?;
    if segments.len() < 2 {
        return err("an address has at least two parts, such as dns.api.zone".into());
    }
    let mut path = segments.into_iter().peekable();
    let scope = if path.next_if(|s| s == &Segment::named("region")).is_some() {
        match path.next() {
            Some(Segment { name, index: None }) => Scope::Region(name),
            _ => return err("a region name has no index".into()),
        }
    } else {
        Scope::Global
    };
    let mut path: Vec<Segment> = path.collect();
    if matches!(scope, Scope::Region(_)) && path.is_empty() {
        return err("a regional address continues after its region".into());
    }
    let mut modules = Vec::new();
    while path.len() >= 2 && path[0] == Segment::named("module") && path[1].index.is_none() {
        modules.push(path.remove(1).name);
        path.remove(0);
    }
    Ok(Parts {
        scope,
        modules,
        path,
    })
}

fn segment(s: &str) -> Result<Segment, AddressError> {
    let (name, index) = match s.split_once('[') {
        Some((name, index)) => {
            let digits = index.strip_suffix(']').unwrap_or("");
            match digits.parse::<usize>() {
                Ok(i) if digits.bytes().all(|b| b.is_ascii_digit()) => (name, Some(i)),
                _ => return Err(AddressError(format!("{s:?} has a malformed index"))),
            }
        }
        None => (s, None),
    };
    let valid = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if name.is_empty() || !name.bytes().all(valid) {
        return Err(AddressError(format!(
            "{s:?} is not a name (letters, digits, `-` and `_`)"
        )));
    }
    Ok(Segment {
        name: name.to_string(),
        index,
    })
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Address {
    type Err = AddressError;

    /// A resource address, refusing what does not parse.
    fn from_str(s: &str) -> Result<Self, AddressError> {
        let parts = parse(s)?;
        Ok(Address {
            text: s.to_string(),
            parts: Ok(parts),
        })
    }
}

impl From<&str> for Address {
    fn from(s: &str) -> Self {
        Address::new(s)
    }
}

/// The same string as the text, so state and plan files are unchanged.
impl Serialize for Address {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Address::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_contains_children_not_siblings() {
        let t = Address::new("region.us-east-1.cluster.web");
        assert!(t.contains(&Address::new("region.us-east-1.cluster.web.instance[3]")));
        assert!(t.contains(&t.clone()));
        assert!(!t.contains(&Address::new(
            "region.us-east-1.cluster.webserver.instance[0]"
        )));
        assert_eq!(t.region(), Some("us-east-1"));
        assert_eq!(Address::new("dns.api.zone").region(), None);
    }

    #[test]
    fn addresses_of_every_shape_parse_and_print_back() {
        for a in [
            "region.us-east-1.network.subnet.us-east-1a",
            "region.us-west-2.cluster.web.instance[3]",
            "region.us-east-1.module.workers.cluster.worker.instance[0]",
            "dns.api.health_check.us-east-1",
            "bucket.receipts.replication_role",
            "module.x.module.y.dns.api.record.drill",
            "unmanaged.instance.i-<evil>&\"'",
        ] {
            let parsed: Address = a.parse().unwrap_or_else(|e| panic!("{a}: {e}"));
            assert_eq!(
                Address::from_parts(parsed.parts.clone().unwrap()).as_str(),
                a
            );
        }
        for a in [
            "",
            "region.us-east-1",
            "dns..zone",
            "dns.api zone",
            "dns.api[]",
            "region.r[0].x",
            "unmanaged.",
        ] {
            assert!(a.parse::<Address>().is_err(), "{a}");
            assert!(Address::new(a).problem().is_some(), "{a}");
        }
    }

    #[test]
    fn built_addresses_have_their_parts() {
        let web = Address::component(Some("us-east-1"), &["x".into()], "cluster", "web")
            .child("instance")
            .index(3);
        assert_eq!(
            web.as_str(),
            "region.us-east-1.module.x.cluster.web.instance[3]"
        );
        assert_eq!(web.modules(), ["x".to_string()]);
        assert_eq!(web.index_of(), Some(3));
        assert_eq!(web, Address::new(web.as_str()));
        let record = Address::component(None, &[], "dns", "api")
            .child("record")
            .child("us-west-2");
        assert_eq!(record.served_region(), Some("us-west-2"));
        assert_eq!(record.region(), None);
        let stray = Address::unmanaged("instance", "i-0ab");
        assert_eq!(stray.as_str(), "unmanaged.instance.i-0ab");
        assert!(stray.is_unmanaged());
        assert!(Address::new("unmanaged.instance").contains(&stray));
        assert_eq!(
            Address::region_scope("eu-west-1").child("network").as_str(),
            "region.eu-west-1.network"
        );
    }

    #[test]
    fn a_move_keeps_what_lies_inside() {
        let from = Address::new("region.r.cluster.web");
        let to = Address::new("region.r.cluster.front");
        let moved = Address::new("region.r.cluster.web.instance[1]").moved(&from, &to);
        assert_eq!(
            moved.unwrap().as_str(),
            "region.r.cluster.front.instance[1]"
        );
        assert!(Address::new("region.r.cluster.webs")
            .moved(&from, &to)
            .is_none());
    }
}
