//! A line-based reader for the part of OBO 1.4 that filters need: `[Term]` stanzas with their
//! `id`, `name`, `is_a`, `alt_id`, `is_obsolete` and `replaced_by` tags, plus the header's
//! `data-version`. Every other tag and stanza type is skipped, so files from newer releases
//! that add tags still load. Ids are normalised (`Orphanet:558` → `ORPHA:558`) as they are
//! read, so the rest of the crate only sees one spelling.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::OntologyError;
use crate::ontology::normalise_curie;

/// Largest ontology file Phare reads: the full HPO, Mondo and ORDO files are well under it,
/// and it keeps a hostile or mistaken path (a disk image, `/dev/zero`) from exhausting memory.
pub const MAX_FILE_BYTES: u64 = 200 * 1024 * 1024;

/// Longest line Phare reads. Real OBO lines (long `def:` texts included) stay under a few
/// kilobytes; the limit bounds the line buffer when a file has no line breaks at all.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One `[Term]` stanza as read, before it joins an ontology.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ParsedTerm {
    pub id: String,
    pub label: Option<String>,
    pub parents: Vec<String>,
    pub alt_ids: Vec<String>,
    pub obsolete: bool,
    pub replaced_by: Vec<String>,
}

/// What one OBO file holds for Phare.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ParsedFile {
    pub data_version: Option<String>,
    pub terms: Vec<ParsedTerm>,
}

/// Reads a file line by line, never holding more than one line of it at a time.
pub(crate) fn read_file(path: &Path) -> Result<ParsedFile, OntologyError> {
    let io_error = |source| OntologyError::Io {
        path: path.to_owned(),
        source,
    };
    let too_large = || OntologyError::TooLarge {
        path: path.to_owned(),
        limit: MAX_FILE_BYTES,
    };
    let file = File::open(path).map_err(io_error)?;
    if file.metadata().map_err(io_error)?.len() > MAX_FILE_BYTES {
        return Err(too_large());
    }
    // The metadata check is not enough on its own: the file may grow while it is read, or be
    // a device whose length reads as 0.
    let mut reader = BufReader::new(file.take(MAX_FILE_BYTES + 1));
    let origin = path.display().to_string();
    let mut parser = OboParser::new(&origin);
    let mut buffer = Vec::new();
    let mut bytes_read: u64 = 0;
    let mut line_number = 0;
    loop {
        buffer.clear();
        // Two bytes beyond the limit leave room for "\r\n", so a line of exactly the limit
        // is accepted and a longer one is cut short and refused below.
        let read = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 2)
            .read_until(b'\n', &mut buffer)
            .map_err(io_error)?;
        if read == 0 {
            break;
        }
        bytes_read += read as u64;
        if bytes_read > MAX_FILE_BYTES {
            return Err(too_large());
        }
        line_number += 1;
        let content = strip_line_end(&buffer);
        if content.len() > MAX_LINE_BYTES {
            return Err(OntologyError::LineTooLong {
                origin,
                line: line_number,
                limit: MAX_LINE_BYTES,
            });
        }
        let Ok(line) = std::str::from_utf8(content) else {
            return Err(parser.error(line_number, "expected UTF-8 text".to_owned()));
        };
        parser.feed(line_number, line)?;
    }
    parser.finish()
}

/// Reads OBO text already in memory, with the same line limit as files.
pub(crate) fn read_text(origin: &str, text: &str) -> Result<ParsedFile, OntologyError> {
    let mut parser = OboParser::new(origin);
    for (index, line) in text.split('\n').enumerate() {
        let line_number = index + 1;
        let content = line.strip_suffix('\r').unwrap_or(line);
        if content.len() > MAX_LINE_BYTES {
            return Err(OntologyError::LineTooLong {
                origin: origin.to_owned(),
                line: line_number,
                limit: MAX_LINE_BYTES,
            });
        }
        parser.feed(line_number, content)?;
    }
    parser.finish()
}

fn strip_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The stanza being read.
enum Stanza {
    /// A `[Term]` stanza and the line of its header, for errors about the whole stanza.
    Term { term: ParsedTerm, line: usize },
    /// `[Typedef]`, `[Instance]` or any other stanza type: skipped.
    Skipped,
}

struct OboParser<'a> {
    origin: &'a str,
    file: ParsedFile,
    /// `None` while in the header, before the first stanza.
    stanza: Option<Stanza>,
}

impl<'a> OboParser<'a> {
    fn new(origin: &'a str) -> Self {
        Self {
            origin,
            file: ParsedFile::default(),
            stanza: None,
        }
    }

    fn error(&self, line: usize, message: String) -> OntologyError {
        OntologyError::Syntax {
            origin: self.origin.to_owned(),
            line,
            message,
        }
    }

