//! Headless Chromium, launched with the flags of `CHROMIUM.md` (they keep its own traffic on the
//! machine) and driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`: JSON
//! messages ended by NUL on the browser's fds 3 and 4). A pipe needs no port, so it works the
//! same when Chromium runs inside a client network namespace of an emulated link.
//!
//! The browser runs in its own process group; dropping [`Chromium`] kills the group and removes
//! its profile directory, whatever happened in between.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;
use tokio::sync::{broadcast, oneshot};

use super::error::BrowserError;

/// Flags on every launch (see `CHROMIUM.md`): no GPU, no traffic
/// of Chromium's own (`--host-resolver-rules` maps every name to nothing), plain-IP WebRTC host
/// candidates (no mDNS), loopback candidates allowed, and no throttling of a page's timers.
pub const FLAGS: &[&str] = &[
    "--headless",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--remote-debugging-pipe",
];

/// Where Chromium is: `$WIREBENCH_CHROMIUM`, else `chromium` / `chromium-browser` on `PATH`.
pub fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WIREBENCH_CHROMIUM") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

/// How to launch.
#[derive(Debug, Clone, Default)]
pub struct LaunchOptions {
    /// Extra flags (e.g. `--ignore-certificate-errors-spki-list=…`).
    pub args: Vec<String>,
    /// Addresses pages may reach besides 127.0.0.1 (added as `EXCLUDE` host-resolver rules).
    pub reachable: Vec<String>,
    /// Pin the browser (and every process it starts) to this CPU.
    pub cpu: Option<usize>,
}

/// A running headless Chromium and its DevTools session.
pub struct Chromium {
    child: tokio::process::Child,
    pgid: i32,
    profile: PathBuf,
    /// The DevTools connection.
    pub cdp: Cdp,
    /// `chromium <version>`, from `Browser.getVersion`.
    pub version: String,
}

impl std::fmt::Debug for Chromium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chromium")
            .field("pgid", &self.pgid)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

fn cloexec_pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two descriptors into the valid two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// Duplicates `fd` to a descriptor ≥ 10 (close-on-exec), so the child's `dup2` onto 3 and 4
/// can never clobber the other one.
fn high_fd(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on a valid descriptor returns a new descriptor or -1.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 10) };
    if new < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `new` was just returned by fcntl and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

