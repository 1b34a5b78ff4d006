//! `sockdiag metrics`: collect the host, reconcile as `summary` does, render Prometheus
//! metrics; to stdout, to a textfile for node_exporter (atomically), or over HTTP.
//!
//! The exporter (`--listen`) takes a fresh census per scrape, one at a time: a census thread
//! owns the [`Collector`]; a scrape that finds a census running waits for that one and shares
//! its result, one that finds none asks for a new one. Every scrape waits at most
//! [`REQUEST_TIMEOUT`]. HTTP is `tiny_http`: a small synchronous server, no async runtime.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::cli::MetricsArgs;
use crate::collect::{Collector, Walk};
use crate::reconcile::{reconcile, reconcile_host};
use crate::render::{self, escape};

/// The longest a scrape waits for its census.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Threads answering HTTP requests (each waits on the shared census).
const HANDLERS: usize = 8;

pub fn run(args: &MetricsArgs, proc_root: &Path, out: &mut impl Write) -> Result<()> {
    let collector = Collector::open(proc_root, args.netns.path().as_deref())?;
    if let Some(addr) = &args.listen {
        return serve(args, collector, addr);
    }
    let mut collector = collector;
    let text = census(&mut collector, args)?;
    match &args.textfile {
        Some(path) => write_atomically(path, &text),
        None => Ok(out.write_all(&text)?),
    }
}

/// One collection, reconciled and rendered.
fn census(collector: &mut Collector, args: &MetricsArgs) -> Result<Vec<u8>> {
    let start = Instant::now();
    let host = collector.host(Walk::Every)?;
    let duration = start.elapsed();
    let report = reconcile(&host, None);
    let all = args.all_netns.then(|| reconcile_host(&host));
    let mut text = Vec::with_capacity(16 * 1024);
    render::metrics::write(
        &mut text,
        &render::metrics::Scrape {
            host: &host,
            report: &report,
            all: all.as_ref(),
            top: args.top,
            duration,
        },
    )?;
    Ok(text)
}

/// Writes `text` to a temporary file beside `path` (not ending in `.prom`, so the textfile
/// collector never reads it half written), syncs it and renames it over `path`.
fn write_atomically(path: &Path, text: &[u8]) -> Result<()> {
    let what = || format!("--textfile {}", path.display());
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", what()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(file_name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(text)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(what)
}

/// What the census thread and the scrapes share.
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

struct State {
    /// A scrape asked for a census that has not started yet.
    wanted: bool,
    running: bool,
    /// Censuses finished so far.
    done: u64,
    /// The last one's metrics, or its error line.
    last: Arc<Result<Vec<u8>, String>>,
}

fn serve(args: &MetricsArgs, mut collector: Collector, addr: &str) -> Result<()> {
    let server = tiny_http::Server::http(addr).map_err(|e| anyhow::anyhow!("--listen {addr}: {e}"))?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            wanted: false,
            running: false,
            done: 0,
            last: Arc::new(Err("no census yet".to_owned())),
        }),
        changed: Condvar::new(),
    });
    eprintln!(
        "sockdiag: serving http://{}/metrics",
        server
            .server_addr()
            .to_ip()
            .map_or_else(|| addr.to_owned(), |a| a.to_string())
    );
    let server = Arc::new(server);
    std::thread::scope(|scope| {
        let census_shared = Arc::clone(&shared);
        scope.spawn(move || census_loop(&census_shared, &mut collector, args));
        for _ in 0..HANDLERS {
            let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
            scope.spawn(move || {
                while let Ok(request) = server.recv() {
                    let _ = answer(request, &shared);
                }
            });
        }
    });
    anyhow::bail!("--listen {addr}: the server stopped")
}

fn census_loop(shared: &Shared, collector: &mut Collector, args: &MetricsArgs) {
    loop {
        {
            let Ok(mut state) = shared.state.lock() else {
                return;
            };
            while !state.wanted {
                state = match shared.changed.wait(state) {
                    Ok(state) => state,
                    Err(_) => return,
                };
            }
            state.wanted = false;
            state.running = true;
        }
        let result = census(collector, args).map_err(|e| format!("sockdiag: {e:#}"));
        let Ok(mut state) = shared.state.lock() else {
            return;
        };
        state.running = false;
        state.done += 1;
        state.last = Arc::new(result);
        shared.changed.notify_all();
    }
}

/// The census a scrape gets: the one running when it arrived, or a new one; `None` when it
/// did not finish within [`REQUEST_TIMEOUT`].
fn scrape(shared: &Shared) -> Option<Arc<Result<Vec<u8>, String>>> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut state = shared.state.lock().ok()?;
    if !state.running {
        state.wanted = true;
        shared.changed.notify_all();
    }
    let target = state.done + 1;
    while state.done < target {
        let left = deadline.checked_duration_since(Instant::now())?;
        state = shared.changed.wait_timeout(state, left).ok()?.0;
    }
    Some(Arc::clone(&state.last))
}

fn header(name: &str, value: &str) -> tiny_http::Header {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| {
        tiny_http::Header::from_bytes(&b"X-Invalid"[..], &b"1"[..]).unwrap_or_else(|()| unreachable!())
    })
}

const INDEX: &str = "<html><head><title>sockdiag</title></head><body>\n\
<h1>sockdiag exporter</h1>\n<p><a href=\"/metrics\">/metrics</a>: the figures of ss -s and \
the terms of its closed figure, with a fresh census per scrape.</p>\n</body></html>\n";

fn answer(request: tiny_http::Request, shared: &Shared) -> std::io::Result<()> {
    let path = request.url().split('?').next().unwrap_or("");
    let text = |status: u16, body: String| {
        tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(header("Content-Type", "text/plain; charset=utf-8"))
    };
    match path {
        "/metrics" => match scrape(shared).as_deref() {
            Some(Ok(metrics)) => request.respond(
                tiny_http::Response::from_data(metrics.clone())
                    .with_header(header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")),
            ),
            Some(Err(error)) => {
                request.respond(text(500, format!("{}\n", escape::for_terminal(error.as_bytes()))))
            }
            None => request.respond(text(
                503,
                format!(
                    "sockdiag: the census took longer than {} s\n",
                    REQUEST_TIMEOUT.as_secs()
                ),
            )),
        },
        "/" => request.respond(
            tiny_http::Response::from_string(INDEX)
                .with_header(header("Content-Type", "text/html; charset=utf-8")),
        ),
        _ => request.respond(text(404, "not found: see /metrics\n".to_owned())),
    }
}
