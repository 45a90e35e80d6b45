//! Which blocks, labels and attributes each block of the spec language accepts, and the
//! check that reports unknown ones with a "did you mean".
//!
//! Invariant: after `check` passed over a body without reporting, every attribute and
//! nested block in it is known; evaluation only ever looks at known names.

use super::reporter::{did_you_mean, Reporter};
use super::source::{FileId, Loc};
use hcl_edit::structure::{Block, Body, Structure};
use hcl_edit::Span;

pub struct Schema {
    /// How many labels the block takes: `cluster "web"` takes 1.
    pub labels: usize,
    /// What the label names, for messages.
    pub label_meaning: &'static str,
    pub attrs: &'static [&'static str],
    /// Any attribute is allowed (locals, module arguments).
    pub any_attrs: bool,
    pub blocks: &'static [(&'static str, &'static Schema)],
    /// At most one such block per parent.
    pub once: bool,
}

const fn schema(
    labels: usize,
    label_meaning: &'static str,
    attrs: &'static [&'static str],
) -> Schema {
    Schema {
        labels,
        label_meaning,
        attrs,
        any_attrs: false,
        blocks: &[],
        once: false,
    }
}

pub const HEALTH_CHECK: Schema = Schema {
    once: true,
    ..schema(0, "", &["path", "port", "protocol"])
};
pub const CLUSTER: Schema = schema(
    1,
    "its name",
    &[
        "instance_type",
        "size",
        "image",
        "port",
        "max_size",
        "min_healthy_percentage",
    ],
);
pub const DATABASE: Schema = schema(
    1,
    "its name",
    &[
        "engine",
        "engine_version",
        "instance_class",
        "storage_gb",
        "backup",
        "prevent_destroy",
    ],
);
pub const BUCKET: Schema = schema(
    1,
    "its name",
    &["cold_storage_class", "replication_role_arn", "bucket_name"],
);
pub const DNS: Schema = Schema {
    blocks: &[("health_check", &HEALTH_CHECK)],
    ..schema(1, "its name", &["zone", "name", "cluster", "ttl"])
};
pub const REGION: Schema = Schema {
    blocks: &[
        ("cluster", &CLUSTER),
        ("database", &DATABASE),
        ("bucket", &BUCKET),
        ("dns", &DNS),
    ],
    ..schema(
        1,
        "the AWS region name",
        &["role", "cidr", "zones", "capacity"],
    )
};
pub const SERVICE: Schema = schema(
    1,
    "the service name",
    &["rto", "rpo", "tags", "drill_every"],
);
pub const VARIABLE: Schema = schema(1, "its name", &["type", "default", "description"]);
pub const LOCALS: Schema = Schema {
    any_attrs: true,
    ..schema(0, "", &[])
};
pub const OUTPUT: Schema = schema(1, "its name", &["value", "description"]);
pub const MODULE: Schema = Schema {
    any_attrs: true,
    ..schema(1, "its name", &["source"])
};
pub const BACKEND_REPLICA: Schema = Schema {
    once: true,
    ..schema(0, "", &["bucket", "region"])
};
pub const BACKEND: Schema = Schema {
    once: true,
    blocks: &[("replica", &BACKEND_REPLICA)],
    ..schema(
        1,
        "the backend type",
        &["bucket", "key", "region", "kms_key_id"],
    )
};
pub const STANDBY: Schema = Schema {
    blocks: &[("backend", &BACKEND)],
    ..schema(0, "", &[])
};

pub const DRIFT_IGNORE: Schema = schema(
    1,
    "the address prefix it covers",
    &["attributes", "reason", "until"],
);
pub const DRIFT: Schema = Schema {
    blocks: &[("ignore", &DRIFT_IGNORE)],
    ..schema(0, "", &[])
};

