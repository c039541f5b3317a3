//! The decide step of the static-file pipeline: all the file-system I/O for one request, ending
//! in an [`Outcome`] that says what to answer. It follows CPython's `send_head` in order:
//! directory → redirect, index file or listing; file with a trailing slash → 404 (bpo-17324);
//! unopenable → 404. Then, beyond CPython: the representation is chosen (`negotiate`), its
//! validators made (`etag`), the preconditions evaluated (`conditional`, RFC 9110 §13.2.2)
//! and the `Range` planned (`range`).

use std::fs::Metadata;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::RANGE;
use http::{HeaderMap, HeaderValue};

use super::conditional::{self, Verdict};
use super::encoding::{Coding, Encoding};
use super::listing_cache::{Format, Key, Page, Slot, Ticket, Unseen};
use super::negotiate::{self, Choice};
use super::range::{self, ByteRange, Plan};
use super::small_files::{Content, EncodedKeeper, Head};
use super::{archive, etag, listing, listing_json, mime, ui, StaticFiles};
use crate::location::add_slash;
use crate::request::Access;
use crate::safe_path::TEMP_PREFIX;
use crate::safe_path::{Found, UrlPath};

/// What the static-file handler will answer, decided before anything is rendered.
pub(crate) enum Outcome {
    /// The whole representation (`200`).
    Full(Representation),
    /// One range of it (`206` with `Content-Range`).
    Partial(Representation, ByteRange),
    /// Several ranges of it (`206` `multipart/byteranges`).
    MultiPart(Representation, Vec<ByteRange>),
    /// The client's copy is current (`304`).
    NotModified(Validators),
    /// `If-Match` or `If-Unmodified-Since` failed (`412`).
    PreconditionFailed,
    /// No requested range overlaps the representation of this length (`416`).
    RangeNotSatisfiable(u64),
    /// The client accepts no coding on offer, identity included (`406`).
    NotAcceptable,
    /// A directory without an index file: its listing page, made in memory.
    Listing {
        /// The page or its compressed output.
        body: ListingBody,
        /// HTML, or JSON (`--listing-json`).
        content_type: &'static str,
        /// Its coding (identity or on the fly).
        coding: Coding,
        /// Its validators, from the directory's metadata.
        validators: Validators,
        /// Whether it is the rich page (`--ui`), which carries its `Content-Security-Policy`.
        rich: bool,
    },
    /// A directory that cannot be read (`404 No permission to list directory`).
    ListingDenied,
    /// A directory asked for as one archive (`--archive`, `?download=zip`).
    Archive(archive::Folder),
    /// A directory asked for without its trailing slash: redirect to this location.
    AddSlash(String),
    /// Nothing servable at this path (`404 File not found`).
    NotFound,
}

/// What a listing's answer sends.
pub(crate) enum ListingBody {
    /// The page as it is (kept in memory by `listing_cache`, or made for this request).
    Page(Bytes),
    /// The page compressed by an earlier answer, kept with it.
    Encoded(Bytes),
    /// The page, to compress with this coding; the output handed to the slot, if any, for the
    /// answers after.
    Compress(Bytes, Encoding, Option<Slot>),
}

/// The validators and cache keys of a representation, sent with 200, 206 and 304.
pub(crate) struct Validators {
    /// The `ETag`, formatted once.
    pub etag: HeaderValue,
    /// The modification time, for `Last-Modified`.
    pub modified: SystemTime,
    /// Whether `Vary: Accept-Encoding` is due.
    pub vary: bool,
    /// Whether `Vary: Accept` is due (a listing when the JSON one is on).
    pub vary_accept: bool,
}

