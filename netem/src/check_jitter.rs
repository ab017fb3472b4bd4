//! `netem check`'s jitter rows: the spread of the probes' RTT beside what the link model
//! predicts for the same probe schedule, so an emulator that narrows or widens the delay
//! distribution (timer error, a wrong draw) shows up as a failed row.
//!
//! The prediction runs the sans-IO link core on a virtual clock: each probe leaves at its
//! scheduled time, crosses the up link, is echoed at once and crosses the down link. That
//! includes everything netem's semantics put into the distribution — the configured draw
//! (uniform or a table), `jitter_correlation` (netem's `get_crandom`), and the FIFO order kept
//! unless `reorder` is set, which at 10 ms probes and tens of ms of jitter narrows the spread.
//! The same without FIFO (netem's draw alone) is printed too, for reference.

use std::time::Duration;

use crate::core::{LinkCore, SendOutcome};
use crate::findings::CheckLine;
use crate::profile::LinkParams;

/// Probe spacing of `measure_rtt`.
pub(crate) const PROBE_GAP: Duration = Duration::from_millis(10);
/// Probes simulated for the prediction.
const MODEL_PROBES: u64 = 50_000;
/// IP length of a probe (64 payload bytes + UDP/IP headers).
const PROBE_IP_LEN: usize = 92;

/// Spread of a set of RTTs: standard deviation and p99 − median, ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Spread {
    pub std_ms: f64,
    pub tail_ms: f64,
}

impl Spread {
    /// The spread of `v`, RTTs in ms sorted ascending; `None` for fewer than 100.
    pub(crate) fn of_sorted(v: &[f64]) -> Option<Self> {
        if v.len() < 100 {
            return None;
        }
        let n = v.len() as f64;
        let mean = v.iter().sum::<f64>() / n;
        let std_ms = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let p99 = v[((n * 0.99) as usize).min(v.len() - 1)];
        Some(Self {
            std_ms,
            tail_ms: p99 - v[v.len() / 2],
        })
    }
}

