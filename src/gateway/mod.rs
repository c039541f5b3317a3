//! What every gateway to a script shares, CGI (spawn a process per request) and FastCGI (talk to
//! a running application) alike: finding the script a URL names and the extra path after it
//! ([`script_path`]), the request meta-variables ([`meta_vars`]), and reading the script's
//! header block ([`script_response`]). Each part is independent of how bytes travel, so each
//! gateway only adds its transport.

pub mod meta_vars;
pub mod reply;
pub mod script_path;
pub mod script_response;

pub use meta_vars::MetaVars;
pub(crate) use reply::departure;
pub use reply::{bodiless, redirect_locally, response};
pub use script_path::{locate, matching_dir, Located, ScriptPath};
pub use script_response::{parse, parse_nph, ResponseHead, ScriptReply};
