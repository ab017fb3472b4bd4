//! NATs, a real coturn and ICE through it, end to end (issue 17): `wirebench run` on the
//! userspace link emulator with the NAT, ICE and TURN keys; the path each WebRTC cell's
//! selected candidate pair took (`params.ice_path`, as webrtc-rs reports it) checked against
//! the topology; and nothing left behind — no `turnserver`, no coturn directory, no namespace
//! of the test's prefix — after success, a coturn that fails to start, and Ctrl-C.
//!
//! Needs root (namespaces), `nft` (NATs) and coturn; CI has all three and runs these.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use wirebench_reports::{Cell, Results, Status};

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_wirebench"))
}

/// Whether this machine can run these tests (root, nft, coturn); in CI it must.
fn can_run() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let has = |p: &str| {
        ["/usr/sbin", "/usr/bin", "/sbin"]
            .iter()
            .any(|d| Path::new(d).join(p).is_file())
    };
    let ok = root && has("nft") && has("turnserver");
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with nftables and coturn installed"
        );
        eprintln!("skipped: needs root, nft and turnserver");
    }
    ok
}

fn own_prefix(test: &str) -> String {
    format!("wb-t{}{test}-", std::process::id())
}

/// Named namespaces starting with `prefix`.
fn netns_with(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(prefix))
        .map(str::to_string)
        .collect()
}

/// Processes of `program` whose command line names `tmp` (this test's own temporary
/// directory: coturn's configuration, Chromium's profiles).
fn processes_under(program: &str, tmp: &Path) -> Vec<String> {
    let needle = tmp.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(program) && c.contains(&needle))
        .collect()
}

/// coturn directories left in `tmp`.
fn turn_dirs_in(tmp: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("wirebench-turn-"))
        })
        .collect()
}

/// Checks nothing of the run is left: namespaces, coturn processes, coturn directories.
fn nothing_left(prefix: &str, tmp: &Path) {
    assert_eq!(netns_with(prefix), Vec::<String>::new(), "namespaces left");
    assert_eq!(
        processes_under("turnserver", tmp),
        Vec::<String>::new(),
        "turnserver left"
    );
    assert_eq!(
        turn_dirs_in(tmp),
        Vec::<PathBuf>::new(),
        "coturn directory left"
    );
}

/// A test's scratch space: its own namespace prefix, a temporary directory of its own as
/// `TMPDIR` (where coturn's and Chromium's directories go), its scenario file and its output
/// directory.
struct Scratch {
    dir: tempfile::TempDir,
    prefix: String,
    tmp: PathBuf,
    scenario: PathBuf,
    out: PathBuf,
}

impl Scratch {
    /// Scratch space for test `test` running scenario `text`.
    fn new(test: &str, text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        let scenario = dir.path().join(format!("{test}.toml"));
        std::fs::write(&scenario, text).unwrap();
        let out = dir.path().join("out");
        Self {
            prefix: own_prefix(test),
            dir,
            tmp,
            scenario,
            out,
        }
    }

    /// A `wirebench run` of the scenario on the userspace emulator, with this test's
    /// namespace prefix and temporary directory.
    fn cmd(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(bin());
        cmd.args(["run", "--quiet", "--netem", "userspace", "--out"])
            .arg(&self.out)
            .arg(&self.scenario)
            .env("WIREBENCH_NETNS_PREFIX", &self.prefix)
            .env("TMPDIR", &self.tmp);
        cmd
    }

    /// Runs the scenario to the end and loads its results (its stderr in the panic when it
    /// wrote none).
    fn results(&self) -> Results {
        let o = self.cmd().output().unwrap();
        Results::load(&self.out.join("results.json"))
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
    }

    /// Nothing of this test's left: namespaces, coturn, its directories.
    fn nothing_left(&self) {
        nothing_left(&self.prefix, &self.tmp);
    }
}

