//! Per-packet delay drawn as Linux netem draws it: a correlated 32-bit random number
//! (`get_crandom`) turned into a delay by `tabledist` — uniform in `delay ± jitter` by default,
//! or through one of iproute2's distribution tables (`normal`, `pareto`, `paretonormal`),
//! read from the files Debian's `iproute2` package installs, so the shape is netem's own.
//!
//! Correlation has netem's meaning: the next random number is `(1 − ρ)·fresh + ρ·last` on the
//! 32-bit integers, before the distribution is applied (not a segment length). As in netem,
//! the number then goes through `rnd mod 2·jitter` (or `mod table size`), which scrambles it:
//! for any jitter below about 4.3 s, correlation has next to no effect. That is netem's
//! behaviour, kept so that both backends agree (docs/netem.md).

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use serde::{Deserialize, Serialize};

/// netem's scale of table entries: a table value `t` means `t / 8192` standard deviations.
const NETEM_DIST_SCALE: i64 = 8192;

/// Where iproute2 installs its tables, in the order tc looks (Debian's multiarch path first).
const TABLE_DIRS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/tc",
    "/usr/lib/aarch64-linux-gnu/tc",
    "/usr/lib/tc",
    "/usr/lib64/tc",
    "/usr/share/tc",
];

/// The shape of the per-packet jitter (profile key `jitter_distribution`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JitterDistribution {
    /// Uniform in `delay ± jitter` (netem's default).
    #[default]
    Uniform,
    /// iproute2's `normal.dist`: `jitter` is the standard deviation.
    Normal,
    /// iproute2's `pareto.dist`.
    Pareto,
    /// iproute2's `paretonormal.dist`.
    Paretonormal,
}

impl JitterDistribution {
    /// The name tc uses (`distribution <name>`), `None` for uniform.
    pub fn table_name(self) -> Option<&'static str> {
        match self {
            Self::Uniform => None,
            Self::Normal => Some("normal"),
            Self::Pareto => Some("pareto"),
            Self::Paretonormal => Some("paretonormal"),
        }
    }
}

/// Why a distribution table could not be read.
#[derive(Debug, Clone, thiserror::Error)]
#[error("jitter_distribution {name:?}: {why} (the tables come with Debian's iproute2 package: apt-get install iproute2)")]
pub struct TableError {
    /// The distribution asked for.
    pub name: &'static str,
    /// What went wrong.
    pub why: String,
}

/// The table of `d` (`None` for uniform), read once from iproute2's file and kept.
pub fn table(d: JitterDistribution) -> Result<Option<&'static [i16]>, TableError> {
    let Some(name) = d.table_name() else {
        return Ok(None);
    };
    static CACHE: OnceLock<Mutex<BTreeMap<&'static str, &'static [i16]>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut c = cache.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(t) = c.get(name) {
        return Ok(Some(t));
    }
    let err = |why: String| TableError { name, why };
    let path = TABLE_DIRS
        .iter()
        .map(|d| std::path::Path::new(d).join(format!("{name}.dist")))
        .find(|p| p.exists())
        .ok_or_else(|| err(format!("no {name}.dist in {}", TABLE_DIRS.join(", "))))?;
    let text =
        std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
    let t = parse_table(&text).map_err(|why| err(format!("{}: {why}", path.display())))?;
    let t: &'static [i16] = Box::leak(t.into_boxed_slice());
    c.insert(name, t);
    Ok(Some(t))
}

/// A `.dist` file: whitespace-separated 16-bit integers, `#` starting a comment line (tc's
/// own reading of it).
fn parse_table(text: &str) -> Result<Vec<i16>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with('#') {
            continue;
        }
        for w in line.split_whitespace() {
            out.push(
                w.parse::<i16>()
                    .map_err(|e| format!("line {}: {w:?}: {e}", n + 1))?,
            );
        }
    }
    if out.is_empty() {
        return Err("no values".into());
    }
    Ok(out)
}

