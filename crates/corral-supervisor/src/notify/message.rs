//! sd_notify datagrams, parsed without I/O.
//!
//! A datagram is newline-separated `KEY=VALUE` assignments, several per
//! datagram. Unknown keys are ignored (systemd adds keys over time); a line
//! that is not an assignment, or a known key with a bad value, is skipped and
//! reported so corral can log it at debug level. Nothing here panics.

/// Everything one or more datagrams said, folded together: several datagrams
/// read in one go collapse into one summary, so a flood costs no memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub ready: bool,
    pub reloading: bool,
    pub stopping: bool,
    /// The last `STATUS=` text.
    pub status: Option<String>,
    pub watchdog_ping: bool,
    pub watchdog_trigger: bool,
    /// Sum of `EXTEND_TIMEOUT_USEC` values.
    pub extend_usec: u64,
    pub main_pid: Option<i32>,
    pub errno: Option<i32>,
    /// Lines that could not be understood, for the debug log (at most a few kept).
    pub rejected: Vec<String>,
}

/// The largest datagram accepted, as systemd does.
pub const MAX_DATAGRAM: usize = 4096;

const MAX_REJECTED: usize = 4;

impl Summary {
    /// Folds one datagram in.
    pub fn absorb(&mut self, datagram: &[u8]) {
        let text = String::from_utf8_lossy(datagram);
        for line in text.split('\n').filter(|l| !l.is_empty()) {
            let Some((key, value)) = line.split_once('=') else {
                self.reject(line);
                continue;
            };
            match key {
                "READY" if value == "1" => {
                    self.ready = true;
                    self.reloading = false;
                }
                "RELOADING" if value == "1" => self.reloading = true,
                "STOPPING" if value == "1" => self.stopping = true,
                "STATUS" => self.status = Some(value.chars().take(1024).collect()),
                "WATCHDOG" if value == "1" => self.watchdog_ping = true,
                "WATCHDOG" if value == "trigger" => self.watchdog_trigger = true,
                "EXTEND_TIMEOUT_USEC" => match value.parse::<u64>() {
                    Ok(v) => self.extend_usec = self.extend_usec.saturating_add(v),
                    Err(_) => self.reject(line),
                },
                "MAINPID" => match value.parse::<i32>() {
                    Ok(p) if p > 0 => self.main_pid = Some(p),
                    _ => self.reject(line),
                },
                "ERRNO" => match value.parse::<i32>() {
                    Ok(e) => self.errno = Some(e),
                    Err(_) => self.reject(line),
                },
                "READY" | "RELOADING" | "STOPPING" | "WATCHDOG" => self.reject(line),
                // MONOTONIC_USEC, FDSTORE, FDNAME, BUSERROR, … and keys from the future.
                _ => {}
            }
        }
    }

    fn reject(&mut self, line: &str) {
        if self.rejected.len() < MAX_REJECTED {
            self.rejected.push(line.chars().take(80).collect());
        }
    }

    /// Whether there is anything to act on.
    pub fn is_empty(&self) -> bool {
        *self == Summary { rejected: self.rejected.clone(), ..Summary::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(d: &[&[u8]]) -> Summary {
        let mut s = Summary::default();
        d.iter().for_each(|x| s.absorb(x));
        s
    }

    #[test]
    fn several_keys_per_datagram() {
        let s = parse(&[b"READY=1\nSTATUS=Listening on 8080\nMAINPID=42\n"]);
        assert!(s.ready);
        assert_eq!(s.status.as_deref(), Some("Listening on 8080"));
        assert_eq!(s.main_pid, Some(42));
        assert!(s.rejected.is_empty());
    }

    #[test]
    fn watchdog_and_extend() {
        let s = parse(&[b"WATCHDOG=1", b"EXTEND_TIMEOUT_USEC=500000", b"EXTEND_TIMEOUT_USEC=250000"]);
        assert!(s.watchdog_ping && !s.watchdog_trigger);
        assert_eq!(s.extend_usec, 750_000);
        assert!(parse(&[b"WATCHDOG=trigger"]).watchdog_trigger);
    }

    #[test]
    fn reloading_stopping_and_ready_again() {
        let s = parse(&[b"RELOADING=1\nMONOTONIC_USEC=123"]);
        assert!(s.reloading && !s.ready);
        let s = parse(&[b"RELOADING=1", b"READY=1"]);
        assert!(s.ready && !s.reloading);
        assert!(parse(&[b"STOPPING=1"]).stopping);
    }

    #[test]
    fn later_status_wins_and_unknown_keys_are_ignored() {
        let s = parse(&[b"STATUS=one", b"X_FUTURE_KEY=1\nFDSTORE=1", b"STATUS=two"]);
        assert_eq!(s.status.as_deref(), Some("two"));
        assert!(s.rejected.is_empty());
    }

    #[test]
    fn malformed_input_is_skipped_not_fatal() {
        let s = parse(&[b"garbage\nREADY=2\nMAINPID=-3\nEXTEND_TIMEOUT_USEC=x\n\xff\xfe=\x00", b""]);
        assert!(!s.ready);
        assert_eq!(s.main_pid, None);
        assert_eq!(s.rejected.len(), MAX_REJECTED, "kept bounded: {:?}", s.rejected);
        assert!(s.is_empty(), "nothing to act on");
    }

    #[test]
    fn a_flood_folds_into_one_summary() {
        let mut s = Summary::default();
        for i in 0..10_000 {
            s.absorb(format!("STATUS=step {i}\nWATCHDOG=1").as_bytes());
        }
        assert_eq!(s.status.as_deref(), Some("step 9999"));
        assert!(s.watchdog_ping);
    }
}
