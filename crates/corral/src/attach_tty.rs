//! `corral attach NAME`: the user's terminal connected to the terminal of an
//! `is_tty` process of a running corral. The keyboard goes to the process
//! (stdin in raw mode, so Ctrl-C reaches it as a keystroke, not corral), its
//! bytes come back as they are, and the window size follows the user's
//! terminal (checked every 200 ms). Ctrl-] detaches and leaves the process
//! running; the attach ends by itself when the process exits.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use corral_protocol::{Event, ProcessState, Request, RequestCommand, Response, ServerMessage, WindowSize};
use corral_supervisor::control::project::Project;
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

/// The key that detaches (Ctrl-], as telnet and docker use).
const DETACH: u8 = 0x1d;

pub fn attach(project: &Project, name: &str) -> i32 {
    session(project, name).0
}

/// Attaches until the process exits or the user detaches: the exit status of
/// `corral attach`, and the process's own exit status once it is known.
pub fn session(project: &Project, name: &str) -> (i32, Option<i32>) {
    let path = project.socket();
    let stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("corral: error: no corral is running for project {} ({}: {e})", project.id, path.display());
            return (1, None);
        }
    };
    let (Ok(mut keys), Ok(mut sizes)) = (stream.try_clone(), stream.try_clone()) else {
        eprintln!("corral: error: cannot use the control socket");
        return (1, None);
    };
    let window = own_window();
    let request = Request::new(1, RequestCommand::Attach { process: Some(name.to_string()), window });
    if let Err(e) = keys.write_all(&request.to_line()) {
        eprintln!("corral: error: {e}");
        return (1, None);
    }
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let user_detached = detached.clone();
    let raw = RawMode::enter();
    if raw.is_some() {
        eprint!("corral: attached to {name}; Ctrl-] detaches\r\n");
    }
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = io::stdin();
        loop {
            let n = match stdin.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let (data, detach) = match buf[..n].iter().position(|b| *b == DETACH) {
                Some(i) => (&buf[..i], true),
                None => (&buf[..n], false),
            };
            if !data.is_empty() {
                let line = Request::new(2, RequestCommand::Input { data: data.to_vec() }).to_line();
                if keys.write_all(&line).is_err() {
                    return;
                }
            }
            if detach {
                user_detached.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = keys.shutdown(Shutdown::Both);
                return;
            }
        }
    });
    std::thread::spawn(move || {
        let mut last = window;
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let Some(now) = own_window() else { continue };
            if Some(now) != last {
                last = Some(now);
                let line = Request::new(3, RequestCommand::Resize { window: now }).to_line();
                if sizes.write_all(&line).is_err() {
                    return;
                }
            }
        }
    });
    let status = follow(BufReader::new(stream), name, &detached);
    drop(raw);
    status
}

/// Copies the terminal's bytes to stdout until the process exits (0), the
/// user detaches (0), or the server refuses (1).
fn follow(mut rd: BufReader<UnixStream>, name: &str, detached: &std::sync::atomic::AtomicBool) -> (i32, Option<i32>) {
    let mut out = io::stdout().lock();
    let mut line = String::new();
    let mut exit = None;
    loop {
        line.clear();
        match rd.read_line(&mut line) {
            Ok(0) | Err(_) => {
                if detached.load(std::sync::atomic::Ordering::SeqCst) {
                    eprint!("\r\ncorral: detached from {name}\r\n");
                } else {
                    eprint!("\r\ncorral: the run ended\r\n");
                }
                return (0, exit);
            }
            Ok(_) => {}
        }
        let Ok(mut msg) = serde_json::from_str::<ServerMessage>(&line) else { continue };
        if msg.id != 1 {
            continue;
        }
        match msg.event.take() {
            Some(Event::Terminal { data }) => {
                let _ = out.write_all(&data);
                let _ = out.flush();
            }
            Some(Event::State { process }) if process.name == name => {
                if let Some(e) = process.exit.filter(|_| !matches!(process.state, ProcessState::Running | ProcessState::Ready | ProcessState::Starting | ProcessState::Stopping)) {
                    exit = Some(e.status());
                }
            }
            Some(_) => {}
            None => {
                return match msg.into_reply() {
                    Some(Ok(Response::Done)) => {
                        match exit {
                            Some(s) => eprint!("\r\ncorral: {name} exited with status {s}\r\n"),
                            None => eprint!("\r\ncorral: {name} exited\r\n"),
                        }
                        (0, exit)
                    }
                    Some(Err(e)) => {
                        eprint!("corral: error: {e}\r\n");
                        (1, None)
                    }
                    _ => (1, None),
                };
            }
        }
    }
}

/// The size of the user's terminal (stdin's, else stdout's), if there is one.
fn own_window() -> Option<WindowSize> {
    for fd in [0, 1] {
        let mut ws = nix::libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCGWINSZ writes one winsize into `ws`.
        if unsafe { nix::libc::ioctl(fd, nix::libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_col > 0 {
            return Some(WindowSize { cols: ws.ws_col, rows: ws.ws_row });
        }
    }
    None
}

/// stdin in raw mode while attached (when it is a terminal); restored when dropped.
struct RawMode(Termios);

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = io::stdin();
        let saved = tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = tcsetattr(io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}
