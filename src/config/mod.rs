//! The only module that knows HCL: loads an environment directory, evaluates it and
//! reports every problem at once as diagnostics with file:line:column.
//!
//! Invariant: `load` returns either a fully valid `Spec` or at least one diagnostic;
//! no input, binary garbage included, makes it panic.

mod arith;
mod aws_names;
mod component_kind;
mod decoder;
mod diagnostic;
mod evaluator;
mod expression;
mod format;
mod functions;
mod loader;
mod read;
mod references;
mod regions;
mod reporter;
mod root_blocks;
mod schema;
mod scope;
mod source;
pub mod spec;
mod var_type;

pub use diagnostic::{Diagnostic, Diagnostics};
pub use format::format_source;
pub use spec::*;

use std::path::{Path, PathBuf};

/// Where variable values come from, in increasing precedence: `STANDBY_VAR_*`,
/// `--var-file`, `--var`.
#[derive(Debug, Clone, Default)]
pub struct VarInputs {
    /// `--var k=v`, in command-line order.
    pub cli: Vec<(String, String)>,
    pub files: Vec<PathBuf>,
    /// `STANDBY_VAR_k=v` pairs (name without the prefix).
    pub env: Vec<(String, String)>,
}

impl VarInputs {
    /// Collects `STANDBY_VAR_*` from the process environment.
    pub fn with_process_env(mut self) -> Self {
        self.env = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("STANDBY_VAR_").map(|n| (n.to_string(), v)))
            .collect();
        self
    }
}

/// Loads, evaluates and checks the environment in `env_dir`: every `*.hcl` file in it,
/// and the module directories its `module` blocks name.
pub fn load(env_dir: &Path, vars: &VarInputs) -> Result<Spec, Diagnostics> {
    loader::Loader::default().load(env_dir, vars)
}
