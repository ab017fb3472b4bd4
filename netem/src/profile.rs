//! Network profiles as data.
//!
//! A profile describes one host's access link with one-way figures. The top-level keys apply to
//! both directions; the `up` (host → router) and `down` (router → host) tables override any of
//! them for one direction. [`Profile::direction`] resolves a direction into the concrete
//! [`LinkParams`] the emulator core consumes.
//!
//! ```toml
//! [lossy-wifi]
//! description = "..."
//! delay_ms = 3.0
//! jitter_ms = 2.0
//! rate_mbit = 30.0
//! gilbert_elliott = { p = 0.01, r = 0.25, loss_bad = 0.5 }
//! [lossy-wifi.up]
//! rate_mbit = 10.0
//! ```
//!
//! Values are checked while parsing (probabilities in 0..=1, delays and rates non-negative and
//! finite), so a bad value is reported with the file, line, column and key at fault.

use std::collections::BTreeMap;

pub use crate::dist::JitterDistribution;

use serde::{Deserialize, Deserializer, Serialize};

/// Errors in a profiles file.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The TOML did not parse or a field is invalid.
    #[error("{file}:{line}: {key}: {msg}")]
    Parse {
        /// File at fault.
        file: String,
        /// 1-based line.
        line: usize,
        /// The key at fault (`(document)` when none can be named).
        key: String,
        /// What is wrong, with the allowed range for a value out of it.
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

/// Gilbert-Elliott (two-state Markov) burst-loss model, evaluated once per packet.
///
/// The chain moves good → bad with probability `p` and bad → good with probability `r`; a packet
/// is lost with probability `loss_good` in the good state and `loss_bad` in the bad state. The
/// long-run loss rate is `(r·loss_good + p·loss_bad) / (p + r)`; the mean bad-burst length is
/// `1/r` packets.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GilbertElliott {
    /// Probability of moving from the good to the bad state (per packet).
    #[serde(deserialize_with = "probability")]
    pub p: f64,
    /// Probability of moving from the bad to the good state (per packet).
    #[serde(deserialize_with = "probability")]
    pub r: f64,
    /// Loss probability in the bad state (`1 - h` in the literature). Default 1.
    #[serde(default = "one", deserialize_with = "probability")]
    pub loss_bad: f64,
    /// Loss probability in the good state (`1 - k` in the literature). Default 0.
    #[serde(default, deserialize_with = "probability")]
    pub loss_good: f64,
}

impl GilbertElliott {
    /// Stationary (long-run) loss probability of the model.
    pub fn mean_loss(&self) -> f64 {
        if self.p + self.r <= 0.0 {
            return self.loss_good;
        }
        (self.r * self.loss_good + self.p * self.loss_bad) / (self.p + self.r)
    }
}

fn one() -> f64 {
    1.0
}

/// One link profile. One-way figures; `up`/`down` override per direction.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What this profile stands for and where its figures come from.
    #[serde(default)]
    pub description: String,
    /// One-way delay, ms.
    #[serde(default, deserialize_with = "delay_bound")]
    pub delay_ms: f64,
    /// Jitter, ms: the delay of each packet varies uniformly in `delay ± jitter`.
    #[serde(default, deserialize_with = "delay_bound")]
    pub jitter_ms: f64,
    /// Correlation of successive jitter samples (0..1, netem's meaning).
    #[serde(default, deserialize_with = "probability")]
    pub jitter_correlation: f64,
    /// Shape of the per-packet jitter: `uniform` (default, `delay ± jitter`), or iproute2's
    /// `normal`, `pareto`, `paretonormal` tables (`jitter` their standard deviation), as
    /// `tc … netem delay D J distribution NAME`.
    #[serde(default, deserialize_with = "distribution")]
    pub jitter_distribution: JitterDistribution,
    /// Random (Bernoulli) loss probability (0..1).
    #[serde(default, deserialize_with = "probability")]
    pub loss: f64,
    /// Burst loss (Gilbert-Elliott); applied in addition to `loss`.
    #[serde(default)]
    pub gilbert_elliott: Option<GilbertElliott>,
    /// Rate limit, Mbit/s of IP packet bytes (none = unlimited).
    #[serde(default, deserialize_with = "opt_rate_bound")]
    pub rate_mbit: Option<f64>,
    /// Bottleneck queue limit in packets (drop-tail); default 1000 when a rate is set.
    #[serde(default)]
    pub queue_packets: Option<u32>,
    /// Bottleneck queue limit in bytes (drop-tail); default unlimited.
    #[serde(default)]
    pub queue_bytes: Option<u64>,
    /// Probability that a packet skips the delay line and overtakes earlier ones. Jitter only
    /// reorders packets when this is above zero; otherwise delivery order is kept.
    #[serde(default, deserialize_with = "probability")]
    pub reorder: f64,
    /// Probability that a packet is duplicated.
    #[serde(default, deserialize_with = "probability")]
    pub duplicate: f64,
    /// Overrides for the upstream direction (host → router).
    #[serde(default)]
    pub up: Option<DirectionOverride>,
    /// Overrides for the downstream direction (router → host).
    #[serde(default)]
    pub down: Option<DirectionOverride>,
}

