//! What every gateway to a script shares, CGI (spawn a process per request) and FastCGI (talk to
//! a running application) alike: finding the script a URL names and the extra path after it
//! ([`script_path`]), the request meta-variables ([`meta_vars`]) and body ([`input`]), the one
//! driver of a request to a script ([`respond`]: where the script's header block, parsed by
//! [`script_response`], becomes a response through [`reply`]), and the log lines about a
//! script ([`log`]). Each gateway only adds how a script is started and how bytes travel.

pub(crate) mod input;
pub(crate) mod log;
pub(crate) mod meta_vars;
pub(crate) mod reply;
pub(crate) mod respond;
pub(crate) mod script_path;
pub(crate) mod script_response;

use http::StatusCode;

use crate::handler::{Handler, Request, Response};
use crate::response::error_with;

pub(crate) use meta_vars::MetaVars;
pub(crate) use respond::{respond, Failed, Gateway, Run, Script, Settings, Stop};
pub(crate) use script_path::{locate, matching_dir, Located, ScriptPath};

/// A gateway's fallback until one is set: nothing here.
pub(crate) struct NotFound;

impl Handler for NotFound {
    async fn handle(&self, _req: Request) -> Response {
        error_with(
            StatusCode::NOT_FOUND,
            "File not found",
            "Nothing matches the given URI",
        )
    }
}
