//! Who may read and write where. A rule is `USER:PASSWORD@PATH[:rw|:ro][,PATH…]` (an account
//! and its paths) or `@PATH…` (anonymous access); [`Rules`] gathers them with the accounts of
//! an htpasswd file and answers "what may this user do here". Paths are compared as decoded
//! segments, byte for byte (the file system is case-sensitive), one segment at a time, so
//! `/pub` never covers `/public`.

use std::collections::HashMap;
use std::sync::Arc;

use super::credential::Credential;
use crate::safe_path::UrlPath;

/// What a principal may do at a path, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Right {
    /// Nothing.
    None,
    /// GET, HEAD, OPTIONS, listings.
    Read,
    /// Reading, and every other method (PUT, POST, DELETE, MKCOL, …).
    Write,
}

/// One path of a rule and the right it gives.
#[derive(Clone, Debug)]
struct Grant {
    path: UrlPath,
    right: Right,
}

/// An account: its password, and its own paths.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    pub credential: Credential,
    grants: Vec<Grant>,
}

/// The access rules: accounts, anonymous grants, and whether anyone may read everywhere.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    accounts: HashMap<Arc<str>, Account>,
    anonymous: Vec<Grant>,
    anon_read: bool,
    /// Users named by an htpasswd file, to which rules naming them only give paths.
    from_file: Vec<Arc<str>>,
}

impl Rules {
    /// No rules yet.
    pub fn new() -> Rules {
        Rules::default()
    }

