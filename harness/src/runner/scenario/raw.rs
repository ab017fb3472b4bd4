//! A scenario file's tables as TOML gives them, before validation: the parameter keys of
//! `[defaults]`, `[quick]` and each `[[workload]]` are read generically against the parameter
//! catalogue ([`crate::workload::catalogue::catalogue`]), each typed by its declaration, so a new
//! parameter needs no change here.
//!
//! The tables are read by serde visitors, in the order TOML hands the keys over, so a wrong type
//! or an unknown key is reported exactly as a derived `deny_unknown_fields` struct would (same
//! message, same span).

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::OnceLock;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use toml::Spanned;

use crate::workload::catalogue::catalogue;
use crate::workload::params::{ParamDecl, ParamType};

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScenario {
    pub name: Option<String>,
    pub description: Option<String>,
    pub client: Option<Spanned<String>>,
    pub transports: Option<Vec<Spanned<String>>>,
    pub profiles: Option<Vec<Spanned<String>>>,
    pub repeat: Option<Spanned<u32>>,
    #[serde(default)]
    pub defaults: Defaults,
    /// CI scale: overrides applied by `wirebench run --quick`.
    #[serde(default)]
    pub quick: RawTable,
    #[serde(default)]
    pub workload: Vec<Workload>,
    /// Absolute pass/fail limits: `"echo.websocket.p99_us" = "< 2000"`.
    #[serde(default)]
    pub thresholds: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// A parameter value as given, typed by its declaration.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RawValue {
    /// `f64` keys.
    F64(f64),
    /// `u64` keys.
    U64(u64),
    /// `u32` keys.
    U32(u32),
    /// String keys.
    Str(String),
}

/// The parameter keys one table sets, with their spans.
#[derive(Debug, Clone, Default)]
pub(super) struct RawParams(BTreeMap<&'static str, Spanned<RawValue>>);

impl RawParams {
    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&Spanned<RawValue>> {
        self.0.get(key)
    }

    /// Where `key` is set, if it is.
    pub fn span(&self, key: &str) -> Option<Range<usize>> {
        self.get(key).map(Spanned::span)
    }

    /// Each overridable parameter (`quick` in its declaration) from `self` where set, else from
    /// `under`; every other key from `under`.
    pub fn over(&self, under: &RawParams) -> RawParams {
        let mut out = under.clone();
        for (k, v) in &self.0 {
            if catalogue().any(|d| d.key == *k && d.quick) {
                out.0.insert(k, v.clone());
            }
        }
        out
    }
}

/// A `[[workload]]`, `[quick]` or a workload's `quick = { … }`: its own keys and its parameters.
/// A workload's own `quick` wins over the scenario's `[quick]`, which wins over the normal
/// values.
#[derive(Debug, Clone, Default)]
pub(super) struct RawTable {
    /// `kind`, `name`, `client` (workload only).
    pub text: BTreeMap<&'static str, Spanned<String>>,
    /// `transports`, `profiles`.
    pub names: BTreeMap<&'static str, Vec<Spanned<String>>>,
    /// `repeat` (quick only: a workload's quick refuses it after parsing).
    pub repeat: Option<Spanned<u32>>,
    /// A workload's `quick = { … }`.
    pub quick: Option<Box<RawTable>>,
    /// The parameters.
    pub params: RawParams,
}

impl RawTable {
    /// A text key (`kind`, `name`, `client`).
    pub fn text(&self, key: &str) -> Option<&Spanned<String>> {
        self.text.get(key)
    }

    /// A list of names (`transports`, `profiles`).
    pub fn names(&self, key: &str) -> Option<&Vec<Spanned<String>>> {
        self.names.get(key)
    }

    /// A workload's `quick = { … }` (empty when not given).
    pub fn quick(&self) -> &RawTable {
        static EMPTY: OnceLock<RawTable> = OnceLock::new();
        self.quick
            .as_deref()
            .unwrap_or_else(|| EMPTY.get_or_init(RawTable::default))
    }
}

/// A `[[workload]]`: its required `kind` and the rest of its table.
#[derive(Debug)]
pub(super) struct Workload {
    /// The workload id.
    pub kind: Spanned<String>,
    /// Its other keys.
    pub table: RawTable,
}

/// The `[defaults]` table: parameters only.
#[derive(Debug, Default)]
pub(super) struct Defaults(pub RawParams);

/// What a table key holds.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Param(&'static ParamDecl),
    Text,
    Names,
    Repeat,
    Quick,
}

