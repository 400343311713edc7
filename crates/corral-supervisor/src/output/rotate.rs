//! Log rotation (process-compose's `log_configuration.rotation`, which is
//! lumberjack's): no log file grows without bound.
//!
//! The thread that writes a file rotates it, at a line boundary, before a line
//! would take it past the size bound: the file is renamed to
//! `NAME-<UTC time>.EXT` beside it and a new one is opened in its place. A
//! rename and an open are all the writer pays; it already runs off the async
//! runtime (see sink.rs), so the supervisor never waits for them. Removing old
//! backups (by count and age) and compressing them is the **mill**'s work: one
//! helper thread per run, fed through a channel, so a gzip of a large file
//! delays no line.
//!
//! Nothing is lost: a line goes whole into one file; if the rename fails the
//! writer keeps appending to the current file (and says so), and if the new
//! file cannot be opened it keeps writing to the renamed one. A compressed
//! backup is written beside the original (`….gz.partial`), renamed into place,
//! and only then is the original removed; the mill's first job for each file,
//! at start, finishes what an interrupted run left behind.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use corral_config::LogRotation;

/// How a file is rotated, resolved from the config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub max_bytes: u64,
    /// Backups to keep (newest first); 0 keeps all.
    pub max_backups: usize,
    pub max_age: Option<Duration>,
    pub compress: bool,
}

impl From<LogRotation> for Policy {
    fn from(r: LogRotation) -> Policy {
        Policy {
            max_bytes: r.max_bytes(),
            max_backups: usize::try_from(r.max_backups).unwrap_or(usize::MAX),
            max_age: (r.max_age_days > 0).then(|| Duration::from_secs(r.max_age_days.saturating_mul(86_400))),
            compress: r.compress,
        }
    }
}

impl Policy {
    /// The detached run's output log when the config sets no rotation: 10 MiB, 5 backups.
    pub const DETACHED_OUTPUT: Policy = Policy { max_bytes: 10 * 1024 * 1024, max_backups: 5, max_age: None, compress: false };
}

/// Sends tidying jobs to the mill thread.
#[derive(Clone)]
pub struct Mill {
    tx: mpsc::Sender<(PathBuf, Policy)>,
}

impl Mill {
    /// Starts the mill; it ends once every [`Mill`] handle is dropped.
    pub fn start() -> io::Result<(Mill, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel::<(PathBuf, Policy)>();
        let thread = std::thread::Builder::new().name("corral-log-mill".into()).spawn(move || {
            for (path, policy) in rx {
                if let Err(e) = tidy(&path, &policy) {
                    tracing::warn!("log rotation: tidying the backups of {}: {e}", path.display());
                }
            }
        })?;
        Ok((Mill { tx }, thread))
    }

    fn tidy(&self, path: &Path, policy: Policy) {
        let _ = self.tx.send((path.to_path_buf(), policy));
    }
}

/// The rotation state of one file, kept by the thread that writes it.
pub struct Rotator {
    path: PathBuf,
    policy: Policy,
    mill: Mill,
    /// Bytes in the current file, once the writing thread has looked.
    size: Option<u64>,
    /// The time in the last backup's name (names must be unique and increasing).
    last: Option<SystemTime>,
    /// The file is also this descriptor (fd 1 or 2 of a detached run): put each
    /// new file there too, so every writer of it follows the rotation.
    dup_onto: Option<RawFd>,
    /// A rotation failed (said once; then append without bound, losing nothing),
    /// or the file is not a regular file.
    failed: bool,
}

impl Rotator {
    /// For the file open at `path`. Touches no file itself: the writing thread
    /// looks at the file on its first write (only a regular file rotates: not a
    /// FIFO, not `/dev/null`) and then asks the mill to finish what an earlier
    /// run left behind.
    pub fn new(path: &Path, policy: Policy, mill: Mill, dup_onto: Option<RawFd>) -> Rotator {
        Rotator { path: path.to_path_buf(), policy, mill, size: None, last: None, dup_onto, failed: false }
    }