/// A file representation ready to be sent.
pub(crate) struct Representation {
    /// The bytes: of the original, or of its precompressed sibling.
    pub content: Content,
    /// The length of `content` (of the source, for on-the-fly coding).
    pub len: u64,
    /// The media type of the original file.
    pub content_type: HeaderValue,
    /// How the bytes are coded.
    pub coding: Coding,
    /// Its validators.
    pub validators: Validators,
    /// For on-the-fly coding, what keeps the output for later answers.
    pub keeper: Option<EncodedKeeper>,
    /// The head kept with the file's bytes, for the identity coding of a kept small file:
    /// its values are sent rather than formatted again.
    pub head: Option<Arc<Head>>,
}

/// Decides the outcome for a GET or HEAD of `path` (collapsed, without query).
pub(crate) fn decide(
    files: &StaticFiles,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    access: Option<&Access>,
) -> Outcome {
    let url = UrlPath::parse(path);
    if files.uploads && is_upload_in_progress(&url) {
        return Outcome::NotFound;
    }
    let Some(found) = files.root.resolve(&url) else {
        return Outcome::NotFound;
    };
    if found.metadata.is_dir() {
        if !url.has_trailing_slash() {
            return Outcome::AddSlash(add_slash(path, query));
        }
        // Before the index files: a folder's download is asked for by name, index or not.
        if let Some(format) = files
            .archive
            .then(|| archive::Format::asked(query))
            .flatten()
        {
            // A folder the server cannot read is refused before the `200`, as its listing
            // would be, rather than cut at its first byte.
            if std::fs::read_dir(&found.path).is_err() {
                return Outcome::ListingDenied;
            }
            let access = access.cloned();
            return Outcome::Archive(archive::Folder {
                found,
                url,
                format,
                access,
            });
        }
        for index in &files.index_files {
            let index_url = url.join(index);
            if let Some(index) = files.root.resolve(&index_url) {
                if index.metadata.is_file() {
                    return open(files, &index_url, index, headers);
                }
            }
        }
        return list(files, found, &url, (path, query), headers, access);
    }
    if url.has_trailing_slash() || !found.metadata.is_file() {
        // A FIFO or device is never opened: reading one could block the server.
        return Outcome::NotFound;
    }
    open(files, &url, found, headers)
}

/// Whether `url` names the temporary file of an upload: never served, whatever its state.
fn is_upload_in_progress(url: &UrlPath) -> bool {
    url.segments()
        .last()
        .is_some_and(|name| name.starts_with(TEMP_PREFIX.as_bytes()))
}

