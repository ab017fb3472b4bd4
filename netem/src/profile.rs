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
//! The bottleneck's queue discipline is `queue` ([`QueueDiscipline`]; docs/queues.md).
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
    /// Bottleneck queue limit in packets; default 1000 when a rate is set (10240 with
    /// `queue = "fq_codel"`).
    #[serde(default)]
    pub queue_packets: Option<u32>,
    /// Bottleneck queue limit in bytes; default unlimited.
    #[serde(default)]
    pub queue_bytes: Option<u64>,
    /// Queue discipline at the bottleneck (`droptail` when unset); needs a rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueDiscipline>,
    /// CoDel's target sojourn time, ms (codel, fq_codel; default 5).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_aqm_ms"
    )]
    pub queue_target_ms: Option<f64>,
    /// CoDel's interval, ms (codel, fq_codel; default 100).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_aqm_ms"
    )]
    pub queue_interval_ms: Option<f64>,
    /// Number of flow queues (fq_codel; default 1024).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_flows"
    )]
    pub queue_flows: Option<u32>,
    /// Bytes a flow may send per round of the scheduler (fq_codel; default 1514).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_quantum"
    )]
    pub queue_quantum: Option<u32>,
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
    /// Queue discipline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueDiscipline>,
    /// CoDel target, ms.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_aqm_ms"
    )]
    pub queue_target_ms: Option<f64>,
    /// CoDel interval, ms.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_aqm_ms"
    )]
    pub queue_interval_ms: Option<f64>,
    /// Flow queues (fq_codel).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_flows"
    )]
    pub queue_flows: Option<u32>,
    /// DRR quantum, bytes (fq_codel).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "opt_quantum"
    )]
    pub queue_quantum: Option<u32>,
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
    /// Queue limit in packets (only with a rate).
    pub queue_packets: Option<u32>,
    /// Queue limit in bytes (only with a rate).
    pub queue_bytes: Option<u64>,
    /// Queue discipline at the bottleneck (only with a rate).
    #[serde(skip_serializing_if = "QueueDiscipline::is_droptail")]
    pub queue: QueueDiscipline,
    /// CoDel target, ms (None: [`DEFAULT_CODEL_TARGET_MS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_target_ms: Option<f64>,
    /// CoDel interval, ms (None: [`DEFAULT_CODEL_INTERVAL_MS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_interval_ms: Option<f64>,
    /// FQ-CoDel flow queues (None: [`DEFAULT_FQ_FLOWS`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_flows: Option<u32>,
    /// FQ-CoDel quantum, bytes (None: [`DEFAULT_FQ_QUANTUM`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_quantum: Option<u32>,
    /// Reorder probability.
    pub reorder: f64,
    /// Duplicate probability.
    pub duplicate: f64,
}

/// The bottleneck's queue discipline (profile key `queue`): what decides which waiting packet
/// the rate limiter sends next and which ones it drops. It only acts where packets wait, at a
/// rate limit, so a profile that sets it needs `rate_mbit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueDiscipline {
    /// One FIFO that drops arriving packets when full (netem's queue; the default).
    #[default]
    Droptail,
    /// One FIFO managed by CoDel (RFC 8289): drops at dequeue once packets have waited longer
    /// than the target for an interval, at a rate that grows with √(drops).
    Codel,
    /// FQ-CoDel (RFC 8290): packets hashed by 5-tuple into flow queues served by deficit
    /// round robin (new, sparse flows first), CoDel on each flow queue; on overflow the
    /// fattest flow loses packets.
    FqCodel,
}

impl QueueDiscipline {
    /// Every discipline, in the order the docs list them.
    pub const ALL: [QueueDiscipline; 3] = [Self::Droptail, Self::Codel, Self::FqCodel];

    /// The name profiles and results use (`droptail`, `codel`, `fq_codel`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Droptail => "droptail",
            Self::Codel => "codel",
            Self::FqCodel => "fq_codel",
        }
    }

    /// True for the default drop-tail FIFO.
    pub fn is_droptail(&self) -> bool {
        *self == Self::Droptail
    }

    /// True when CoDel runs (codel and fq_codel): `queue_target_ms`/`queue_interval_ms` apply.
    pub fn uses_codel(self) -> bool {
        self != Self::Droptail
    }
}