impl Chromium {
    /// Starts `cmd` (Chromium's binary, possibly set up to enter a network namespace) with the
    /// standard flags and a fresh profile, and opens the DevTools session. Fails, never hangs:
    /// a browser that gives no DevTools answer within 30 s is killed.
    pub async fn launch(
        mut cmd: std::process::Command,
        opts: &LaunchOptions,
    ) -> Result<Self, BrowserError> {
        let profile = std::env::temp_dir().join(format!(
            "wirebench-chromium-{}-{}",
            std::process::id(),
            crate::clock::now_ns()
        ));
        // A new directory only this user can enter: never one that already exists (another
        // user could have made it, or a link in its place).
        {
            use std::os::unix::fs::DirBuilderExt as _;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&profile)
                .map_err(|e| BrowserError::Launch(format!("profile {}: {e}", profile.display())))?;
        }
        let io = |what: &str, e: std::io::Error| BrowserError::Launch(format!("{what}: {e}"));
        let (cmd_r, cmd_w) = cloexec_pipe().map_err(|e| io("pipe", e))?;
        let (resp_r, resp_w) = cloexec_pipe().map_err(|e| io("pipe", e))?;
        let (cmd_r, resp_w) = (
            high_fd(cmd_r).map_err(|e| io("fcntl", e))?,
            high_fd(resp_w).map_err(|e| io("fcntl", e))?,
        );
        let (child_in, child_out) = (cmd_r.as_raw_fd(), resp_w.as_raw_fd());
        configure(&mut cmd, opts, &profile, child_in, child_out);
        let program = PathBuf::from(cmd.get_program());
        let mut cmd = tokio::process::Command::from(cmd);
        cmd.kill_on_drop(true);
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&profile);
                return Err(BrowserError::Launch(format!(
                    "starting {}: {e}",
                    program.display()
                )));
            }
        };
        drop((cmd_r, resp_w));
        let pgid = child.id().map_or(0, |p| p as i32);
        let cdp = match (
            pipe::Sender::from_owned_fd(cmd_w),
            pipe::Receiver::from_owned_fd(resp_r),
        ) {
            (Ok(w), Ok(r)) => Cdp::new(w, r),
            (Err(e), _) | (_, Err(e)) => {
                kill_group(pgid);
                let _ = std::fs::remove_dir_all(&profile);
                return Err(io("DevTools pipe", e));
            }
        };
        let mut me = Self {
            child,
            pgid,
            profile,
            cdp,
            version: String::new(),
        };
        me.version = me.read_version(&program).await?;
        Ok(me)
    }

    /// `chromium <version>`, from DevTools' `Browser.getVersion`.
    async fn read_version(&self, program: &Path) -> Result<String, BrowserError> {
        let v = self
            .cdp
            .call(
                None,
                "Browser.getVersion",
                json!({}),
                Duration::from_secs(30),
            )
            .await
            .map_err(|e| {
                BrowserError::Launch(format!(
                    "{} gave no DevTools answer: {e}",
                    program.display()
                ))
            })?;
        let product = v["product"].as_str().unwrap_or("unknown");
        Ok(format!(
            "chromium {}",
            product.rsplit_once('/').map_or(product, |(_, v)| v)
        ))
    }

    /// CPU seconds of the browser's processes so far, and their memory: the sum of their
    /// proportional set sizes now (pages still open), since the sum of their peak resident
    /// sets counts the binary and zygote pages they share once per process (50 pages: 16 GB
    /// "peak RSS" on a machine using 1 GB). Peak RSS only where no PSS can be read.
    pub fn resources(&self) -> (Option<f64>, Option<u64>) {
        use crate::agent::procstat::{cpu_seconds_of, pss_bytes_of, rss_peak_bytes_of};
        let pids = crate::agent::procstat::group_pids(self.pgid);
        if pids.is_empty() {
            return (None, None);
        }
        let pids: Vec<String> = pids.iter().map(|p| p.to_string()).collect();
        let cpu = pids.iter().filter_map(|p| cpu_seconds_of(p)).sum();
        // A zombie has no PSS: it holds no memory.
        let pss: Vec<u64> = pids.iter().filter_map(|p| pss_bytes_of(p)).collect();
        let mem = if pss.is_empty() {
            pids.iter().filter_map(|p| rss_peak_bytes_of(p)).sum()
        } else {
            pss.iter().sum()
        };
        (Some(cpu), Some(mem))
    }

    /// A new page (tab). With `own_context`, in a fresh browser context: its own cookies,
    /// cache and connection pool, as a separate user's browser would have.
    pub async fn new_page(&self, own_context: bool) -> Result<Page<'_>, BrowserError> {
        let t = Duration::from_secs(10);
        let mut params = json!({"url": "about:blank"});
        if own_context {
            let ctx = self
                .cdp
                .call(None, "Target.createBrowserContext", json!({}), t)
                .await?;
            params["browserContextId"] = ctx["browserContextId"].clone();
        }
        let target = self
            .cdp
            .call(None, "Target.createTarget", params.clone(), t)
            .await?;
        let target_id = target["targetId"].as_str().unwrap_or_default().to_string();
        let attached = self
            .cdp
            .call(
                None,
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
                t,
            )
            .await?;
        let session = attached["sessionId"]
            .as_str()
            .ok_or_else(|| BrowserError::Cdp(format!("attachToTarget answered {attached}")))?
            .to_string();
        Ok(Page {
            cdp: &self.cdp,
            session,
            context: params["browserContextId"].as_str().map(str::to_string),
        })
    }

    /// Ends the browser: a polite `Browser.close`, then the whole process group is killed.
    pub async fn close(mut self) {
        let _ = self
            .cdp
            .call(None, "Browser.close", json!({}), Duration::from_secs(2))
            .await;
        let _ = tokio::time::timeout(Duration::from_secs(3), self.child.wait()).await;
        // Drop does the rest.
    }
}

