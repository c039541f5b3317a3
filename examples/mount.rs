//! Static files for the site, and a small JSON API under `/api/notes`: GET lists the notes,
//! POST `{"text": "..."}` adds one. `Mount` sends `/api/notes` to the API, the rest to the files.
//!
//! ```text
//! cargo run --example mount -- 8000 public/    # port, then the directory (default: .)
//! curl -d '{"text": "buy bread"}' http://127.0.0.1:8000/api/notes
//! ```

mod common;

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::{json, Value};
use serveur::http::StatusCode;
use serveur::{by_method, response, Mount, Request, RequestExt, Response, Server, StaticFiles};

type Notes = Arc<Mutex<Vec<String>>>;

async fn list(notes: Notes, _req: Request) -> Response {
    let notes = notes.lock().unwrap_or_else(PoisonError::into_inner).clone();
    response::json(json!({ "notes": notes }).to_string())
}

async fn add(notes: Notes, mut req: Request) -> Response {
    let body = match req.body_bytes(4096).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let note = serde_json::from_slice::<Value>(&body).ok();
    let Some(text) = note.as_ref().and_then(|note| note["text"].as_str()) else {
        let explain = r#"Send a JSON object such as {"text": "buy bread"}"#;
        return response::error_with(StatusCode::BAD_REQUEST, "Bad note", explain);
    };
    notes
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(text.to_owned());
    let mut created = response::json(json!({ "text": text }).to_string());
    *created.status_mut() = StatusCode::CREATED;
    created
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let files = StaticFiles::new(common::directory())?;
    let notes = Notes::default();
    let api = by_method()
        .get({
            let notes = Arc::clone(&notes);
            move |req| list(Arc::clone(&notes), req)
        })
        .post(move |req| add(Arc::clone(&notes), req));
    let server = Server::bind(([127, 0, 0, 1], common::port()?).into())?;
    common::announce(server.local_addr()?);
    server.serve(Mount::new(files).at("/api/notes", api)).await
}
