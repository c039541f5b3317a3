//! Rendered listings kept in memory (the rich page and the JSON; Python's page, which needs no
//! `stat` per entry, is always made afresh), each served again while its directory is
//! unchanged, with no staleness: inotify says when a directory changes.
//!
//! - **Never stale.** The kernel queues an inotify event before the system call that changed
//!   the directory returns; every lookup first reads the queue without blocking (one `read`
//!   answering `EAGAIN` when nothing changed) and drops the pages of each directory named. So
//!   a request that starts after a change returns can never get the page from before it. What
//!   inotify does not report (a subdirectory's own time, a symlink's target, a hard-linked
//!   file written through another name) is `stat`ed again at each lookup ([`unseen`]).
//! - **No race with a render.** A render reads the directory after its watch is in place, and
//!   its page is kept only if no event for that directory arrived since the render began: each
//!   watched directory has a generation, bumped by every event, read before rendering and
//!   compared when storing ([`Ticket`]).
//! - **Keyed** by the directory's inode (the one the request's `Root::resolve` found), the URL
//!   path (breadcrumbs), the format and order, and the viewer when access rules make the
//!   listing depend on the user; uploads, deletes and the other flags are fixed per server.
//! - **Bounded**: [`BUDGET`] bytes in all, pages over [`MAX_PAGE`] never kept, the least
//!   recently used dropped first. Without inotify (no instance, the watch limit reached) a
//!   listing is rendered each time, as before.
//! - **Compressed too.** The first answer that compresses a kept page whole hands its output to
//!   the page's [`Encoded`] slot for its coding; later answers in that coding send it.

mod unseen;
mod watch;

use std::collections::HashMap;
use std::fmt;
use std::fs::Metadata;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;

use super::compress::Keep;
use super::encoding::Encoding;
use super::ui::Sort;
use crate::metrics::Metrics;
use crate::safe_path::{UrlPath, TEMP_PREFIX};
use unseen::Rows;
pub(crate) use unseen::Unseen;
use watch::{Change, Identity, Inotify, OpenDir};

/// Bytes of pages kept in all: a thousand-entry rich page is ~250 KB, a 10,000-entry one 2.4 MB.
pub(crate) const BUDGET: usize = 32 << 20;
/// Larger pages are never kept.
pub(crate) const MAX_PAGE: usize = 4 << 20;
/// Directories watched at most; beyond, those without a page are let go first.
const MAX_DIRS: usize = 4096;

/// Which listing of a directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Rich(Sort),
}

/// What a page depends on besides the directory's entries.
pub(crate) struct Key<'a> {
    /// The path the request named (the rich page's breadcrumbs and links).
    pub url: &'a UrlPath,
    pub format: Format,
    /// `Some(user)` when access rules decide which entries are shown (`None`: anonymous).
    pub viewer: Option<Option<&'a str>>,
}

/// A listing page, kept or just rendered.
#[derive(Clone)]
pub(crate) struct Page {
    pub body: Bytes,
    /// Its compressed outputs, as answers make them (`None` for a page not kept: no later
    /// answer would send them).
    pub encoded: Option<Arc<Encoded>>,
    /// What `etag::content_mark` made of the body, once; `None` for Python's page, whose tag
    /// is the directory's.
    pub mark: Option<Arc<str>>,
    /// The newest entry's time (the listing's `Last-Modified` when later than the directory's).
    pub newest: Option<SystemTime>,
}

/// A page's compressed outputs, one per coding, each made by the first answer that compresses
/// the page whole and shared by the kept page and every answer made from it. Their room is
/// counted in the page's weight up front: [`ENCODED_SHARE`] of the page for each.
#[derive(Debug, Default)]
pub(crate) struct Encoded([OnceLock<Bytes>; Encoding::ALL.len()]);

/// The largest compressed output kept, as a share of its page (1/6: the three codings together
/// take at most half as much room again as the page). A listing compresses to a tenth of its
/// size or less; a page too small to shrink that much is cheap to compress again.
const ENCODED_SHARE: usize = 6;

