//! A form upload: `POST` of `multipart/form-data` to a directory, parsed by `multer` as it
//! streams. Each file part goes through its own temporary file ([`TempFile`]); a name already
//! taken becomes `name (1).ext` (or is replaced under `overwrite`). A text part named `mkdir`
//! makes a directory when directories may be made. Other text parts are ignored.

use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use http_body::Body as _;
use http_body_util::BodyExt;
use multer::{Constraints, Multipart, SizeLimit};

use super::names::{self, Target};
use super::reply::{self, Stored};
use super::store::{Commit, CommitError, Dir, TempFile};
use super::{child, too_large, Logger, Refusal, Upload};
use crate::handler::{Request, Response};

/// How many numbered names (`name (1).ext` … `name (99).ext`) a form upload tries.
const NUMBERED_NAMES: u32 = 99;

/// The boundary of a `multipart/form-data` request, `None` for any other body.
pub(super) fn boundary(headers: &HeaderMap) -> Option<String> {
    let content_type = headers.get(CONTENT_TYPE)?.to_str().ok()?;
    let mime: mime_guess::mime::Mime = content_type.parse().ok()?;
    if mime.type_() != "multipart" || mime.subtype() != "form-data" {
        return None;
    }
    multer::parse_boundary(content_type).ok()
}

/// Stores every file part of the form posted to the directory `target`.
pub(super) async fn post(
    upload: &Upload,
    req: Request,
    target: &Target,
    boundary: String,
) -> Response {
    match store_all(upload, req, target, boundary).await {
        Ok((stored, accept)) => reply::stored(&accept, target, &stored),
        Err(refusal) => refusal.response(),
    }
}

async fn store_all(
    upload: &Upload,
    req: Request,
    target: &Target,
    boundary: String,
) -> Result<(Vec<Stored>, String), Refusal> {
    if req.body().size_hint().lower() > upload.max_body {
        return Err(too_large());
    }
    let dir = Dir::open(&upload.root, &target.url())?;
    upload.check_code(&dir.real)?;
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let log = Logger::of(&req);
    let limits = SizeLimit::new().whole_stream(upload.max_body);
    let body = req.into_body().into_data_stream();
    let mut form =
        Multipart::with_constraints(body, boundary, Constraints::new().size_limit(limits));
    let mut stored = Vec::new();
    while let Some(field) = form.next_field().await.map_err(refusal)? {
        match field.file_name().map(str::to_owned) {
            // A file input left empty sends a part with an empty file name.
            Some(name) if name.is_empty() => {}
            Some(name) => {
                let name = name.into_bytes();
                names::check(&name).map_err(invalid)?;
                upload.check_code(&child(&dir.real, &name))?;
                let mut temp = TempFile::create(&dir).map_err(Refusal::io)?;
                let size = temp
                    .receive(field.map(|c| c.map_err(refusal)), upload.max_body)
                    .await?;
                let taken = commit(upload, temp, name.clone()).await?;
                let mut segments = target.segments.clone();
                segments.push(taken.clone());
                log.stored(segments.iter(), size);
                stored.push(Stored {
                    renamed: taken != name,
                    name: taken,
                    size: Some(size),
                });
            }
            None if field.name() == Some("mkdir") => {
                if !upload.mkdir {
                    return Err(Refusal::new(
                        StatusCode::FORBIDDEN,
                        "Upload refused: directories cannot be made here",
                    ));
                }
                let name = field.text().await.map_err(refusal)?.into_bytes();
                if name.is_empty() {
                    continue;
                }
                names::check(&name).map_err(invalid)?;
                upload.check_code(&child(&dir.real, &name))?;
                dir.make_dir(&name).map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => {
                        Refusal::new(StatusCode::CONFLICT, "The name exists")
                    }
                    _ => Refusal::io(e),
                })?;
                stored.push(Stored {
                    name,
                    size: None,
                    renamed: false,
                });
            }
            None => {}
        }
    }
    Ok((stored, accept))
}

/// Renames the finished file to `name`, replacing under `overwrite`, else to the first free
/// of `name`, `name (1)`, … : the name it took.
async fn commit(upload: &Upload, temp: TempFile, name: Vec<u8>) -> Result<Vec<u8>, Refusal> {
    let result = if upload.overwrite {
        temp.commit([name], Commit::Replace).await
    } else {
        let names = (0..=NUMBERED_NAMES).map(move |n| match n {
            0 => name.clone(),
            n => names::numbered(&name, n),
        });
        temp.commit(names, Commit::NoReplace).await
    };
    result.map_err(|e| match e {
        CommitError::Exists => Refusal::new(StatusCode::CONFLICT, "File exists"),
        CommitError::Io(e) => Refusal::io(e),
    })
}

fn invalid(why: &str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, &format!("Invalid name: {why}"))
}

/// A form that cannot be read: too large (`413`), or malformed or cut short (`400`).
fn refusal(e: multer::Error) -> Refusal {
    match e {
        multer::Error::StreamSizeExceeded { .. } => too_large(),
        e => Refusal::new(
            StatusCode::BAD_REQUEST,
            &format!("Invalid form upload: {e}"),
        ),
    }
}
