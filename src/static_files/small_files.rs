//! Small files kept in memory, checked against the file on disk at every request.
//!
//! A 1 KiB file costs a server more in system calls than in bytes: `open`, `read` and `close`
//! on top of the `stat` that every request needs anyway (its validators come from it).
//! lighttpd keeps its `stat` results and open files for a second and serves changes late;
//! serveur keeps the *bytes* of files up to [`MAX_LEN`] and reuses them only while the file's
//! identity — device, inode, size, modification and change times, as the request's own `stat`
//! just read them — is the one they were read under. An edit changes the change time, a
//! replacement (`rename` over it) the inode: the next request reads the file again, so nothing
//! is ever served late, and a cached request costs the `stat` and nothing else.
//!
//! Timestamps are coarse (the kernel's clock tick, whole seconds on some file systems), so two
//! writes close together can leave the same change time. As git does with "racily clean"
//! entries, a file changed less than [`SETTLE`] ago is read but not kept: any later change
//! then gets a change time different from the kept one.
//!
//! The same cache keeps the output of on-the-fly compression for files up to
//! [`MAX_ENCODED_SOURCE`], under the same identity rule: compressing 100 KiB of JavaScript
//! costs a thousand times more than sending it, and a site's pages and scripts are asked for
//! again and again (lighttpd keeps such output on disk, `deflate.cache-dir`). The first answer
//! streams from the compressor and hands its output to an [`EncodedKeeper`]; later answers
//! send the kept bytes.
//!
//! A kept file also keeps its response [`Head`]: its type, length, tag and date, formatted once
//! per version of the file rather than for every request that sends it.
//!
//! Bounded: at most [`MAX_ENTRIES`] entries and [`MAX_BYTES`] bytes, files and compressed
//! outputs together; a full cache drops entries at random. No file handle is kept.

use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use foldhash::fast::RandomState;
use http::{HeaderMap, HeaderValue};

use super::encoding::Encoding;
use super::identity::Identity;
use crate::body::Body;
use crate::metrics::Metrics;

/// Largest file kept in memory; larger ones are sent from an open file (with `sendfile` where
/// the connection allows), where the `open` is a small part of the cost. Up to this size one
/// copy into the socket costs less than the `open`, `sendfile` and `close` that spare it.
pub(super) const MAX_LEN: u64 = 64 * 1024;

/// Most files kept.
pub(super) const MAX_ENTRIES: usize = 1024;

/// Most bytes kept, all files together.
pub(super) const MAX_BYTES: usize = 32 * 1024 * 1024;

/// Largest file whose on-the-fly compressed output is kept.
pub(super) const MAX_ENCODED_SOURCE: u64 = 1024 * 1024;

/// How long after its last change a file's bytes may be kept (see the module's notes).
const SETTLE: Duration = Duration::from_secs(2);

/// The bytes of a representation: an open file, or a small file's bytes in memory.
pub(crate) enum Content {
    /// Read from the file as the client takes it.
    File(Arc<File>),
    /// Already in memory.
    Memory(Bytes),
    /// The on-the-fly coding's output for the file, kept from an earlier answer: sent as is.
    Encoded(Bytes),
}

impl Content {
    /// `len` bytes from `offset` on, as a response body.
    pub(crate) fn body(&self, offset: u64, len: u64) -> Body {
        match self {
            Content::File(file) => Body::shared_file(Arc::clone(file), offset, len),
            Content::Memory(bytes) | Content::Encoded(bytes) => {
                let start = (offset as usize).min(bytes.len());
                let end = start.saturating_add(len as usize).min(bytes.len());
                Body::full(bytes.slice(start..end))
            }
        }
    }
}

/// Whether `identity`'s last change is at least [`SETTLE`] older than `now`.
fn settled(identity: &Identity, now: SystemTime) -> bool {
    now.duration_since(identity.changed())
        .is_ok_and(|age| age >= SETTLE)
}

