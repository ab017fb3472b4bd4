//! Network profiles as data.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Errors in a profiles file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The TOML did not parse or a field is invalid; the message carries line and key.
    #[error("{file}: {msg}")]
    Parse {
        /// File at fault.
        file: String,
        /// toml's message, with line, column and key.
        msg: String,
    },
    /// A profile name was asked for that the set does not define.
    #[error("unknown profile {name:?} (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// Names defined.
        known: String,
    },
}

/// One link profile. One-way figures; `up`/`down` override per direction.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What this profile stands for and where its figures come from.
    #[serde(default)]
    pub description: String,
    /// One-way delay, ms.
    #[serde(default)]
    pub delay_ms: f64,
    /// Jitter, ms.
    #[serde(default)]
    pub jitter_ms: f64,
    /// Random loss probability (0..1).
    #[serde(default)]
    pub loss: f64,
    /// Rate limit, Mbit/s (none = unlimited).
    #[serde(default)]
    pub rate_mbit: Option<f64>,
}

impl Profile {
    /// Configured round-trip time in ms (both directions' delay), or None when unshaped.
    pub fn rtt_ms(&self) -> Option<f64> {
        let rtt = 2.0 * self.delay_ms;
        (rtt > 0.0).then_some(rtt)
    }

    /// True when the profile changes nothing (plain loopback).
    pub fn is_unshaped(&self) -> bool {
        self.delay_ms == 0.0 && self.jitter_ms == 0.0 && self.loss == 0.0 && self.rate_mbit.is_none()
    }
}

/// A named set of profiles (`profiles.toml`).
#[derive(Debug, Clone, Default)]
pub struct ProfileSet {
    /// Profiles by name.
    pub profiles: BTreeMap<String, Profile>,
}

impl ProfileSet {
    /// Parses a profiles file; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, ProfileError> {
        let profiles: BTreeMap<String, Profile> =
            toml::from_str(text).map_err(|e| ProfileError::Parse {
                file: file.to_string(),
                msg: e.to_string(),
            })?;
        Ok(Self { profiles })
    }

    /// Looks a profile up by name.
    pub fn get(&self, name: &str) -> Result<&Profile, ProfileError> {
        self.profiles.get(name).ok_or_else(|| ProfileError::Unknown {
            name: name.to_string(),
            known: self.profiles.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }
}
