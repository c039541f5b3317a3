//! `--config FILE`, `SERVEUR_*` environment variables and `--print-config`. Every setting is a
//! flag of the command line: a file's key is a long flag's name (the positional port's is
//! `port`) and its value the flag's argument, so the file is turned into arguments that clap
//! parses with the flags' own types, checks and defaults. A flag added to the command line is
//! thereby a key of the file, an environment variable and a line of `--print-config` with no
//! work of its own. Precedence: the command line, then the environment, then the file, then
//! the defaults.

use std::ffi::OsString;
use std::ops::Range;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgAction, ArgMatches, Command};
use toml_edit::{Array, Document, Item, Value};

/// Flags that do something once instead of configuring the server (and clap's own): they are
/// not keys of a file, have no environment variable and are not printed by `--print-config`.
const ACTIONS: &[&str] = &[
    "help",
    "version",
    "config",
    "print_config",
    "completions",
    "man",
    "hash_password",
];

/// Why the command line and the file could not be read.
pub(crate) enum Failure {
    /// A mistake on the command line (or `--help`/`--version`), reported as clap reports it.
    Clap(clap::Error),
    /// A mistake in the file: one line naming the file, the line and column, and the key.
    File(String),
}

/// The settings a file gave, to say where a value that later fails a check came from.
#[derive(Default)]
pub(crate) struct Provenance {
    /// The file, and each key it set that the command line and environment did not override,
    /// with the key's position as "FILE:LINE:COLUMN".
    used: Vec<(String, String)>,
}

impl Provenance {
    /// `message` (as `cli` words it: "argument -H/--header: ...") prefixed with the file's
    /// position of the key it names, when that value came from the file.
    pub(crate) fn blame(&self, message: &str) -> String {
        let named = message
            .strip_prefix("argument ")
            .and_then(|rest| rest.split(':').next())
            .and_then(|flags| flags.split('/').find_map(|f| f.strip_prefix("--")));
        match named.and_then(|key| self.used.iter().find(|(used, _)| used == key)) {
            Some((key, at)) => format!("{at}: {key}: {message}"),
            None => message.to_owned(),
        }
    }
}

/// The command with an environment variable for each setting: `SERVEUR_` and the long name in
/// capitals, `-` as `_` (`SERVEUR_MAX_CONNECTIONS`). Hidden from `--help`, which says it once
/// (under `--config`), to keep Python's flags' help as it reads.
pub(crate) fn with_env(command: Command) -> Command {
    command.mut_args(|arg| {
        if !is_setting(&arg) {
            return arg;
        }
        let name = format!(
            "SERVEUR_{}",
            key(&arg).to_ascii_uppercase().replace('-', "_")
        );
        arg.env(name).hide_env(true)
    })
}

/// Parses `argv` with `command`; when it names a `--config` file, parses again with the file's
/// settings in front of the command line, leaving out each one the command line or the
/// environment already gives.
pub(crate) fn matches(
    command: &Command,
    argv: Vec<OsString>,
) -> Result<(ArgMatches, Provenance), Failure> {
    let first = command
        .clone()
        .try_get_matches_from(&argv)
        .map_err(Failure::Clap)?;
    let Some(path) = first.get_one::<PathBuf>("config").cloned() else {
        return Ok((first, Provenance::default()));
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::File(format!("{}: {e}", path.display())))?;
    let (settings, provenance) = file_arguments(command, &path, &text, &first)?;
    let mut merged = argv;
    let program = if merged.is_empty() {
        OsString::from("serveur")
    } else {
        merged.remove(0)
    };
    let merged = std::iter::once(program).chain(settings).chain(merged);
    let matches = command
        .clone()
        .try_get_matches_from(merged)
        .map_err(Failure::Clap)?;
    Ok((matches, provenance))
}

/// The file's settings as arguments (the positional port first), each checked by clap alone
/// so that a bad one is blamed on its line.
fn file_arguments(
    command: &Command,
    path: &Path,
    text: &str,
    given: &ArgMatches,
) -> Result<(Vec<OsString>, Provenance), Failure> {
    let at = |span: Option<Range<usize>>| {
        let (line, column) = line_and_column(text, span.map_or(0, |s| s.start));
        format!("{}:{line}:{column}", path.display())
    };
    let document = Document::parse(text).map_err(|e| {
        let why = e.message().lines().next().unwrap_or("invalid TOML");
        Failure::File(format!("{}: {why}", at(e.span())))
    })?;
    let table = document.as_table();
    let mut positional = Vec::new();
    let mut flags = Vec::new();
    let mut provenance = Provenance::default();
    for (name, _) in table.iter() {
        let Some((name_key, item)) = table.get_key_value(name) else {
            continue;
        };
        let position = at(name_key.span());
        let Some(arg) = command
            .get_arguments()
            .find(|arg| is_setting(arg) && key(arg) == name)
        else {
            return Err(Failure::File(format!(
                "{position}: unknown key '{name}' (keys are the long flags' names)"
            )));
        };
        if matches!(
            given.value_source(arg.get_id().as_str()),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue;
        }
        let wrong = |why: &str| Failure::File(format!("{}: {name}: {why}", at(item.span())));
        let arguments = arguments_for(arg, item).map_err(|why| wrong(&why))?;
        // Checked alone, with clap's own parser for the flag's type, so that clap's message
        // is shown with this key's position. What depends on other flags (a conflict, a
        // requirement) is judged on the whole command line below.
        let alone = std::iter::once(OsString::from("serveur")).chain(arguments.iter().cloned());
        if let Err(e) = command.clone().try_get_matches_from(alone) {
            if !matches!(
                e.kind(),
                ErrorKind::ArgumentConflict | ErrorKind::MissingRequiredArgument
            ) {
                return Err(wrong(&first_line(&e)));
            }
        }
        provenance.used.push((name.to_owned(), position));
        if arg.is_positional() {
            positional.extend(arguments);
        } else {
            flags.extend(arguments);
        }
    }
    positional.extend(flags);
    Ok((positional, provenance))
}