/// Which table is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Defaults,
    Quick,
    Workload,
}

impl Shape {
    /// The name unknown-type messages give the table (the old structs' names).
    fn name(self) -> &'static str {
        match self {
            Self::Defaults => "RawParams",
            Self::Quick => "RawQuick",
            Self::Workload => "RawWorkload",
        }
    }

    /// The keys of the table, in the order the unknown-key message lists them.
    fn fields(self) -> &'static [&'static str] {
        static CELLS: [OnceLock<Vec<&'static str>>; 3] =
            [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let cell = &CELLS[self as usize];
        cell.get_or_init(|| self.build_fields())
    }

    fn build_fields(self) -> Vec<&'static str> {
        let params: Vec<&'static str> = catalogue().map(|d| d.key).collect();
        match self {
            Self::Defaults => params,
            Self::Quick => {
                let mut v = vec!["repeat", "profiles", "transports"];
                v.extend(catalogue().filter(|d| d.quick).map(|d| d.key));
                legacy_quick_order(&mut v);
                v
            }
            Self::Workload => {
                let (late, early): (Vec<&'static str>, Vec<&'static str>) = params
                    .iter()
                    .copied()
                    .partition(|k| LISTED_AFTER_QUICK.contains(k));
                let mut v = vec!["kind", "name", "client", "transports", "profiles"];
                v.extend(early);
                v.push("quick");
                v.extend(late);
                v
            }
        }
    }

    /// What `key` holds in this table (the key is one of [`Shape::fields`]).
    fn slot(self, key: &str) -> Option<Slot> {
        if !self.fields().contains(&key) {
            return None;
        }
        Some(match key {
            "kind" | "name" | "client" => Slot::Text,
            "transports" | "profiles" => Slot::Names,
            "repeat" => Slot::Repeat,
            "quick" => Slot::Quick,
            k => Slot::Param(catalogue().find(|d| d.key == k)?),
        })
    }
}

/// Keys a `[[workload]]`'s unknown-key message lists after `quick` (they came last), so the
/// message reads as it always has.
const LISTED_AFTER_QUICK: &[&str] = &["deadline_ms", "pair_delay_ms", "server_delay_ms"];

/// `[quick]`'s unknown-key message has always listed `quiet_ms` before `notify_interval_ms`.
fn legacy_quick_order(v: &mut [&'static str]) {
    let q = v.iter().position(|k| *k == "quiet_ms");
    let n = v.iter().position(|k| *k == "notify_interval_ms");
    if let (Some(q), Some(n)) = (q, n) {
        if n < q {
            v[n..=q].rotate_right(1);
        }
    }
}

/// What one key's value was read as.
enum Got {
    Param(Spanned<RawValue>),
    Text(Spanned<String>),
    Names(Vec<Spanned<String>>),
    Repeat(Spanned<u32>),
    Quick(RawTable),
}

/// Reads a value as its slot says.
struct SlotSeed(Slot);

impl<'de> DeserializeSeed<'de> for SlotSeed {
    type Value = Got;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Got, D::Error> {
        fn typed<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
            f: impl FnOnce(T) -> RawValue,
        ) -> Result<Got, D::Error> {
            let s = Spanned::<T>::deserialize(d)?;
            let span = s.span();
            Ok(Got::Param(Spanned::new(span, f(s.into_inner()))))
        }
        match self.0 {
            Slot::Param(decl) => match decl.ty {
                ParamType::F64 => typed(d, RawValue::F64),
                ParamType::U64 => typed(d, RawValue::U64),
                ParamType::U32 => typed(d, RawValue::U32),
                ParamType::Str => typed(d, RawValue::Str),
            },
            Slot::Text => Spanned::deserialize(d).map(Got::Text),
            Slot::Names => Vec::deserialize(d).map(Got::Names),
            Slot::Repeat => Spanned::deserialize(d).map(Got::Repeat),
            Slot::Quick => d
                .deserialize_struct(
                    Shape::Quick.name(),
                    Shape::Quick.fields(),
                    TableVisitor(Shape::Quick),
                )
                .map(Got::Quick),
        }
    }
}