fn kill_group(pgid: i32) {
    if pgid > 1 {
        // SAFETY: kill has no memory arguments; a negative pid addresses the process group.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        kill_group(self.pgid);
        let _ = self.child.start_kill();
        // Reap what is left of the group (renderers, the zygote) before removing the profile.
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            let _ = self.child.try_wait();
            if crate::agent::procstat::group_pids(self.pgid)
                .iter()
                .all(|p| is_zombie(*p))
            {
                break;
            }
            kill_group(self.pgid);
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn is_zombie(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(|st| st == "Z"))
        })
        .unwrap_or(true)
}

/// Chromium's flags and the child's set-up between fork and exec: the DevTools pipe on fds 3
/// (commands, `child_in`) and 4 (answers, `child_out`), a fresh profile, every host name but
/// the server's unresolvable, and the CPU to pin to.
fn configure(
    cmd: &mut std::process::Command,
    opts: &LaunchOptions,
    profile: &Path,
    child_in: std::os::fd::RawFd,
    child_out: std::os::fd::RawFd,
) {
    use std::os::unix::process::CommandExt as _;
    let mut rules = "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1".to_string();
    for r in &opts.reachable {
        rules.push_str(&format!(" , EXCLUDE {r}"));
    }
    let cpu = opts.cpu;
    // Chromium refuses to run sandboxed as root; anyone else keeps the sandbox.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.arg("--no-sandbox");
    }
    cmd.args(FLAGS)
        .arg(format!("--host-resolver-rules={rules}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(&opts.args)
        .arg("about:blank")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0);
    // SAFETY: runs between fork and exec; it only calls dup2 and `child_setup` (prctl,
    // sched_setaffinity), all async-signal-safe, allocating nothing and taking no locks.
    unsafe {
        cmd.pre_exec(move || {
            // DevTools pipe: commands on fd 3, answers on fd 4 (dup2 clears close-on-exec).
            if libc::dup2(child_in, 3) < 0 || libc::dup2(child_out, 4) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            crate::agent::child_setup(cpu)
        });
    }
}

/// One page's DevTools session.
#[derive(Debug)]
pub struct Page<'a> {
    cdp: &'a Cdp,
    /// Its flat session id.
    pub session: String,
    /// Its own browser context, if it has one.
    context: Option<String>,
}