    /// Adds one `--auth` rule: `USER:PASSWORD@PATH[:rw|:ro][,PATH[:rw|:ro]…]`, or
    /// `@PATH[:rw|:ro]…` for anonymous access. A user's paths default to `rw`, anonymous ones
    /// to `ro`. The password (plain text or a hash) ends at the first `@/`, since every path
    /// starts with `/`; a user of the htpasswd file may be named without a password
    /// (`alice@/docs:ro`) to narrow the paths the file gives (everything, read and write).
    pub fn add_rule(&mut self, rule: &str) -> Result<(), String> {
        let at = rule.find("@/").ok_or_else(|| {
            format!("{rule:?}: expected USER:PASSWORD@/PATH or @/PATH (paths start with /)")
        })?;
        let (account, paths) = (&rule[..at], &rule[at + 1..]);
        if account.is_empty() {
            let grants = parse_paths(paths, Right::Read)?;
            self.anonymous.extend(grants);
            return Ok(());
        }
        let grants = parse_paths(paths, Right::Write)?;
        let (user, password) = match account.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (account, None),
        };
        if user.is_empty() {
            return Err(format!("{rule:?}: the user name is empty"));
        }
        let user: Arc<str> = user.into();
        let named_by_file = self.from_file.contains(&user);
        match (self.accounts.get_mut(&user), password) {
            // The file's account: the first rule naming it replaces "everywhere" by its paths.
            (Some(account), None) if named_by_file => {
                self.from_file.retain(|u| *u != user);
                account.grants = grants;
            }
            (Some(account), None) => account.grants.extend(grants),
            (Some(_), Some(_)) => {
                return Err(format!("{rule:?}: user {user:?} already has a password"));
            }
            (None, None) => {
                return Err(format!(
                    "{rule:?}: user {user:?} needs a password (USER:PASSWORD@PATH) \
                     or an entry in --auth-file"
                ));
            }
            (None, Some(password)) => {
                let credential =
                    Credential::parse(password).map_err(|e| format!("user {user:?}: {e}"))?;
                self.accounts.insert(user, Account { credential, grants });
            }
        }
        Ok(())
    }

    /// Adds an account from an htpasswd file: it may read and write everywhere, unless a rule
    /// names it with paths of its own (added before or after).
    pub(crate) fn add_file_account(
        &mut self,
        user: &str,
        credential: Credential,
    ) -> Result<(), String> {
        if self.accounts.contains_key(user) {
            return Err(format!("user {user:?} is defined twice"));
        }
        let user: Arc<str> = user.into();
        self.from_file.push(Arc::clone(&user));
        let everywhere = Grant {
            path: UrlPath::from_segments(Vec::new()),
            right: Right::Write,
        };
        self.accounts.insert(
            user,
            Account {
                credential,
                grants: vec![everywhere],
            },
        );
        Ok(())
    }

    /// `--auth-anon-read`: anyone may read everywhere.
    pub fn anon_read(mut self, on: bool) -> Rules {
        self.anon_read = on;
        self
    }

    /// Whether any rule exists (access control is then on, and closed where no rule opens).
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.anonymous.is_empty() && !self.anon_read
    }

    /// Whether any account has a password given in plain text.
    pub fn has_plain_passwords(&self) -> bool {
        self.accounts.values().any(|a| a.credential.is_plain())
    }

    /// Whether any account exists (credentials will then travel: TLS matters).
    pub fn has_accounts(&self) -> bool {
        !self.accounts.is_empty()
    }

    /// Every path a rule grants, anonymous or not, for the fuzz target's checks.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn granted_paths(&self) -> impl Iterator<Item = &UrlPath> {
        let accounts = self.accounts.values().flat_map(|a| &a.grants);
        self.anonymous.iter().chain(accounts).map(|g| &g.path)
    }

    /// The account named `user`.
    pub(crate) fn account(&self, user: &str) -> Option<(&Arc<str>, &Account)> {
        self.accounts.get_key_value(user)
    }

    /// Some account's credential, verified for unknown users so that they take as long.
    pub(crate) fn any_credential(&self) -> Option<&Credential> {
        // The slowest kind there is, so that no unknown user answers faster than a known one.
        self.accounts
            .values()
            .map(|a| &a.credential)
            .max_by_key(|c| !c.is_plain())
    }

    /// What `user` (`None`: anonymous) may do at `url`. The most specific path any rule
    /// names over `url` decides, as nginx's longest `location` does: the grants at that path
    /// that are the user's own or anonymous (being logged in never gives less than anonymous
    /// access there). So a folder named for some accounts is closed to everyone else, even
    /// inside a folder open to them; and `--auth-anon-read` lets anyone read everywhere.
    pub(crate) fn right(&self, user: Option<&str>, url: &UrlPath) -> Right {
        let floor = if self.anon_read {
            Right::Read
        } else {
            Right::None
        };
        let own = user.and_then(|u| self.accounts.get(u));
        let all = self.accounts.values().map(|a| a.grants.as_slice());
        let Some(depth) = std::iter::once(self.anonymous.as_slice())
            .chain(all)
            .filter_map(|grants| deepest(grants, url))
            .max()
        else {
            return floor;
        };
        let at = |grants: &[Grant]| {
            grants
                .iter()
                .filter(|g| g.path.segments().len() == depth && covers(g, url))
                .map(|g| g.right)
                .max()
                .unwrap_or(Right::None)
        };
        let own = own.map_or(Right::None, |a| at(&a.grants));
        at(&self.anonymous).max(own).max(floor)
    }

    /// Whether `user` has at least `need` at every path, so that no path needs resolving.
    /// [`right`](Rules::right) changes only at the paths the rules name, so checking the root
    /// and each of them is checking everywhere.
    pub(crate) fn everywhere(&self, user: Option<&str>, need: Right) -> bool {
        let root = UrlPath::from_segments(Vec::new());
        let named = self
            .accounts
            .values()
            .flat_map(|a| a.grants.iter())
            .chain(self.anonymous.iter())
            .map(|g| &g.path);
        std::iter::once(&root)
            .chain(named)
            .all(|path| self.right(user, path) >= need)
    }
}

/// Whether `grant` covers `url`: its path is `url`'s or an ancestor, segment by segment.
fn covers(grant: &Grant, url: &UrlPath) -> bool {
    url.segments().starts_with(grant.path.segments())
}

/// How deep the longest of `grants` covering `url` is.
fn deepest(grants: &[Grant], url: &UrlPath) -> Option<usize> {
    grants
        .iter()
        .filter(|g| covers(g, url))
        .map(|g| g.path.segments().len())
        .max()
}