/// Per-direction overrides of a [`Profile`]; every key is optional and replaces the profile's.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DirectionOverride {
    /// One-way delay, ms.
    #[serde(default, deserialize_with = "opt_delay_bound")]
    pub delay_ms: Option<f64>,
    /// Jitter, ms.
    #[serde(default, deserialize_with = "opt_delay_bound")]
    pub jitter_ms: Option<f64>,
    /// Jitter correlation.
    #[serde(default, deserialize_with = "opt_probability")]
    pub jitter_correlation: Option<f64>,
    /// Jitter distribution.
    #[serde(default, deserialize_with = "opt_distribution")]
    pub jitter_distribution: Option<JitterDistribution>,
    /// Random loss probability.
    #[serde(default, deserialize_with = "opt_probability")]
    pub loss: Option<f64>,
    /// Burst loss.
    #[serde(default)]
    pub gilbert_elliott: Option<GilbertElliott>,
    /// Rate limit, Mbit/s.
    #[serde(default, deserialize_with = "opt_rate_bound")]
    pub rate_mbit: Option<f64>,
    /// Queue limit, packets.
    #[serde(default)]
    pub queue_packets: Option<u32>,
    /// Queue limit, bytes.
    #[serde(default)]
    pub queue_bytes: Option<u64>,
    /// Reorder probability.
    #[serde(default, deserialize_with = "opt_probability")]
    pub reorder: Option<f64>,
    /// Duplicate probability.
    #[serde(default, deserialize_with = "opt_probability")]
    pub duplicate: Option<f64>,
}

/// Direction on a host's access link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Host → router (what the host sends).
    Up,
    /// Router → host (what the host receives).
    Down,
}

impl Direction {
    /// Both directions, up first.
    pub const BOTH: [Direction; 2] = [Direction::Up, Direction::Down];
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// Default bottleneck queue when a rate is set and no limit is given (netem's default limit).
pub const DEFAULT_QUEUE_PACKETS: u32 = 1000;

/// Concrete parameters of one direction of one link: what the emulator core applies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LinkParams {
    /// One-way delay, ms.
    pub delay_ms: f64,
    /// Jitter, ms (uniform ± around the delay).
    pub jitter_ms: f64,
    /// Correlation of successive jitter samples.
    pub jitter_correlation: f64,
    /// Shape of the per-packet jitter.
    pub jitter_distribution: JitterDistribution,
    /// Bernoulli loss probability.
    pub loss: f64,
    /// Burst loss model.
    pub gilbert_elliott: Option<GilbertElliott>,
    /// Rate, Mbit/s; None = unlimited.
    pub rate_mbit: Option<f64>,
    /// Drop-tail limit in packets (only with a rate).
    pub queue_packets: Option<u32>,
    /// Drop-tail limit in bytes (only with a rate).
    pub queue_bytes: Option<u64>,
    /// Reorder probability.
    pub reorder: f64,
    /// Duplicate probability.
    pub duplicate: f64,
}

impl LinkParams {
    /// True when this direction changes nothing.
    pub fn is_unshaped(&self) -> bool {
        self.delay_ms == 0.0
            && self.jitter_ms == 0.0
            && self.loss == 0.0
            && self.gilbert_elliott.is_none()
            && self.rate_mbit.is_none()
            && self.reorder == 0.0
            && self.duplicate == 0.0
    }