impl Page<'_> {
    /// Sends a command to this page.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        self.cdp
            .call(Some(&self.session), method, params, timeout)
            .await
    }

    /// Grants `origin` microphone and camera permission in this page's browser context. It
    /// captures nothing: Chromium lets WebRTC gather host candidates on every interface only
    /// for an origin with media permission, otherwise only on the default route's, and a
    /// namespace host of an emulated link has no default route (no candidates at all).
    pub async fn grant_media(&self, origin: &str) -> Result<(), BrowserError> {
        let mut params = json!({"origin": origin, "permissions": ["audioCapture", "videoCapture"]});
        if let Some(c) = &self.context {
            params["browserContextId"] = json!(c);
        }
        self.cdp
            .call(
                None,
                "Browser.grantPermissions",
                params,
                Duration::from_secs(10),
            )
            .await
            .map(|_| ())
    }

    /// Loads `url` and waits for its load event.
    pub async fn navigate(&self, url: &str) -> Result<(), BrowserError> {
        let t = Duration::from_secs(30);
        let mut events = self.cdp.events();
        self.call("Page.enable", json!({}), t).await?;
        self.call("Runtime.enable", json!({}), t).await?;
        let nav = self.call("Page.navigate", json!({"url": url}), t).await?;
        if let Some(err) = nav["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(BrowserError::Page(format!("loading {url}: {err}")));
        }
        let deadline = tokio::time::Instant::now() + t;
        loop {
            let ev = tokio::time::timeout_at(deadline, events.recv())
                .await
                .map_err(|_| BrowserError::Timeout(format!("loading {url}")))?
                .map_err(|_| BrowserError::Closed)?;
            if ev["sessionId"] == self.session.as_str() && ev["method"] == "Page.loadEventFired" {
                return Ok(());
            }
        }
    }

    /// Evaluates `expression` (awaiting a promise) and returns its value as JSON; a thrown
    /// exception becomes [`BrowserError::Page`] with its text.
    pub async fn evaluate(
        &self,
        expression: &str,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
                timeout,
            )
            .await?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex["exception"]["description"]
                .as_str()
                .or_else(|| ex["text"].as_str())
                .unwrap_or("exception");
            return Err(BrowserError::Page(
                text.lines().next().unwrap_or(text).to_string(),
            ));
        }
        Ok(r["result"]["value"].clone())
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A DevTools connection over the browser's pipe: commands by id, events broadcast.
pub struct Cdp {
    writer: tokio::sync::Mutex<pipe::Sender>,
    pending: Pending,
    next: AtomicU64,
    events: broadcast::Sender<Value>,
    reader: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Cdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cdp").finish_non_exhaustive()
    }
}

impl Drop for Cdp {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Cdp {
    fn new(writer: pipe::Sender, reader: pipe::Receiver) -> Self {
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(4096);
        let reader = tokio::spawn(read_loop(reader, pending.clone(), events.clone()));
        Self {
            writer: tokio::sync::Mutex::new(writer),
            pending,
            next: AtomicU64::new(1),
            events,
            reader,
        }
    }

    /// Events from now on (every session's; filter on `sessionId`).
    pub fn events(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }

    /// Sends `method` (to a page's flat session, or to the browser) and waits for its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, BrowserError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = s.into();
        }
        let (tx, rx) = oneshot::channel();
        if let Ok(mut p) = self.pending.lock() {
            p.insert(id, tx);
        }
        let mut bytes = msg.to_string().into_bytes();
        bytes.push(0);
        self.writer
            .lock()
            .await
            .write_all(&bytes)
            .await
            .map_err(|_| BrowserError::Closed)?;
        let v = match tokio::time::timeout(timeout, rx).await {
            Err(_) => {
                if let Ok(mut p) = self.pending.lock() {
                    p.remove(&id);
                }
                return Err(BrowserError::Timeout(format!(
                    "{method}: no answer in {} s",
                    timeout.as_secs()
                )));
            }
            Ok(Err(_)) => return Err(BrowserError::Closed),
            Ok(Ok(v)) => v,
        };
        if let Some(e) = v.get("error") {
            return Err(BrowserError::Cdp(format!(
                "{method}: {}",
                e["message"].as_str().unwrap_or("error")
            )));
        }
        Ok(v["result"].clone())
    }
}

async fn read_loop(mut rx: pipe::Receiver, pending: Pending, events: broadcast::Sender<Value>) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = match rx.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        while let Some(end) = buf.iter().position(|&b| b == 0) {
            let msg: Vec<u8> = buf.drain(..=end).collect();
            let Ok(v) = serde_json::from_slice::<Value>(&msg[..end]) else {
                continue;
            };
            match v["id"].as_u64() {
                Some(id) => {
                    let tx = pending.lock().ok().and_then(|mut p| p.remove(&id));
                    if let Some(tx) = tx {
                        let _ = tx.send(v);
                    }
                }
                None => {
                    let _ = events.send(v);
                }
            }
        }
    }
    // The browser is gone: fail every waiting call.
    if let Ok(mut p) = pending.lock() {
        p.clear();
    }
}
