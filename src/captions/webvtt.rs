//! Reading caption files: WebVTT as uploaded, or SRT converted to WebVTT,
//! parsed by `subcue` and held to what players need.
//!
//! `subcue` is lenient: it recovers from much and reports it as warnings.
//! A caption file here is refused (naming the line) for anything a player
//! would read otherwise than the author meant: a timestamp that does not
//! parse, minutes or seconds past 59, a cue that ends before it starts, text
//! outside a cue, `-->` on a line that is not a timing line, no cue at all.
//! What is kept is written back as one normalized WebVTT file, so what is
//! stored is what every segment is cut from.

use std::fmt::Write as _;

use subcue::{Error as ParseError, Format, VttBlockKind, Warning};

/// What the uploader said the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    WebVtt,
    SubRip,
}

/// One timed cue, in milliseconds of the video's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub id: Option<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    /// WebVTT cue settings (`align:start …`), as written.
    pub settings: Option<String>,
    /// WebVTT cue text: one or more lines, none blank.
    pub text: String,
}

/// A caption track ready to store or to cut into segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captions {
    /// `STYLE` and `REGION` blocks, which belong before the first cue of
    /// every file (and so of every segment).
    pub blocks: Vec<String>,
    pub cues: Vec<Cue>,
}

/// Why a caption file was refused; `line` is 1-based, as an editor shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptionsError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("{0}")]
    File(String),
}

fn at(line: usize, reason: impl Into<String>) -> CaptionsError {
    CaptionsError::Line {
        line,
        reason: reason.into(),
    }
}

/// Parses and checks `bytes`; SRT comes back converted to WebVTT.
pub fn parse(bytes: &[u8], format: SourceFormat) -> Result<Captions, CaptionsError> {
    let parsed = match format {
        SourceFormat::WebVtt => subcue::parse_vtt(bytes),
        SourceFormat::SubRip => subcue::parse_srt(bytes),
    }
    .map_err(|e| fatal(e, bytes))?;
    // The crate's checks are per block; these are per line, and name the
    // line of a cue that ends before it starts (the crate counts cues).
    let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
        .map_err(|_| CaptionsError::File("the file is not UTF-8".into()))?;
    check_lines(text, format)?;
    for warning in &parsed.warnings {
        refuse_warning(warning)?;
    }
    let vtt = match format {
        SourceFormat::WebVtt => parsed,
        SourceFormat::SubRip => parsed.convert(Format::Vtt),
    };
    let blocks = vtt
        .header
        .blocks
        .iter()
        .filter(|b| {
            b.cue_index == 0 && matches!(b.kind, VttBlockKind::Style | VttBlockKind::Region)
        })
        .map(|b| b.raw.clone())
        .collect();
    let cues = vtt
        .cues
        .into_iter()
        .map(|c| Cue {
            id: c.id.filter(|id| !id.trim().is_empty()),
            start_ms: c.start.0.max(0),
            end_ms: c.end.0.max(0),
            settings: match format {
                SourceFormat::WebVtt => c.settings.filter(|s| !s.trim().is_empty()),
                // SRT's coordinates (`X1:…`) mean nothing to WebVTT.
                SourceFormat::SubRip => None,
            },
            // A blank line would end the cue in the file written back.
            text: c
                .text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .collect::<Vec<_>>()
                .join("\n"),
        })
        .collect();
    Ok(Captions { blocks, cues })
}

/// The crate's fatal errors, each with its line.
fn fatal(err: ParseError, bytes: &[u8]) -> CaptionsError {
    match err {
        ParseError::Utf16Input => CaptionsError::File("the file is UTF-16; send UTF-8".into()),
        ParseError::InvalidUtf8 { offset } => {
            let line = 1 + bytes[..offset.min(bytes.len())]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            at(line, "not UTF-8")
        }
        ParseError::TimeOutOfRange { line } => at(line, "a time is out of range"),
        ParseError::NegativeTime { line } => at(line, "a time is negative"),
        ParseError::InvalidTimestamp { line } => at(line, "a timestamp does not parse"),
        ParseError::MissingArrow { line } => at(line, "a timing line without `-->`"),
        ParseError::MissingHeader { line, .. } => at(line, "a WebVTT file starts with `WEBVTT`"),
        ParseError::NotAss { line } => at(line, "not a caption file"),
        ParseError::Io(e) => CaptionsError::File(format!("unreadable: {e}")),
    }
}

/// Warnings that mean a player would not show what the author meant.
fn refuse_warning(warning: &Warning) -> Result<(), CaptionsError> {
    match warning {
        Warning::ComponentOutOfRange { line } => Err(at(*line, "minutes or seconds past 59")),
        Warning::StrayText { line } => Err(at(*line, "text outside a cue")),
        Warning::NoCues => Err(CaptionsError::File("the file has no cues".into())),
        // Located by `check_lines` first; this is the backstop.
        Warning::EndBeforeStart { cue } => Err(CaptionsError::File(format!(
            "cue {cue} ends before it starts"
        ))),
        _ => Ok(()),
    }
}