/// The blocks a spec file may hold at its top level.
pub const TOP_LEVEL: &[(&str, &Schema)] = &[
    ("service", &SERVICE),
    ("variable", &VARIABLE),
    ("locals", &LOCALS),
    ("output", &OUTPUT),
    ("region", &REGION),
    ("cluster", &CLUSTER),
    ("database", &DATABASE),
    ("bucket", &BUCKET),
    ("dns", &DNS),
    ("module", &MODULE),
    ("standby", &STANDBY),
    ("drift", &DRIFT),
];

/// `cluster `web``: how messages name a block.
pub fn describe(block: &Block) -> String {
    match block.labels.first() {
        Some(label) => format!("{} `{}`", block.ident.as_str(), label.as_str()),
        None => format!("`{}`", block.ident.as_str()),
    }
}

/// Checks `block`'s labels and, recursively, its body against `schema`. Returns false
/// when the labels are wrong, in which case the block should be skipped.
pub fn check_block(reporter: &mut Reporter, file: FileId, block: &Block, schema: &Schema) -> bool {
    let kind = block.ident.as_str();
    let labels_ok = block.labels.len() == schema.labels;
    if !labels_ok {
        let loc = Loc::of(file, block.ident.span());
        let (message, help) = match schema.labels {
            0 => (
                format!("`{kind}` block takes no labels"),
                format!("write `{kind} {{ ... }}`"),
            ),
            _ => (
                format!("`{kind}` block needs one label, {}", schema.label_meaning),
                format!("write `{kind} \"name\" {{ ... }}`"),
            ),
        };
        reporter.error(loc, message, help);
    }
    let control = block
        .labels
        .iter()
        .find(|l| l.as_str().contains(char::is_control));
    if let Some(label) = control {
        reporter.error(
            Loc::of(file, label.span()),
            format!("the label of this `{kind}` block contains a control character"),
            "labels are names: remove the control character (such as `\\u0000`)".to_string(),
        );
    }
    check_body(reporter, file, &block.body, schema, &describe(block));
    labels_ok
}

fn check_body(reporter: &mut Reporter, file: FileId, body: &Body, schema: &Schema, what: &str) {
    let mut seen_once: Vec<&str> = Vec::new();
    for structure in body.iter() {
        match structure {
            Structure::Attribute(attr) => {
                let name = attr.key.as_str();
                if !schema.any_attrs && !schema.attrs.contains(&name) {
                    let allowed = schema
                        .attrs
                        .iter()
                        .map(|a| format!("`{a}`"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    let fallback = if allowed.is_empty() {
                        format!("{what} takes no attributes")
                    } else {
                        format!("{what} accepts {allowed}")
                    };
                    reporter.error(
                        Loc::of(file, attr.key.span()),
                        format!("unknown attribute `{name}` in {what}"),
                        did_you_mean(name, schema.attrs.iter().copied(), fallback),
                    );
                }
            }
            Structure::Block(block) => {
                let kind = block.ident.as_str();
                match schema.blocks.iter().find(|(n, _)| *n == kind) {
                    Some((_, nested)) => {
                        if nested.once && seen_once.contains(&kind) {
                            reporter.error(
                                Loc::of(file, block.ident.span()),
                                format!("duplicate `{kind}` block in {what}"),
                                format!("keep a single `{kind}` block"),
                            );
                        }
                        seen_once.push(kind);
                        check_block(reporter, file, block, nested);
                    }
                    None => unknown_block(
                        reporter,
                        file,
                        block,
                        schema.blocks.iter().map(|(n, _)| *n),
                        what,
                    ),
                }
            }
        }
    }
}

pub fn unknown_block<'a>(
    reporter: &mut Reporter,
    file: FileId,
    block: &Block,
    known: impl Iterator<Item = &'a str>,
    what: &str,
) {
    let kind = block.ident.as_str();
    let known: Vec<&str> = known.collect();
    let fallback = if known.is_empty() {
        format!("{what} takes no nested blocks")
    } else {
        let list = known
            .iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ");
        format!("{what} accepts {list}")
    };
    reporter.error(
        Loc::of(file, block.ident.span()),
        format!("unknown block type `{kind}` in {what}"),
        did_you_mean(kind, known.iter().copied(), fallback),
    );
}