impl Encoded {
    /// The page compressed with `encoding`, if an earlier answer made it.
    pub(crate) fn get(&self, encoding: Encoding) -> Option<Bytes> {
        self.0[index(encoding)].get().cloned()
    }

    /// Where an answer compressing the page (of `len` bytes) with `encoding` hands its output.
    pub(crate) fn slot(self: &Arc<Self>, encoding: Encoding, len: usize) -> Slot {
        Slot {
            outputs: Arc::clone(self),
            index: index(encoding),
            limit: len / ENCODED_SHARE,
        }
    }
}

fn index(encoding: Encoding) -> usize {
    Encoding::ALL
        .iter()
        .position(|&e| e == encoding)
        .unwrap_or_default()
}

/// One coding's place in [`Encoded`], for the answer that compresses the page.
pub(crate) struct Slot {
    outputs: Arc<Encoded>,
    index: usize,
    limit: usize,
}

impl Keep for Slot {
    fn limit(&self) -> usize {
        self.limit
    }

    fn keep(self, output: Bytes) {
        if output.len() <= self.limit {
            // Two answers may compress at once: the first output kept is as good.
            let _ = self.outputs.0[self.index].set(output);
        }
    }
}

/// The cache, shared by a `StaticFiles` and its clones; its inotify instance made on first use
/// (a server that never lists a directory this way has none).
#[derive(Clone, Default)]
pub(crate) struct Listings {
    state: Arc<OnceLock<Option<Mutex<State>>>>,
    /// Where hits and misses are counted (`--metrics-path`).
    metrics: Option<Arc<Metrics>>,
    /// Whether listings leave out uploads in progress: then what happens to a
    /// `.serveur-upload-` file changes no page, until it is renamed to its own name (an event
    /// under that name). An upload writes its file in many pieces, each an event that would
    /// drop its directory's pages while it runs.
    hides_uploads: bool,
}

impl fmt::Debug for Listings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Listings")
    }
}

/// A render under way whose page may be kept: the directory opened (read the listing through
/// [`Ticket::dir`]) and its generation when the render began.
pub(crate) struct Ticket {
    dir: OpenDir,
    generation: u64,
}

impl Ticket {
    /// The directory to read: the very one watched.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir.path
    }
}

impl Listings {
    /// The same cache, counting its hits and misses in `metrics`.
    pub(crate) fn counted_in(self, metrics: Arc<Metrics>) -> Listings {
        Listings {
            metrics: Some(metrics),
            ..self
        }
    }

    /// The cache for listings that leave out uploads in progress or not (`uploads`): a new
    /// one when that changes, as a `StaticFiles` cloned before it changed must not be served
    /// the other's pages, nor have the events its pages depend on skipped.
    pub(crate) fn hiding_uploads(self, uploads: bool) -> Listings {
        if uploads == self.hides_uploads {
            return self;
        }
        Listings {
            state: Arc::default(),
            hides_uploads: uploads,
            ..self
        }
    }

    /// The page kept for `key` of the directory `dir` describes, if it is still what a render
    /// would make now.
    pub(crate) fn get(&self, dir: &Metadata, key: &Key) -> Option<Page> {
        let page = self.find(dir, key);
        if let Some(metrics) = &self.metrics {
            metrics.listing_lookup(page.is_some());
        }
        page
    }

    fn find(&self, dir: &Metadata, key: &Key) -> Option<Page> {
        let mut state = self.lock()?;
        state.drain(self.unlisted());
        state.tick += 1;
        let tick = state.tick;
        let kept = state
            .dirs
            .get_mut(&watch::identity(dir))?
            .pages
            .iter_mut()
            .find(|kept| kept.matches(key))?;
        kept.used = tick;
        let (page, rows) = (kept.page.clone(), Arc::clone(&kept.rows));
        // The rows inotify does not watch are `stat`ed without holding the lock.
        drop(state);
        rows.unchanged().then_some(page)
    }

