//! The log's segment files: their names, and zero-filled files made ready in advance.
//!
//! A segment is `wal/<first revision, 20 digits>.log`. New segments come from `zeroed.seg`, a
//! file of [`SEGMENT_BYTES`] zeros that a background thread writes and syncs before it is
//! needed: overwriting blocks that are already on disk lets `fdatasync` skip the file's
//! metadata, which halves its cost (43 µs against 83 µs for an appending write on the
//! benchmark machine). When none is ready, a sparse file of the same size stands in.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write as _},
    os::{fd::AsRawFd as _, unix::ffi::OsStrExt as _},
    path::{Path, PathBuf},
    thread::JoinHandle,
    time::Duration,
};

use hostendpoint_api::model::Revision;
use tracing::warn;

/// The size of a segment. A group that does not fit goes on in the next one.
pub(super) const SEGMENT_BYTES: u64 = 16 * 1024 * 1024;

/// A segment is zero-filled in advance only while the disk keeps this much free besides it:
/// the spare segment must not take the room the log itself needs.
const ZEROING_MIN_FREE_BYTES: u64 = 2 * SEGMENT_BYTES;

/// The free space a log in a sparse segment needs before writes are tried again.
pub(super) const PROBE_FREE_BYTES: u64 = 1024 * 1024;

/// How much of a new segment is zero-filled and synced at once, and the pause after it.
const ZEROING_CHUNK: usize = 1024 * 1024;
const ZEROING_PAUSE: Duration = Duration::from_millis(10);

const SUFFIX: &str = ".log";
const ZEROED: &str = "zeroed.seg";
const ZEROING: &str = "zeroed.tmp";
const PROBE: &str = "probe.tmp";

/// The file name of the segment whose first record has `first`.
pub(super) fn segment_path(dir: &Path, first: Revision) -> PathBuf {
    dir.join(format!("{first:020}{SUFFIX}"))
}

/// The segments in `dir` as `(first revision, path)`, oldest first; none when `dir` is
/// missing (a new store, or one written before the log existed).
pub(super) fn list_segments(dir: &Path) -> io::Result<Vec<(Revision, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let mut segments = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let first = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(SUFFIX))
            .and_then(|digits| digits.parse().ok());
        if let Some(first) = first {
            segments.push((first, path));
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Syncs a directory, so that files created, renamed or removed in it stay so after a crash.
pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Opens the next segment at `first`: the zeroed file when `zeroed` says one is ready, else a
/// new sparse file. Returns the file and whether it is zero-filled.
pub(super) fn create_segment(
    dir: &Path,
    first: Revision,
    zeroed: bool,
) -> io::Result<(File, bool)> {
    let path = segment_path(dir, first);
    if zeroed {
        match fs::rename(dir.join(ZEROED), &path) {
            Ok(()) => {
                let file = OpenOptions::new().write(true).open(&path)?;
                sync_dir(dir)?;
                return Ok((file, true));
            }
            Err(err) => warn!(%err, "the zero-filled segment is gone; using a sparse one"),
        }
    }
    // Not `create_new`: at a first start the sparse segment the log began with has this name.
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)?;
    file.set_len(SEGMENT_BYTES)?;
    file.sync_all()?;
    sync_dir(dir)?;
    Ok((file, false))
}

/// Whether a zero-filled segment from an earlier run is ready in `dir`; removes a half-written
/// one.
pub(super) fn zeroed_ready(dir: &Path) -> io::Result<bool> {
    match fs::remove_file(dir.join(ZEROING)) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    match fs::metadata(dir.join(ZEROED)) {
        Ok(meta) => Ok(meta.len() == SEGMENT_BYTES),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(err),
    }
}

/// Writes the next zero-filled segment on a thread of its own, a synced megabyte at a time
/// with pauses between: 16 MiB written at once held the log's syncs up by milliseconds. Not
/// on a disk short of space; a failed attempt leaves nothing behind.
pub(super) fn prepare_zeroed(dir: &Path) -> JoinHandle<io::Result<()>> {
    let dir = dir.to_owned();
    std::thread::spawn(move || {
        let free = free_bytes(&dir)?;
        if free < SEGMENT_BYTES + ZEROING_MIN_FREE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                format!("only {} MiB free on the disk", free / (1024 * 1024)),
            ));
        }
        let tmp = dir.join(ZEROING);
        let written = write_zeroes(&tmp);
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written?;
        // Renamed only when complete, so that a crash never leaves a short one behind.
        fs::rename(&tmp, dir.join(ZEROED))
    })
}

fn write_zeroes(path: &Path) -> io::Result<()> {
    let mut file = File::create(path)?;
    let chunk = vec![0u8; ZEROING_CHUNK];
    let mut written = 0;
    while written < SEGMENT_BYTES {
        file.write_all(&chunk)?;
        file.sync_data()?;
        written += chunk.len() as u64;
        std::thread::sleep(ZEROING_PAUSE);
    }
    file.sync_all()
}

/// Creates, writes, syncs and removes a small file in `dir`: what a rotation needs.
pub(super) fn probe_file(dir: &Path) -> io::Result<()> {
    let path = dir.join(PROBE);
    let written = File::create(&path).and_then(|mut file| {
        file.write_all(&[0; 4096])?;
        file.sync_data()
    });
    let removed = fs::remove_file(&path);
    written?;
    removed
}

/// How many directory entries name `file`.
///
/// Asked with `statx` for the link count alone, not with `fstat`: on Linux 6.13 and later, a
/// file whose change time was read (as `fstat` does) takes a fine-grained time at its next
/// write, so the log's every group changed the inode, and on ext4 without a journal (the
/// benchmark machine's `/`) every `fdatasync` then wrote the inode too: a second device
/// write, 80 µs of 230 µs per synced write there, and 5 % of the server's CPU under load.
pub(super) fn links(file: &File) -> io::Result<u64> {
    let mut stat = std::mem::MaybeUninit::<libc::statx>::uninit();
    // SAFETY: the descriptor is open for the call's duration, the path is a NUL-terminated
    // empty string as AT_EMPTY_PATH asks, and `stat` is a buffer of the right type, which
    // statx(2) fills when it returns 0.
    let stat = unsafe {
        if libc::statx(
            file.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_NLINK,
            stat.as_mut_ptr(),
        ) != 0
        {
            return Err(io::Error::last_os_error());
        }
        stat.assume_init()
    };
    Ok(u64::from(stat.stx_nlink))
}

/// The bytes an unprivileged writer can still put on the disk holding `dir`.
// statvfs's counts are narrower than u64 on some targets.
#[allow(clippy::useless_conversion)]
pub(super) fn free_bytes(dir: &Path) -> io::Result<u64> {
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `path` is a NUL-terminated string and `stat` is a buffer of the right type,
    // which statvfs(3) fills when it returns 0.
    let stat = unsafe {
        if libc::statvfs(path.as_ptr(), stat.as_mut_ptr()) != 0 {
            return Err(io::Error::last_os_error());
        }
        stat.assume_init()
    };
    Ok(u64::from(stat.f_bavail).saturating_mul(u64::from(stat.f_frsize)))
}