/// A key's TOML value as the flag's arguments: `true` is the bare flag (and `false` nothing),
/// a string or a number is the flag's argument, an array (for a repeatable flag) one argument
/// per element.
fn arguments_for(arg: &Arg, item: &Item) -> Result<Vec<OsString>, String> {
    let flag = |value: Option<String>| -> OsString {
        match (arg.get_long(), value) {
            (Some(long), Some(value)) => format!("--{long}={value}").into(),
            (Some(long), None) => format!("--{long}").into(),
            (None, value) => value.unwrap_or_default().into(),
        }
    };
    let Some(value) = item.as_value() else {
        return Err("expected a value, not a table".into());
    };
    if !arg.get_action().takes_values() {
        return match value.as_bool() {
            Some(true) => Ok(vec![flag(None)]),
            Some(false) => Ok(Vec::new()),
            None => Err("expected true or false".into()),
        };
    }
    let repeatable = matches!(arg.get_action(), ArgAction::Append);
    match value.as_array() {
        Some(values) if repeatable => values
            .iter()
            .map(|v| scalar(v).map(|text| flag(Some(text))))
            .collect(),
        Some(_) => Err("expected one value, not an array (the flag is not repeatable)".into()),
        None => Ok(vec![flag(Some(scalar(value)?))]),
    }
}

/// A string or a number as the text clap parses.
fn scalar(value: &Value) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s.value().clone()),
        Value::Integer(i) => Ok(i.value().to_string()),
        Value::Float(f) => Ok(f.value().to_string()),
        _ => Err("expected a string or a number".into()),
    }
}

/// The effective settings as a `--config` file: each one given (on the command line, in the
/// environment or in a file) as a key, each default commented out (so that a file made from
/// it follows a later version's defaults), in `--help`'s order.
pub(crate) fn print(command: &Command, matches: &ArgMatches) -> String {
    let mut out = String::from("# serveur --config FILE (written by serveur --print-config)\n");
    for arg in command.get_arguments().filter(|arg| is_setting(arg)) {
        let id = arg.get_id().as_str();
        let Some(source) = matches.value_source(id) else {
            continue;
        };
        let value: Value = if !arg.get_action().takes_values() {
            // A flag without a value is `true` in the file once set (`SERVEUR_CGI=false`, an
            // explicit false, leaves it out).
            let set = match arg.get_action() {
                ArgAction::SetTrue => matches.get_flag(id),
                _ => source != ValueSource::DefaultValue,
            };
            if !set {
                continue;
            }
            true.into()
        } else {
            let texts: Vec<String> = matches
                .get_raw(id)
                .into_iter()
                .flatten()
                .map(|raw| raw.to_string_lossy().into_owned())
                .collect();
            if matches!(arg.get_action(), ArgAction::Append) {
                Value::Array(texts.iter().map(|text| typed(text)).collect::<Array>())
            } else {
                match texts.first() {
                    Some(text) => typed(text),
                    None => continue,
                }
            }
        };
        let comment = if source == ValueSource::DefaultValue {
            "# "
        } else {
            ""
        };
        out.push_str(&format!(
            "{comment}{} = {}\n",
            key(arg),
            value.decorated("", "")
        ));
    }
    out
}

/// A number stays a number (`port = 8000`) when it reads back as the same text; anything
/// else is a string.
fn typed(text: &str) -> Value {
    if let Ok(integer) = text.parse::<i64>() {
        if integer.to_string() == text {
            return integer.into();
        }
    }
    text.into()
}

/// Whether `arg` is a setting (a key, an environment variable, a printed line).
fn is_setting(arg: &Arg) -> bool {
    !ACTIONS.contains(&arg.get_id().as_str())
}

/// An argument's key: its long name, or its id for the positional port.
fn key(arg: &Arg) -> &str {
    arg.get_long().unwrap_or(arg.get_id().as_str())
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The first line of clap's message, without its `error: `: the CLI's errors are one line.
pub(crate) fn first_line(error: &clap::Error) -> String {
    let rendered = error.to_string();
    let first = rendered.lines().next().unwrap_or("invalid arguments");
    first.trim_start_matches("error: ").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 6), (2, 1));
        assert_eq!(line_and_column(text, text.find('=').unwrap_or(0)), (1, 3));
        assert_eq!(line_and_column(text, 11), (2, 5));
    }

    #[test]
    fn numbers_stay_numbers_only_when_they_read_back_the_same() {
        assert_eq!(typed("8000").to_string(), "8000");
        assert_eq!(typed("007").to_string(), "\"007\"");
        assert_eq!(typed("2.5").to_string(), "\"2.5\"");
        assert_eq!(typed("::").to_string(), "\"::\"");
    }
}