    /// Expected long-run loss probability (Bernoulli and Gilbert-Elliott combined).
    pub fn mean_loss(&self) -> f64 {
        let ge = self.gilbert_elliott.map_or(0.0, |g| g.mean_loss());
        1.0 - (1.0 - self.loss) * (1.0 - ge)
    }

    /// Effective packet limit of the bottleneck queue (None = no queue: unlimited rate).
    pub fn effective_queue_packets(&self) -> Option<u32> {
        self.rate_mbit?;
        Some(self.queue_packets.unwrap_or(DEFAULT_QUEUE_PACKETS))
    }
}

impl Profile {
    /// Configured round-trip time in ms (both directions' delay), or None when unshaped.
    pub fn rtt_ms(&self) -> Option<f64> {
        let rtt = self.direction(Direction::Up).delay_ms + self.direction(Direction::Down).delay_ms;
        (rtt > 0.0).then_some(rtt)
    }

    /// True when the profile changes nothing (plain loopback).
    pub fn is_unshaped(&self) -> bool {
        Direction::BOTH
            .iter()
            .all(|d| self.direction(*d).is_unshaped())
    }

    /// The concrete parameters of one direction: the profile's keys with that direction's
    /// overrides applied.
    pub fn direction(&self, dir: Direction) -> LinkParams {
        let base = LinkParams {
            delay_ms: self.delay_ms,
            jitter_ms: self.jitter_ms,
            jitter_correlation: self.jitter_correlation,
            jitter_distribution: self.jitter_distribution,
            loss: self.loss,
            gilbert_elliott: self.gilbert_elliott,
            rate_mbit: self.rate_mbit,
            queue_packets: self.queue_packets,
            queue_bytes: self.queue_bytes,
            reorder: self.reorder,
            duplicate: self.duplicate,
        };
        let ov = match dir {
            Direction::Up => self.up.as_ref(),
            Direction::Down => self.down.as_ref(),
        };
        let Some(o) = ov else { return base };
        LinkParams {
            delay_ms: o.delay_ms.unwrap_or(base.delay_ms),
            jitter_ms: o.jitter_ms.unwrap_or(base.jitter_ms),
            jitter_correlation: o.jitter_correlation.unwrap_or(base.jitter_correlation),
            jitter_distribution: o.jitter_distribution.unwrap_or(base.jitter_distribution),
            loss: o.loss.unwrap_or(base.loss),
            gilbert_elliott: o.gilbert_elliott.or(base.gilbert_elliott),
            rate_mbit: o.rate_mbit.or(base.rate_mbit),
            queue_packets: o.queue_packets.or(base.queue_packets),
            queue_bytes: o.queue_bytes.or(base.queue_bytes),
            reorder: o.reorder.unwrap_or(base.reorder),
            duplicate: o.duplicate.unwrap_or(base.duplicate),
        }
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
        let profiles: BTreeMap<String, Profile> = toml::from_str(text).map_err(|e| {
            let (line, key) = toml_locate(text, &e);
            ProfileError::Parse {
                file: file.to_string(),
                line,
                key,
                msg: toml_message(&e),
            }
        })?;
        Ok(Self { profiles })
    }

    /// The profiles shipped with wirebench (`scenarios/profiles.toml`, embedded).
    pub fn builtin() -> Self {
        // The embedded file is checked by this crate's tests; an error here is a build defect,
        // so fall back to an empty set rather than panic.
        Self::parse(BUILTIN_PROFILES, "scenarios/profiles.toml").unwrap_or_default()
    }

