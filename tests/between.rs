//! The network in between, end to end: a real nginx in front of the server (each variant does
//! what it is named for, and nothing of it is left after a run or a Ctrl-C), and competing bulk
//! traffic sharing a shaped uplink under drop-tail and FQ-CoDel.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wirebench_reports::{Cell, Results, Status};

fn wirebench() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("wirebench").unwrap()
}

/// Whether this test can run: root (namespaces) and nginx present. CI has both; elsewhere the
/// test says why it skips.
fn can_run(needs_nginx: bool) -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let nginx = !needs_nginx
        || ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .iter()
            .any(|p| Path::new(p).exists());
    if std::env::var_os("CI").is_some() {
        assert!(root && nginx, "CI runs as root with nginx installed");
    }
    if !(root && nginx) {
        eprintln!("skipped: needs root and nginx");
    }
    root && nginx
}

fn own_prefix(test: &str) -> String {
    format!("wb-t{}{test}-", std::process::id())
}

/// Processes whose command line mentions `needle` (nginx's are started with `-p <its dir>`).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmd) = std::fs::read(e.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
            if cmd.contains(needle) && !cmd.contains("cargo") {
                found.push(cmd);
            }
        }
    }
    found
}

/// What a proxied run may leave behind in `tmp`: nginx directories and processes.
fn leftovers(tmp: &Path) -> Vec<String> {
    let mut left: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with("wirebench-nginx-"))
        .collect();
    left.extend(processes_mentioning(
        &tmp.join("wirebench-nginx-").to_string_lossy(),
    ));
    left
}

fn cell<'a>(r: &'a Results, label: &str, transport: &str) -> &'a Cell {
    r.cells
        .iter()
        .find(|c| c.label.as_deref().unwrap_or(&c.workload) == label && c.transport == transport)
        .unwrap_or_else(|| panic!("no cell {label}/{transport}"))
}

fn p50_ms(c: &Cell) -> f64 {
    c.latency_us.as_ref().and_then(|l| l.p50).expect("a p50") as f64 / 1000.0
}

const PROXY_SCENARIO: &str = r#"name = "proxied"
repeat = 1
transports = ["websocket", "sse", "webtransport"]
profiles = ["loopback"]
[defaults]
warmup_ms = 200
duration_ms = 800
[[workload]]
kind = "push"
name = "direct"
rate = 100
size = 128
[[workload]]
kind = "push"
name = "streaming"
rate = 100
size = 128
proxy = "nginx-streaming"
[[workload]]
kind = "push"
name = "default"
rate = 100
size = 128
proxy = "nginx-default"
[[workload]]
kind = "echo"
name = "bare"
rate = 100
proxy = "nginx-bare"
[[workload]]
kind = "connect"
name = "connect-default"
connects = 3
proxy = "nginx-default"
"#;

/// Through nginx-streaming SSE delivers every event at the unproxied latency plus a bounded
/// cost; nginx-default's buffering holds the event stream (the cell fails saying through which
/// proxy) while its WebSocket recipe works, and a `connect` cell through it gives up on the
/// held stream after the connect timeout, saying so, not at the cell's time limit; a bare
/// proxy_pass breaks the WebSocket upgrade; WebTransport bypasses the proxy and says so; no
/// nginx process or directory is left.
#[test]
fn nginx_variants_do_what_they_are_named_for() {
    if !can_run(true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let scenario = dir.path().join("proxied.toml");
    std::fs::write(&scenario, PROXY_SCENARIO).unwrap();
    let out = dir.path().join("out");
    wirebench()
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&scenario)
        .env("TMPDIR", &tmp)
        .env("WIREBENCH_NETNS_PREFIX", own_prefix("proxy"))
        .timeout(Duration::from_secs(300))
        .assert()
        .code(3);
    let r = Results::load(&out.join("results.json")).unwrap();
    let streaming = cell(&r, "streaming", "sse");
    assert_eq!(streaming.status, Status::Ok, "{streaming:?}");
    assert_eq!(streaming.params["proxy"], "nginx-streaming");
    let d = streaming.delivery.as_ref().unwrap();
    assert_eq!(d.lost, 0, "{d:?}");
    let (direct, proxied) = (p50_ms(cell(&r, "direct", "sse")), p50_ms(streaming));
    assert!(
        proxied < direct + 5.0,
        "SSE through nginx-streaming: p50 {proxied:.2} ms vs {direct:.2} ms direct"
    );
    let default = cell(&r, "default", "sse");
    assert_eq!(default.status, Status::Failed, "{default:?}");
    let why = default.error.as_deref().unwrap_or_default();
    assert!(why.contains("through nginx (nginx-default)"), "{why}");
    assert_eq!(cell(&r, "default", "websocket").status, Status::Ok);
    let held = cell(&r, "connect-default", "sse");
    assert_eq!(held.status, Status::Failed, "{held:?}");
    let why = held.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("connect #1") && why.contains("no connection after 30 s"),
        "{why}"
    );
    assert_eq!(cell(&r, "connect-default", "websocket").status, Status::Ok);
    let bare = cell(&r, "bare", "websocket");
    assert_eq!(bare.status, Status::Failed);
    assert!(
        bare.error.as_deref().unwrap_or_default().contains("400"),
        "{bare:?}"
    );
    let wt = cell(&r, "streaming", "webtransport");
    assert_eq!(wt.status, Status::Ok, "{wt:?}");
    assert_eq!(wt.params["proxy_bypassed"], true);
    assert!(!cell(&r, "direct", "sse").params.contains_key("proxy"));
    assert_eq!(leftovers(&tmp), Vec::<String>::new(), "left behind");
}