struct Entry {
    identity: Identity,
    bytes: Bytes,
    /// The head of a `200` of these bytes, for a file (not a compressed output nor a sibling).
    head: Option<Arc<Head>>,
}

/// What a `200` of a kept file says about it, made when its bytes are kept: formatting the tag,
/// the date and the length for every request cost ~1,100 instructions of a small file's
/// ~17,000 (callgrind). Each value is shared, so sending it is a reference count.
pub(crate) struct Head {
    /// `Content-Type`.
    pub content_type: HeaderValue,
    /// `Content-Length` of the whole file.
    pub content_length: HeaderValue,
    /// The identity representation's `ETag`.
    pub etag: HeaderValue,
    /// `Last-Modified`.
    pub last_modified: HeaderValue,
    /// All the headers of a `200` of the whole file without `Vary`, made by the first request
    /// that sends them: a copy of a map costs less than inserting its values one by one.
    pub whole: OnceLock<HeaderMap>,
}

impl Head {
    /// A head with these values.
    pub(crate) fn new(
        content_type: HeaderValue,
        content_length: HeaderValue,
        etag: HeaderValue,
        last_modified: HeaderValue,
    ) -> Head {
        Head {
            content_type,
            content_length,
            etag,
            last_modified,
            whole: OnceLock::new(),
        }
    }
}

/// A kept file's bytes and head, valid for the identity the request's `stat` just read.
pub(crate) struct Kept {
    /// The file's bytes.
    pub bytes: Bytes,
    /// Its head.
    pub head: Arc<Head>,
}

/// The cache of one [`StaticFiles`](super::StaticFiles) (shared by its clones).
#[derive(Clone, Default)]
pub(super) struct SmallFiles {
    entries: Arc<Mutex<Entries>>,
    /// Where hits and misses are counted, if anywhere.
    metrics: Option<Arc<Metrics>>,
}

#[derive(Default)]
struct Entries {
    /// Keyed by the path's bytes: hashing a `Path` walks its components (~400 instructions a
    /// lookup, callgrind), its bytes are hashed in one go; by foldhash (~30 instructions for a
    /// short path) rather than SipHash (~250). foldhash is randomly seeded but does not claim
    /// to resist an attacker who sees timings; it need not: only existing files become keys,
    /// at most [`MAX_ENTRIES`] of them, so even keys made to collide cost a bounded probe.
    map: HashMap<Box<[u8]>, Entry, RandomState>,
    /// The bytes of all entries.
    bytes: usize,
    /// The keys of the compressed outputs being made for the cache: one at a time per file
    /// and coding, however many clients ask at once.
    filling: HashSet<Box<[u8]>>,
    /// The bytes those outputs may grow to, all together: at most [`MAX_BYTES`] more.
    reserved: usize,
}

impl Entries {
    fn remove(&mut self, key: &[u8]) {
        if let Some(entry) = self.map.remove(key) {
            self.bytes -= entry.bytes.len();
        }
    }
}

impl std::fmt::Debug for SmallFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SmallFiles")
    }
}

impl SmallFiles {
    /// The kept bytes and head of the file at `path`, if they are those of the file `metadata`
    /// (just read by the caller) describes. Not counted as a hit: the caller may answer
    /// without the bytes (a `304`); it calls [`hit`](Self::hit) when it sends them.
    pub(super) fn kept(&self, path: &Path, metadata: &Metadata) -> Option<Kept> {
        let entries = self.lock();
        let entry = entries.map.get(key(path))?;
        let head = entry.head.as_ref()?;
        (entry.identity == Identity::of(metadata)).then(|| Kept {
            bytes: entry.bytes.clone(),
            head: Arc::clone(head),
        })
    }

    /// Counts a request answered from [`kept`](Self::kept) bytes.
    pub(super) fn hit(&self) {
        self.count(true);
    }

