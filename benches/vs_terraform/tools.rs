//! The two tools on one layout: a working directory each (standby's environment copied from
//! environments/demo, the equivalent Terraform configuration beside this file, initialised
//! once from the local provider mirror), and the command lines of each case.

use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Tool {
    Standby,
    Terraform,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Case {
    Apply,
    Plan,
    Drift,
    Promote,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Standby => "standby",
            Tool::Terraform => "terraform",
        }
    }
}

pub struct Layout {
    pub root: PathBuf,
    pub web_size: u32,
    standby_bin: PathBuf,
}

const REPO: &str = env!("CARGO_MANIFEST_DIR");

impl Layout {
    /// Both working directories under `root`, for a web cluster of `web_size` in the primary.
    pub fn prepare(root: &Path, web_size: u32) -> Layout {
        let repo = Path::new(REPO);
        let standby = root.join("standby");
        copy_dir(
            &repo.join("environments/demo"),
            &standby.join("environments/demo"),
        );
        copy_dir(&repo.join("modules"), &standby.join("modules"));
        let spec = standby.join("environments/demo/main.hcl");
        let text = std::fs::read_to_string(&spec).expect("the demo spec");
        let pattern = "size          = 4";
        assert!(
            text.contains(pattern),
            "environments/demo/main.hcl sizes its web cluster at 4"
        );
        let sized = text.replacen(pattern, &format!("size          = {web_size}"), 1);
        std::fs::write(&spec, sized).expect("the sized spec");

        let terraform = root.join("terraform");
        copy_dir(&repo.join("benches/vs_terraform/terraform"), &terraform);
        std::fs::write(
            terraform.join("cli.tfrc"),
            "provider_installation {\n  filesystem_mirror {\n    path    = \"/opt/tf-plugins\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }\n  direct { exclude = [\"registry.terraform.io/hashicorp/aws\"] }\n}\n",
        )
        .expect("the Terraform CLI configuration");
        let layout = Layout {
            root: root.to_path_buf(),
            web_size,
            standby_bin: PathBuf::from(env!("CARGO_BIN_EXE_standby")),
        };
        let init = layout
            .terraform(&["init", "-input=false", "-no-color"], &[])
            .output()
            .expect("terraform is on the PATH");
        assert!(
            init.status.success(),
            "terraform init: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        layout
    }

    /// Forgets what either tool applied (the emulator is new for each world).
    pub fn reset(&self, tool: Tool) {
        let files: &[&str] = match tool {
            Tool::Standby => &["standby/state/demo.json", "standby/state/demo.json.backup"],
            Tool::Terraform => &[
                "terraform/terraform.tfstate",
                "terraform/terraform.tfstate.backup",
            ],
        };
        for f in files {
            let _ = std::fs::remove_file(self.root.join(f));
        }
    }

    /// The command running `case` with `tool`; `parallelism` None is the tool's default.
    pub fn command(
        &self,
        tool: Tool,
        case: Case,
        parallelism: Option<u32>,
        env: &[(String, String)],
    ) -> Command {
        let p = parallelism.map(|n| n.to_string());
        match tool {
            Tool::Standby => {
                let mut args: Vec<&str> = match case {
                    Case::Apply => vec!["apply", "environments/demo", "--auto-approve"],
                    Case::Plan => vec!["plan", "environments/demo", "--detailed-exitcode"],
                    Case::Drift => vec!["drift", "environments/demo"],
                    Case::Promote => vec![
                        "promote",
                        "us-west-2",
                        "environments/demo",
                        "--auto-approve",
                    ],
                };
                if let (Some(p), Case::Apply | Case::Promote) = (&p, case) {
                    args.extend(["--parallelism", p]);
                }
                self.standby(&args, env)
            }
            Tool::Terraform => {
                let flag = p.map(|n| format!("-parallelism={n}"));
                let mut args: Vec<&str> = match case {
                    Case::Apply => vec!["apply", "-auto-approve"],
                    Case::Plan => vec!["plan", "-detailed-exitcode"],
                    Case::Drift => vec!["plan", "-refresh-only", "-detailed-exitcode"],
                    // Terraform's only way to fail over: change the variables and apply.
                    Case::Promote => vec!["apply", "-auto-approve", "-var", "failover=true"],
                };
                args.extend(["-input=false", "-no-color"]);
                args.extend(flag.as_deref());
                let size = format!("web_size={}", self.web_size);
                args.extend(["-var", &size]);
                self.terraform(&args, env)
            }
        }
    }

    pub fn standby(&self, args: &[&str], env: &[(String, String)]) -> Command {
        let mut c = Command::new(&self.standby_bin);
        c.args(args)
            .current_dir(self.root.join("standby"))
            .envs(env.iter().cloned());
        c.env("NO_COLOR", "1");
        c
    }

    pub fn terraform(&self, args: &[&str], env: &[(String, String)]) -> Command {
        let dir = self.root.join("terraform");
        let mut c = Command::new("terraform");
        c.args(args).current_dir(&dir).envs(env.iter().cloned());
        c.env("TF_CLI_CONFIG_FILE", dir.join("cli.tfrc"));
        c.env("TF_IN_AUTOMATION", "1");
        c
    }

    /// How many resources `tool` manages once applied (its own `state list`).
    pub fn managed(&self, tool: Tool, env: &[(String, String)]) -> usize {
        let out = match tool {
            Tool::Standby => self.standby(&["state", "list", "environments/demo"], env),
            Tool::Terraform => self.terraform(&["state", "list"], env),
        }
        .output()
        .expect("state list");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .count()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a directory");
    for entry in std::fs::read_dir(from)
        .expect("a source directory")
        .flatten()
    {
        let (path, target) = (entry.path(), to.join(entry.file_name()));
        if path.is_dir() {
            copy_dir(&path, &target);
        } else if !entry.file_name().to_string_lossy().starts_with('.') {
            std::fs::copy(&path, &target).expect("a copy");
        }
    }
}