impl std::fmt::Display for QueueDiscipline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// CoDel's default target sojourn time, ms (RFC 8289, RFC 8290).
pub const DEFAULT_CODEL_TARGET_MS: f64 = 5.0;
/// CoDel's default interval, ms (RFC 8289, RFC 8290).
pub const DEFAULT_CODEL_INTERVAL_MS: f64 = 100.0;
/// FQ-CoDel's default number of flow queues (RFC 8290, Linux).
pub const DEFAULT_FQ_FLOWS: u32 = 1024;
/// FQ-CoDel's default DRR quantum, bytes (RFC 8290: an Ethernet MTU with its header).
pub const DEFAULT_FQ_QUANTUM: u32 = 1514;
/// FQ-CoDel's default packet limit, the whole qdisc (Linux `limit 10240`).
pub const DEFAULT_FQ_CODEL_LIMIT: u32 = 10_240;
/// Largest `queue_flows` (Linux's limit, 65536).
pub const MAX_FQ_FLOWS: u32 = 65_536;
/// Range of `queue_quantum`, bytes.
pub const FQ_QUANTUM_RANGE: (u32, u32) = (64, 1 << 20);

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

    /// Effective packet limit of the bottleneck queue (None = no queue: unlimited rate):
    /// `queue_packets`, else 1000 (10,240 for fq_codel, Linux's default).
    pub fn effective_queue_packets(&self) -> Option<u32> {
        self.rate_mbit?;
        let default = match self.queue {
            QueueDiscipline::FqCodel => DEFAULT_FQ_CODEL_LIMIT,
            _ => DEFAULT_QUEUE_PACKETS,
        };
        Some(self.queue_packets.unwrap_or(default))
    }

    /// The discipline that acts on packets: `queue`, or drop-tail when there is no rate (no
    /// queue forms without a bottleneck).
    pub fn effective_queue(&self) -> QueueDiscipline {
        if self.rate_mbit.is_some() {
            self.queue
        } else {
            QueueDiscipline::Droptail
        }
    }

    /// CoDel's target and interval, ms, defaults filled in.
    pub fn codel_ms(&self) -> (f64, f64) {
        (
            self.queue_target_ms.unwrap_or(DEFAULT_CODEL_TARGET_MS),
            self.queue_interval_ms.unwrap_or(DEFAULT_CODEL_INTERVAL_MS),
        )
    }

    /// FQ-CoDel's flow count and quantum (bytes), defaults filled in.
    pub fn fq(&self) -> (u32, u32) {
        (
            self.queue_flows.unwrap_or(DEFAULT_FQ_FLOWS),
            self.queue_quantum.unwrap_or(DEFAULT_FQ_QUANTUM),
        )
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

    /// The queue discipline as results record it (`params.queue`): its name when both
    /// directions agree, else `up=NAME down=NAME`. A direction without a rate counts as
    /// drop-tail only when the other has none either (no queue anywhere).
    pub fn queue_label(&self) -> String {
        let [up, down] = Direction::BOTH.map(|d| self.direction(d));
        let (u, d) = match (up.rate_mbit.is_some(), down.rate_mbit.is_some()) {
            (true, false) => (up.queue, up.queue),
            (false, true) => (down.queue, down.queue),
            _ => (up.effective_queue(), down.effective_queue()),
        };
        if u == d {
            u.name().to_string()
        } else {
            format!("up={u} down={d}")
        }
    }

    /// Checks what the keys' own ranges cannot: a queue discipline needs a rate, CoDel's
    /// target is below its interval, and tuning keys belong to a discipline in use. Returns
    /// the key at fault and what is wrong.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let dirs = Direction::BOTH.map(|d| (d, self.direction(d), self.overrides(d)));
        if let Some(q) = self.queue.filter(|q| q.uses_codel()) {
            if dirs.iter().all(|(_, p, _)| p.rate_mbit.is_none()) {
                return Err(("queue", needs_rate(q, "")));
            }
        }
        for (dir, p, o) in &dirs {
            let own_queue = o.and_then(|o| o.queue).filter(|q| q.uses_codel());
            if let (Some(q), None) = (own_queue, p.rate_mbit) {
                return Err(("queue", needs_rate(q, &format!(" in the {dir} direction"))));
            }
            let (target, interval) = p.codel_ms();
            if p.queue.uses_codel() && target >= interval {
                return Err((
                    "queue_target_ms",
                    format!(
                        "CoDel's target ({target} ms) must be below its interval ({interval} ms)"
                    ),
                ));
            }
        }
        let set = |f: fn(&LinkParams) -> bool| dirs.iter().any(|(_, p, _)| f(p));
        let codel = dirs.iter().any(|(_, p, _)| p.queue.uses_codel());
        let fq = dirs
            .iter()
            .any(|(_, p, _)| p.queue == QueueDiscipline::FqCodel);
        let (both, fq_only) = ("codel or fq_codel", "fq_codel");
        let unused = [
            (
                "queue_target_ms",
                set(|p| p.queue_target_ms.is_some()) && !codel,
                both,
            ),
            (
                "queue_interval_ms",
                set(|p| p.queue_interval_ms.is_some()) && !codel,
                both,
            ),
            (
                "queue_flows",
                set(|p| p.queue_flows.is_some()) && !fq,
                fq_only,
            ),
            (
                "queue_quantum",
                set(|p| p.queue_quantum.is_some()) && !fq,
                fq_only,
            ),
        ];
        if let Some((key, _, which)) = unused.into_iter().find(|u| u.1) {
            let label = self.queue_label();
            let msg =
                format!("{key} only applies with queue = {which}; this profile's queue is {label}");
            return Err((key, msg));
        }
        Ok(())
    }

    fn overrides(&self, dir: Direction) -> Option<&DirectionOverride> {
        match dir {
            Direction::Up => self.up.as_ref(),
            Direction::Down => self.down.as_ref(),
        }
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
            queue: self.queue.unwrap_or_default(),
            queue_target_ms: self.queue_target_ms,
            queue_interval_ms: self.queue_interval_ms,
            queue_flows: self.queue_flows,
            queue_quantum: self.queue_quantum,
            reorder: self.reorder,
            duplicate: self.duplicate,
        };
        let Some(o) = self.overrides(dir) else {
            return base;
        };
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
            queue: o.queue.unwrap_or(base.queue),
            queue_target_ms: o.queue_target_ms.or(base.queue_target_ms),
            queue_interval_ms: o.queue_interval_ms.or(base.queue_interval_ms),
            queue_flows: o.queue_flows.or(base.queue_flows),
            queue_quantum: o.queue_quantum.or(base.queue_quantum),
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
        for (name, p) in &profiles {
            p.check().map_err(|(key, msg)| ProfileError::Parse {
                file: file.to_string(),
                line: key_line(text, name, key),
                key: key.to_string(),
                msg: format!("profile {name:?}: {msg}"),
            })?;
        }
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

