//! What access control tells the handlers after it: who the request's user is, and what that
//! user may read. It travels as one request extension, [`Access`], set by
//! [`Auth`](crate::auth::Auth) only when access control is on and only when a handler could
//! need it (an authenticated user, or reading that depends on the path), so a server without
//! rules pays nothing: an empty extension map is never allocated.

use std::sync::Arc;

use crate::safe_path::UrlPath;

/// Whether a path may be read, by whom the rules decide: the listing asks it for each entry.
pub(crate) trait ReadCheck: Send + Sync {
    /// Whether `user` (`None`: anonymous) may read what `url` names.
    fn may_read(&self, user: Option<&str>, url: &UrlPath) -> bool;
}

/// The request's user and what the user may read, as a request extension.
#[derive(Clone)]
pub(crate) struct Access {
    /// The authenticated user (`None`: anonymous).
    pub user: Option<Arc<str>>,
    /// `None` when the user may read everything, so nothing needs checking.
    pub reads: Option<Arc<dyn ReadCheck>>,
}

impl Access {
    /// Whether the request may read `url` (a listing's entry).
    pub(crate) fn may_read(&self, url: &UrlPath) -> bool {
        self.reads
            .as_ref()
            .is_none_or(|check| check.may_read(self.user.as_deref(), url))
    }
}

/// The user an authenticated request was answered for, as a response extension: the
/// server writes it in the access line's identity field (Common Log Format's `authuser`).
#[derive(Clone, Debug)]
pub(crate) struct LoggedUser(pub Arc<str>);