/// The file `found` at `url`. It is opened last (or found in memory, `small_files`), once the
/// representation is chosen and the preconditions passed, so that a 304 or a precompressed
/// sibling costs no `open` of it.
fn open(files: &StaticFiles, url: &UrlPath, found: Found, headers: &HeaderMap) -> Outcome {
    let metadata = found.metadata;
    let cache = &files.small_files;
    // A small file kept in memory and unchanged: its bytes and its head, formatted once.
    let kept = cache.kept(&found.path, &metadata);
    let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let content_type = match &kept {
        Some(kept) => kept.head.content_type.clone(),
        None => mime::guess(&found.path)
            .map(HeaderValue::from_static)
            .unwrap_or_else(|| files.default_content_type.clone()),
    };
    let choice = negotiate::for_file(
        files,
        url,
        &found.path,
        metadata.len(),
        modified,
        content_type.as_bytes(),
        headers,
    );
    let (sibling, metadata, coding, vary) = match choice {
        Choice::Identity { vary } => (None, metadata, Coding::Identity, vary),
        Choice::Stored(encoding, sibling) => {
            let (content, meta) = *sibling;
            (Some(content), meta, Coding::Stored(encoding), true)
        }
        Choice::OnTheFly(encoding) => (None, metadata, Coding::OnTheFly(encoding), true),
        Choice::NotAcceptable => return Outcome::NotAcceptable,
    };
    let head = kept
        .as_ref()
        .filter(|_| coding == Coding::Identity)
        .map(|kept| Arc::clone(&kept.head));
    let validators = Validators {
        etag: match &head {
            Some(head) => head.etag.clone(),
            None => etag::of(&metadata, coding),
        },
        modified,
        vary,
        vary_accept: false,
    };
    match conditional::evaluate(headers, &validators.etag, modified) {
        Verdict::Proceed => {}
        Verdict::NotModified => return Outcome::NotModified(validators),
        Verdict::Failed => return Outcome::PreconditionFailed,
    }
    // On the fly: the output kept from an earlier answer, or what keeps this answer's.
    let (kept_output, keeper) = match coding {
        Coding::OnTheFly(encoding) => match cache.encoded(&found.path, &metadata, encoding) {
            Some(output) => (Some(Content::Encoded(output)), None),
            None => (
                None,
                cache.encoded_keeper(&found.path, &metadata, encoding, SystemTime::now),
            ),
        },
        _ => (None, None),
    };
    let content = match kept_output.or(sibling) {
        Some(content) => content,
        None => match kept {
            Some(kept) => {
                cache.hit();
                Content::Memory(kept.bytes)
            }
            None => {
                // Made only if the bytes are kept: once per version of the file.
                let head = || {
                    Some(Head::new(
                        content_type.clone(),
                        HeaderValue::from(metadata.len()),
                        match coding {
                            Coding::Identity => validators.etag.clone(),
                            _ => etag::of(&metadata, Coding::Identity),
                        },
                        super::http_date(modified),
                    ))
                };
                match cache.open(&found.path, &metadata, SystemTime::now, head) {
                    Ok(content) => content,
                    // CPython answers 404 for any open() failure, permission denied included.
                    Err(_) => return Outcome::NotFound,
                }
            }
        },
    };
    let representation = Representation {
        content,
        len: metadata.len(),
        content_type,
        coding,
        validators,
        keeper,
        head,
    };
    let range = conditional::has_any(headers, &[RANGE])
        .then(|| headers.get(RANGE))
        .flatten();
    let plan = match range {
        Some(value)
            if coding.rangeable()
                && conditional::range_allowed(
                    headers,
                    &representation.validators.etag,
                    modified,
                ) =>
        {
            range::plan(value, representation.len)
        }
        _ => Plan::Whole,
    };
    match plan {
        Plan::Whole => Outcome::Full(representation),
        Plan::Unsatisfiable => Outcome::RangeNotSatisfiable(representation.len),
        Plan::Parts(mut parts) if parts.len() == 1 => {
            let part = parts.remove(0);
            Outcome::Partial(representation, part)
        }
        Plan::Parts(parts) => Outcome::MultiPart(representation, parts),
    }
}