/// A discipline-needs-a-rate message (`dir`: where, or empty).
fn needs_rate(q: QueueDiscipline, dir: &str) -> String {
    format!(
        "queue = \"{q}\" needs a rate (rate_mbit){dir}: a queue discipline only acts where \
         packets wait for a bottleneck"
    )
}

/// The 1-based line that sets `key` in profile `name` (its own table, its `up`/`down` tables
/// or inline tables), else the profile's header line, else 1.
fn key_line(text: &str, name: &str, key: &str) -> usize {
    let sets_key = |l: &str| {
        l.split(['{', ',']).map(str::trim_start).any(|part| {
            part.strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
    };
    let own = [
        name.to_string(),
        format!("{name}.up"),
        format!("{name}.down"),
    ];
    let mut table = String::new();
    let mut header = None;
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            table = h.replace(['"', '\'', ' '], "");
            if table == name {
                header.get_or_insert(i + 1);
            }
        } else if own.contains(&table) && sets_key(l) {
            return i + 1;
        }
    }
    header.unwrap_or(1)
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

/// Range of `queue_target_ms` and `queue_interval_ms`, ms (above zero).
pub const AQM_MS_RANGE: (f64, f64) = (0.001, MAX_DELAY_MS);

fn opt_aqm_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let v = check_finite(f64::deserialize(d)?)?;
    let (lo, hi) = AQM_MS_RANGE;
    if (lo..=hi).contains(&v) {
        Ok(Some(v))
    } else {
        Err(serde::de::Error::custom(format!(
            "{} ms is out of range [{lo}, {hi}] ms",
            show(v)
        )))
    }
}