    /// Looks a profile up by name.
    pub fn get(&self, name: &str) -> Result<&Profile, ProfileError> {
        self.profiles
            .get(name)
            .ok_or_else(|| ProfileError::Unknown {
                name: name.to_string(),
                known: self.profiles.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }
}

/// Where a TOML error is: its 1-based line and the key at fault. A bad value is reported at
/// the value, so its key is the one assigned there (`key = value`, also inside an inline
/// table); otherwise (an unknown or duplicate key) the key the message names in backticks.
/// Shared by the profile and scenario parsers.
pub fn toml_locate(text: &str, e: &toml::de::Error) -> (usize, String) {
    let line = e.span().map_or(1, |s| {
        text[..s.start.min(text.len())].matches('\n').count() + 1
    });
    let key = e
        .span()
        .and_then(|s| key_of_value_at(text, s.start))
        .or_else(|| e.message().split('`').nth(1).map(str::to_string))
        .unwrap_or_else(|| "(document)".into());
    (line, key)
}

/// A TOML error's message, with "did you mean `size`?" when it names an unknown key close to
/// an expected one.
pub fn toml_message(e: &toml::de::Error) -> String {
    let msg = e.message().to_string();
    let Some(rest) = msg.strip_prefix("unknown field `") else {
        return msg;
    };
    let mut quoted = rest.split('`').step_by(2);
    let Some(unknown) = quoted.next() else {
        return msg;
    };
    let best = quoted
        .map(|k| (edit_distance(unknown, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min_by_key(|(d, _)| *d);
    match best {
        Some((_, k)) => format!("unknown field `{unknown}`: did you mean `{k}`? ({msg})"),
        None => msg,
    }
}

/// Levenshtein distance between `a` and `b`, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The key assigned the value that starts at byte `at`, or `None` when `at` is not in a value.
fn key_of_value_at(text: &str, at: usize) -> Option<String> {
    let at = at.min(text.len());
    let line_start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let before = text.get(line_start..at)?;
    let eq = before.rfind('=')?;
    let key = before[..eq]
        .trim_end()
        .rsplit(['{', ',', ' ', '\t'])
        .next()?
        .trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

/// The text of `scenarios/profiles.toml`, embedded at build time.
pub const BUILTIN_PROFILES: &str = include_str!("../../scenarios/profiles.toml");

/// A jitter distribution whose iproute2 table can be read (the error names the key's line).
fn distribution<'de, D: serde::Deserializer<'de>>(d: D) -> Result<JitterDistribution, D::Error> {
    let v = JitterDistribution::deserialize(d)?;
    crate::dist::table(v).map_err(serde::de::Error::custom)?;
    Ok(v)
}

fn opt_distribution<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<JitterDistribution>, D::Error> {
    distribution(d).map(Some)
}

fn check_finite<E: serde::de::Error>(v: f64) -> Result<f64, E> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(E::custom(format!("{v} is not a finite number")))
    }
}

fn probability<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = check_finite(f64::deserialize(d)?)?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "{v} is not a probability (expected 0.0 ..= 1.0)"
        )))
    }
}

fn opt_probability<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    probability(d).map(Some)
}

/// Largest one-way delay or jitter a profile may set, ms (as a scenario's delays).
pub const MAX_DELAY_MS: f64 = 10_000.0;
/// Smallest and largest rate limit a profile may set, Mbit/s.
pub const RATE_MBIT_RANGE: (f64, f64) = (0.001, 100_000.0);

/// A number as people write it: plain, or in exponent form when very large or very small.
fn show(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e6).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

fn delay_bound<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let v = check_finite(f64::deserialize(d)?)?;
    if (0.0..=MAX_DELAY_MS).contains(&v) {
        Ok(v)
    } else {
        Err(serde::de::Error::custom(format!(
            "{} ms is out of range [0, {MAX_DELAY_MS}] ms",
            show(v)
        )))
    }
}

fn opt_delay_bound<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    delay_bound(d).map(Some)
}

