//! `wirebench-netem`: network profiles and link emulation.
//!
//! The only crate that touches namespaces, links, qdiscs and TUN devices. Profiles are data
//! (`scenarios/profiles.toml`); backends put them on real links.

pub mod core;
pub mod profile;

pub use profile::{Direction, GilbertElliott, LinkParams, Profile, ProfileError, ProfileSet};