    fn feed(&mut self, line_number: usize, line: &str) -> Result<(), OntologyError> {
        let line = if line_number == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('!') {
            return Ok(());
        }
        if trimmed.starts_with('[') {
            return self.open_stanza(line_number, trimmed);
        }
        let Some((tag, value)) = trimmed.split_once(':') else {
            return Err(self.error(
                line_number,
                format!(
                    "expected `tag: value` or a stanza header, found `{}`",
                    excerpt(trimmed)
                ),
            ));
        };
        let tag = tag.trim();
        if tag.is_empty() || tag.contains(char::is_whitespace) {
            return Err(self.error(
                line_number,
                format!("expected a tag name before `:`, found `{}`", excerpt(tag)),
            ));
        }
        let value = value.trim();
        match self.stanza.take() {
            None => {
                if tag == "data-version" {
                    self.file.data_version = Some(self.text_value(line_number, tag, value)?);
                }
            }
            Some(Stanza::Skipped) => self.stanza = Some(Stanza::Skipped),
            Some(Stanza::Term { mut term, line }) => {
                self.term_tag(line_number, &mut term, tag, value)?;
                self.stanza = Some(Stanza::Term { term, line });
            }
        }
        Ok(())
    }

    fn open_stanza(&mut self, line_number: usize, header: &str) -> Result<(), OntologyError> {
        let Some(name) = header
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .map(str::trim)
            .filter(|name| !name.is_empty())
        else {
            return Err(self.error(
                line_number,
                format!(
                    "expected a stanza header such as `[Term]`, found `{}`",
                    excerpt(header)
                ),
            ));
        };
        self.close_stanza()?;
        self.stanza = Some(if name == "Term" {
            Stanza::Term {
                term: ParsedTerm::default(),
                line: line_number,
            }
        } else {
            Stanza::Skipped
        });
        Ok(())
    }

    fn close_stanza(&mut self) -> Result<(), OntologyError> {
        let Some(Stanza::Term { term, line }) = self.stanza.take() else {
            return Ok(());
        };
        if term.id.is_empty() {
            return Err(self.error(
                line,
                "expected an `id:` tag in the [Term] stanza that starts here".to_owned(),
            ));
        }
        self.file.terms.push(term);
        Ok(())
    }

    fn finish(mut self) -> Result<ParsedFile, OntologyError> {
        self.close_stanza()?;
        Ok(self.file)
    }

    fn term_tag(
        &self,
        line_number: usize,
        term: &mut ParsedTerm,
        tag: &str,
        value: &str,
    ) -> Result<(), OntologyError> {
        match tag {
            "id" => {
                if !term.id.is_empty() {
                    return Err(self.error(
                        line_number,
                        format!(
                            "expected one `id:` per stanza, found a second one after `{}`",
                            term.id
                        ),
                    ));
                }
                term.id = self.id_value(line_number, tag, value)?;
            }
            "name" => {
                if term.label.is_some() {
                    return Err(self.error(
                        line_number,
                        "expected one `name:` per stanza, found a second one".to_owned(),
                    ));
                }
                term.label = Some(self.text_value(line_number, tag, value)?);
            }
            "is_a" => term.parents.push(self.id_value(line_number, tag, value)?),
            "alt_id" => term.alt_ids.push(self.id_value(line_number, tag, value)?),
            "replaced_by" => term.replaced_by.push(self.id_value(line_number, tag, value)?),
            "is_obsolete" => {
                term.obsolete = match self.text_value(line_number, tag, value)?.as_str() {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(self.error(
                            line_number,
                            format!(
                                "expected `true` or `false` after `is_obsolete:`, found `{}`",
                                excerpt(other)
                            ),
                        ));
                    }
                };
            }
            _ => {}
        }
        Ok(())
    }

    /// An identifier: one token, before any trailing qualifier block `{…}` or `! comment`.
    fn id_value(&self, line_number: usize, tag: &str, value: &str) -> Result<String, OntologyError> {
        let text = self.text_value(line_number, tag, value)?;
        let mut tokens = text.split_whitespace();
        let (Some(id), None) = (tokens.next(), tokens.next()) else {
            return Err(self.error(
                line_number,
                format!(
                    "expected one identifier after `{tag}:`, found `{}`",
                    excerpt(&text)
                ),
            ));
        };
        Ok(normalise_curie(id))
    }

    /// A value with its escapes resolved, its `! comment` and trailing `{qualifiers}` removed.
    fn text_value(&self, line_number: usize, tag: &str, value: &str) -> Result<String, OntologyError> {
        let unescaped = unescape(value).map_err(|message| self.error(line_number, message))?;
        if unescaped.is_empty() {
            return Err(self.error(line_number, format!("expected a value after `{tag}:`")));
        }
        Ok(unescaped)
    }
}

/// Resolves OBO escapes and cuts the value at its first unescaped `!` (a comment) or `{`
/// (trailing qualifiers), which Phare does not use.
fn unescape(value: &str) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(character) = chars.next() {
        match character {
            '!' | '{' => break,
            '\\' => {
                let Some(escaped) = chars.next() else {
                    return Err("expected a character after `\\` at the end of the line".to_owned());
                };
                out.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'W' => ' ',
                    other => other,
                });
            }
            other => out.push(other),
        }
    }
    Ok(out.trim().to_owned())
}