    /// Prepares a render of the directory at `path` (which `found` describes) whose page may be
    /// kept: its watch in place before it is read. `None` when it cannot be watched: render it
    /// from `path`, and keep nothing.
    pub(crate) fn begin(&self, path: &Path, found: &Metadata) -> Option<Ticket> {
        let dir = OpenDir::open(path).ok()?;
        if dir.identity != watch::identity(found) {
            return None; // the path names another directory since the request resolved it
        }
        let mut state = self.lock()?;
        state.drain(self.unlisted());
        let generation = state.watch(&dir)?;
        Some(Ticket { dir, generation })
    }

    /// Keeps the page `ticket`'s render made for `key` (its unseen rows named below `path`,
    /// the directory's path), unless its directory changed since the
    /// render began (the page may show a state half before, half after).
    pub(crate) fn store(
        &self,
        ticket: Ticket,
        key: &Key,
        page: Page,
        unseen: Unseen,
        path: &Path,
    ) -> bool {
        if page.body.len() > MAX_PAGE {
            return false;
        }
        let Some(mut state) = self.lock() else {
            return false;
        };
        state.drain(self.unlisted());
        let rows = unseen.below(path);
        // The page, room for its compressed outputs, the rows, and what the entry itself holds.
        let weight = page.body.len() / 2 * 3 + rows.weight() + 128;
        state.tick += 1;
        let tick = state.tick;
        let Some(watched) = state.dirs.get_mut(&ticket.dir.identity) else {
            return false;
        };
        if watched.generation != ticket.generation {
            return false;
        }
        let kept = Kept {
            url: key.url.clone(),
            format: key.format,
            viewer: key.viewer.map(|user| user.map(Box::from)),
            page,
            rows: Arc::new(rows),
            weight,
            used: tick,
        };
        let freed = match watched.pages.iter_mut().find(|old| old.matches(key)) {
            Some(old) => std::mem::replace(old, kept).weight,
            None => {
                watched.pages.push(kept);
                0
            }
        };
        state.bytes = state.bytes + weight - freed;
        if state.bytes > BUDGET {
            state.evict();
        }
        true
    }

