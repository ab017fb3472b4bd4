//! Is the machine quiet enough to measure? Before the first cell, `run` times 1,000 precise
//! wake-ups at 1 kHz with the agents' open-loop senders' own timer (a timerfd, then a spin of
//! the last [`crate::clock::spin_ns`]) and holds their lateness p99 to the harness-bound floor. Right
//! after heavy work (a build, a big delete: the kernel writes back for minutes) wake-ups run
//! milliseconds late and the first repeats' cells come out harness-bound; `--settle SECS` waits
//! for the machine to quiet down instead, and the results record what was found
//! ([`Settle`]).

use std::future::Future;
use std::time::{Duration, Instant};

use wirebench_reports::model::{HarnessBound, Settle};

use crate::clock::{now_ns, tighten_timer_slack, PreciseTimer};
use crate::workload::report::new_histogram;
use crate::workload::schedule;

/// Wake-ups per probe, and their period: 1,000 at 1 kHz, enough samples for a p99.
const PROBE_WAKEUPS: u32 = 1_000;
const PROBE_PERIOD_NS: u64 = 1_000_000;
/// Pause between probes while waiting (the probe itself takes 1 s).
const PROBE_GAP: Duration = Duration::from_secs(4);

/// One probe: the p99 of how late [`PROBE_WAKEUPS`] wake-ups were, µs, waited for with the
/// senders' own [`PreciseTimer`] and recorded and read as their lateness is
/// ([`schedule::lateness`]); `u64::MAX` when the timer cannot be made.
pub async fn probe() -> u64 {
    probe_timer().await.unwrap_or(u64::MAX)
}

async fn probe_timer() -> std::io::Result<u64> {
    tighten_timer_slack();
    let mut timer = PreciseTimer::new()?;
    let mut late = new_histogram();
    let start = now_ns() + PROBE_PERIOD_NS;
    for i in 0..u64::from(PROBE_WAKEUPS) {
        let deadline = start + i * PROBE_PERIOD_NS;
        timer.sleep_until_ns(deadline).await?;
        schedule::record_lateness(&mut late, deadline);
    }
    Ok(schedule::lateness(&late)[1])
}

/// Probes once and, when the machine is busy and `max_wait` is not zero, keeps probing every
/// few seconds until it is quiet or `max_wait` has passed; says what it found on stderr unless
/// `quiet` (a busy machine is always said).
pub async fn settle(max_wait: Duration, quiet: bool) -> Settle {
    settle_with(max_wait, PROBE_GAP, probe, |line, always| {
        if always || !quiet {
            eprintln!("wirebench: {line}");
        }
    })
    .await
}

/// [`settle`] with the probe, the gap between probes and the output given (for tests).
async fn settle_with<P, F>(
    max_wait: Duration,
    gap: Duration,
    mut probe: P,
    mut say: impl FnMut(&str, bool),
) -> Settle
where
    P: FnMut() -> F,
    F: Future<Output = u64>,
{
    let limit_us = HarnessBound::limit_us(None);
    let started = Instant::now();
    let mut s = Settle {
        limit_us,
        ..Settle::default()
    };
    loop {
        s.timer_lateness_p99_us = probe().await;
        s.probes += 1;
        s.settled = s.timer_lateness_p99_us <= limit_us;
        let waited = started.elapsed();
        s.waited_ms = waited.as_millis() as u64;
        let late = s.timer_lateness_p99_us;
        if s.settled {
            if s.probes > 1 {
                say(
                    &format!(
                        "the machine settled after {:.0} s (timer wake-ups p99 {late} µs late)",
                        waited.as_secs_f64()
                    ),
                    true,
                );
            }
            return s;
        }
        if s.probes == 1 {
            let what = if max_wait.is_zero() {
                "; `--settle SECS` waits for it to quiet down".to_string()
            } else {
                format!(
                    "; waiting up to {} s for it to quiet down",
                    max_wait.as_secs()
                )
            };
            say(
                &format!(
                    "the machine is busy: timer wake-ups are {late} µs late at p99, over the \
                     {limit_us} µs harness-bound limit (cells whose sender is that late are \
                     flagged harness-bound){what}"
                ),
                true,
            );
        } else {
            say(
                &format!(
                    "still busy after {:.0} s: p99 {late} µs",
                    waited.as_secs_f64()
                ),
                false,
            );
        }
        if waited + gap >= max_wait {
            if !max_wait.is_zero() {
                say(
                    &format!(
                        "the machine did not settle within {} s (p99 {late} µs); measuring \
                         anyway, expect harness-bound cells",
                        max_wait.as_secs()
                    ),
                    true,
                );
            }
            return s;
        }
        tokio::time::sleep(gap).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seq: &[u64], max_wait: Duration) -> (Settle, Vec<String>) {
        let mut it = seq.iter().copied();
        let mut lines = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let s = rt.block_on(settle_with(
            max_wait,
            Duration::from_millis(1),
            || std::future::ready(it.next().unwrap_or(u64::MAX)),
            |l, _| lines.push(l.to_string()),
        ));
        (s, lines)
    }

    #[test]
    fn a_quiet_machine_is_probed_once_and_nothing_is_said() {
        let (s, lines) = run(&[40, 9_000], Duration::from_secs(60));
        assert_eq!(
            (s.probes, s.settled, s.timer_lateness_p99_us),
            (1, true, 40)
        );
        assert_eq!(s.limit_us, 100);
        assert!(lines.is_empty(), "{lines:?}");
    }

    #[test]
    fn a_busy_machine_is_waited_for_until_it_settles() {
        let (s, lines) = run(&[1_948, 400, 60], Duration::from_secs(60));
        assert_eq!(
            (s.probes, s.settled, s.timer_lateness_p99_us),
            (3, true, 60)
        );
        assert!(lines[0].contains("1948 µs late at p99"), "{lines:?}");
        assert!(lines[0].contains("waiting up to 60 s"), "{lines:?}");
        assert!(lines.last().unwrap().contains("settled after"), "{lines:?}");
    }

    #[test]
    fn without_settle_a_busy_machine_is_said_and_recorded_not_waited_for() {
        let (s, lines) = run(&[700, 10], Duration::ZERO);
        assert_eq!(
            (s.probes, s.settled, s.timer_lateness_p99_us),
            (1, false, 700)
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("--settle SECS"), "{lines:?}");
    }

    #[test]
    fn waiting_ends_at_the_limit_and_says_so() {
        let (s, lines) = run(&[700; 1_000], Duration::from_millis(20));
        assert!(!s.settled);
        assert!(s.probes >= 2, "{s:?}");
        assert!(
            lines.last().unwrap().contains("did not settle"),
            "{lines:?}"
        );
    }
}