fn opt_flows<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = u64::deserialize(d)?;
    match u32::try_from(v) {
        Ok(n) if (1..=MAX_FQ_FLOWS).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "{v} flow queues is out of range [1, {MAX_FQ_FLOWS}]"
        ))),
    }
}

fn opt_quantum<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let v = u64::deserialize(d)?;
    let (lo, hi) = FQ_QUANTUM_RANGE;
    match u32::try_from(v) {
        Ok(n) if (lo..=hi).contains(&n) => Ok(Some(n)),
        _ => Err(serde::de::Error::custom(format!(
            "{v} bytes is out of range [{lo}, {hi}] bytes"
        ))),
    }
}

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
    fn queue_keys_resolve_per_direction_with_defaults() {
        let set = ProfileSet::parse(
            "[p]\nrate_mbit = 10\nqueue = \"fq_codel\"\n[p.down]\nqueue = \"codel\"\nqueue_target_ms = 2\n",
            "t.toml",
        )
        .unwrap();
        let p = set.get("p").unwrap();
        let (up, down) = (p.direction(Direction::Up), p.direction(Direction::Down));
        assert_eq!(
            (up.queue, down.queue),
            (QueueDiscipline::FqCodel, QueueDiscipline::Codel)
        );
        assert_eq!(up.effective_queue_packets(), Some(DEFAULT_FQ_CODEL_LIMIT));
        assert_eq!(down.effective_queue_packets(), Some(DEFAULT_QUEUE_PACKETS));
        assert_eq!((up.codel_ms(), up.fq()), ((5.0, 100.0), (1024, 1514)));
        assert_eq!(down.codel_ms(), (2.0, 100.0));
        assert_eq!(p.queue_label(), "up=fq_codel down=codel");
        let plain = ProfileSet::builtin();
        assert_eq!(plain.get("broadband").unwrap().queue_label(), "droptail");
        assert_eq!(
            QueueDiscipline::ALL.map(QueueDiscipline::name),
            ["droptail", "codel", "fq_codel"]
        );
    }

    #[test]
    fn queue_errors_name_file_line_profile_and_key() {
        for (text, line, key, says) in [
            (
                "[a]\ndelay_ms = 5\nqueue = \"fq_codel\"\n",
                3,
                "queue",
                "profile \"a\": queue = \"fq_codel\" needs a rate (rate_mbit)",
            ),
            (
                "[a]\ndelay_ms = 5\n[a.up]\nrate_mbit = 1\n[a.down]\n\nqueue = \"codel\"\n",
                7,
                "queue",
                "needs a rate (rate_mbit) in the down direction",
            ),
            (
                "[a]\nrate_mbit = 5\nqueue = \"red\"\n",
                3,
                "queue",
                "unknown variant `red`",
            ),
            (
                "[a]\nrate_mbit = 5\nqueue = \"fq_codel\"\nqueue_flows = 0\n",
                4,
                "queue_flows",
                "out of range [1, 65536]",
            ),
            (
                "[a]\nrate_mbit = 5\nqueue = \"fq_codel\"\nqueue_quantum = 10\n",
                4,
                "queue_quantum",
                "out of range [64, 1048576]",
            ),
            (
                "[a]\nrate_mbit = 5\nqueue = \"codel\"\nqueue_target_ms = 0\n",
                4,
                "queue_target_ms",
                "out of range",
            ),
            (
                "[a]\nrate_mbit = 5\nqueue = \"codel\"\nqueue_target_ms = 150\n",
                4,
                "queue_target_ms",
                "must be below its interval",
            ),
            (
                "[a]\nrate_mbit = 5\nqueue = \"codel\"\nup = { queue_flows = 64 }\n",
                4,
                "queue_flows",
                "queue_flows only applies with queue = fq_codel; this profile's queue is codel",
            ),
        ] {
            let e = ProfileSet::parse(text, "p.toml").unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("p.toml:{line}: {key}: ")) && e.contains(says),
                "{e}"
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