/// netem's correlated random number generator (`get_crandom`): with correlation `rho` the
/// next number is `(fresh · (2³² − ρ) + last · ρ) >> 32`, ρ = `rho · 2³²`.
#[derive(Debug, Clone, Default)]
pub struct CorrelatedRandom {
    last: u32,
}

impl CorrelatedRandom {
    /// The next number, from a `fresh` uniform 32-bit one.
    pub fn next(&mut self, fresh: u32, rho: f64) -> u32 {
        if rho <= 0.0 {
            return fresh;
        }
        let rho = ((rho.min(1.0) * 4_294_967_296.0) as u64).min(1 << 32);
        let answer = (u64::from(fresh) * ((1u64 << 32) - rho) + u64::from(self.last) * rho) >> 32;
        self.last = answer as u32;
        self.last
    }
}

/// netem's `tabledist`: the delay for random number `rnd`, in the units of `mu` and `sigma`
/// (the core uses ns): uniform `mu − sigma + rnd mod 2·sigma` without a table, else
/// `mu + sigma · table[rnd mod len] / 8192` rounded as the kernel rounds it.
pub fn tabledist(mu: i64, sigma: i64, rnd: u32, table: Option<&[i16]>) -> i64 {
    if sigma <= 0 {
        return mu;
    }
    let Some(t) = table else {
        return i64::from(rnd) % (2 * sigma) + mu - sigma;
    };
    let v = i64::from(t[rnd as usize % t.len()]);
    let mut x = (sigma % NETEM_DIST_SCALE) * v;
    if x >= 0 {
        x += NETEM_DIST_SCALE / 2;
    } else {
        x -= NETEM_DIST_SCALE / 2;
    }
    x / NETEM_DIST_SCALE + (sigma / NETEM_DIST_SCALE) * v + mu
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_of(v: &[f64]) -> f64 {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    }

    fn draws(d: JitterDistribution, rho: f64) -> Vec<f64> {
        let t = table(d).unwrap_or_else(|e| panic!("{e}"));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut c = CorrelatedRandom::default();
        (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let rnd = c.next((state >> 32) as u32, rho);
                tabledist(0, 1_000_000, rnd, t) as f64 / 1e6
            })
            .collect()
    }

    /// Uniform ± j has std j/√3 = 0.577 j and 10 % of its draws beyond ±0.9 j; normal has
    /// std j. Correlation narrows the uniform, as netem's does.
    #[test]
    fn draws_have_netems_moments() {
        let u = draws(JitterDistribution::Uniform, 0.0);
        assert!((std_of(&u) - 0.5774).abs() < 0.01, "{}", std_of(&u));
        let beyond = u.iter().filter(|x| x.abs() > 0.9).count() as f64 / u.len() as f64;
        assert!((beyond - 0.10).abs() < 0.01, "{beyond}");
        assert!(u.iter().all(|x| x.abs() <= 1.0));
        // netem's quirk, kept: the correlated number goes through `rnd mod 2·sigma`, so for a
        // jitter far below 2³² ns (≈ 4.3 s) correlation changes neither the spread nor, in
        // effect, the sequence.
        let correlated = draws(JitterDistribution::Uniform, 0.5);
        assert!(
            (std_of(&correlated) - 0.5774).abs() < 0.01,
            "{}",
            std_of(&correlated)
        );
        if table(JitterDistribution::Normal).is_ok() {
            let n = draws(JitterDistribution::Normal, 0.0);
            assert!((std_of(&n) - 1.0).abs() < 0.05, "{}", std_of(&n));
        }
    }

    #[test]
    fn tables_parse_and_bad_ones_are_refused() {
        assert_eq!(parse_table("# c\n1 -2\n 3\n"), Ok(vec![1, -2, 3]));
        assert!(parse_table("1 x").is_err_and(|e| e.contains("line 1")));
        assert!(parse_table("# only\n").is_err());
        assert_eq!(tabledist(10, 0, 123, None), 10);
        assert_eq!(tabledist(0, 8192, 0, Some(&[8192])), 8192);
    }
}