/// The listing of the directory `found`, with validators from the directory's own metadata:
/// its modification time changes whenever an entry is added, removed or renamed.
/// Behind access control (`access`), entries the request may not read are left out.
fn list(
    files: &StaticFiles,
    found: Found,
    url: &UrlPath,
    (path, query): (&str, Option<&str>),
    headers: &HeaderMap,
    access: Option<&Access>,
) -> Outcome {
    let visible = |name: &[u8]| access.is_none_or(|access| access.may_read(&url.join(name)));
    let json = files.listing_json && listing_json::wanted(query, headers);
    let rich = files.ui && !json;
    let key = |format| Key {
        url,
        format,
        viewer: access
            .filter(|access| access.reads.is_some())
            .map(|access| access.user.as_deref()),
    };
    // The JSON and the rich page show each entry's size and time, which do not change the
    // directory's own metadata: their `Last-Modified` is the newest entry's when later, and
    // their tag is marked with a hash of what is sent (the rich page shows the README too).
    let rendered = if json {
        kept_or_rendered(files, &found, &key(Format::Json), visible)
    } else if rich {
        let sort = ui::Sort::from_query(query);
        kept_or_rendered(files, &found, &key(Format::Rich(sort)), visible)
    } else {
        let display = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let uploads = (files.uploads, files.takes_uploads_at(url));
        listing::render(&found.path, &display, uploads, visible).map(|page| Page {
            body: page.into(),
            encoded: None,
            mark: None,
            newest: None,
        })
    };
    let Ok(page) = rendered else {
        return Outcome::ListingDenied;
    };
    let (coding, vary) = match negotiate::for_page(files, page.body.len(), headers) {
        Choice::Identity { vary } => (Coding::Identity, vary),
        Choice::OnTheFly(encoding) | Choice::Stored(encoding, ..) => {
            (Coding::OnTheFly(encoding), true)
        }
        Choice::NotAcceptable => return Outcome::NotAcceptable,
    };
    let mut validators = directory_validators(&found.metadata, coding, vary);
    if let Some(access) = access.filter(|access| access.reads.is_some()) {
        validators.etag = etag::for_viewer(&validators.etag, access.user.as_deref());
    }
    // The page and the JSON are two representations of one URL (RFC 9110 §12.5.1): each has
    // its own tag, and caches are told that `Accept` chooses between them.
    validators.vary_accept = files.listing_json;
    if json {
        validators.etag = etag::marked(&validators.etag, "json");
    }
    if let Some(mark) = &page.mark {
        validators.etag = etag::marked(&validators.etag, mark);
        validators.modified = validators
            .modified
            .max(page.newest.unwrap_or(SystemTime::UNIX_EPOCH));
    }
    let body = match coding {
        Coding::OnTheFly(encoding) => match &page.encoded {
            Some(encoded) => match encoded.get(encoding) {
                Some(output) => ListingBody::Encoded(output),
                None => {
                    let slot = encoded.slot(encoding, page.body.len());
                    ListingBody::Compress(page.body, encoding, Some(slot))
                }
            },
            None => ListingBody::Compress(page.body, encoding, None),
        },
        _ => ListingBody::Page(page.body),
    };
    match conditional::evaluate(headers, &validators.etag, validators.modified) {
        Verdict::Proceed => Outcome::Listing {
            body,
            content_type: if json {
                "application/json"
            } else {
                "text/html; charset=utf-8"
            },
            coding,
            validators,
            rich,
        },
        Verdict::NotModified => Outcome::NotModified(validators),
        Verdict::Failed => Outcome::PreconditionFailed,
    }
}

/// The JSON or rich page `key` names of the directory `found`: kept from an earlier request
/// while its directory is unchanged (`listing_cache`), else rendered (and kept if it can be).
fn kept_or_rendered(
    files: &StaticFiles,
    found: &Found,
    key: &Key,
    visible: impl Fn(&[u8]) -> bool,
) -> std::io::Result<Page> {
    if let Some(page) = files.listings.get(&found.metadata, key) {
        return Ok(page);
    }
    // The watch goes in before the directory is read, and the render reads the directory
    // watched, not whatever its path names by then.
    let ticket = files.listings.begin(&found.path, &found.metadata);
    let dir = ticket.as_ref().map_or(found.path.as_path(), Ticket::dir);
    let mut unseen = Unseen::default();
    let (body, newest) = match key.format {
        Format::Json => listing_json::render(dir, files.uploads, visible, &mut unseen)?,
        Format::Rich(sort) => ui::render(files, dir, key.url, sort, visible, &mut unseen)?,
    };
    let mut page = Page {
        mark: Some(etag::content_mark(body.as_bytes()).into()),
        body: body.into(),
        encoded: Some(Arc::default()),
        newest,
    };
    let kept = ticket.is_some_and(|ticket| {
        let listings = &files.listings;
        listings.store(ticket, key, page.clone(), unseen, &found.path)
    });
    if !kept {
        page.encoded = None; // no later answer would send a compressed output
    }
    Ok(page)
}

fn directory_validators(metadata: &Metadata, coding: Coding, vary: bool) -> Validators {
    Validators {
        etag: etag::of(metadata, coding),
        modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        vary,
        vary_accept: false,
    }
}