/// The start of a text quoted in an error, so a hostile line does not end up whole in logs.
fn excerpt(text: &str) -> String {
    const MAX_CHARS: usize = 80;
    let mut chars = text.chars();
    let start: String = chars.by_ref().take(MAX_CHARS).collect();
    if chars.next().is_some() {
        format!("{start}…")
    } else {
        start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syntax_error(text: &str) -> (usize, String) {
        match read_text("test.obo", text) {
            Err(OntologyError::Syntax {
                origin,
                line,
                message,
            }) => {
                assert_eq!(origin, "test.obo");
                (line, message)
            }
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_tags_filters_need_and_skips_the_rest() {
        let text = "format-version: 1.2\ndata-version: hp/releases/2024-04-26\n\
            ontology: hp\n\n[Term]\nid: HP:0002069\nname: Bilateral tonic-clonic seizure ! comment\n\
            def: \"A seizure! with quotes\" [PMID:1]\nalt_id: HP:0002193\n\
            is_a: HP:0001250 {source=\"x\"} ! Seizure\nxref: UMLS:C0494475\n\n\
            [Typedef]\nid: part_of\nname: part of\nis_a: something\n";
        let file = read_text("hp.obo", text).unwrap();
        assert_eq!(file.data_version.as_deref(), Some("hp/releases/2024-04-26"));
        assert_eq!(
            file.terms,
            [ParsedTerm {
                id: "HP:0002069".to_owned(),
                label: Some("Bilateral tonic-clonic seizure".to_owned()),
                parents: vec!["HP:0001250".to_owned()],
                alt_ids: vec!["HP:0002193".to_owned()],
                obsolete: false,
                replaced_by: vec![],
            }]
        );
    }

    #[test]
    fn resolves_escapes_line_ends_and_a_byte_order_mark() {
        let text = "\u{feff}[Term]\r\nid: X:1\r\nname: a\\Wb\\!c\\{d\\}\\\\e ! comment\r\n";
        let file = read_text("t.obo", text).unwrap();
        assert_eq!(file.terms[0].label.as_deref(), Some("a b!c{d}\\e"));
    }

    #[test]
    fn normalises_prefixes_while_reading() {
        let file = read_text("ordo.obo", "[Term]\nid: Orphanet:558\nis_a: orphanet:98053\n").unwrap();
        assert_eq!(file.terms[0].id, "ORPHA:558");
        assert_eq!(file.terms[0].parents, ["ORPHA:98053"]);
    }

    #[test]
    fn malformed_stanzas_name_the_line_and_what_was_expected() {
        let (line, message) = syntax_error("[Term]\nid: X:1\nname: one\njust some words\n");
        assert_eq!(line, 4);
        assert!(message.starts_with("expected `tag: value`"), "{message}");

        let (line, message) = syntax_error("[Term]\nid: X:1\n\n[Term\nid: X:2\n");
        assert_eq!(line, 4);
        assert!(message.starts_with("expected a stanza header"), "{message}");

        let (line, message) = syntax_error("[Term]\nid: X:1\n\n[Term]\nname: no id\n\n[Term]\nid: X:3\n");
        assert_eq!(
            (line, message.as_str()),
            (4, "expected an `id:` tag in the [Term] stanza that starts here")
        );

        let (line, message) = syntax_error("[Term]\nid: X:1\nid: X:2\n");
        assert_eq!(line, 3);
        assert!(message.contains("second one"), "{message}");

        let (line, message) = syntax_error("[Term]\nid: X:1\nis_a: X:2 X:3\n");
        assert_eq!(line, 3);
        assert!(
            message.starts_with("expected one identifier after `is_a:`"),
            "{message}"
        );

        let (line, message) = syntax_error("[Term]\nid: X:1\nis_a:\n");
        assert_eq!((line, message.as_str()), (3, "expected a value after `is_a:`"));

        let (line, message) = syntax_error("[Term]\nid: X:1\nis_obsolete: maybe\n");
        assert_eq!(line, 3);
        assert!(message.starts_with("expected `true` or `false`"), "{message}");

        let (line, message) = syntax_error("[Term]\nid: X:1\nname: trailing \\\n");
        assert_eq!(line, 3);
        assert!(message.starts_with("expected a character after"), "{message}");
    }

    #[test]
    fn refuses_a_line_over_the_limit() {
        let text = format!("[Term]\nid: X:1\ndef: \"{}\"\n", "a".repeat(MAX_LINE_BYTES));
        match read_text("long.obo", &text) {
            Err(OntologyError::LineTooLong { line, .. }) => assert_eq!(line, 3),
            other => panic!("expected a line-length error, got {other:?}"),
        }
    }
}
