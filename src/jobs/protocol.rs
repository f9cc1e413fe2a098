//! What a transcode child says to its worker, on its stdout.
//!
//! The child has no database, no storage and no network: everything it
//! produces travels here, and the worker stores it. One text line per
//! message, a `put` line followed by exactly its bytes:
//! `progress 0.42` · `key <key id> <sealed key, base64url>` ·
//! `put <length> <relative path>` + bytes · `done {json}` · `error {json}`.
//! The child may be compromised, so the reader bounds every line and body
//! and refuses anything else; the worker checks paths and sealed keys.

use std::io::Write;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use crate::videos::Rendition;

/// The longest header line accepted.
const MAX_LINE: u64 = 64 * 1024;
/// The largest output accepted in one `put` (a 30 s segment at the ladder's
/// 20 Mbit/s ceiling is 75 MB).
pub const MAX_PUT: usize = 256 * 1024 * 1024;

/// The `done` message.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobDone {
    pub duration_seconds: f64,
    pub renditions: Vec<Rendition>,
}

/// The `error` message.
#[derive(Debug, Serialize, Deserialize)]
pub struct JobFailed {
    pub kind: String,
    pub message: String,
    pub bad_media: bool,
    pub retryable: bool,
}

/// One message.
#[derive(Debug)]
pub enum Frame {
    Progress(f32),
    /// A content key, sealed to the key server's public key.
    Key {
        key_id: String,
        sealed: String,
    },
    /// An output file (segment, playlist, poster) by its path in the ladder.
    Put {
        path: String,
        bytes: Vec<u8>,
    },
    Done(JobDone),
    Failed(JobFailed),
}

/// A child that broke the protocol (or a pipe that broke).
#[derive(Debug, thiserror::Error)]
#[error("transcoder output: {0}")]
pub struct ProtocolError(String);

/// Writes one frame to stdout, whole (the lock keeps frames from threads apart).
pub fn send(frame: &Frame) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match frame {
        Frame::Progress(p) => writeln!(out, "progress {p:.2}")?,
        Frame::Key { key_id, sealed } => writeln!(out, "key {key_id} {sealed}")?,
        Frame::Put { path, bytes } => {
            if path.contains('\n') {
                return Err(std::io::Error::other("an output path holds a newline"));
            }
            writeln!(out, "put {} {path}", bytes.len())?;
            out.write_all(bytes)?;
        }
        Frame::Done(done) => writeln!(out, "done {}", serde_json::to_string(done)?)?,
        Frame::Failed(failed) => writeln!(out, "error {}", serde_json::to_string(failed)?)?,
    }
    out.flush()
}

/// Reads the next frame; `None` at a clean end of stream.
pub async fn read<R: AsyncBufRead + Unpin>(reader: &mut R) -> Result<Option<Frame>, ProtocolError> {
    let mut line = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE)
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| ProtocolError(e.to_string()))?;
    if n == 0 {
        return Ok(None);
    }
    if line.pop() != Some(b'\n') {
        return Err(ProtocolError("a line is too long or cut off".into()));
    }
    let line = String::from_utf8(line).map_err(|_| ProtocolError("a line is not UTF-8".into()))?;
    let (verb, rest) = line.split_once(' ').unwrap_or((&line, ""));
    let bad = |what: &str| ProtocolError(format!("a malformed `{what}` line"));
    let frame = match verb {
        "progress" => Frame::Progress(rest.trim().parse().map_err(|_| bad("progress"))?),
        "key" => {
            let (key_id, sealed) = rest.split_once(' ').ok_or_else(|| bad("key"))?;
            Frame::Key {
                key_id: key_id.to_string(),
                sealed: sealed.to_string(),
            }
        }
        "put" => {
            let (len, path) = rest.split_once(' ').ok_or_else(|| bad("put"))?;
            let len: usize = len.parse().map_err(|_| bad("put"))?;
            if len > MAX_PUT {
                return Err(ProtocolError(format!("an output of {len} bytes")));
            }
            let mut bytes = vec![0u8; len];
            reader
                .read_exact(&mut bytes)
                .await
                .map_err(|e| ProtocolError(e.to_string()))?;
            Frame::Put {
                path: path.to_string(),
                bytes,
            }
        }
        "done" => Frame::Done(serde_json::from_str(rest).map_err(|_| bad("done"))?),
        "error" => Frame::Failed(serde_json::from_str(rest).map_err(|_| bad("error"))?),
        _ => return Err(ProtocolError("an unknown message".into())),
    };
    Ok(Some(frame))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Option<Frame>, ProtocolError> {
        read(&mut tokio::io::BufReader::new(bytes)).await
    }

    #[tokio::test]
    async fn a_put_carries_exactly_its_bytes() {
        let mut stream: &[u8] =
            b"put 3 720p/seg_00000.ts\nab\ndone {\"duration_seconds\":1.0,\"renditions\":[]}\n";
        let mut reader = tokio::io::BufReader::new(&mut stream);
        match read(&mut reader).await.unwrap() {
            Some(Frame::Put { path, bytes }) => {
                assert_eq!(path, "720p/seg_00000.ts");
                assert_eq!(bytes, b"ab\n");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read(&mut reader).await.unwrap(),
            Some(Frame::Done(_))
        ));
        assert!(read(&mut reader).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn what_a_hostile_child_sends_is_refused() {
        let huge = format!("put {} x\n", MAX_PUT + 1);
        let endless = vec![b'a'; MAX_LINE as usize + 10];
        for input in [
            huge.as_bytes(),
            b"put 10 short\nabc",
            b"hello world\n",
            b"progress lots\n",
            b"key onlyone\n",
            b"progress 0.5",
            &endless,
        ] {
            assert!(
                parse(input).await.is_err(),
                "{:?}",
                String::from_utf8_lossy(&input[..input.len().min(40)])
            );
        }
    }
}
