//! The listening side of the control socket, inside `corral up`.
//!
//! The socket lives in the project's private directory (0700) and is itself
//! 0600; on top of that every connection's peer uid is checked
//! (`SO_PEERCRED`), so no other user gets in even where permissions are
//! loosened. Each connection is a task: a malformed request gets an error
//! reply and the connection goes on; an oversized one gets an error and is
//! closed; neither affects anyone else.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use corral_protocol::{parse_request, ErrorBody, ErrorCode, Event, Hello, ProcessInfo, Reply, RequestCommand, Response, ServerMessage, MAX_REQUEST, VERSION};
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use super::project::Project;
use crate::dispatcher::{ControlRequest, Ctl};
use crate::output::Feed;

/// What every connection task shares.
struct Shared {
    requests: mpsc::UnboundedSender<ControlRequest>,
    states: broadcast::Sender<Arc<ProcessInfo>>,
    feed: Arc<Feed>,
    hello: Hello,
    /// CPU and memory figures, sampled only when a `ps` asks (see `resources`).
    sampler: Arc<std::sync::Mutex<crate::resources::Sampler>>,
}

/// The running server; dropping it stops accepting and removes the socket.
pub(crate) struct Server {
    task: JoinHandle<()>,
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Listens on the project's socket. The caller holds the project lock, so a
/// socket file left by a killed corral can safely be replaced.
pub(crate) fn start(project: &Project, requests: mpsc::UnboundedSender<ControlRequest>, states: broadcast::Sender<Arc<ProcessInfo>>, feed: Arc<Feed>) -> io::Result<Server> {
    let path = project.socket();
    crate::notify::check_path_len(&path)?;
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {}: {e}", path.display())))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let hello = Hello { project: project.id.clone(), pid: std::process::id(), version: env!("CARGO_PKG_VERSION").into(), protocol: VERSION };
    let shared = Arc::new(Shared { requests, states, feed, hello, sampler: Default::default() });
    let uid = nix::unistd::getuid().as_raw();
    // Connection cap, idle timeout and accept backoff: see `limits` (issue 14).
    let limits = super::limits::Limits::new();
    let task = tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    limits.accept_failed(&e).await;
                    continue;
                }
            };
            match stream.peer_cred() {
                Ok(cred) if cred.uid() == uid => match limits.admit() {
                    Some(slot) => {
                        tokio::spawn(serve(stream, shared.clone(), slot));
                    }
                    None => {
                        let mut stream = stream;
                        let _ = stream.write_all(&ServerMessage::error(0, ErrorCode::Busy, "too many connections; try again").to_line()).await;
                    }
                },
                other => {
                    let who = other.map(|c| c.uid().to_string()).unwrap_or_else(|e| e.to_string());
                    tracing::warn!("control socket: refused a connection from uid {who}");
                    let mut stream = stream;
                    let _ = stream.write_all(&ServerMessage::error(0, ErrorCode::PermissionDenied, "this corral belongs to another user").to_line()).await;
                }
            }
        }
    });
    Ok(Server { task, path })
}

async fn serve(stream: UnixStream, shared: Arc<Shared>, slot: super::limits::Slot) {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    loop {
        let line = match slot.next_request(read_line(&mut rd)).await {
            None => return,
            Some(Ok(Some(l))) => l,
            Some(Ok(None)) => return,
            Some(Err(Oversized)) => {
                let msg = ServerMessage::error(0, ErrorCode::TooLarge, format!("a request is at most {MAX_REQUEST} bytes; closing this connection"));
                let _ = wr.write_all(&msg.to_line()).await;
                return;
            }
        };
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        let req = match parse_request(&line) {
            Ok(r) => r,
            Err(bad) => {
                if wr.write_all(&ServerMessage::from(bad).to_line()).await.is_err() {
                    return;
                }
                continue;
            }
        };
        if let RequestCommand::Attach { process: Some(name), window } = req.command {
            let Some(terminal) = shared.feed.terminals.get(&name) else {
                let why = if shared.feed.source_of(&name).is_some() { "has no terminal now (it needs is_tty and must be running)" } else { "is not a process of this run" };
                if send(&mut wr, ServerMessage::error(req.id, ErrorCode::Failed, format!("{name} {why}"))).await.is_err() {
                    return;
                }
                continue;
            };
            // The rest of the connection belongs to this process's terminal.
            let _ = attach_terminal(req.id, &name, terminal, window, &shared, &mut rd, &mut wr).await;
            return;
        }
        if answer(req.id, req.command, &shared, &mut wr).await.is_err() {
            return;
        }
    }
}