fn cell<'a>(r: &'a Results, label: &str, imp: &str) -> &'a Cell {
    r.cells
        .iter()
        .find(|c| c.label.as_deref() == Some(label) && c.implementation.as_deref() == Some(imp))
        .unwrap_or_else(|| panic!("no {label}/{imp} cell"))
}

fn ice_path(c: &Cell) -> String {
    assert_eq!(c.status, Status::Ok, "{:?}: {:?}", c.label, c.error);
    c.params
        .get("ice_path")
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{:?} has no ice_path: {:?}", c.label, c.params))
        .to_string()
}

const SCENARIO: &str = r#"name = "turn"
repeat = 1
transports = ["webrtc"]
[defaults]
warmup_ms = 200
duration_ms = 1000
[[workload]]
kind = "connect"
name = "relay-udp"
connects = 3
nat = "symmetric"
turn = "server"
ice = "relay"
[[workload]]
kind = "connect"
name = "relay-tcp"
connects = 3
turn = "server"
turn_transport = "tcp"
ice = "relay"
[[workload]]
kind = "relay"
name = "symmetric"
rate = 50
pair_delay_ms = 2
nat = "symmetric"
turn = "near-peers"
turn_delay_ms = 1
[[workload]]
kind = "relay"
name = "endpoint-independent"
rate = 50
pair_delay_ms = 2
nat = "endpoint-independent"
turn = "server"
[[workload]]
kind = "relay"
name = "open"
rate = 50
pair_delay_ms = 2
"#;

/// webrtc-rs connects through coturn over UDP with `ice = "relay"` (and says so); TURN over
/// TCP is skipped with webrtc-rs's reason; peers behind symmetric NATs end up relayed, behind
/// endpoint-independent NATs direct through the NATs' mappings, on an open network host to
/// host; coturn
/// used CPU; nothing is left.
#[test]
fn webrtc_rs_paths_follow_the_topology_through_a_real_coturn() {
    if !can_run() {
        return;
    }
    let scratch = Scratch::new("turn", SCENARIO);
    let r = scratch.results();

    let udp = cell(&r, "relay-udp", "webrtc-rs");
    assert_eq!(ice_path(udp), "relay/udp");
    assert_eq!(udp.params["nat"], "symmetric");
    assert!(udp.setup_ms.is_some_and(|s| s > 0.0), "{udp:?}");
    assert!(udp.params.get("turn_cpu_s").is_some(), "{:?}", udp.params);
    let tcp = cell(&r, "relay-tcp", "webrtc-rs");
    assert_eq!(tcp.status, Status::Skipped);
    assert!(
        tcp.error
            .as_deref()
            .is_some_and(|e| e.contains("TURN over UDP only")),
        "{tcp:?}"
    );
    let str0m = cell(&r, "relay-udp", "str0m");
    assert_eq!(
        str0m.status,
        Status::Skipped,
        "str0m has no relayed candidate"
    );

    assert!(ice_path(cell(&r, "symmetric", "webrtc-rs")).starts_with("relay"));
    // Direct through both NATs: the mapping learnt from STUN (srflx) or from the peer's checks
    // (prflx), whichever pair the stack nominated; never relayed, never plain host.
    let ei = ice_path(cell(&r, "endpoint-independent", "webrtc-rs"));
    assert!(ei == "srflx" || ei == "prflx", "{ei}");
    assert_eq!(ice_path(cell(&r, "open", "webrtc-rs")), "host");
    scratch.nothing_left();
}