    /// The content of the regular file at `path`, whose `metadata` the caller has just read:
    /// from memory when the file has not changed since it was kept, else from the disk. When
    /// its bytes are kept, `head` makes the head kept with them (`None` for a file whose head
    /// is never asked for, a precompressed sibling).
    ///
    /// `now` tells the current time (`SystemTime::now` in the server; a later time in the unit
    /// tests, which would otherwise wait for files to settle). It is called only when a file is
    /// read from the disk, so a request answered from memory does not read the clock.
    pub(super) fn open(
        &self,
        path: &Path,
        metadata: &Metadata,
        now: impl FnOnce() -> SystemTime,
        head: impl FnOnce() -> Option<Head>,
    ) -> io::Result<Content> {
        let identity = Identity::of(metadata);
        if identity.size > MAX_LEN {
            return File::open(path).map(|file| Content::File(Arc::new(file)));
        }
        {
            let mut entries = self.lock();
            match entries.map.get(key(path)) {
                Some(entry) if entry.identity == identity => {
                    self.count(true);
                    return Ok(Content::Memory(entry.bytes.clone()));
                }
                Some(_) => entries.remove(key(path)),
                None => {}
            }
        }
        self.count(false);
        let file = File::open(path)?;
        let Some(bytes) = read_exactly(&file, identity.size)? else {
            // Shorter than its stat said: the file body ends it short, as for a large file.
            return Ok(Content::File(Arc::new(file)));
        };
        // Kept only if the file did not change between the caller's stat and this read
        // (otherwise these bytes may not be the ones `identity` describes), and has settled.
        if settled(&identity, now()) && file.metadata().is_ok_and(|m| Identity::of(&m) == identity)
        {
            self.keep(
                path,
                Entry {
                    identity,
                    bytes: bytes.clone(),
                    head: head().map(Arc::new),
                },
            );
        }
        Ok(Content::Memory(bytes))
    }

