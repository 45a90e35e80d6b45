//! Test support: the emulator (`Emulator`, from the `standby-emulator` crate the benches share,
//! a private moto server per test), readers of what it holds (`aws`), the project's recording
//! and fault-injecting proxy (`proxy`), a repository-shaped workspace to run the real binary
//! in (`workspace`), the AWS provider driven through its trait (`provider`), and shared specs
//! (`specs`).

pub mod aws;
pub mod provider;
pub mod specs;
pub mod tags;
pub mod workspace;

pub use standby_emulator::{proxy, Emulator};