fn opt_rate_bound<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = check_finite(f64::deserialize(d)?)?;
    let (lo, hi) = RATE_MBIT_RANGE;
    if (lo..=hi).contains(&v) {
        Ok(Some(v))
    } else {
        Err(serde::de::Error::custom(format!(
            "{} Mbit/s is out of range [{lo}, {hi}] Mbit/s",
            show(v)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_close_to_a_known_one_gets_a_suggestion() {
        let text = "[wan]\ndescription = \"x\"\ndelya_ms = 5\n";
        let e = ProfileSet::parse(text, "p.toml").unwrap_err().to_string();
        assert!(e.contains("did you mean `delay_ms`?"), "{e}");
        let text = "[wan]\ndescription = \"x\"\nzzzzzz = 5\n";
        let e = ProfileSet::parse(text, "p.toml").unwrap_err().to_string();
        assert!(!e.contains("did you mean"), "{e}");
        assert_eq!(edit_distance("sise", "size"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn out_of_range_values_name_file_line_key_and_range() {
        for (text, line, key, says) in [
            (
                "[x]\ndelay_ms = 1e25\n",
                2,
                "delay_ms",
                "1e25 ms is out of range [0, 10000] ms",
            ),
            (
                "[x]\nrate_mbit = 1e-300\n",
                2,
                "rate_mbit",
                "1e-300 Mbit/s is out of range [0.001, 100000] Mbit/s",
            ),
            (
                "[x]\n\njitter_ms = -1\n",
                3,
                "jitter_ms",
                "-1 ms is out of range",
            ),
            (
                "[x]\nup = { delay_ms = 99999 }\n",
                2,
                "delay_ms",
                "[0, 10000] ms",
            ),
            ("[x]\nloss = 2\n", 2, "loss", "not a probability"),
        ] {
            let e = ProfileSet::parse(text, "p.toml").unwrap_err();
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("p.toml:{line}: {key}: ")) && shown.contains(says),
                "{shown}"
            );
        }
    }

    #[test]
    fn builtin_profiles_parse_and_include_the_required_set() {
        let set = ProfileSet::parse(BUILTIN_PROFILES, "profiles.toml").unwrap();
        for name in [
            "loopback",
            "lan",
            "broadband",
            "4g",
            "3g",
            "satellite",
            "lossy-wifi",
            "intercontinental",
        ] {
            let p = set.get(name).unwrap();
            assert!(!p.description.is_empty(), "{name} has no description");
        }
        assert!(set.get("loopback").unwrap().is_unshaped());
        let bb = set.get("broadband").unwrap();
        assert_eq!(bb.rtt_ms(), Some(30.0));
        assert_eq!(bb.jitter_ms, 0.0);
        assert_eq!(bb.direction(Direction::Up).mean_loss(), 0.0);
        assert!(set.get("lossy-wifi").unwrap().gilbert_elliott.is_some());
        assert_eq!(ProfileSet::builtin().profiles.len(), set.profiles.len());
    }

    #[test]
    fn overrides_apply_per_direction() {
        let set = ProfileSet::parse(
            "[p]\ndelay_ms = 10\nrate_mbit = 20\n[p.up]\nrate_mbit = 5\ndelay_ms = 12\n",
            "t.toml",
        )
        .unwrap();
        let p = set.get("p").unwrap();
        assert_eq!(p.direction(Direction::Up).rate_mbit, Some(5.0));
        assert_eq!(p.direction(Direction::Down).rate_mbit, Some(20.0));
        assert_eq!(p.rtt_ms(), Some(22.0));
        assert_eq!(
            p.direction(Direction::Down).effective_queue_packets(),
            Some(DEFAULT_QUEUE_PACKETS)
        );
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let err = ProfileSet::parse("[a]\ndelay_ms = 1\nloss = 1.5\n", "my.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("my.toml:3: loss: "), "{msg}");
        let err = ProfileSet::parse("[a]\n\nbogus = 1\n", "x.toml").unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("x.toml:3: bogus: "), "{msg}");
        let err = ProfileSet::parse("[a]\nrate_mbit = -3\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("rate_mbit"), "{err}");
        let err = ProfileSet::parse("[a.up]\njitter_ms = -1\n", "x.toml").unwrap_err();
        assert!(err.to_string().contains("jitter_ms"), "{err}");
        let err =
            ProfileSet::parse("[a]\njitter_distribution = \"cauchy\"\n", "x.toml").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("x.toml:2: jitter_distribution: "),
            "{err}"
        );
        let set = ProfileSet::parse(
            "[a]\njitter_ms = 3\njitter_distribution = \"normal\"\n[a.up]\njitter_distribution = \"uniform\"\n",
            "x.toml",
        );
        if crate::dist::table(JitterDistribution::Normal).is_ok() {
            let set = set.unwrap();
            let a = set.get("a").unwrap();
            assert_eq!(
                a.direction(Direction::Down).jitter_distribution,
                JitterDistribution::Normal
            );
            assert_eq!(
                a.direction(Direction::Up).jitter_distribution,
                JitterDistribution::Uniform
            );
        }
    }

    #[test]
    fn unknown_profile_lists_known_names() {
        let set = ProfileSet::parse("[a]\n[b]\n", "t").unwrap();
        let msg = set.get("c").unwrap_err().to_string();
        assert!(msg.contains("a, b"), "{msg}");
    }

    #[test]
    fn gilbert_elliott_mean_loss() {
        let ge = GilbertElliott {
            p: 0.01,
            r: 0.24,
            loss_bad: 0.5,
            loss_good: 0.0,
        };
        assert!((ge.mean_loss() - 0.02).abs() < 1e-12);
    }
}