    /// Before writing `len` bytes to `out`: rotates when they would take the file
    /// past its bound (never for an empty file: a line is never split).
    pub fn before_write(&mut self, len: usize, out: &mut BufWriter<File>) -> io::Result<()> {
        if self.failed {
            return Ok(());
        }
        let size = match self.size {
            Some(s) => s,
            None => match out.get_ref().metadata() {
                Ok(m) if m.is_file() => {
                    self.mill.tidy(&self.path, self.policy);
                    m.len()
                }
                // Not a regular file: nothing to rotate, ever.
                _ => {
                    self.failed = true;
                    return Ok(());
                }
            },
        };
        let len = len as u64;
        let mut size = size;
        if size > 0 && size.saturating_add(len) > self.policy.max_bytes {
            out.flush()?;
            match self.rotate(out) {
                Ok(()) => size = 0,
                Err(e) => {
                    self.failed = true;
                    tracing::error!("cannot rotate log file {}: {e}; it grows without bound from now on (no line is lost)", self.path.display());
                }
            }
        }
        self.size = Some(size.saturating_add(len));
        Ok(())
    }

    fn rotate(&mut self, out: &mut BufWriter<File>) -> io::Result<()> {
        let backup = self.backup_name();
        fs::rename(&self.path, &backup).map_err(|e| io::Error::new(e.kind(), format!("renaming it to {}: {e}", backup.display())))?;
        // Renamed: until the new file is open, lines still go to the backup.
        let file = super::sink::open_log(&self.path)?;
        if let Some(fd) = self.dup_onto {
            nix::unistd::dup2(file.as_raw_fd(), fd).map_err(io::Error::from)?;
        }
        *out.get_mut() = file;
        self.mill.tidy(&self.path, self.policy);
        Ok(())
    }

    /// `NAME-<UTC time>.EXT`, later than the previous one and not taken.
    fn backup_name(&mut self) -> PathBuf {
        let mut t = SystemTime::now();
        if let Some(last) = self.last {
            t = t.max(last + Duration::from_millis(1));
        }
        loop {
            let name = backup_path(&self.path, t);
            if !name.exists() && !gz(&name).exists() {
                self.last = Some(t);
                return name;
            }
            t += Duration::from_millis(1);
        }
    }
}

/// A file written by a thread of its own and rotated by `policy`, for corral's
/// own log in a detached run (`corral.log`): callers hand whole records over a
/// bounded channel (waiting only while the disk is behind, as a direct write
/// would); an empty record asks the thread to flush and end. `dup_onto`: that
/// descriptor (fd 2) follows the rotation too, for direct writes to it.
pub fn start_file_log(path: &Path, policy: Policy, dup_onto: Option<RawFd>) -> io::Result<(mpsc::SyncSender<Vec<u8>>, JoinHandle<()>)> {
    let file = super::sink::open_log(path)?;
    let (mill, mill_thread) = Mill::start()?;
    let mut rotator = Rotator::new(path, policy, mill, dup_onto);
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1024);
    let thread = std::thread::Builder::new().name("corral-own-log".into()).spawn(move || {
        let mut out = BufWriter::new(file);
        let mut write = |record: &[u8], out: &mut BufWriter<File>| -> io::Result<()> {
            rotator.before_write(record.len(), out)?;
            out.write_all(record)
        };
        'records: while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(record) = next.take() {
                if record.is_empty() {
                    break 'records;
                }
                if write(&record, &mut out).is_err() {
                    return;
                }
                next = rx.try_recv().ok();
            }
            if out.flush().is_err() {
                return;
            }
        }
        let _ = out.flush();
        // The rotator's mill handle goes with it: the mill finishes its jobs and ends.
        drop(rotator);
        let _ = mill_thread.join();
    })?;
    Ok((tx, thread))
}

/// `dir/app.log` → (`app`, `.log`); `dir/app` → (`app`, ``).
fn stem_ext(path: &Path) -> (String, String) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match name.rfind('.') {
        Some(i) if i > 0 => (name[..i].to_string(), name[i..].to_string()),
        _ => (name, String::new()),
    }
}

/// The time in a backup's name: RFC 3339 in UTC with `-` for `:` (file-name safe,
/// and names sort in time order).
fn stamp(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string().trim_end_matches('Z').replace(':', "-")
}

fn parse_stamp(s: &str) -> Option<SystemTime> {
    let (date, time) = s.split_once('T')?;
    if s.len() != "2006-01-02T15-04-05.000".len() {
        return None;
    }
    humantime::parse_rfc3339(&format!("{date}T{}Z", time.replacen('-', ":", 2))).ok()
}

fn backup_path(path: &Path, t: SystemTime) -> PathBuf {
    let (stem, ext) = stem_ext(path);
    path.with_file_name(format!("{stem}-{}{ext}", stamp(t)))
}