    /// The kept output of compressing the file at `path` (as `metadata` describes it) with
    /// `encoding`, if there is one.
    pub(super) fn encoded(
        &self,
        path: &Path,
        metadata: &Metadata,
        encoding: Encoding,
    ) -> Option<Bytes> {
        let key = encoded_key(path, encoding);
        let mut entries = self.lock();
        let kept = match entries.map.get(&key[..]) {
            Some(entry) if entry.identity == Identity::of(metadata) => Some(entry.bytes.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        };
        self.count(kept.is_some());
        kept
    }

    /// What keeps the output of compressing the file at `path` with `encoding` once it is
    /// complete; `None` for a file too large to keep, changed moments ago, whose output
    /// another answer is already making, or when the outputs being made would pass the bound.
    /// Settled *now*, at the request's `stat`: a slow client can make the compression last
    /// minutes, and a change in that time must get a change time other than `metadata`'s.
    /// `now` tells the current time, as for [`open`](Self::open).
    pub(super) fn encoded_keeper(
        &self,
        path: &Path,
        metadata: &Metadata,
        encoding: Encoding,
        now: impl FnOnce() -> SystemTime,
    ) -> Option<EncodedKeeper> {
        let identity = Identity::of(metadata);
        if identity.size > MAX_ENCODED_SOURCE || !settled(&identity, now()) {
            return None;
        }
        // Compressed output can pass its source by a few bytes of framing.
        let limit = identity.size as usize + 1024;
        let key = encoded_key(path, encoding);
        let mut entries = self.lock();
        if entries.reserved + limit > MAX_BYTES || entries.filling.contains(&key) {
            return None;
        }
        entries.reserved += limit;
        entries.filling.insert(key.clone());
        Some(EncodedKeeper {
            cache: self.clone(),
            path: path.to_owned(),
            key,
            identity,
            limit,
        })
    }

    fn keep(&self, path: &Path, entry: Entry) {
        self.keep_at(key(path).into(), entry);
    }

    fn keep_at(&self, key: Box<[u8]>, entry: Entry) {
        let mut entries = self.lock();
        entries.remove(&key);
        while entries.map.len() >= MAX_ENTRIES || entries.bytes + entry.bytes.len() > MAX_BYTES {
            // Iteration order is the hash order, random per process: a random victim.
            let Some(victim) = entries.map.keys().next().cloned() else {
                break;
            };
            entries.remove(&victim);
        }
        entries.bytes += entry.bytes.len();
        entries.map.insert(key, entry);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every change is one call on the map: a panic elsewhere cannot leave it half-changed.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The same cache, counting its hits and misses in `metrics`.
    pub(super) fn counted_in(self, metrics: Arc<Metrics>) -> SmallFiles {
        SmallFiles {
            metrics: Some(metrics),
            ..self
        }
    }

    /// A new, empty cache, counting where this one counts.
    pub(super) fn emptied(&self) -> SmallFiles {
        SmallFiles {
            entries: Arc::default(),
            metrics: self.metrics.clone(),
        }
    }

    /// Whether it counts in some metrics.
    pub(super) fn metered(&self) -> bool {
        self.metrics.is_some()
    }

    fn count(&self, hit: bool) {
        if let Some(metrics) = &self.metrics {
            metrics.cache_lookup(hit);
        }
    }
}

fn key(path: &Path) -> &[u8] {
    path.as_os_str().as_bytes()
}

/// The key of a compressed output: the path, a NUL (never in a path), the coding's name.
fn encoded_key(path: &Path, encoding: Encoding) -> Box<[u8]> {
    [key(path), b"\0", encoding.token().as_bytes()]
        .concat()
        .into()
}

/// Keeps a compressed output for later answers, if the file it was made from is still the
/// file the request found. Holds its file and coding's place in the cache's `filling` set, and
/// its share of the bytes reserved, until dropped.
pub(crate) struct EncodedKeeper {
    cache: SmallFiles,
    path: PathBuf,
    key: Box<[u8]>,
    identity: Identity,
    limit: usize,
}

impl EncodedKeeper {
    /// The most output it keeps; the one collecting it may stop past this.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Keeps `output`, the whole output of compressing the file, if the file is still the one
    /// the request found: then nothing changed it while it was read.
    pub(crate) fn keep(self, output: Bytes) {
        let unchanged =
            std::fs::metadata(&self.path).is_ok_and(|m| Identity::of(&m) == self.identity);
        if unchanged && output.len() <= self.limit {
            self.cache.keep_at(
                self.key.clone(),
                Entry {
                    identity: self.identity,
                    bytes: output,
                    head: None,
                },
            );
        }
    }
}

impl Drop for EncodedKeeper {
    fn drop(&mut self) {
        let mut entries = self.cache.lock();
        entries.reserved -= self.limit;
        entries.filling.remove(&self.key);
    }
}

/// The first `len` bytes of `file`, or `None` if it holds fewer now.
fn read_exactly(file: &File, len: u64) -> io::Result<Option<Bytes>> {
    let len = len as usize;
    let mut buf = Vec::with_capacity(len);
    while buf.len() < len {
        let at = buf.len() as u64;
        match rustix::io::pread(file, rustix::buffer::spare_capacity(&mut buf), at) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Some(Bytes::from(buf)))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// Opens `path` through `cache` at the time `now`, expecting its bytes in memory.
    fn open(cache: &SmallFiles, path: &Path, now: SystemTime) -> Vec<u8> {
        let metadata = std::fs::metadata(path).expect("stat");
        match cache.open(path, &metadata, || now, || None).expect("open") {
            Content::Memory(bytes) => bytes.to_vec(),
            _ => panic!("a small file was not read into memory"),
        }
    }

    /// A time at which every file written so far has settled, so that the tests need not
    /// wait [`SETTLE`] for it (the margin covers a file system's coarser clock).
    fn settled() -> SystemTime {
        SystemTime::now() + SETTLE + Duration::from_millis(100)
    }

    #[test]
    fn a_settled_file_is_kept_and_read_again_once_changed_or_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.txt");
        let cache = SmallFiles::default();
        std::fs::write(&path, "one").expect("write");
        assert_eq!(open(&cache, &path, settled()), b"one");
        assert_eq!(cache.lock().map.len(), 1, "a settled file is kept");
        // Same length, written in place right away: only the change time tells.
        std::fs::write(&path, "two").expect("write");
        // Read at the real time: changed moments ago.
        assert_eq!(open(&cache, &path, SystemTime::now()), b"two");
        assert!(
            cache.lock().map.is_empty(),
            "the stale entry is dropped, the fresh one not kept"
        );
        // Replaced by a rename: another inode.
        let other = dir.path().join("b.txt");
        std::fs::write(&other, "six").expect("write");
        std::fs::rename(&other, &path).expect("rename");
        assert_eq!(open(&cache, &path, settled()), b"six");
    }

    #[test]
    fn a_kept_file_gives_its_head_while_unchanged() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "one").expect("write");
        let cache = SmallFiles::default();
        let metadata = std::fs::metadata(&path).expect("stat");
        assert!(cache.kept(&path, &metadata).is_none(), "nothing kept yet");
        let head = || {
            Some(Head::new(
                HeaderValue::from_static("text/plain"),
                HeaderValue::from(3u64),
                HeaderValue::from_static("\"tag\""),
                HeaderValue::from_static("date"),
            ))
        };
        cache.open(&path, &metadata, settled, head).expect("open");
        let kept = cache.kept(&path, &metadata).expect("kept with its head");
        assert_eq!(&kept.bytes[..], b"one");
        assert_eq!(kept.head.etag, "\"tag\"");
        std::fs::write(&path, "two").expect("write");
        let changed = std::fs::metadata(&path).expect("stat");
        assert!(
            cache.kept(&path, &changed).is_none(),
            "a changed file's head is not given"
        );
        // A sibling's bytes are kept without a head: `kept` never answers for them.
        let sibling = dir.path().join("a.txt.br");
        std::fs::write(&sibling, "zz").expect("write");
        let metadata = std::fs::metadata(&sibling).expect("stat");
        open(&cache, &sibling, settled());
        assert!(cache.kept(&sibling, &metadata).is_none());
    }

    #[test]
    fn a_file_changed_moments_ago_is_read_but_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fresh.txt");
        std::fs::write(&path, "new").expect("write");
        let cache = SmallFiles::default();
        assert_eq!(open(&cache, &path, SystemTime::now()), b"new");
        assert!(cache.lock().map.is_empty());
    }

    #[test]
    fn large_files_are_opened_not_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("big.bin");
        std::fs::write(&path, vec![7u8; MAX_LEN as usize + 1]).expect("write");
        let metadata = std::fs::metadata(&path).expect("stat");
        let cache = SmallFiles::default();
        assert!(matches!(
            cache.open(&path, &metadata, SystemTime::now, || None),
            Ok(Content::File(_))
        ));
        assert!(cache.lock().map.is_empty());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SmallFiles::default();
        let paths: Vec<PathBuf> = (0..MAX_ENTRIES + 10)
            .map(|i| {
                let path = dir.path().join(format!("{i}.txt"));
                std::fs::write(&path, i.to_string()).expect("write");
                path
            })
            .collect();
        let later = settled();
        for (i, path) in paths.iter().enumerate() {
            assert_eq!(open(&cache, path, later), i.to_string().as_bytes());
        }
        assert_eq!(cache.lock().map.len(), MAX_ENTRIES);
        let bytes: usize = cache.lock().map.values().map(|e| e.bytes.len()).sum();
        assert_eq!(cache.lock().bytes, bytes);
    }

    #[test]
    fn the_cache_never_holds_more_bytes_than_its_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SmallFiles::default();
        let count = MAX_BYTES / MAX_LEN as usize + 5;
        let paths: Vec<PathBuf> = (0..count)
            .map(|i| {
                let path = dir.path().join(format!("{i}.bin"));
                std::fs::write(&path, vec![i as u8; MAX_LEN as usize]).expect("write");
                path
            })
            .collect();
        let later = settled();
        for path in &paths {
            open(&cache, path, later);
        }
        let entries = cache.lock();
        assert!(entries.bytes <= MAX_BYTES, "{} bytes kept", entries.bytes);
        assert_eq!(entries.map.len(), MAX_BYTES / MAX_LEN as usize);
    }

    #[test]
    fn a_compressed_output_is_kept_for_one_coding_and_one_identity_of_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("app.js");
        std::fs::write(&path, "x".repeat(2000)).expect("write");
        let later = settled();
        let cache = SmallFiles::default();
        let metadata = std::fs::metadata(&path).expect("stat");
        assert!(cache.encoded(&path, &metadata, Encoding::Gzip).is_none());
        let keeper = cache.encoded_keeper(&path, &metadata, Encoding::Gzip, || later);
        // One answer at a time makes a file's output for a coding; the others just stream.
        assert!(cache
            .encoded_keeper(&path, &metadata, Encoding::Gzip, || later)
            .is_none());
        keeper
            .expect("a keeper")
            .keep(Bytes::from_static(b"zipped"));
        assert_eq!(cache.lock().reserved, 0);
        assert!(cache.lock().filling.is_empty());
        assert_eq!(
            cache.encoded(&path, &metadata, Encoding::Gzip).as_deref(),
            Some(&b"zipped"[..])
        );
        assert!(cache.encoded(&path, &metadata, Encoding::Brotli).is_none());
        // The same length written in place: the kept output no longer answers, and goes.
        std::fs::write(&path, "y".repeat(2000)).expect("write");
        let changed = std::fs::metadata(&path).expect("stat");
        assert!(cache.encoded(&path, &changed, Encoding::Gzip).is_none());
        assert!(cache.lock().map.is_empty());
    }

    #[test]
    fn no_output_is_kept_of_a_fresh_or_large_file_or_of_one_changed_while_compressed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SmallFiles::default();
        let fresh = dir.path().join("fresh.js");
        std::fs::write(&fresh, "x".repeat(2000)).expect("write");
        let metadata = std::fs::metadata(&fresh).expect("stat");
        assert!(cache
            .encoded_keeper(&fresh, &metadata, Encoding::Gzip, SystemTime::now)
            .is_none());
        let large = dir.path().join("large.js");
        std::fs::write(&large, vec![b'x'; MAX_ENCODED_SOURCE as usize + 1]).expect("write");
        let changing = dir.path().join("changing.js");
        std::fs::write(&changing, "x".repeat(2000)).expect("write");
        let later = settled();
        let metadata = std::fs::metadata(&large).expect("stat");
        assert!(cache
            .encoded_keeper(&large, &metadata, Encoding::Gzip, || later)
            .is_none());
        let metadata = std::fs::metadata(&changing).expect("stat");
        let keeper = cache.encoded_keeper(&changing, &metadata, Encoding::Gzip, || later);
        std::fs::write(&changing, "z".repeat(2000)).expect("write");
        keeper
            .expect("a keeper")
            .keep(Bytes::from_static(b"zipped x"));
        assert!(cache.lock().map.is_empty());
    }

    #[test]
    fn outputs_being_made_never_reserve_more_than_the_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = SmallFiles::default();
        let count = MAX_BYTES / MAX_ENCODED_SOURCE as usize;
        let paths: Vec<PathBuf> = (0..count)
            .map(|i| {
                let path = dir.path().join(format!("{i}.js"));
                std::fs::write(&path, vec![b'x'; MAX_ENCODED_SOURCE as usize]).expect("write");
                path
            })
            .collect();
        let later = settled();
        let keeper = |path: &PathBuf| {
            let metadata = std::fs::metadata(path).expect("stat");
            cache.encoded_keeper(path, &metadata, Encoding::Brotli, || later)
        };
        let mut keepers: Vec<EncodedKeeper> = paths.iter().filter_map(keeper).collect();
        assert_eq!(
            keepers.len(),
            count - 1,
            "each reserves a little over 1 MiB"
        );
        assert!(cache.lock().reserved <= MAX_BYTES);
        keepers.pop();
        assert!(keeper(&paths[count - 1]).is_some(), "room again");
    }
}
