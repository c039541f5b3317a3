//! [`Mount`]: the first handler whose path prefix matches the request answers it, else the
//! fallback. Prefixes are compared on the decoded, normalized path (as [`UrlPath`] reads it), so
//! `/%63gi-bin/x`, `//cgi-bin/x` and `/a/../cgi-bin/x` all reach the handler mounted at
//! `/cgi-bin`: no spelling of a path slips past its mount.

use super::{Handler, Request, Response, SharedHandler};
use crate::safe_path::UrlPath;

/// Routes requests by path prefix.
///
/// ```
/// use serveur::{Handler, Mount, Request, Response, response};
///
/// struct Api;
/// impl Handler for Api {
///     async fn handle(&self, _req: Request) -> Response {
///         response::text("api")
///     }
/// }
/// struct Site;
/// impl Handler for Site {
///     async fn handle(&self, _req: Request) -> Response {
///         response::text("site")
///     }
/// }
///
/// let app = Mount::new(Site).at("/api", Api);
/// ```
#[derive(Clone)]
pub struct Mount {
    routes: Vec<(Vec<Vec<u8>>, SharedHandler)>,
    fallback: SharedHandler,
}

impl Mount {
    /// A router that sends every request to `fallback` until routes are added.
    pub fn new(fallback: impl Handler) -> Self {
        Mount {
            routes: Vec::new(),
            fallback: SharedHandler::new(fallback),
        }
    }

    /// Sends requests for `prefix` and everything below it to `handler`. The path is passed on
    /// whole (the prefix is not stripped). Routes are tried in the order they were added and
    /// the first matching prefix wins, so mount `/api/v2` before `/api`, or `/api` takes it.
    pub fn at(mut self, prefix: &str, handler: impl Handler) -> Self {
        let segments = UrlPath::parse(prefix).segments().to_vec();
        self.routes.push((segments, SharedHandler::new(handler)));
        self
    }

    fn route(&self, path: &str) -> &SharedHandler {
        let url = UrlPath::of_request(path);
        self.routes
            .iter()
            .find(|(prefix, _)| url.segments().starts_with(prefix))
            .map_or(&self.fallback, |(_, handler)| handler)
    }
}

impl Handler for Mount {
    async fn handle(&self, req: Request) -> Response {
        let handler = self.route(req.uri().path()).clone();
        handler.handle(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response;

    struct Named(&'static str);
    impl Handler for Named {
        async fn handle(&self, _req: Request) -> Response {
            response::text(self.0)
        }
    }

    async fn answer(mount: &Mount, path: &str) -> String {
        use http_body_util::BodyExt;
        let req = http::Request::builder()
            .uri(path)
            .body(crate::RequestBody::empty())
            .expect("request");
        let body = mount.handle(req).await.into_body().collect().await;
        String::from_utf8(body.expect("body").to_bytes().to_vec()).expect("utf-8")
    }

    #[tokio::test]
    async fn every_spelling_of_a_prefix_reaches_its_mount() {
        let mount = Mount::new(Named("files")).at("/cgi-bin", Named("cgi"));
        for path in [
            "/cgi-bin/x",
            "/%63gi-bin/x",
            "//cgi-bin/x",
            "/a/../cgi-bin/x",
            "/./cgi-bin/x",
            "/cgi-bin",
        ] {
            assert_eq!(answer(&mount, path).await, "cgi", "{path}");
        }
        for path in ["/cgi-binary", "/", "/x/cgi-bin"] {
            assert_eq!(answer(&mount, path).await, "files", "{path}");
        }
    }
}