fn gz(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".gz");
    PathBuf::from(s)
}

/// A backup of `path` found beside it.
#[derive(Debug, PartialEq, Eq)]
struct Backup {
    path: PathBuf,
    time: SystemTime,
    compressed: bool,
}

/// The backups of `path`, newest first.
fn backups(path: &Path) -> io::Result<Vec<Backup>> {
    let (stem, ext) = stem_ext(path);
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let prefix = format!("{stem}-");
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(&prefix) else { continue };
        let (rest, compressed) = match rest.strip_suffix(".gz") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let Some(stamp) = rest.strip_suffix(ext.as_str()) else { continue };
        let Some(time) = parse_stamp(stamp) else { continue };
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            found.push(Backup { path: entry.path(), time, compressed });
        }
    }
    found.sort_by(|a, b| b.time.cmp(&a.time).then(a.compressed.cmp(&b.compressed)));
    Ok(found)
}

/// The mill's job for one file: remove backups beyond the count and age bounds,
/// then compress what is left uncompressed (when asked).
fn tidy(path: &Path, policy: &Policy) -> io::Result<()> {
    let all = backups(path)?;
    let now = SystemTime::now();
    // A backup both compressed and not (an interrupted compression) counts once.
    let mut kept = Vec::new();
    let mut seen = Vec::new();
    for b in all {
        let too_old = policy.max_age.is_some_and(|age| now.duration_since(b.time).unwrap_or_default() > age);
        let first_of_its_time = !seen.contains(&b.time);
        if first_of_its_time {
            seen.push(b.time);
        }
        let too_many = policy.max_backups > 0 && seen.len() > policy.max_backups;
        if too_old || too_many {
            remove(&b.path);
        } else {
            kept.push(b);
        }
    }
    if policy.compress {
        for b in kept.iter().filter(|b| !b.compressed) {
            let target = gz(&b.path);
            if kept.iter().any(|k| k.path == target) {
                // Compressed before, the original not yet removed.
                remove(&b.path);
                continue;
            }
            compress(&b.path, &target)?;
        }
    }
    Ok(())
}

fn remove(path: &Path) {
    if let Err(e) = fs::remove_file(path) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::warn!("log rotation: cannot remove {}: {e}", path.display());
        }
    }
}

