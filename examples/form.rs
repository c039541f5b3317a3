//! The tutorial's form page: GET shows a form asking for a name, POST greets the name typed.
//!
//! ```text
//! cargo run --example form -- 8000     # then open http://127.0.0.1:8000/
//! ```

mod common;

use serveur::{by_method, response, Request, RequestExt, Response, Server};

const FORM: &str = r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Bonjour</title></head>
<body>
<form method="post">
  <label>Your name: <input name="name" autofocus></label>
  <button>Send</button>
</form>
</body>
</html>
"#;

async fn do_get(_req: Request) -> Response {
    response::html(FORM)
}

async fn do_post(mut req: Request) -> Response {
    // A name is short: anything past 64 KiB gets Python's 413 page.
    let form = match req.form(64 * 1024).await {
        Ok(form) => form,
        Err(answer) => return answer,
    };
    let name = form.get("name").unwrap_or("stranger");
    response::html(format!(
        "<h1>Bonjour, {}!</h1>",
        html_escape::encode_text(name)
    ))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let server = Server::bind(([127, 0, 0, 1], common::port()?).into())?;
    common::announce(server.local_addr()?);
    server.serve(by_method().get(do_get).post(do_post)).await
}