/// `PATH[:rw|:ro][,PATH[:rw|:ro]…]`.
fn parse_paths(paths: &str, default: Right) -> Result<Vec<Grant>, String> {
    paths
        .split(',')
        .map(|item| {
            let (path, right) = match item.rsplit_once(':') {
                Some((path, "rw")) => (path, Right::Write),
                Some((path, "ro")) => (path, Right::Read),
                _ => (item, default),
            };
            if !path.starts_with('/') {
                return Err(format!("{item:?}: a path starts with /"));
            }
            let mut segments = Vec::new();
            for segment in path.split('/') {
                match segment {
                    "" | "." => {}
                    ".." => return Err(format!("{item:?}: a path may not hold \"..\"")),
                    _ => segments.push(segment.as_bytes().to_vec()),
                }
            }
            Ok(Grant {
                path: UrlPath::from_segments(segments),
                right,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(path: &str) -> UrlPath {
        UrlPath::parse(path)
    }

    #[test]
    fn the_most_specific_path_wins_and_the_rest_is_closed() {
        let mut rules = Rules::new();
        rules
            .add_rule("alice:pw@/docs:ro,/docs/drafts:rw")
            .expect("rule");
        assert_eq!(rules.right(Some("alice"), &url("/docs/a")), Right::Read);
        assert_eq!(
            rules.right(Some("alice"), &url("/docs/drafts/x")),
            Right::Write
        );
        assert_eq!(rules.right(Some("alice"), &url("/docsx")), Right::None);
        assert_eq!(rules.right(Some("alice"), &url("/")), Right::None);
        assert_eq!(rules.right(None, &url("/docs/a")), Right::None);
        assert_eq!(rules.right(Some("bob"), &url("/docs/a")), Right::None);
    }

    #[test]
    fn a_folder_named_for_an_account_is_closed_inside_an_open_one() {
        let mut rules = Rules::new();
        rules.add_rule("@/").expect("anonymous");
        rules.add_rule("alice:pw@/private:rw").expect("alice");
        rules.add_rule("bob:pw@/:rw").expect("bob");
        assert_eq!(rules.right(None, &url("/pub/a")), Right::Read);
        assert_eq!(rules.right(None, &url("/private/a")), Right::None);
        assert_eq!(rules.right(Some("bob"), &url("/private/a")), Right::None);
        assert_eq!(rules.right(Some("alice"), &url("/private/a")), Right::Write);
        assert_eq!(rules.right(Some("alice"), &url("/pub/a")), Right::Read);
        assert_eq!(rules.right(Some("bob"), &url("/pub/a")), Right::Write);
        assert!(!rules.everywhere(None, Right::Read));
        assert!(!rules.everywhere(Some("bob"), Right::Write));
    }

    #[test]
    fn segments_compare_as_bytes_not_case_insensitively() {
        let mut rules = Rules::new();
        rules.add_rule("@/pub").expect("rule");
        assert_eq!(rules.right(None, &url("/pub/x")), Right::Read);
        assert_eq!(rules.right(None, &url("/PUB/x")), Right::None);
        assert_eq!(rules.right(None, &url("/public")), Right::None);
    }

    #[test]
    fn anonymous_paths_default_to_read_and_users_never_get_less() {
        let mut rules = Rules::new();
        rules.add_rule("@/").expect("anonymous");
        rules.add_rule("teacher:pw@/").expect("teacher");
        assert_eq!(rules.right(None, &url("/a")), Right::Read);
        assert_eq!(rules.right(Some("teacher"), &url("/a")), Right::Write);
        assert!(rules.everywhere(None, Right::Read));
        assert!(!rules.everywhere(None, Right::Write));
        assert!(rules.everywhere(Some("teacher"), Right::Write));
    }

    #[test]
    fn anon_read_opens_reading_only() {
        let mut rules = Rules::new().anon_read(true);
        rules.add_rule("t:pw@/up:rw").expect("rule");
        assert_eq!(rules.right(None, &url("/x")), Right::Read);
        assert_eq!(rules.right(None, &url("/up/x")), Right::Read);
        assert_eq!(rules.right(Some("t"), &url("/up/x")), Right::Write);
        assert!(!rules.everywhere(Some("t"), Right::Write));
    }

    #[test]
    fn a_file_account_is_narrowed_by_a_rule_naming_it() {
        let mut rules = Rules::new();
        let credential = Credential::parse("pw").expect("credential");
        rules
            .add_file_account("alice", credential.clone())
            .expect("alice");
        rules.add_file_account("bob", credential).expect("bob");
        rules.add_rule("alice@/docs:ro").expect("narrow");
        assert_eq!(rules.right(Some("alice"), &url("/docs")), Right::Read);
        assert_eq!(rules.right(Some("alice"), &url("/other")), Right::None);
        assert_eq!(rules.right(Some("bob"), &url("/other")), Right::Write);
    }

    #[test]
    fn malformed_rules_are_refused() {
        let mut rules = Rules::new();
        for bad in [
            "alice:pw",
            "alice:pw@docs",
            ":pw@/",
            "nobody@/x",
            "a:pw@/x/../y",
        ] {
            assert!(rules.add_rule(bad).is_err(), "{bad}");
        }
        assert!(rules.add_rule("a:p@ss@/x").is_ok(), "a password may hold @");
        assert!(rules.add_rule("a:other@/y").is_err(), "a second password");
    }
}