    /// The start of the names no listing shows, whose events change no page.
    fn unlisted(&self) -> Option<&'static [u8]> {
        self.hides_uploads.then_some(TEMP_PREFIX.as_bytes())
    }

    fn lock(&self) -> Option<MutexGuard<'_, State>> {
        let state = self
            .state
            .get_or_init(|| State::new().map(Mutex::new))
            .as_ref()?;
        // A panic elsewhere while holding it leaves nothing half-done that a lookup trusts:
        // pages are added whole.
        Some(
            state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// A page with what it was made for.
struct Kept {
    url: UrlPath,
    format: Format,
    viewer: Option<Option<Box<str>>>,
    page: Page,
    rows: Arc<Rows>,
    /// Bytes it holds, for the budget.
    weight: usize,
    /// When last served ([`State::tick`]), for eviction.
    used: u64,
}

impl Kept {
    fn matches(&self, key: &Key) -> bool {
        self.format == key.format
            && self.viewer.as_ref().map(|user| user.as_deref()) == key.viewer
            && self.url == *key.url
    }
}

/// A watched directory and its pages.
struct Watched {
    wd: i32,
    /// Bumped by every event for the directory; a render keeps its page only if unchanged.
    generation: u64,
    pages: Vec<Kept>,
}

struct State {
    inotify: Inotify,
    dirs: HashMap<Identity, Watched>,
    by_wd: HashMap<i32, Identity>,
    /// Where generations come from: every one is new, so a directory watched again never
    /// meets a ticket from its earlier watch.
    generations: u64,
    /// Lookups so far, the clock of eviction.
    tick: u64,
    /// Bytes held by pages.
    bytes: usize,
}

impl State {
    fn new() -> Option<State> {
        Some(State {
            inotify: Inotify::new().ok()?,
            dirs: HashMap::new(),
            by_wd: HashMap::new(),
            generations: 0,
            tick: 0,
            bytes: 0,
        })
    }

    /// Applies every queued event: the pages of a changed directory dropped, its generation
    /// bumped; a directory whose watch is gone forgotten; on lost events, everything dropped.
    /// Events about names starting with `unlisted` are let pass.
    fn drain(&mut self, unlisted: Option<&[u8]>) {
        let mut changes = Vec::new();
        self.inotify.drain(unlisted, |change| changes.push(change));
        for change in changes {
            match change {
                Change::In(wd) => {
                    let Some(identity) = self.by_wd.get(&wd) else {
                        continue; // a watch removed before its last events were read
                    };
                    self.generations += 1;
                    if let Some(watched) = self.dirs.get_mut(identity) {
                        watched.generation = self.generations;
                        let freed: usize = watched.pages.drain(..).map(|p| p.weight).sum();
                        self.bytes -= freed;
                    }
                }
                Change::Gone(wd) => {
                    if let Some(identity) = self.by_wd.remove(&wd) {
                        if let Some(watched) = self.dirs.remove(&identity) {
                            self.bytes -= watched.pages.iter().map(|p| p.weight).sum::<usize>();
                        }
                    }
                }
                Change::Unknown => {
                    for watched in self.dirs.values_mut() {
                        self.generations += 1;
                        watched.generation = self.generations;
                        watched.pages.clear();
                    }
                    self.bytes = 0;
                }
            }
        }
    }

    /// The generation of `dir`, watched from now on; `None` if it cannot be.
    fn watch(&mut self, dir: &OpenDir) -> Option<u64> {
        if let Some(watched) = self.dirs.get(&dir.identity) {
            return Some(watched.generation);
        }
        if self.dirs.len() >= MAX_DIRS {
            self.let_go_of_empty();
            if self.dirs.len() >= MAX_DIRS {
                return None;
            }
        }
        let wd = self.inotify.watch(dir).ok()?;
        self.generations += 1;
        self.by_wd.insert(wd, dir.identity);
        self.dirs.insert(
            dir.identity,
            Watched {
                wd,
                generation: self.generations,
                pages: Vec::new(),
            },
        );
        Some(self.generations)
    }

    /// Drops the least recently served pages until a quarter of the budget is free (so that
    /// eviction, which sorts every page, runs once per several pages stored), then lets go of
    /// the directories left without a page.
    fn evict(&mut self) {
        let mut ages: Vec<(u64, usize)> = self
            .dirs
            .values()
            .flat_map(|watched| watched.pages.iter().map(|page| (page.used, page.weight)))
            .collect();
        ages.sort_unstable();
        let target = self.bytes.saturating_sub(BUDGET / 4 * 3);
        let mut freed = 0;
        // Pages last served before this are dropped.
        let oldest_kept = ages
            .iter()
            .find(|(_, weight)| {
                let enough = freed >= target;
                freed += weight;
                enough
            })
            .map_or(u64::MAX, |(used, _)| *used);
        for watched in self.dirs.values_mut() {
            watched.pages.retain(|page| {
                let keep = page.used >= oldest_kept;
                if !keep {
                    self.bytes -= page.weight;
                }
                keep
            });
        }
        self.let_go_of_empty();
    }

    /// Stops watching the directories without a page (a render under way for one finds, when
    /// it ends, no directory or a newer generation, and keeps nothing).
    fn let_go_of_empty(&mut self) {
        let inotify = &self.inotify;
        let by_wd = &mut self.by_wd;
        self.dirs.retain(|_, watched| {
            if watched.pages.is_empty() {
                inotify.unwatch(watched.wd);
                by_wd.remove(&watched.wd);
                false
            } else {
                true
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache, a directory in a temporary tree, and the key of its JSON listing.
    fn setup() -> (Listings, tempfile::TempDir, UrlPath) {
        let tree = tempfile::tempdir().expect("temp dir");
        (Listings::default(), tree, UrlPath::parse("/"))
    }

    fn page(text: &'static str) -> Page {
        Page {
            body: Bytes::from_static(text.as_bytes()),
            encoded: None,
            mark: Some(etag_mark()),
            newest: None,
        }
    }

    fn etag_mark() -> Arc<str> {
        Arc::from("c1.0")
    }

    fn metadata(dir: &Path) -> Metadata {
        std::fs::metadata(dir).expect("stat")
    }

    #[test]
    fn a_page_rendered_while_its_directory_changed_is_not_kept() {
        let (listings, tree, url) = setup();
        let dir = tree.path();
        let key = Key {
            url: &url,
            format: Format::Json,
            viewer: None,
        };
        // The render began, then the directory changed before the page was stored: the page
        // may show the state before the change, so it must not be kept.
        let ticket = listings.begin(dir, &metadata(dir)).expect("inotify");
        std::fs::write(dir.join("new"), "x").expect("write");
        listings.store(ticket, &key, page("before"), Unseen::default(), dir);
        assert!(listings.get(&metadata(dir), &key).is_none());
        // A render during which nothing changed is kept, until the next change.
        let ticket = listings.begin(dir, &metadata(dir)).expect("inotify");
        listings.store(ticket, &key, page("after"), Unseen::default(), dir);
        let kept = listings.get(&metadata(dir), &key).expect("kept");
        assert_eq!(kept.body, "after");
        std::fs::remove_file(dir.join("new")).expect("rm");
        assert!(listings.get(&metadata(dir), &key).is_none());
    }

    #[test]
    fn a_deleted_directory_is_forgotten_with_its_pages() {
        let (listings, tree, url) = setup();
        let dir = tree.path().join("gone");
        std::fs::create_dir(&dir).expect("mkdir");
        let seen = metadata(&dir);
        let key = Key {
            url: &url,
            format: Format::Json,
            viewer: None,
        };
        let ticket = listings.begin(&dir, &seen).expect("inotify");
        assert!(listings.store(ticket, &key, page("listed"), Unseen::default(), &dir));
        assert!(listings.get(&seen, &key).is_some());
        std::fs::remove_dir(&dir).expect("rmdir");
        assert!(listings.get(&seen, &key).is_none());
        let state = listings.lock().expect("state");
        assert!(state.dirs.is_empty() && state.by_wd.is_empty());
        assert_eq!(state.bytes, 0);
    }

    #[test]
    fn keys_keep_formats_orders_and_viewers_apart() {
        let (listings, tree, url) = setup();
        let dir = tree.path();
        let json = Key {
            url: &url,
            format: Format::Json,
            viewer: Some(Some("ann")),
        };
        let ticket = listings.begin(dir, &metadata(dir)).expect("inotify");
        listings.store(ticket, &json, page("ann's"), Unseen::default(), dir);
        assert!(listings.get(&metadata(dir), &json).is_some());
        for other in [
            Key {
                viewer: Some(Some("bob")),
                ..json
            },
            Key {
                viewer: Some(None),
                ..json
            },
            Key {
                viewer: None,
                ..json
            },
            Key {
                format: Format::Rich(Sort::from_query(None)),
                ..json
            },
            Key {
                url: &UrlPath::parse("/elsewhere/"),
                ..json
            },
        ] {
            assert!(listings.get(&metadata(dir), &other).is_none());
        }
    }

    #[test]
    fn the_budget_drops_the_least_recently_served() {
        let (listings, tree, url) = setup();
        let body = Bytes::from(vec![b'x'; MAX_PAGE]);
        let dirs: Vec<_> = (0..BUDGET / MAX_PAGE + 1)
            .map(|i| {
                let dir = tree.path().join(i.to_string());
                std::fs::create_dir(&dir).expect("mkdir");
                dir
            })
            .collect();
        let key = Key {
            url: &url,
            format: Format::Json,
            viewer: None,
        };
        for dir in &dirs {
            let ticket = listings.begin(dir, &metadata(dir)).expect("inotify");
            let page = Page {
                body: body.clone(),
                ..page("")
            };
            listings.store(ticket, &key, page, Unseen::default(), dir);
            // The first stays the most recently served.
            assert!(listings.get(&metadata(&dirs[0]), &key).is_some());
        }
        let kept = dirs
            .iter()
            .filter(|dir| listings.get(&metadata(dir), &key).is_some())
            .count();
        // Some dropped, not all: eviction stops once a quarter of the budget is free.
        assert!(kept < dirs.len() && kept >= 2, "{kept}");
        assert!(listings.get(&metadata(&dirs[0]), &key).is_some());
        assert!(listings.get(&metadata(&dirs[1]), &key).is_none());
        let held = listings.lock().expect("state").bytes;
        assert!(held <= BUDGET, "{held}");
    }
}
