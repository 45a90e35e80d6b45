//! Test support: the emulator (`Emulator`, from the `standby-emulator` crate the benches share,
//! a private moto server per test), readers of what it holds (`aws`), the project's recording
//! and fault-injecting proxy (`proxy`), and a repository-shaped workspace to run the real
//! binary in (`workspace`).

pub mod aws;
pub mod tags;
pub mod workspace;

pub use standby_emulator::{proxy, Emulator};