/// Reads a key, refusing those the table does not take.
struct KeySeed(Shape);

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<&'static str, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<&'static str, E> {
        let fields = self.0.fields();
        match fields.iter().find(|k| **k == v) {
            Some(k) => Ok(k),
            None => Err(E::unknown_field(v, fields)),
        }
    }
}

/// Reads one table of a [`Shape`].
struct TableVisitor(Shape);

impl TableVisitor {
    /// Stores `got` under `key`; a key given twice is refused.
    fn put<E: de::Error>(t: &mut RawTable, key: &'static str, got: Got) -> Result<(), E> {
        let dup = match got {
            Got::Param(v) => t.params.0.insert(key, v).is_some(),
            Got::Text(v) => t.text.insert(key, v).is_some(),
            Got::Names(v) => t.names.insert(key, v).is_some(),
            Got::Repeat(v) => t.repeat.replace(v).is_some(),
            Got::Quick(v) => t.quick.replace(Box::new(v)).is_some(),
        };
        if dup {
            return Err(E::duplicate_field(key));
        }
        Ok(())
    }
}

impl<'de> Visitor<'de> for TableVisitor {
    type Value = RawTable;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "struct {}", self.0.name())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTable, A::Error> {
        let mut t = RawTable::default();
        while let Some(key) = map.next_key_seed(KeySeed(self.0))? {
            let slot = self
                .0
                .slot(key)
                .ok_or_else(|| <A::Error as de::Error>::unknown_field(key, self.0.fields()))?;
            let got = map.next_value_seed(SlotSeed(slot))?;
            Self::put(&mut t, key, got)?;
        }
        if self.0 == Shape::Workload && t.text("kind").is_none() {
            return Err(de::Error::missing_field("kind"));
        }
        Ok(t)
    }

    /// A table given as an array: its keys in order, as serde reads a struct from a sequence.
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawTable, A::Error> {
        let fields = self.0.fields();
        let mut t = RawTable::default();
        for (i, key) in fields.iter().enumerate() {
            let Some(slot) = self.0.slot(key) else {
                continue;
            };
            match seq.next_element_seed(SlotSeed(slot))? {
                Some(got) => Self::put(&mut t, key, got)?,
                // A workload's `quick` has a default.
                None if matches!(slot, Slot::Quick) => {}
                None => {
                    let what = format!("struct {} with {} elements", self.0.name(), fields.len());
                    return Err(de::Error::invalid_length(i, &what.as_str()));
                }
            }
        }
        Ok(t)
    }
}

impl<'de> Deserialize<'de> for RawTable {
    /// As `[quick]`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_struct(
            Shape::Quick.name(),
            Shape::Quick.fields(),
            TableVisitor(Shape::Quick),
        )
    }
}

impl<'de> Deserialize<'de> for Workload {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Shape::Workload;
        let mut table = d.deserialize_struct(s.name(), s.fields(), TableVisitor(s))?;
        // The visitor refuses a workload without a kind; this never fails.
        let kind = table
            .text
            .remove("kind")
            .ok_or_else(|| <D::Error as de::Error>::missing_field("kind"))?;
        Ok(Workload { kind, table })
    }
}

impl<'de> Deserialize<'de> for Defaults {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Shape::Defaults;
        d.deserialize_struct(s.name(), s.fields(), TableVisitor(s))
            .map(|t| Defaults(t.params))
    }
}