/// gzips `from` into `to` (through a `.partial` file), then removes `from`.
fn compress(from: &Path, to: &Path) -> io::Result<()> {
    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let result = (|| {
        let mut input = File::open(from)?;
        let mut enc = flate2::write::GzEncoder::new(BufWriter::new(File::create(&partial)?), flate2::Compression::default());
        io::copy(&mut input, &mut enc)?;
        let mut out = enc.finish()?;
        out.flush()?;
        out.get_ref().sync_all()?;
        fs::rename(&partial, to)
    })();
    match result {
        Ok(()) => {
            remove(from);
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&partial);
            Err(io::Error::new(e.kind(), format!("compressing {}: {e}", from.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_names_parse_back_and_sort_in_time_order() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_764_000_000_123);
        let p = backup_path(Path::new("/x/app.log"), t);
        assert_eq!(p, Path::new("/x/app-2025-11-24T16-00-00.123.log"));
        assert_eq!(parse_stamp("2025-11-24T16-00-00.123"), Some(t));
        assert_eq!(backup_path(Path::new("/x/app"), t), Path::new("/x/app-2025-11-24T16-00-00.123"));
        assert_eq!(stem_ext(Path::new("/x/.hidden")), (".hidden".into(), String::new()));
        let later = backup_path(Path::new("/x/app.log"), t + Duration::from_millis(1));
        assert!(later > p);
    }

    #[test]
    fn tidy_keeps_the_newest_by_count_and_age_and_compresses() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        fs::write(&log, "current\n").unwrap();
        fs::write(dir.path().join("other-2025-01-01T00-00-00.000.log"), "not ours").unwrap();
        let now = SystemTime::now();
        let mut names = Vec::new();
        for i in 0..5u64 {
            let p = backup_path(&log, now - Duration::from_secs(60 * (5 - i)));
            fs::write(&p, format!("backup {i}\n")).unwrap();
            names.push(p);
        }
        // An old one beyond the age bound, and an interrupted compression.
        let old = backup_path(&log, now - Duration::from_secs(3 * 86_400));
        fs::write(&old, "old\n").unwrap();
        fs::write(gz(&names[4]), b"").unwrap();
        let policy = Policy { max_bytes: 1, max_backups: 3, max_age: Some(Duration::from_secs(86_400)), compress: false };
        tidy(&log, &policy).unwrap();
        let left: Vec<PathBuf> = backups(&log).unwrap().into_iter().map(|b| b.path).collect();
        assert_eq!(left, vec![names[4].clone(), gz(&names[4]), names[3].clone(), names[2].clone()]);
        assert!(dir.path().join("other-2025-01-01T00-00-00.000.log").exists());
        assert_eq!(fs::read_to_string(&log).unwrap(), "current\n");

        fs::remove_file(gz(&names[4])).unwrap();
        tidy(&log, &Policy { compress: true, ..policy }).unwrap();
        let left = backups(&log).unwrap();
        assert_eq!(left.len(), 3);
        for (b, i) in left.iter().zip([4, 3, 2]) {
            assert!(b.compressed, "{b:?}");
            let mut text = String::new();
            io::Read::read_to_string(&mut flate2::read::GzDecoder::new(File::open(&b.path).unwrap()), &mut text).unwrap();
            assert_eq!(text, format!("backup {i}\n"));
        }
    }

    #[test]
    fn a_file_rotates_at_line_boundaries_and_never_splits_a_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p.log");
        let (mill, thread) = Mill::start().unwrap();
        let file = super::super::sink::open_log(&log).unwrap();
        let mut rot = Rotator::new(&log, Policy { max_bytes: 100, max_backups: 0, max_age: None, compress: false }, mill, None);
        let mut out = BufWriter::new(file);
        let mut all = String::new();
        for i in 0..100 {
            let line = format!("line {i:03} {}\n", "x".repeat(i % 30));
            rot.before_write(line.len(), &mut out).unwrap();
            out.write_all(line.as_bytes()).unwrap();
            all.push_str(&line);
        }
        out.flush().unwrap();
        drop((rot, out));
        thread.join().unwrap();
        let mut files: Vec<PathBuf> = backups(&log).unwrap().into_iter().map(|b| b.path).collect();
        files.reverse();
        files.push(log);
        let mut joined = String::new();
        for f in &files {
            let text = fs::read_to_string(f).unwrap();
            assert!(text.len() <= 100, "{} has {} bytes", f.display(), text.len());
            assert!(text.ends_with('\n'));
            joined.push_str(&text);
        }
        assert!(files.len() > 20);
        assert_eq!(joined, all);
    }

    #[test]
    fn only_regular_files_rotate() {
        // As root, renaming /dev/null would be a disaster: a device is never rotated.
        let (mill, _thread) = Mill::start().unwrap();
        let mut out = BufWriter::new(File::options().append(true).open("/dev/null").unwrap());
        let mut rot = Rotator::new(Path::new("/dev/null"), Policy { max_bytes: 1, max_backups: 1, max_age: None, compress: false }, mill, None);
        for _ in 0..10 {
            rot.before_write(10, &mut out).unwrap();
            out.write_all(b"0123456789").unwrap();
        }
        use std::os::unix::fs::FileTypeExt;
        assert!(fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        assert!(rot.size.is_none(), "never measured, never rotated");
    }

    #[test]
    fn a_file_log_rotates_and_writes_every_record_before_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("corral.log");
        let policy = Policy { max_bytes: 200, max_backups: 0, max_age: None, compress: true };
        let (tx, thread) = start_file_log(&log, policy, None).unwrap();
        let mut all = String::new();
        for i in 0..200 {
            let record = format!("corral: record {i}\n");
            tx.send(record.clone().into_bytes()).unwrap();
            all.push_str(&record);
        }
        tx.send(Vec::new()).unwrap();
        thread.join().unwrap();
        let old = backups(&log).unwrap();
        assert!(old.len() > 10 && old.iter().all(|b| b.compressed), "{old:?}");
        let mut joined = String::new();
        for b in old.iter().rev() {
            let mut text = String::new();
            io::Read::read_to_string(&mut flate2::read::GzDecoder::new(File::open(&b.path).unwrap()), &mut text).unwrap();
            assert!(text.len() <= 200);
            joined.push_str(&text);
        }
        joined.push_str(&fs::read_to_string(&log).unwrap());
        assert_eq!(joined, all);
    }
}