/// Physical lines as `subcue` numbers them (LF, CRLF or CR end a line).
fn physical_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text;
    let mut number = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        number += 1;
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let line = &rest[..end];
        let skip = if rest[end..].starts_with("\r\n") {
            2
        } else {
            usize::from(end < rest.len())
        };
        rest = &rest[end + skip..];
        Some((number, line))
    })
}

/// A line holding `-->` must be a timing line whose cue does not end before
/// it starts; in WebVTT, never inside a `NOTE`, `STYLE` or `REGION` block.
fn check_lines(text: &str, format: SourceFormat) -> Result<(), CaptionsError> {
    let mut in_metadata = false;
    let mut block_start = true;
    for (number, line) in physical_lines(text) {
        if line.trim().is_empty() {
            block_start = true;
            in_metadata = false;
            continue;
        }
        if block_start && format == SourceFormat::WebVtt {
            let first = line.split([' ', '\t']).next().unwrap_or("");
            in_metadata = matches!(first, "NOTE" | "STYLE" | "REGION");
        }
        block_start = false;
        if !line.contains("-->") {
            continue;
        }
        if in_metadata {
            return Err(at(number, "`-->` inside a NOTE, STYLE or REGION block"));
        }
        let (start, end) = timing(line).ok_or_else(|| at(number, "`-->` outside a timing line"))?;
        if end < start {
            return Err(at(number, "the cue ends before it starts"));
        }
    }
    Ok(())
}

/// Start and end of a timing line, read by the crate on its own.
fn timing(line: &str) -> Option<(i64, i64)> {
    let probe = format!("WEBVTT\n\n{line}\nx\n");
    let parsed = subcue::parse_vtt(probe.as_bytes()).ok()?;
    match parsed.cues.as_slice() {
        [cue]
            if !parsed
                .warnings
                .iter()
                .any(|w| matches!(w, Warning::StrayText { .. })) =>
        {
            Some((cue.start.0, cue.end.0))
        }
        _ => None,
    }
}

