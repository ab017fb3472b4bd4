//! Records `git describe` of the source tree as WIREBENCH_GIT, so results say which build made
//! them, and WIREBENCH_VERSION (`0.1.0 (git 88380f5)`) for `--version`. Reruns when the
//! checked-out commit changes (not on every index change).

fn main() {
    let git_dir = std::path::Path::new("../.git");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    if let Ok(head) = std::fs::read_to_string(git_dir.join("HEAD")) {
        if let Some(r) = head.trim().strip_prefix("ref: ") {
            println!("cargo:rerun-if-changed=../.git/{r}");
        }
    }
    let out = std::process::Command::new("git")
        .args(["describe", "--always", "--tags"])
        .output();
    let pkg = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let mut version = pkg.clone();
    if let Ok(o) = out {
        let v = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if o.status.success() && !v.is_empty() {
            println!("cargo:rustc-env=WIREBENCH_GIT={v}");
            version = format!("{pkg} (git {v})");
        }
    }
    println!("cargo:rustc-env=WIREBENCH_VERSION={version}");
}