struct Oversized;

/// One line of at most MAX_REQUEST bytes; None at end of file.
async fn read_line<R: AsyncBufReadExt + Unpin>(rd: &mut R) -> Result<Option<Vec<u8>>, Oversized> {
    let mut line = Vec::new();
    loop {
        let buf = match rd.fill_buf().await {
            Ok(b) => b,
            Err(_) => return Ok(None),
        };
        if buf.is_empty() {
            return Ok(if line.is_empty() { None } else { Some(line) });
        }
        let (take, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        line.extend_from_slice(&buf[..take]);
        rd.consume(take);
        if line.len() > MAX_REQUEST {
            return Err(Oversized);
        }
        if done {
            return Ok(Some(line));
        }
    }
}

async fn send<W: AsyncWrite + Unpin>(wr: &mut W, msg: ServerMessage) -> io::Result<()> {
    wr.write_all(&msg.to_line()).await
}

/// Asks the dispatcher; a `failed` error when it is gone (the run is ending).
async fn ask(shared: &Shared, ctl: Ctl) -> Reply {
    let ending = || Err(ErrorBody { code: ErrorCode::Failed, message: "the run is ending".into() });
    let (tx, rx) = oneshot::channel();
    if shared.requests.send(ControlRequest { ctl, reply: tx }).is_err() {
        return ending();
    }
    rx.await.unwrap_or_else(|_| ending())
}

async fn answer<W: AsyncWrite + Unpin>(id: u64, cmd: RequestCommand, shared: &Shared, wr: &mut W) -> io::Result<()> {
    let ctl = match cmd {
        RequestCommand::Hello => return send(wr, ServerMessage::ok(id, Response::Hello(shared.hello.clone()))).await,
        RequestCommand::Logs { names, lines, follow } => return logs(id, names, lines, follow, shared, wr).await,
        RequestCommand::Attach { process: None, .. } => return attach(id, shared, wr).await,
        RequestCommand::Attach { process: Some(_), .. } => unreachable!("served by attach_terminal"),
        RequestCommand::Input { .. } | RequestCommand::Resize { .. } => {
            return send(wr, ServerMessage::error(id, ErrorCode::BadRequest, "input and resize are for a connection attached to a process (attach with a process)")).await
        }
        RequestCommand::Wait => return wait(id, shared, wr).await,
        RequestCommand::Top => return top(id, shared, wr).await,
        RequestCommand::Ps => {
            let mut reply = ask(shared, Ctl::Ps).await;
            if let Ok(Response::Processes(list)) = &mut reply {
                with_resources(shared, list, std::time::Instant::now()).await;
            }
            return send(wr, ServerMessage::reply(id, reply)).await;
        }
        RequestCommand::Start { names } => Ctl::Start(names),
        RequestCommand::Stop { names } => Ctl::Stop(names),
        RequestCommand::Restart { names } => Ctl::Restart(names),
        RequestCommand::Down => Ctl::Down,
        RequestCommand::Scale { name, replicas } => Ctl::Scale(name, replicas),
    };
    send(wr, ServerMessage::reply(id, ask(shared, ctl).await)).await
}

/// Adds each running process's CPU and memory, sampled off the runtime.
async fn with_resources(shared: &Shared, list: &mut [ProcessInfo], now: std::time::Instant) {
    let leaders: Vec<i32> = list.iter().filter_map(|p| p.pid).collect();
    if leaders.is_empty() {
        return;
    }
    let sampler = shared.sampler.clone();
    let sampled = tokio::task::spawn_blocking(move || sampler.lock().unwrap_or_else(|e| e.into_inner()).figures(&leaders, now));
    if let Ok(figures) = sampled.await {
        crate::resources::apply(list, &figures);
    }
}

async fn logs<W: AsyncWrite + Unpin>(id: u64, names: Vec<String>, lines: usize, follow: bool, shared: &Shared, wr: &mut W) -> io::Result<()> {
    let mut sources = Vec::new();
    for n in &names {
        match shared.feed.source_of(n) {
            Some(s) => sources.push(s),
            None => return send(wr, ServerMessage::error(id, ErrorCode::UnknownProcess, format!("unknown process {n:?}"))).await,
        }
    }
    // Subscribe before reading the ring, then skip what the ring already gave.
    let mut live = follow.then(|| shared.feed.subscribe());
    let recent = shared.feed.recent(&sources, lines);
    let last = recent.last().map_or(0, |l| l.seq);
    // One process with a log file, asked for more than the ring holds: the file has it all.
    let from_file = match (sources.as_slice(), recent.len() < lines) {
        // Off the runtime, with a deadline (issue 14: no file operation may block the supervisor).
        ([one], true) => match shared.feed.file(*one) {
            Some(f) => crate::output::tail_bounded(f.to_path_buf(), lines).await.ok().filter(|t| t.len() > recent.len()).map(|t| (*one, t)),
            None => None,
        },
        _ => None,
    };
    match from_file {
        Some((source, file_lines)) => {
            for line in &file_lines {
                send(wr, log_event(id, shared, source, line)).await?;
            }
        }
        None => {
            for l in &recent {
                send(wr, log_event(id, shared, l.source, &l.line)).await?;
            }
        }
    }
    let mut last = last;
    let Some(live) = live.as_mut() else { return send(wr, ServerMessage::ok(id, Response::Done)).await };
    loop {
        match live.recv().await {
            Ok(l) if l.seq > last && (sources.is_empty() || sources.contains(&l.source)) => {
                last = l.seq;
                send(wr, log_event(id, shared, l.source, &l.line)).await?;
            }
            Ok(_) => {}
            Err(broadcast::error::RecvError::Lagged(n)) => send(wr, ServerMessage::event(id, Event::Skipped { lines: n })).await?,
            Err(broadcast::error::RecvError::Closed) => return send(wr, ServerMessage::ok(id, Response::Done)).await,
        }
    }
}

fn log_event(id: u64, shared: &Shared, source: usize, line: &str) -> ServerMessage {
    let process = shared.feed.label(source);
    ServerMessage::event(id, Event::Log { process, line: line.to_string() })
}

/// Every state change and output line until the run ends. A follower too
/// slow for the state changes gets a fresh snapshot of every process instead
/// of the changes it missed, so it is never left showing a stale state.
async fn attach<W: AsyncWrite + Unpin>(id: u64, shared: &Shared, wr: &mut W) -> io::Result<()> {
    let mut lines = shared.feed.subscribe();
    let mut states = shared.states.subscribe();
    if let Ok(Response::Processes(all)) = ask(shared, Ctl::Ps).await {
        for process in all {
            send(wr, ServerMessage::event(id, Event::State { process })).await?;
        }
    }
    loop {
        tokio::select! {
            l = lines.recv() => match l {
                Ok(l) => send(wr, log_event(id, shared, l.source, &l.line)).await?,
                Err(broadcast::error::RecvError::Lagged(n)) => send(wr, ServerMessage::event(id, Event::Skipped { lines: n })).await?,
                Err(broadcast::error::RecvError::Closed) => return send(wr, ServerMessage::ok(id, Response::Done)).await,
            },
            s = states.recv() => match s {
                Ok(process) => send(wr, ServerMessage::event(id, Event::State { process: Arc::unwrap_or_clone(process) })).await?,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Whatever is still queued is older than the snapshot: drop it.
                    states = states.resubscribe();
                    if let Ok(Response::Processes(processes)) = ask(shared, Ctl::Ps).await {
                        send(wr, ServerMessage::event(id, Event::Snapshot { processes })).await?;
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return send(wr, ServerMessage::ok(id, Response::Done)).await,
            },
        }
    }
}

/// Every process with its resource figures, once a second, until the run
/// ends: the only timer resources have, and only while a follower asks.
async fn top<W: AsyncWrite + Unpin>(id: u64, shared: &Shared, wr: &mut W) -> io::Result<()> {
    let mut states = shared.states.subscribe();
    let mut tick = tokio::time::interval(crate::resources::MIN_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            at = tick.tick() => match ask(shared, Ctl::Ps).await {
                Ok(Response::Processes(mut processes)) => {
                    // The tick's own time: ticks a second apart always sample anew.
                    with_resources(shared, &mut processes, at.into_std()).await;
                    send(wr, ServerMessage::event(id, Event::Snapshot { processes })).await?;
                }
                reply => return send(wr, ServerMessage::reply(id, reply)).await,
            },
            s = states.recv() => if let Err(broadcast::error::RecvError::Closed) = s {
                return send(wr, ServerMessage::ok(id, Response::Done)).await;
            },
        }
    }
}

/// `attach NAME`: the bytes of NAME's terminal as `terminal` events until it
/// exits (then `Done`), while `input` and `resize` lines from the client reach
/// it. The client's window size is the terminal's from the start.
#[allow(clippy::too_many_arguments)]
async fn attach_terminal<R, W>(id: u64, name: &str, terminal: crate::terminals::Terminal, window: Option<corral_protocol::WindowSize>, shared: &Shared, rd: &mut R, wr: &mut W) -> io::Result<()>
where
    R: AsyncBufReadExt + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut states = shared.states.subscribe();
    // Only the keys are kept: holding the sender would keep the output open past the process's end.
    let crate::terminals::Terminal { keys: terminal, output: sender } = terminal;
    // What it wrote before this client came (a prompt, say), then what follows.
    let (recent, mut output) = sender.follow();
    drop(sender);
    if !recent.is_empty() {
        send(wr, ServerMessage::event(id, Event::Terminal { data: recent })).await?;
    }
    if let Some(w) = window {
        terminal.resize(w.cols, w.rows);
    }
    let mut reading = true;
    let mut ended = false;
    // `next_line` is cancel-safe: a keystroke line half read when output wins the select is kept.
    let mut lines = (&mut *rd).lines();
    loop {
        tokio::select! {
            chunk = output.recv() => match chunk {
                Ok(data) => send(wr, ServerMessage::event(id, Event::Terminal { data: data.to_vec() })).await?,
                Err(broadcast::error::RecvError::Lagged(n)) => send(wr, ServerMessage::event(id, Event::Skipped { lines: n })).await?,
                Err(broadcast::error::RecvError::Closed) if ended => return send(wr, ServerMessage::ok(id, Response::Done)).await,
                Err(broadcast::error::RecvError::Closed) => return end_terminal(id, name, &mut states, wr).await,
            },
            state = states.recv() => match state {
                Ok(process) if process.name == name => {
                    ended = has_ended(process.state);
                    send(wr, ServerMessage::event(id, Event::State { process: Arc::unwrap_or_clone(process) })).await?
                }
                _ => {}
            },
            line = lines.next_line(), if reading => match line {
                Ok(Some(line)) => match parse_request(line.as_bytes()) {
                    Ok(r) => match r.command {
                        RequestCommand::Input { data } => terminal.input(&data),
                        RequestCommand::Resize { window } => terminal.resize(window.cols, window.rows),
                        _ => send(wr, ServerMessage::error(r.id, ErrorCode::BadRequest, "only input and resize while attached to a process")).await?,
                    },
                    Err(bad) => send(wr, ServerMessage::from(bad)).await?,
                },
                // The client is gone (or stopped writing): keep the output going until it closes.
                Ok(None) | Err(_) => reading = false,
            },
        }
    }
}