/// The RTT spread the link model predicts for probes every [`PROBE_GAP`], with FIFO kept
/// (`fifo`, as configured) or with every probe's delay drawn alone.
pub(crate) fn predicted(
    up: &LinkParams,
    down: &LinkParams,
    seed: u64,
    fifo: bool,
) -> Option<Spread> {
    let relax = |p: &LinkParams| {
        let mut p = *p;
        p.loss = 0.0;
        p.gilbert_elliott = None;
        p.duplicate = 0.0;
        if !fifo && p.reorder == 0.0 {
            // Every probe independent: a reorder share of 0+ turns FIFO off without letting
            // any probe skip the delay line.
            p.reorder = f64::MIN_POSITIVE;
        }
        p
    };
    let mut up_core: LinkCore<()> = LinkCore::new(relax(up), seed);
    let mut down_core: LinkCore<()> = LinkCore::new(relax(down), seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut rtts = Vec::with_capacity(MODEL_PROBES as usize);
    for i in 0..MODEL_PROBES {
        let sent = PROBE_GAP * i as u32;
        let Some(at_server) = through(&mut up_core, sent) else {
            continue;
        };
        // With FIFO the echo enters the down link when it arrived (in order); drawn alone,
        // on the probes' own schedule (a core takes its input in time order) plus the up
        // delay: the same independent draw.
        let (enter, offset) = if fifo {
            (at_server, Duration::ZERO)
        } else {
            (sent, at_server - sent)
        };
        if let Some(back) = through(&mut down_core, enter) {
            rtts.push((back + offset - sent).as_secs_f64() * 1e3);
        }
    }
    rtts.sort_by(f64::total_cmp);
    Spread::of_sorted(&rtts)
}

/// When a probe sent into `core` at `now` comes out (`None`: dropped).
fn through(core: &mut LinkCore<()>, now: Duration) -> Option<Duration> {
    match core.send(now, (), PROBE_IP_LEN) {
        SendOutcome::Scheduled { .. } => {
            let at = core.next_deadline()?;
            while core.poll_transmit(at).is_some() {}
            Some(at)
        }
        _ => None,
    }
}

/// The jitter rows for measured `rtts` (ms, sorted ascending) on a link of `up` and `down`: standard deviation
/// and p99 − median, measured against the model's prediction (±15 % + 0.15 ms for the
/// deviation, ±25 % + 0.3 ms for the tail). No rows without jitter.
pub(crate) fn jitter_lines(
    up: &LinkParams,
    down: &LinkParams,
    rtts: &[f64],
    seed: u64,
) -> Vec<CheckLine> {
    if up.jitter_ms <= 0.0 && down.jitter_ms <= 0.0 {
        return Vec::new();
    }
    let (Some(model), Some(netem_draw), Some(measured)) = (
        predicted(up, down, seed, true),
        predicted(up, down, seed, false),
        Spread::of_sorted(rtts),
    ) else {
        return Vec::new();
    };
    let fifo_note = if up.reorder > 0.0 || down.reorder > 0.0 {
        String::new()
    } else {
        format!(" (draw alone, no FIFO: {:.2})", netem_draw.std_ms)
    };
    vec![
        CheckLine {
            metric: "rtt jitter std ms".into(),
            configured: format!("{:.2}{fifo_note}", model.std_ms),
            measured: format!("{:.3}", measured.std_ms),
            pass: Some((measured.std_ms - model.std_ms).abs() <= 0.15 * model.std_ms + 0.15),
        },
        CheckLine {
            metric: "rtt jitter tail (p99-median) ms".into(),
            configured: format!(
                "{:.2} (draw alone: {:.2})",
                model.tail_ms, netem_draw.tail_ms
            ),
            measured: format!("{:.3}", measured.tail_ms),
            pass: Some((measured.tail_ms - model.tail_ms).abs() <= 0.25 * model.tail_ms + 0.3),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(jitter_ms: f64, rho: f64) -> LinkParams {
        LinkParams {
            delay_ms: 50.0,
            jitter_ms,
            jitter_correlation: rho,
            ..LinkParams::default()
        }
    }

    /// Uniform ±j each way, drawn alone: each direction's std is j/√3, the RTT's √2 times that.
    #[test]
    fn the_draw_alone_matches_netems_uniform() {
        let s = predicted(&link(10.0, 0.0), &link(10.0, 0.0), 7, false).unwrap();
        let want = (2.0f64).sqrt() * 10.0 / 3f64.sqrt();
        assert!((s.std_ms - want).abs() < 0.1, "{s:?} vs {want}");
    }

    /// As in the kernel, correlation leaves uniform jitter's spread as it is (netem takes the
    /// correlated number modulo 2·jitter in ns, and the correlation lives in its high bits);
    /// FIFO at 10 ms probes narrows ±40 ms jitter (a probe cannot leave before the one ahead).
    #[test]
    fn fifo_narrows_and_correlation_leaves_uniform_jitter() {
        let alone = predicted(&link(10.0, 0.0), &link(10.0, 0.0), 7, false).unwrap();
        let corr = predicted(&link(10.0, 0.5), &link(10.0, 0.5), 7, false).unwrap();
        assert!(
            (corr.std_ms / alone.std_ms - 1.0).abs() < 0.05,
            "{corr:?} vs {alone:?}"
        );
        let alone = predicted(&link(40.0, 0.0), &link(40.0, 0.0), 7, false).unwrap();
        let fifo = predicted(&link(40.0, 0.0), &link(40.0, 0.0), 7, true).unwrap();
        assert!(fifo.std_ms < 0.9 * alone.std_ms, "{fifo:?} vs {alone:?}");
    }

    /// A measured spread much narrower than the model fails its row.
    #[test]
    fn a_narrow_measurement_fails() {
        let up = link(10.0, 0.0);
        let mut narrow: Vec<f64> = (0..1000).map(|i| 100.0 + (i % 10) as f64 * 0.5).collect();
        narrow.sort_by(f64::total_cmp);
        let rows = jitter_lines(&up, &up, &narrow, 3);
        assert_eq!(rows.len(), 2);
        assert!(rows.iter().all(|r| r.pass == Some(false)), "{rows:?}");
        let none = jitter_lines(&link(0.0, 0.0), &link(0.0, 0.0), &narrow, 3);
        assert!(none.is_empty());
    }
}
