//! The rich page's order: asked for in the query (`?sort=name|size|time&order=asc|desc`, so
//! the links that choose it work without JavaScript), directories always first, and names in
//! natural order (`file2` before `file10`), without regard to case.

use std::cmp::Ordering;

/// The column a listing is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    Name,
    Size,
    Time,
}

impl Key {
    pub(super) const ALL: [Key; 3] = [Key::Name, Key::Size, Key::Time];

    /// Its name in the query.
    pub(super) fn token(self) -> &'static str {
        match self {
            Key::Name => "name",
            Key::Size => "size",
            Key::Time => "time",
        }
    }
}

/// The order a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sort {
    pub key: Key,
    pub descending: bool,
}

impl Sort {
    /// From the query: unknown or missing values mean name, ascending (the page's default).
    pub(super) fn from_query(query: Option<&str>) -> Sort {
        let mut sort = Sort {
            key: Key::Name,
            descending: false,
        };
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match (&*name, &*value) {
                ("sort", token) => {
                    if let Some(key) = Key::ALL.into_iter().find(|k| k.token() == token) {
                        sort.key = key;
                    }
                }
                ("order", "desc") => sort.descending = true,
                ("order", "asc") => sort.descending = false,
                _ => {}
            }
        }
        sort
    }

    /// The order a column's link asks for: the other direction for the current column, else
    /// ascending for names and descending (largest, newest first) for sizes and times.
    pub(super) fn link_for(self, key: Key) -> Sort {
        let descending = if key == self.key {
            !self.descending
        } else {
            key != Key::Name
        };
        Sort { key, descending }
    }
}

/// Compares two names in natural order: runs of ASCII digits compare by their value (leading
/// zeros ignored, then the shorter spelling first), everything else by character. Callers pass
/// names already lower-cased, so that the order ignores case.
pub(super) fn natural(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (a_end, b_end) = (digits_end(a, i), digits_end(b, j));
            let (a_num, b_num) = (trim_zeros(&a[i..a_end]), trim_zeros(&b[j..b_end]));
            // Equal length digit strings compare as numbers do; a longer one is larger.
            let by_value = a_num.len().cmp(&b_num.len()).then_with(|| a_num.cmp(b_num));
            // `01` after `1`: the same value, the shorter spelling first.
            let by_spelling = (a_end - i).cmp(&(b_end - j));
            match by_value.then(by_spelling) {
                Ordering::Equal => (i, j) = (a_end, b_end),
                unequal => return unequal,
            }
        } else {
            // Bytes of UTF-8 compare as their code points do.
            match a[i].cmp(&b[j]) {
                Ordering::Equal => (i, j) = (i + 1, j + 1),
                unequal => return unequal,
            }
        }
    }
    (a.len() - i).cmp(&(b.len() - j))
}

fn digits_end(bytes: &[u8], start: usize) -> usize {
    bytes[start..]
        .iter()
        .position(|b| !b.is_ascii_digit())
        .map_or(bytes.len(), |n| start + n)
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let zeros = digits.iter().take_while(|&&d| d == b'0').count();
    &digits[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_by_value() {
        let mut names = vec![
            "file10", "file2", "file1", "file02", "file", "a", "file1b", "file1a", "10", "9",
        ];
        names.sort_by(|a, b| natural(a, b));
        assert_eq!(
            names,
            ["9", "10", "a", "file", "file1", "file1a", "file1b", "file2", "file02", "file10"]
        );
    }

    #[test]
    fn long_numbers_do_not_overflow() {
        let big = "x123456789012345678901234567890";
        let bigger = "x123456789012345678901234567891";
        assert_eq!(natural(big, bigger), Ordering::Less);
        assert_eq!(natural(bigger, "x99"), Ordering::Greater);
        assert_eq!(natural(big, big), Ordering::Equal);
    }

    #[test]
    fn non_ascii_names_compare_by_code_point() {
        assert_eq!(natural("é2", "é10"), Ordering::Less);
        assert_eq!(natural("z", "é"), Ordering::Less);
    }

    #[test]
    fn the_query_chooses_the_order_and_links_toggle_it() {
        let sort = Sort::from_query(Some("sort=size&order=desc"));
        assert_eq!((sort.key, sort.descending), (Key::Size, true));
        let default = Sort::from_query(Some("sort=bogus&order=sideways"));
        assert_eq!((default.key, default.descending), (Key::Name, false));
        assert_eq!(Sort::from_query(None), default);
        assert!(default.link_for(Key::Name).descending);
        assert!(default.link_for(Key::Time).descending);
        assert!(!sort.link_for(Key::Size).descending);
        assert!(!sort.link_for(Key::Name).descending);
    }
}