/// The process's terminal has closed: its state once its exit is known (so
/// a client such as `corral run` learns how it ended), then `Done`.
async fn end_terminal<W: AsyncWrite + Unpin>(id: u64, name: &str, states: &mut broadcast::Receiver<Arc<ProcessInfo>>, wr: &mut W) -> io::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, states.recv()).await {
            Ok(Ok(process)) if process.name == name => {
                let ended = has_ended(process.state);
                send(wr, ServerMessage::event(id, Event::State { process: Arc::unwrap_or_clone(process) })).await?;
                if ended {
                    break;
                }
            }
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(broadcast::error::RecvError::Closed)) | Err(_) => break,
        }
    }
    send(wr, ServerMessage::ok(id, Response::Done)).await
}

/// Whether a process in `state` has ended its run (its exit is known).
fn has_ended(state: corral_protocol::ProcessState) -> bool {
    use corral_protocol::ProcessState::*;
    !matches!(state, Pending | Waiting | Starting | Running | Ready | Stopping)
}

async fn wait<W: AsyncWrite + Unpin>(id: u64, shared: &Shared, wr: &mut W) -> io::Result<()> {
    let mut states = shared.states.subscribe();
    loop {
        match ask(shared, Ctl::Readiness).await {
            Ok(Response::Ready { ready: false }) => {}
            reply => return send(wr, ServerMessage::reply(id, reply)).await,
        }
        if let Err(broadcast::error::RecvError::Closed) = states.recv().await {
            return send(wr, ServerMessage::error(id, ErrorCode::Failed, "the run ended before every process was ready")).await;
        }
    }
}
