//! What the library loops (`rtc_loop`, `ws_loop`, `wt_loop`) share: the arguments, a peer per
//! pinned thread (the server's on CPU 0, the client's on CPU 1, as `wirebench run --pin` pins its
//! agents), and the receiver's byte count read over a window after a warm-up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

const WARMUP: Duration = Duration::from_millis(500);

/// What both peers of one run share: the receiver's byte count, the stop switch, and whether
/// the receiver is connected.
#[derive(Default)]
pub struct Meter {
    pub received: AtomicU64,
    pub open: AtomicBool,
    pub stop: AtomicBool,
}

impl Meter {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    pub fn count(&self, bytes: usize) {
        self.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The receiver is connected: the measurement may start.
    pub fn opened(&self) {
        self.open.store(true, Ordering::Relaxed);
    }

    /// Returns once the run is over.
    pub async fn until_stopped(&self) {
        while !self.stopped() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// The command line: the words naming what to run (library, mode), `download` (the server
/// sends, the default) or `upload`, and the frame sizes, window and repeats.
pub struct Args {
    pub words: Vec<String>,
    pub upload: bool,
    pub sizes: Vec<usize>,
    pub secs: f64,
    pub repeat: u32,
}

pub fn parse_args() -> Result<Args> {
    let mut args = Args {
        words: vec![],
        upload: false,
        sizes: vec![],
        secs: 3.0,
        repeat: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |flag: &str| it.next().ok_or_else(|| anyhow!("{flag} needs a value"));
        match a.as_str() {
            "download" => args.upload = false,
            "upload" => args.upload = true,
            "--size" => args.sizes.push(value("--size")?.parse().context("--size")?),
            "--secs" => args.secs = value("--secs")?.parse().context("--secs")?,
            "--repeat" => args.repeat = value("--repeat")?.parse().context("--repeat")?,
            flag if flag.starts_with('-') => bail!("unknown flag {flag:?}"),
            word => args.words.push(word.to_string()),
        }
    }
    if args.sizes.is_empty() {
        args.sizes = vec![1024, 16384, 65536];
    }
    if args.sizes.contains(&0) {
        bail!("--size 0: frames carry at least one byte");
    }
    Ok(args)
}

/// Pins the calling thread to `cpu` (ignored where the machine has fewer CPUs).
pub fn pin(cpu: usize) {
    // SAFETY: sched_setaffinity reads the stack-local, fully initialised cpu_set_t whose size
    // it is given; 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A peer's thread.
pub type PeerThread = std::thread::JoinHandle<Result<()>>;

/// How long a peer may take to wind down once the run is over before it is left behind.
const TEARDOWN: Duration = Duration::from_secs(2);

/// Runs `f` on a single-threaded tokio runtime (as an agent runs) on a thread pinned to `cpu`.
/// A peer still busy [`TEARDOWN`] after the run is over is dropped, and says so: webrtc-rs's
/// sender, now and then, never returns from its last send or its close.
pub fn runtime_thread<F>(cpu: usize, m: Arc<Meter>, f: F) -> PeerThread
where
    F: std::future::Future<Output = Result<()>> + Send + 'static,
{
    std::thread::spawn(move || {
        pin(cpu);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            tokio::select! {
                r = f => r,
                () = async { m.until_stopped().await; tokio::time::sleep(TEARDOWN).await } => {
                    eprintln!("a peer on CPU {cpu} did not end within {TEARDOWN:?} of the run's end: dropped");
                    Ok(())
                }
            }
        })
    })
}

/// Waits for the receiver, measures `secs` after the warm-up, stops the peers and waits for
/// them: Mbit/s of payload received.
pub fn measure(m: &Meter, secs: f64, peers: Vec<PeerThread>) -> Result<f64> {
    let rate = window(m, secs);
    m.stop.store(true, Ordering::Relaxed);
    for p in peers {
        p.join()
            .map_err(|_| anyhow!("a peer thread panicked"))?
            .context("peer")?;
    }
    rate
}

fn window(m: &Meter, secs: f64) -> Result<f64> {
    let t = Instant::now();
    while !m.open.load(Ordering::Relaxed) {
        if t.elapsed() > Duration::from_secs(10) || m.stopped() {
            bail!("the receiver was not connected within 10 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(WARMUP);
    let (b0, t0) = (m.received.load(Ordering::Relaxed), Instant::now());
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (b1, t1) = (m.received.load(Ordering::Relaxed), Instant::now());
    Ok((b1 - b0) as f64 * 8.0 / (t1 - t0).as_secs_f64() / 1e6)
}

/// Every run of `args`: `start` starts the two peers of one run for a frame size; one line per
/// run: `what`, direction, size, Mbit/s.
pub fn run_all<F>(args: &Args, what: &str, mut start: F) -> Result<()>
where
    F: FnMut(usize, Arc<Meter>) -> Result<Vec<PeerThread>>,
{
    let dir = if args.upload { "upload" } else { "download" };
    for &size in &args.sizes {
        for _ in 0..args.repeat {
            let meter = Arc::new(Meter::default());
            let peers = start(size, meter.clone())?;
            let rate = measure(&meter, args.secs, peers)?;
            println!("{what} {dir} size={size} mbit_s={rate:.1}");
        }
    }
    Ok(())
}