/// Ctrl-C while nginx is serving a cell stops nginx (master and worker) and removes its
/// directory.
#[test]
fn ctrl_c_stops_nginx() {
    if !can_run(true) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let scenario = dir.path().join("long.toml");
    std::fs::write(
        &scenario,
        "name = \"long\"\nrepeat = 1\ntransports = [\"websocket\"]\nprofiles = [\"lan\"]\n\
         [[workload]]\nkind = \"echo\"\nrate = 50\nwarmup_ms = 100\nduration_ms = 30000\n\
         proxy = \"nginx-streaming\"\n",
    )
    .unwrap();
    let prefix = own_prefix("proxyint");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wirebench"))
        .args(["run", "--quiet", "--netem", "userspace", "--out"])
        .arg(dir.path().join("out"))
        .arg(&scenario)
        .env("TMPDIR", &tmp)
        .env("WIREBENCH_NETNS_PREFIX", &prefix)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let needle = tmp.join("wirebench-nginx-").to_string_lossy().to_string();
    let t0 = Instant::now();
    while processes_mentioning(&needle).len() < 2 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        processes_mentioning(&needle).len() >= 2,
        "nginx (master and worker) never ran"
    );
    // SAFETY: signalling our own child by pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let _ = child.wait();
    // The worker may take a moment to see its master go.
    let t0 = Instant::now();
    while !leftovers(&tmp).is_empty() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(leftovers(&tmp), Vec::<String>::new(), "left behind");
}

/// A bulk upload on the same shaped uplink (cross_traffic) runs near the uplink's rate; under
/// drop-tail it builds a standing queue that delays echo, under FQ-CoDel echo's packets pass
/// it. The queue discipline is recorded.
#[test]
fn cross_traffic_shares_the_bottleneck() {
    if !can_run(false) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("load.toml");
    std::fs::write(
        &scenario,
        "name = \"load\"\nrepeat = 1\ntransports = [\"tcp\"]\n\
         profiles = [\"broadband\", \"broadband-fq_codel\"]\n\
         [[workload]]\nkind = \"echo\"\nrate = 50\nwarmup_ms = 3000\nduration_ms = 1500\n\
         cross_traffic = 1\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let prefix = own_prefix("cross");
    wirebench()
        .args(["run", "--quiet", "--netem", "userspace", "--out"])
        .arg(&out)
        .arg(&scenario)
        .env("WIREBENCH_NETNS_PREFIX", &prefix)
        .timeout(Duration::from_secs(120))
        .assert()
        .code(0);
    let r = Results::load(&out.join("results.json")).unwrap();
    let by = |profile: &str| {
        r.cells
            .iter()
            .find(|c| c.profile == profile)
            .unwrap_or_else(|| panic!("no {profile} cell"))
    };
    let (tail, fq) = (by("broadband"), by("broadband-fq_codel"));
    for (c, queue) in [(tail, "droptail"), (fq, "fq_codel")] {
        assert_eq!(c.status, Status::Ok, "{c:?}");
        assert_eq!(c.params["queue"], queue);
        assert_eq!(c.params["cross_traffic"], 1);
        // broadband's uplink is 20 Mbit/s of IP bytes: the flow must fill most of it.
        let mbit = c.params["cross_traffic_mbit"].as_f64().unwrap();
        assert!((12.0..=20.5).contains(&mbit), "{queue}: {mbit} Mbit/s");
    }
    assert!(
        p50_ms(fq) < p50_ms(tail),
        "echo beside a bulk upload: fq_codel p50 {:.2} ms, drop-tail {:.2} ms",
        p50_ms(fq),
        p50_ms(tail)
    );
    let left: Vec<PathBuf> = std::fs::read_dir("/run/netns")
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        !left.iter().any(|p| p.to_string_lossy().contains(&prefix)),
        "namespaces left behind: {left:?}"
    );
}
