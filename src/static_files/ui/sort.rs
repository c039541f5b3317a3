//! The rich page's order: asked for in the query (`?sort=name|size|time&order=asc|desc`, so
//! the links that choose it work without JavaScript), directories always first, and names in
//! natural order (`file2` before `file10`), without regard to case.

use std::ops::Range;

/// The column a listing is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
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
pub(crate) struct Sort {
    pub key: Key,
    pub descending: bool,
}

impl Sort {
    /// From the query: unknown or missing values mean name, ascending (the page's default).
    pub(crate) fn from_query(query: Option<&str>) -> Sort {
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

/// Appends to `keys` the natural-order key of `name` (already lower-cased, so that the order
/// ignores case) and returns where it landed. Keys compare as bytes (one `memcmp`) in the order
/// of the natural order (checked against a plain reading of it in the tests): a run of ASCII digits compares by its value (leading zeros
/// ignored), then the shorter spelling first (`1` before `01`); everything else by byte, which
/// for UTF-8 is by code point. A sort compares each name about log₂(n) times: encoding it once
/// costs less than reading its digits at every comparison (callgrind, 10,000 names: the sort
/// went from about half of a listing's instructions to a few percent).
///
/// A run is written as `0` (any digit byte compares with a non-digit as every digit does),
/// the count of its significant digits (4 bytes, big-endian), those digits, and the run's whole
/// length (4 bytes, big-endian). Two keys that reach a run at the same place are aligned, so the
/// fields compare one against the other.
pub(super) fn push_natural_key(keys: &mut Vec<u8>, name: &str) -> Range<usize> {
    let start = keys.len();
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            keys.push(bytes[i]);
            i += 1;
            continue;
        }
        let end = bytes[i..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .map_or(bytes.len(), |n| i + n);
        let run = &bytes[i..end];
        let significant = &run[run.iter().take_while(|&&d| d == b'0').count()..];
        keys.push(b'0');
        keys.extend_from_slice(&length(significant.len()));
        keys.extend_from_slice(significant);
        keys.extend_from_slice(&length(run.len()));
        i = end;
    }
    start..keys.len()
}

/// A run's length as 4 big-endian bytes (a name is at most 255 bytes on Linux; saturated).
fn length(n: usize) -> [u8; 4] {
    u32::try_from(n).unwrap_or(u32::MAX).to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    use proptest::prelude::*;

    /// The natural order read in place, the reference the keys are checked against: runs of
    /// ASCII digits compare by their value (leading zeros ignored, then the shorter spelling
    /// first), everything else by byte.
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

    fn key(name: &str) -> Vec<u8> {
        let mut keys = Vec::new();
        let range = push_natural_key(&mut keys, name);
        keys[range].to_vec()
    }

    #[test]
    fn keys_compare_as_the_names_do() {
        let names = [
            "file10",
            "file2",
            "file1",
            "file02",
            "file",
            "a",
            "file1b",
            "file1a",
            "10",
            "9",
            "x123456789012345678901234567890",
            "x99",
            "é2",
            "é10",
            "z",
            "é",
            "0",
            "00",
            "a0b",
            "a00b",
            "a-1",
            "a.1",
            "a/1",
            "a:1",
            "",
        ];
        for a in names {
            for b in names {
                assert_eq!(key(a).cmp(&key(b)), natural(a, b), "{a:?} {b:?}");
            }
        }
    }

    proptest! {
        #[test]
        fn keys_compare_as_natural_does(a in "[a0-9./:é]{0,12}", b in "[a0-9./:é]{0,12}") {
            prop_assert_eq!(key(&a).cmp(&key(&b)), natural(&a, &b));
        }
    }

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