/// A coturn that cannot start fails its cell with coturn's own words (the tail of its log),
/// and leaves nothing behind. The real coturn, made to refuse to start: a `turnserver` first
/// on `PATH` that runs it with an option it rejects.
#[test]
fn a_coturn_that_fails_to_start_fails_the_cell_and_leaves_nothing() {
    if !can_run() {
        return;
    }
    let scratch = Scratch::new(
        "tfail",
        "name = \"tfail\"\nrepeat = 1\ntransports = [\"webrtc\"]\n[[workload]]\nkind = \
         \"connect\"\nconnects = 2\nturn = \"server\"\nice = \"relay\"\n",
    );
    // The real turnserver, given an unknown option first: it refuses to start.
    let shim = scratch.dir.path().join("bin");
    std::fs::create_dir(&shim).unwrap();
    let real = ["/usr/bin/turnserver", "/usr/sbin/turnserver"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap();
    std::fs::write(
        shim.join("turnserver"),
        format!("#!/bin/sh\nexec {real} --no-such-option-wirebench \"$@\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(
        shim.join("turnserver"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        shim.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let o = scratch.cmd().env("PATH", path).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = Results::load(&scratch.out.join("results.json")).unwrap();
    let c = r
        .cells
        .iter()
        .find(|c| c.implementation.as_deref() == Some("webrtc-rs"))
        .unwrap();
    assert_eq!(c.status, Status::Failed);
    let e = c.error.as_deref().unwrap_or_default();
    assert!(
        e.contains("coturn on server") && e.contains("exited"),
        "{e}"
    );
    scratch.nothing_left();
}

/// Ctrl-C while coturn serves a cell: the run ends, and coturn, its directory and the
/// namespaces go.
#[test]
fn ctrl_c_leaves_no_coturn_behind() {
    if !can_run() {
        return;
    }
    let scratch = Scratch::new(
        "tint",
        "name = \"tint\"\nrepeat = 1\ntransports = [\"webrtc\"]\n[[workload]]\nkind = \
         \"relay\"\nrate = 20\nduration_ms = 60000\nnat = \"symmetric\"\nturn = \"server\"\n",
    );
    let mut child = scratch
        .cmd()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while processes_under("turnserver", &scratch.tmp).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "coturn never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill(2) on the pid of our own child.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "run did not end on SIGINT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    scratch.nothing_left();
}

const BROWSER_SCENARIO: &str = r#"name = "bturn"
repeat = 1
transports = ["webrtc"]
client = "browser"
[defaults]
warmup_ms = 0
duration_ms = 500
[[workload]]
kind = "connect"
name = "relay-udp"
connects = 2
nat = "symmetric"
turn = "server"
ice = "relay"
[[workload]]
kind = "connect"
name = "relay-tcp"
connects = 2
turn = "server"
turn_transport = "tcp"
ice = "relay"
"#;

/// Chromium (the browser lane) connects to the server peer through coturn with `ice =
/// "relay"`, over UDP from behind a symmetric NAT and over TCP, and its page reports the path
/// from `getStats()`: `relay/udp`, `relay/tcp`. Nothing is left: no Chromium, no coturn, no
/// namespace.
#[test]
fn chromium_connects_through_a_real_coturn_over_udp_and_tcp() {
    if !can_run() {
        return;
    }
    if wirebench::browser::chromium::find().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium not found and CI is set: install Debian's `chromium`"
        );
        eprintln!("skipped: chromium not installed (apt-get install chromium)");
        return;
    }
    let scratch = Scratch::new("bturn", BROWSER_SCENARIO);
    let r = scratch.results();
    let browser = |label: &str| {
        r.cells
            .iter()
            .find(|c| c.label.as_deref() == Some(label))
            .unwrap_or_else(|| panic!("no {label} cell"))
    };
    let udp = browser("relay-udp");
    assert_eq!(ice_path(udp), "relay/udp");
    assert_eq!(udp.params["nat"], "symmetric");
    assert!(udp.setup_ms.is_some_and(|s| s > 0.0), "{udp:?}");
    assert_eq!(ice_path(browser("relay-tcp")), "relay/tcp");
    scratch.nothing_left();
    assert_eq!(
        processes_under("chromium", &scratch.tmp),
        Vec::<String>::new(),
        "chromium left"
    );
}