/// `HH:MM:SS.mmm`, hours as many digits as needed.
pub fn timestamp(ms: i64) -> String {
    let ms = ms.max(0);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

impl Captions {
    /// A WebVTT file: `header_lines` under the signature, then the blocks,
    /// then `cues`.
    pub fn write<'a>(
        &self,
        header_lines: &[String],
        cues: impl Iterator<Item = &'a Cue>,
    ) -> String {
        let mut out = String::from("WEBVTT\n");
        for line in header_lines {
            out.push_str(line);
            out.push('\n');
        }
        for block in &self.blocks {
            out.push('\n');
            out.push_str(block);
            out.push('\n');
        }
        for cue in cues {
            out.push('\n');
            if let Some(id) = &cue.id {
                out.push_str(id);
                out.push('\n');
            }
            let _ = write!(
                out,
                "{} --> {}",
                timestamp(cue.start_ms),
                timestamp(cue.end_ms)
            );
            if let Some(settings) = &cue.settings {
                out.push(' ');
                out.push_str(settings);
            }
            out.push('\n');
            for line in cue.text.lines().filter(|l| !l.trim().is_empty()) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }

    /// The whole track as one normalized WebVTT file (what is stored).
    pub fn to_webvtt(&self) -> String {
        self.write(&[], self.cues.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line_of(err: CaptionsError) -> usize {
        match err {
            CaptionsError::Line { line, .. } => line,
            other => panic!("no line: {other}"),
        }
    }

    #[test]
    fn webvtt_round_trips_normalized() {
        let vtt = b"WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\nintro\n00:00.500 --> 00:02.000 align:start\nHello <b>there</b>\n\n00:00:02.000 --> 00:00:04.250\nSecond\nline two\n";
        let captions = parse(vtt, SourceFormat::WebVtt).unwrap();
        assert_eq!(captions.cues.len(), 2);
        assert_eq!(captions.cues[0].id.as_deref(), Some("intro"));
        assert_eq!(
            (captions.cues[0].start_ms, captions.cues[0].end_ms),
            (500, 2000)
        );
        let text = captions.to_webvtt();
        assert_eq!(
            text,
            "WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\nintro\n00:00:00.500 --> 00:00:02.000 align:start\nHello <b>there</b>\n\n00:00:02.000 --> 00:00:04.250\nSecond\nline two\n"
        );
        assert_eq!(
            parse(text.as_bytes(), SourceFormat::WebVtt).unwrap(),
            captions
        );
    }

    #[test]
    fn srt_becomes_webvtt() {
        let srt = b"1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i> world\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000 X1:10 X2:20 Y1:1 Y2:2\r\nBye\r\n";
        let captions = parse(srt, SourceFormat::SubRip).unwrap();
        let text = captions.to_webvtt();
        assert!(text.starts_with("WEBVTT\n\n"), "{text}");
        assert!(
            text.contains("00:00:01.000 --> 00:00:02.500\n<i>Hello</i> world\n"),
            "{text}"
        );
        assert!(
            text.contains("00:00:03.000 --> 00:00:04.000\nBye\n"),
            "{text}"
        );
        parse(text.as_bytes(), SourceFormat::WebVtt).unwrap();
    }

    #[test]
    fn malformed_files_name_the_line() {
        let cases: [(&[u8], SourceFormat, usize); 8] = [
            (b"WEBVTT\n\n00:00:01.000 --> 00:00:0x.000\nHi\n", SourceFormat::WebVtt, 3),
            (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n\n00:00:05.000 --> 00:00:03.000\nBack\n", SourceFormat::WebVtt, 6),
            (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n\njust words\nmore words\n", SourceFormat::WebVtt, 6),
            (b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nHi --> there\n", SourceFormat::WebVtt, 4),
            (b"WEBVTT\n\n00:00:01.000 --> 00:00:72.000\nHi\n", SourceFormat::WebVtt, 3),
            // The block from its index on is text outside a cue.
            (b"1\n00:00:01,000 --> 00:00:02,000\nHi\n\n2\n00:00:03,000 -> 00:00:04,000\nBye\n", SourceFormat::SubRip, 5),
            (b"NOT VTT\n\n00:00:01.000 --> 00:00:02.000\nHi\n", SourceFormat::WebVtt, 1),
            (b"WEBVTT\n\nNOTE a --> b\n\n00:00:01.000 --> 00:00:02.000\nHi\n", SourceFormat::WebVtt, 3),
        ];
        for (input, format, line) in cases {
            let err = parse(input, format).expect_err(&String::from_utf8_lossy(input));
            assert_eq!(line_of(err), line, "{}", String::from_utf8_lossy(input));
        }
        assert!(matches!(
            parse(b"WEBVTT\n", SourceFormat::WebVtt),
            Err(CaptionsError::File(_))
        ));
        assert_eq!(
            line_of(
                parse(
                    b"WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n\xff\xfe\n",
                    SourceFormat::WebVtt
                )
                .unwrap_err()
            ),
            4
        );
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0), "00:00:00.000");
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
        assert_eq!(timestamp(100 * 3_600_000), "100:00:00.000");
    }

    /// Blocks a caption file is made of: mostly cues (whose end may come
    /// before their start), some lines of anything.
    fn any_block() -> impl proptest::strategy::Strategy<Value = Vec<String>> {
        use proptest::prelude::*;
        let time = "[0-9]{2}:[0-5][0-9]:[0-5][0-9][.,][0-9]{3}";
        let cue = (
            proptest::option::of("[0-9]{1,3}"),
            (time, time, proptest::option::of(Just(" align:start"))),
            proptest::collection::vec("[a-zA-Z <>/&-]{1,20}", 1..3),
        )
            .prop_map(|(id, (start, end, settings), text)| {
                let timing = format!("{start} --> {end}{}", settings.unwrap_or(""));
                id.into_iter().chain([timing]).chain(text).collect()
            });
        let junk = prop_oneof![
            "[0-9]{2}:[0-9]{2}[.,][0-9]{3} -{1,3}> [0-9]{2}:[0-9]{2}[.,][0-9]{3}",
            "(NOTE|STYLE|REGION|WEBVTT)( [a-z-]{0,5})?",
            "\\PC{0,12}",
        ];
        prop_oneof![4 => cue, 1 => proptest::collection::vec(junk, 1..3)]
    }

    proptest::proptest! {
        /// Whatever arrives, parsing answers without panicking, and what it
        /// accepts is written as WebVTT that parses back to the same track.
        #[test]
        fn accepted_files_round_trip(
            blocks in proptest::collection::vec(any_block(), 0..6),
            vtt in proptest::bool::ANY,
            crlf in proptest::bool::ANY,
        ) {
            let (format, head) = if vtt { (SourceFormat::WebVtt, "WEBVTT\n\n") } else { (SourceFormat::SubRip, "") };
            let newline = if crlf { "\r\n" } else { "\n" };
            let body: Vec<String> = blocks.iter().map(|b| b.join(newline)).collect();
            let input = format!("{head}{}{newline}", body.join(&format!("{newline}{newline}")));
            let Ok(captions) = parse(input.as_bytes(), format) else {
                return Ok(());
            };
            proptest::prop_assert!(!captions.cues.is_empty());
            let written = captions.to_webvtt();
            let again = parse(written.as_bytes(), SourceFormat::WebVtt);
            proptest::prop_assert_eq!(again.as_ref().ok(), Some(&captions), "{}", written);
        }
    }
}
