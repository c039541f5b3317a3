//! [`Form`]: the fields of a submitted HTML form, from an `application/x-www-form-urlencoded`
//! body (the `form_urlencoded` crate, WHATWG URL §5) or a `multipart/form-data` one (RFC 7578,
//! parsed by the `multer` crate). The body is already in memory, bounded by the caller's limit,
//! so the parsers need no limits of their own.

use bytes::Bytes;
use http::StatusCode;

use crate::response::{error, error_with, Response};
use crate::status_text::python_status_text;

/// The fields of a submitted form, in the order they were sent.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use serveur::{RequestBody, RequestExt};
///
/// let mut req = serveur::http::Request::builder()
///     .method("POST")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(RequestBody::full("name=Ada+Lovelace&lang=fr"))
///     .unwrap();
/// let form = req.form(1024).await.unwrap();
/// assert_eq!(form.get("name"), Some("Ada Lovelace"));
/// assert_eq!(form.fields().len(), 2);
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Form {
    fields: Vec<FormField>,
}

/// One field of a [`Form`]: a text input, or a file chosen in an `<input type="file">`.
/// Read-only for users (`non_exhaustive`), so fields can be added without breaking anyone.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct FormField {
    /// The field's name (its `name` attribute).
    pub name: String,
    /// The name of the uploaded file, for a file field of a multipart form.
    pub file_name: Option<String>,
    /// The part's `Content-Type`, when a multipart part names one.
    pub content_type: Option<String>,
    /// The value as sent.
    pub value: Bytes,
}

impl FormField {
    /// The value as text, when it is UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }
}

impl Form {
    /// The text of the first field named `name` (`None` if absent or not UTF-8).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|field| field.name == name)
            .and_then(FormField::text)
    }

    /// Every field, in the order they were sent.
    pub fn fields(&self) -> &[FormField] {
        &self.fields
    }

    /// Parses `body` by its `content_type` (the header's value, if any).
    pub(super) async fn parse(content_type: Option<&str>, body: Bytes) -> Result<Form, Response> {
        let essence = content_type.map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match essence.as_deref() {
            None | Some("application/x-www-form-urlencoded") => Ok(Self::urlencoded(&body)),
            Some("multipart/form-data") => {
                Self::multipart(content_type.unwrap_or_default(), body).await
            }
            Some(_) => Err(error(StatusCode::UNSUPPORTED_MEDIA_TYPE)),
        }
    }

    fn urlencoded(body: &[u8]) -> Form {
        let fields = form_urlencoded::parse(body)
            .map(|(name, value)| FormField {
                name: name.into_owned(),
                file_name: None,
                content_type: None,
                value: Bytes::from(value.into_owned()),
            })
            .collect();
        Form { fields }
    }

    async fn multipart(content_type: &str, body: Bytes) -> Result<Form, Response> {
        let boundary = multer::parse_boundary(content_type).map_err(bad_form)?;
        let chunks = futures_util::stream::once(async move { Ok::<_, std::io::Error>(body) });
        let mut multipart = multer::Multipart::new(chunks, boundary);
        let mut fields = Vec::new();
        while let Some(field) = multipart.next_field().await.map_err(bad_form)? {
            // RFC 7578 §4.2: every part has a name; one without is not a form field.
            let Some(name) = field.name().map(str::to_owned) else {
                continue;
            };
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let value = field.bytes().await.map_err(bad_form)?;
            fields.push(FormField {
                name,
                file_name,
                content_type,
                value,
            });
        }
        Ok(Form { fields })
    }
}

/// `400` for a body that does not parse as the form it claims to be; the parser's reason goes
/// in the explanation, which the page shows.
fn bad_form(e: multer::Error) -> Response {
    let (message, _) = python_status_text(400);
    error_with(
        StatusCode::BAD_REQUEST,
        message,
        &format!("Malformed form data: {e}"),
    )
}
