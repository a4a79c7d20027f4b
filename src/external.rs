//! Terraform's `external` data source protocol: one JSON object of strings on stdin, one
//! JSON object of strings on stdout, and on failure nothing on stdout, a message on stderr
//! (Terraform shows it verbatim) and a non-zero exit. Any failure fails the whole data
//! source: a guessed or stale digest must never reach a plan.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use crate::exit;
use crate::reference::Reference;
use crate::resolver::{Resolver, SettingsError};

/// Output options.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Map keys to `NAME@sha256:…`.
    pub strip_tag: bool,
    /// Map keys to the bare `sha256:…`.
    pub digest_only: bool,
}

/// Why a query cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum ExternalError {
    /// Nothing on stdin.
    #[error(
        "expected the data source query as a JSON object on stdin, got nothing: run tf-pin external from a `data \"external\"` block, or pipe e.g. '{{\"app\": \"nginx:1.25\"}}' into it"
    )]
    EmptyInput,
    /// Stdin is not JSON.
    #[error(
        "the query on stdin is not valid JSON ({0}): pass a JSON object such as {{\"app\": \"nginx:1.25\"}}"
    )]
    InvalidJson(String),
    /// Stdin is JSON but not an object.
    #[error("the query on stdin must be a JSON object mapping names to image references, got {0}")]
    NotAnObject(&'static str),
    /// A query value is not a string.
    #[error("query key {key:?}: the value must be a string image reference, got {found}")]
    NotAString {
        /// The key.
        key: String,
        /// JSON type found.
        found: &'static str,
    },
    /// A query value is not a valid reference.
    #[error("query key {key:?}: {source}")]
    InvalidReference {
        /// The key.
        key: String,
        /// The grammar error.
        source: crate::reference::ReferenceError,
    },
    /// Resolution failed.
    #[error("query key {key:?}: {source}")]
    Registry {
        /// The key.
        key: String,
        /// The registry error (names the reference).
        source: crate::registry::RegistryError,
    },
    /// Settings unusable.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// Stdin unreadable.
    #[error("cannot read the query from stdin: {0}")]
    Stdin(std::io::Error),
}

impl ExternalError {
    fn exit_code(&self) -> i32 {
        match self {
            ExternalError::Registry { source, .. } => source.exit_code(),
            _ => exit::INPUT,
        }
    }
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Parses the query into (key, reference) pairs, collecting every bad entry.
pub fn parse_query(input: &[u8]) -> Result<Vec<(String, Reference)>, Vec<ExternalError>> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Err(vec![ExternalError::EmptyInput]);
    }
    let value: serde_json::Value = serde_json::from_slice(input)
        .map_err(|e| vec![ExternalError::InvalidJson(e.to_string())])?;
    let serde_json::Value::Object(map) = value else {
        return Err(vec![ExternalError::NotAnObject(json_type(&value))]);
    };
    let mut pairs = Vec::with_capacity(map.len());
    let mut errors = Vec::new();
    for (key, value) in map {
        match value {
            serde_json::Value::String(text) => match Reference::parse(&text) {
                Ok(reference) => pairs.push((key, reference)),
                Err(source) => errors.push(ExternalError::InvalidReference { key, source }),
            },
            other => errors.push(ExternalError::NotAString {
                key,
                found: json_type(&other),
            }),
        }
    }
    if errors.is_empty() {
        Ok(pairs)
    } else {
        Err(errors)
    }
}

/// Runs the protocol. The resolver is built only when there is something to resolve.
pub fn run(
    options: &Options,
    make_resolver: impl FnOnce() -> Result<Resolver, SettingsError>,
    stdin: &mut dyn Read,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    match answer(options, make_resolver, stdin) {
        Ok(result) => {
            let mut text = serde_json::Value::from(serde_json::Map::from_iter(
                result
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v))),
            ))
            .to_string();
            text.push('\n');
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                Ok(()) => exit::OK,
                Err(error) => {
                    let _ = writeln!(
                        stderr,
                        "tf-pin: error: cannot write the result to stdout: {error}"
                    );
                    exit::INPUT
                }
            }
        }
        Err(errors) => {
            for error in &errors {
                let _ = writeln!(stderr, "tf-pin: error: {error}");
            }
            errors
                .iter()
                .map(ExternalError::exit_code)
                .max()
                .unwrap_or(exit::INPUT)
        }
    }
}

fn answer(
    options: &Options,
    make_resolver: impl FnOnce() -> Result<Resolver, SettingsError>,
    stdin: &mut dyn Read,
) -> Result<BTreeMap<String, String>, Vec<ExternalError>> {
    let mut input = Vec::new();
    stdin
        .read_to_end(&mut input)
        .map_err(|e| vec![ExternalError::Stdin(e)])?;
    let pairs = parse_query(&input)?;
    if pairs.is_empty() {
        return Ok(BTreeMap::new());
    }
    let resolver = make_resolver().map_err(|e| vec![ExternalError::from(e)])?;
    let references: Vec<Reference> = pairs.iter().map(|(_, r)| r.clone()).collect();
    let results = resolver.resolve_many(&references);
    let mut answer = BTreeMap::new();
    let mut errors = Vec::new();
    for ((key, reference), result) in pairs.into_iter().zip(results) {
        match result {
            Ok(resolution) if options.digest_only => {
                answer.insert(key, resolution.digest.to_string());
            }
            Ok(resolution) => {
                answer.insert(key, reference.pinned(&resolution.digest, options.strip_tag));
            }
            Err(source) => errors.push(ExternalError::Registry { key, source }),
        }
    }
    if errors.is_empty() {
        Ok(answer)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bad_queries_naming_the_key() {
        let table: &[(&str, &[&str])] = &[
            ("", &["got nothing"]),
            (" \n", &["got nothing"]),
            ("{", &["not valid JSON"]),
            ("[]", &["got an array"]),
            ("\"x\"", &["got a string"]),
            (
                r#"{"app": 1}"#,
                &[r#"query key "app": the value must be a string image reference, got a number"#],
            ),
            (
                r#"{"a": null, "b": "Bad:Ref"}"#,
                &[
                    r#"query key "a""#,
                    r#"query key "b": invalid image reference"#,
                ],
            ),
        ];
        for (input, expected) in table {
            let errors = parse_query(input.as_bytes()).expect_err(input);
            let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
            for (want, got) in expected.iter().zip(&text) {
                assert!(got.contains(want), "{input:?}: {got:?} lacks {want:?}");
            }
            assert_eq!(expected.len(), text.len(), "{input:?}: {text:?}");
        }
    }

    #[test]
    fn empty_object_needs_no_registry() {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let code = run(
            &Options::default(),
            || panic!("no resolver needed"),
            &mut &b"{}"[..],
            &mut out,
            &mut err,
        );
        assert_eq!(
            (code, out.as_slice(), err.as_slice()),
            (0, &b"{}\n"[..], &b""[..])
        );
    }
}
