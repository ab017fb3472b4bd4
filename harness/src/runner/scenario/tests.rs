use super::*;

fn profiles() -> Vec<String> {
    vec!["loopback".into()]
}

#[test]
fn default_suite_parses() {
    let set = wirebench_netem::ProfileSet::parse(DEFAULT_PROFILES, "profiles.toml").unwrap();
    let names: Vec<String> = set.profiles.keys().cloned().collect();
    let s = parse(DEFAULT_SUITE, "default.toml", &names).unwrap();
    assert!(!s.workloads.is_empty());
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let text = "name = \"x\"\n[[workload]]\nkind = \"echo\"\nrat = 5\n";
    let e = parse(text, "x.toml", &profiles()).unwrap_err();
    assert_eq!(e.line, 4, "{e}");
    assert!(e.to_string().starts_with("x.toml:4: rat:"), "{e}");
}

#[test]
fn the_same_workload_twice_needs_names() {
    let text = "[[workload]]\nkind = \"echo\"\n[[workload]]\nkind = \"echo\"\n";
    let e = parse(text, "d.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (4, "workload[2].name"), "{e}");
    let ok = "[[workload]]\nkind = \"echo\"\n[[workload]]\nkind = \"echo\"\nname = \"echo-1k\"\n";
    let s = parse(ok, "d.toml", &profiles()).unwrap();
    assert_eq!(s.workloads[1].name, "echo-1k");
}

#[test]
fn relay_and_collab_keys_parse_and_are_checked() {
    let text = "[[workload]]\nkind = \"relay\"\nrate = 30\nsize = 1024\ndeadline_ms = 150\n\
                pair_delay_ms = 5\nserver_delay_ms = 60\n\
                [[workload]]\nkind = \"collab\"\nclients = 5\nrate = 20\n";
    let s = parse(text, "r.toml", &profiles()).unwrap();
    let p = s.workloads[0].spec.params();
    assert_eq!(s.workloads[0].spec.id(), "relay");
    assert_eq!(
        (p.clients, p.deadline_ms, p.pair_delay_ms, p.server_delay_ms),
        (2, Some(150), Some(5.0), Some(60.0))
    );
    assert_eq!(s.workloads[1].spec.id(), "collab");
    assert_eq!(s.workloads[1].spec.params().clients, 5);
    let cases = [
        ("kind = \"relay\"\nclients = 3\n", "workload[1].clients"),
        (
            "kind = \"echo\"\ndeadline_ms = 150\n",
            "workload[1].deadline_ms",
        ),
        (
            "kind = \"collab\"\npair_delay_ms = 5\n",
            "workload[1].pair_delay_ms",
        ),
        (
            "kind = \"relay\"\npair_delay_ms = -1.0\n",
            "workload[1].pair_delay_ms",
        ),
        (
            "kind = \"relay\"\nserver_delay_ms = 1e9\n",
            "workload[1].server_delay_ms",
        ),
    ];
    for (body, key) in cases {
        let text = format!("[[workload]]\n{body}");
        let e = parse(&text, "r.toml", &profiles()).unwrap_err();
        assert_eq!((e.line, e.key.as_str()), (3, key), "{e}");
    }
}

#[test]
fn idle_and_flap_take_their_keys_with_production_defaults() {
    let text = "[defaults]\ncut_ms = 2000\n[[workload]]\nkind = \"idle\"\nclients = 1000\nduration_ms = 30000\n[[workload]]\nkind = \"flap\"\nduration_ms = 5000\n[[workload]]\nkind = \"echo\"\n";
    let s = parse(text, "i.toml", &profiles()).unwrap();
    let idle = s.workloads[0].spec.params();
    assert_eq!(s.workloads[0].spec.id(), "idle");
    assert_eq!(idle.ws_ping_ms, Some(30_000));
    assert_eq!(idle.sse_heartbeat_ms, Some(15_000));
    assert_eq!(idle.long_poll_hold_ms, Some(25_000));
    assert_eq!(idle.quic_keepalive_ms, Some(15_000));
    assert_eq!(idle.poll_interval_ms, 5_000);
    assert_eq!(idle.notify_interval_ms, Some(10_000));
    assert_eq!(
        idle.cut_ms, None,
        "a [defaults] key of another workload does not apply"
    );
    let flap = s.workloads[1].spec.params();
    assert_eq!(
        (flap.cut_ms, flap.cut_at_ms, flap.stall_ms),
        (Some(2000), Some(1000), Some(1000))
    );
    assert_eq!(flap.rate, 100.0);
    assert_eq!(s.workloads[2].spec.params().ws_ping_ms, None);
}

#[test]
fn idle_and_flap_keys_are_checked_and_located() {
    let text = "[[workload]]\nkind = \"echo\"\n\nws_ping_ms = 5\n";
    let e = parse(text, "k.toml", &profiles()).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (4, "workload[1].ws_ping_ms"),
        "{e}"
    );
    assert!(e.msg.contains("only the idle workload"), "{e}");
    let text = "[[workload]]\nkind = \"flap\"\nduration_ms = 3000\ncut_ms = 2500\n";
    let e = parse(text, "c.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (4, "workload[1].cut_ms"), "{e}");
    let text = "[[workload]]\nkind = \"flap\"\nrate = 10\nduration_ms = 9000\nstall_ms = 100\n";
    let e = parse(text, "s.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (5, "workload[1].stall_ms"), "{e}");
    let text = "[[workload]]\nkind = \"idle\"\nnotify_interval_ms = 60000\n";
    let e = parse(text, "n.toml", &profiles()).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (3, "workload[1].duration_ms"),
        "{e}"
    );
    let text = "[[workload]]\nkind = \"idle\"\nduration_ms = 1000\nnotify_interval_ms = 0\n";
    let e = parse(text, "z.toml", &profiles()).unwrap_err();
    assert_eq!(
        (e.line, e.key.as_str()),
        (4, "workload[1].notify_interval_ms"),
        "{e}"
    );
}

#[test]
fn bad_values_are_located() {
    let text = "[[workload]]\nkind = \"echo\"\n\n[[workload]]\nkind = \"echo\"\nsize = 3\n";
    let e = parse(text, "y.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (6, "workload[2].size"), "{e}");
    let text = "transports = [\"tcp\", \"carrier-pigeon\"]\n[[workload]]\nkind = \"echo\"\n";
    let e = parse(text, "z.toml", &profiles()).unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.msg.contains("carrier-pigeon"));
    let text = "[[workload]]\nkind = \"teleport\"\n";
    let e = parse(text, "w.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (2, "workload[1].kind"));
}

const QUICK: &str = "repeat = 3\nprofiles = [\"loopback\", \"broadband\"]\n\
[defaults]\nduration_ms = 5000\n\
[quick]\nrepeat = 1\nprofiles = [\"loopback\"]\nduration_ms = 500\nclients = 20\n\
[[workload]]\nkind = \"push\"\nclients = 1000\n\
[[workload]]\nkind = \"echo\"\nclients = 4\nquick = { clients = 2, transports = [\"tcp\"] }\n";

fn all_profiles() -> Vec<String> {
    let set = wirebench_netem::ProfileSet::parse(DEFAULT_PROFILES, "profiles.toml").unwrap();
    set.profiles.keys().cloned().collect()
}

#[test]
fn quick_overrides_apply_only_with_quick() {
    let full = parse_scaled(QUICK, "q.toml", &all_profiles(), false).unwrap();
    assert_eq!((full.repeat, full.quick), (3, false));
    let push = &full.workloads[0];
    assert_eq!(push.spec.params().clients, 1000);
    assert_eq!(push.spec.params().duration_ms, 5000);
    assert_eq!(push.profiles, ["loopback", "broadband"]);
    let quick = parse_scaled(QUICK, "q.toml", &all_profiles(), true).unwrap();
    assert_eq!((quick.repeat, quick.quick), (1, true));
    let push = &quick.workloads[0];
    // [quick] beats the workload's own value, which beats [defaults].
    assert_eq!(push.spec.params().clients, 20);
    assert_eq!(push.spec.params().duration_ms, 500);
    assert_eq!(push.profiles, ["loopback"]);
    assert_eq!(push.transports.len(), transport::ALL_IDS.len());
    // A workload's own quick beats [quick].
    let echo = &quick.workloads[1];
    assert_eq!(echo.spec.params().clients, 2);
    assert_eq!(echo.transports, ["tcp"]);
}

#[test]
fn quick_errors_name_file_line_and_key() {
    let cases = [
        (
            "[quick]\nrepaet = 1\n[[workload]]\nkind = \"echo\"\n",
            2,
            "repaet",
        ),
        (
            "[quick]\nrate = -1.0\n[[workload]]\nkind = \"echo\"\n",
            2,
            "quick.rate",
        ),
        (
            "[quick]\nrepeat = 0\n[[workload]]\nkind = \"echo\"\n",
            2,
            "quick.repeat",
        ),
        (
            "[quick]\nprofiles = [\"mars\"]\n[[workload]]\nkind = \"echo\"\n",
            2,
            "quick.profiles",
        ),
        (
            "[[workload]]\nkind = \"echo\"\n[workload.quick]\nclients = 0\n",
            4,
            "workload[1].quick.clients",
        ),
        (
            "[[workload]]\nkind = \"echo\"\nquick = { repeat = 2 }\n",
            3,
            "workload[1].quick.repeat",
        ),
    ];
    for (text, line, key) in cases {
        // Checked at the full scale too, so CI's quick runs are not the first to find them.
        for quick in [false, true] {
            let e = parse_scaled(text, "bad.toml", &profiles(), quick).unwrap_err();
            assert_eq!((e.line, e.key.as_str()), (line, key), "{e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("bad.toml:{line}: {key}:")),
                "{e}"
            );
        }
    }
}

#[test]
fn faq_scenarios_parse_at_both_scales_and_are_all_embedded() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/faq");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let embedded: Vec<String> = FAQ_SCENARIOS.iter().map(|(f, _)| f.to_string()).collect();
    assert_eq!(
        on_disk, embedded,
        "FAQ_SCENARIOS must list scenarios/faq/*.toml, sorted"
    );
    for (file, text) in FAQ_SCENARIOS {
        let full = parse_scaled(text, file, &all_profiles(), false).unwrap();
        let quick = parse_scaled(text, file, &all_profiles(), true).unwrap();
        let stem = file.trim_end_matches(".toml");
        assert_eq!(full.name, format!("faq-{stem}"), "{file}");
        assert!(!full.description.is_empty(), "{file} states no claim");
        // The CI scale is never larger than the full one.
        assert!(quick.repeat <= full.repeat, "{file}");
        for (q, f) in quick.workloads.iter().zip(&full.workloads) {
            let (q, f) = (q.spec.params(), f.spec.params());
            assert!(
                q.clients <= f.clients && q.duration_ms <= f.duration_ms,
                "{file}"
            );
        }
    }
}

/// The shipped scenarios' poll cells walk through their poll interval (faq-collab once
/// polled every 50 ms against a 50 ms op period and measured one phase per cell), and the
/// warning `run` prints for a locked one fires on such a file.
#[test]
fn shipped_poll_cells_are_not_locked_to_their_send_period() {
    let mut shipped: Vec<(&str, &str)> = FAQ_SCENARIOS.to_vec();
    shipped.push(("default.toml", DEFAULT_SUITE));
    let mut locked = Vec::new();
    for (file, text) in shipped {
        for quick in [false, true] {
            let s = parse_scaled(text, file, &all_profiles(), quick).unwrap();
            for w in &s.workloads {
                if let Some(m) = w.poll_phase_warning() {
                    locked.push(format!("{file} {} (quick {quick}): {m}", w.name));
                }
            }
        }
    }
    assert!(locked.is_empty(), "{locked:#?}");
    let text = "[[workload]]\nkind = \"collab\"\nrate = 20\nclients = 2\npoll_interval_ms = 50\ntransports = [\"poll\"]\n";
    let s = parse(text, "l.toml", &profiles()).unwrap();
    let warning = s.workloads[0].spec.poll_phase_warning().unwrap_or_default();
    assert!(warning.contains("only 1 of 10 points"), "{warning}");
    assert!(warning.contains("poll_interval_ms = 51"), "{warning}");
    // Ten staggered clients at 50 ms still met one phase of their 5 ms poll grid (measured:
    // delivered-to-all p50 76.3-79.9 ms over repeats at 50 ms, 80.9-81.0 ms at 53 ms).
    let ten = text.replace("clients = 2", "clients = 10");
    let s = parse(&ten, "l.toml", &profiles()).unwrap();
    assert!(s.workloads[0].spec.poll_phase_warning().is_some());
    let walked = text.replace("= 50\n", "= 53\n");
    let s = parse(&walked, "l.toml", &profiles()).unwrap();
    assert_eq!(s.workloads[0].spec.poll_phase_warning(), None);
}

#[test]
fn client_key_picks_clients() {
    let text = "client = \"both\"\n[[workload]]\nkind = \"echo\"\n[[workload]]\nkind = \"connect\"\nclient = \"browser\"\n";
    let s = parse(text, "c.toml", &profiles()).unwrap();
    assert_eq!(
        s.workloads[0].client,
        [ClientKind::Rust, ClientKind::Browser]
    );
    assert_eq!(s.workloads[1].client, [ClientKind::Browser]);
    let bad = "[[workload]]\nkind = \"echo\"\nclient = \"firefox\"\n";
    let e = parse(bad, "c.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (3, "workload[1].client"), "{e}");
}

#[test]
fn http_key_picks_the_version_and_is_checked() {
    let text = "[defaults]\nhttp = \"2\"\n[[workload]]\nkind = \"origin-limit\"\n\
                [[workload]]\nkind = \"echo\"\nhttp = \"1.1\"\n[[workload]]\nkind = \"push\"\n";
    let s = parse(text, "h.toml", &profiles()).unwrap();
    let http: Vec<HttpVersion> = s.workloads.iter().map(|w| w.spec.params().http).collect();
    assert_eq!(
        http,
        [HttpVersion::Http2, HttpVersion::Http1, HttpVersion::Http2]
    );
    let none = parse("[[workload]]\nkind = \"echo\"\n", "h.toml", &profiles()).unwrap();
    assert_eq!(none.workloads[0].spec.params().http, HttpVersion::Http1);
    let bad = "[[workload]]\nkind = \"echo\"\n\nhttp = \"3\"\n";
    let e = parse(bad, "h.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (4, "workload[1].http"), "{e}");
    assert!(e.msg.contains("\"1.1\""), "{e}");
    let bad = "[defaults]\nhttp = 2\n[[workload]]\nkind = \"echo\"\n";
    let e = parse(bad, "h.toml", &profiles()).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
}

#[test]
fn bad_numbers_name_the_key_and_the_range() {
    // A wrong type is reported at the value, under its key (not the value itself).
    let text = "name = \"x\"\n[[workload]]\nkind = \"echo\"\nduration_ms = -5\n";
    let e = parse(text, "negative.toml", &profiles()).unwrap_err();
    assert_eq!((e.line, e.key.as_str()), (4, "duration_ms"), "{e}");
    let text = "[[workload]]\nkind = \"echo\"\nquick = { rate = 5, clients = -1 }\n";
    let e = parse(text, "q.toml", &profiles()).unwrap_err();
    assert_eq!(e.key, "clients", "{e}");
    // Huge values are refused with the allowed range (they would overflow the run's clock).
    for (key, value, range) in [
        ("duration_ms", "18446744073709551615", "[1, 86400000] ms"),
        ("warmup_ms", "99999999999", "[0, 3600000] ms"),
        ("clients", "4000000", "[1, 200000] clients"),
        ("poll_interval_ms", "0", "[1, 3600000] ms"),
    ] {
        let text = format!("[[workload]]\nkind = \"echo\"\n{key} = {value}\n");
        let e = parse(&text, "big.toml", &profiles()).unwrap_err();
        assert_eq!(e.line, 3, "{e}");
        assert!(e.key.ends_with(key), "{e}");
        assert!(e.msg.contains(range), "{key}: {e}");
    }
    let text = "[[workload]]\nkind = \"idle\"\nquiet_ms = 99999999999\n";
    let e = parse(text, "idle.toml", &profiles()).unwrap_err();
    assert!(e.msg.contains("[0, 86400000] ms"), "{e}");
}
