//! The FAQ verdict records of `results.json` (`verdicts`): what a verdict is, as stored.
//!
//! They live with the results model (below [`crate::verdicts`], which computes them) so the
//! model can hold them typed: a run keeps [`Verdict`]s in memory and summary.md and
//! report.html read them directly. On disk they are written exactly as before (each verdict as
//! a JSON object with its keys in sorted order), and entries of another shape, which older or
//! foreign files may carry, are kept as raw JSON ([`StoredVerdict::Other`]).

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The outcome of a rule.
#[derive(
    Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The measurements agree with the claim, beyond noise.
    Confirmed,
    /// The measurements contradict the claim, beyond noise.
    Refuted,
    /// Cells missing or failed, or the difference is within noise.
    Inconclusive,
}

impl Outcome {
    /// `confirmed`, `refuted` or `inconclusive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Refuted => "refuted",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// One number a verdict rests on, with the cell it came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Evidence {
    /// The cell key `scenario/workload/transport/profile` (workload = its name in the
    /// scenario; transport with its implementation where it has several).
    pub cell: String,
    /// What was read (`latency_p50_us`, `setup_rtts`, …).
    pub metric: String,
    /// Unit of the figures (`µs`, `fraction`, `bytes`, …).
    pub unit: String,
    /// Median over the cell's ok repeats.
    pub median: f64,
    /// Smallest repeat.
    pub min: f64,
    /// Largest repeat.
    pub max: f64,
    /// Ok repeats that had the figure.
    pub repeats: usize,
}

/// A FAQ claim checked against a results file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Verdict {
    /// Stable id (`peer-relay-latency`, `setup-rtts-websocket`, …).
    pub id: String,
    /// Which FAQ line (`1`…`4`) or cross-cutting topic (`setup`, `hol`).
    pub faq: String,
    /// The claim, in words.
    pub claim: String,
    /// The check that decides it, in words.
    pub rule: String,
    /// `confirmed`, `refuted` or `inconclusive`.
    pub verdict: Outcome,
    /// The comparison(s) that decided it, with numbers.
    pub decided_by: String,
    /// The figures read, each naming its cell.
    #[serde(default)]
    pub evidence: Vec<Evidence>,
    /// What the numbers do not cover.
    #[serde(default)]
    pub caveats: Vec<String>,
    /// From a CI-scale (`--quick`) run: fewer clients and repeats, shorter runs. Shown as
    /// "indicative", never like a full-scale verdict.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub indicative: bool,
}

impl Verdict {
    /// The outcome as every output shows it: `refuted`, or `indicative: refuted (--quick)`.
    pub fn outcome_text(&self) -> String {
        if self.indicative {
            format!("indicative: {} (--quick)", self.verdict.as_str())
        } else {
            self.verdict.as_str().to_string()
        }
    }
}

/// One entry of `results.json`'s `verdicts`: a FAQ verdict, or an object of another shape
/// kept as it was read (rendered as a generic table by report.html).
#[derive(Debug, Clone, PartialEq)]
pub enum StoredVerdict {
    /// A FAQ verdict.
    Faq(Verdict),
    /// Any other JSON value, kept verbatim.
    Other(serde_json::Value),
}

impl StoredVerdict {
    /// The FAQ verdict, when this entry is one.
    pub fn faq(&self) -> Option<&Verdict> {
        match self {
            Self::Faq(v) => Some(v),
            Self::Other(_) => None,
        }
    }

    /// The entry as JSON (a FAQ verdict as the object it is written as).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Self::Faq(v) => serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
            Self::Other(v) => v.clone(),
        }
    }
}

impl From<Verdict> for StoredVerdict {
    fn from(v: Verdict) -> Self {
        Self::Faq(v)
    }
}

impl From<serde_json::Value> for StoredVerdict {
    /// A FAQ verdict when the value has its shape, otherwise the value as is.
    fn from(v: serde_json::Value) -> Self {
        match serde_json::from_value::<Verdict>(v.clone()) {
            Ok(faq) => Self::Faq(faq),
            Err(_) => Self::Other(v),
        }
    }
}

impl Serialize for StoredVerdict {
    /// Written through a JSON value, as before verdicts were typed: object keys sorted.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Faq(v) => serde_json::to_value(v)
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
            Self::Other(v) => v.serialize(s),
        }
    }
}

impl JsonSchema for StoredVerdict {
    fn schema_name() -> Cow<'static, str> {
        "StoredVerdict".into()
    }

    /// A FAQ verdict, or any other object (kept verbatim by readers).
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A FAQ verdict, or an object of another shape (kept verbatim).",
            "anyOf": [generator.subschema_for::<Verdict>(), {"type": "object"}]
        })
    }
}

impl<'de> Deserialize<'de> for StoredVerdict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_json::Value::deserialize(d).map(Self::from)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn faq_verdicts_write_sorted_keys_and_other_shapes_stay_verbatim() {
        let v = Verdict {
            id: "x".into(),
            faq: "1".into(),
            claim: "c".into(),
            rule: "r".into(),
            verdict: Outcome::Confirmed,
            decided_by: "d".into(),
            evidence: vec![],
            caveats: vec![],
            indicative: false,
        };
        let text = serde_json::to_string(&StoredVerdict::Faq(v.clone())).unwrap();
        assert_eq!(
            text,
            r#"{"caveats":[],"claim":"c","decided_by":"d","evidence":[],"faq":"1","id":"x","rule":"r","verdict":"confirmed"}"#
        );
        let back: StoredVerdict = serde_json::from_str(&text).unwrap();
        assert_eq!(back, StoredVerdict::Faq(v));
        let other = r#"{"question":"q"}"#;
        let kept: StoredVerdict = serde_json::from_str(other).unwrap();
        assert!(kept.faq().is_none());
        assert_eq!(serde_json::to_string(&kept).unwrap(), other);
    }
}
