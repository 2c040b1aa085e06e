//! Reading imports and writing exports safely.
//!
//! An import may be anything a user points at (`/dev/zero`, a 20 GB log, a file with
//! one 2 GB line): lines are read with a bound ([`read_line`]), so memory stays at
//! most the bound per line and a too-long line is an error naming its number. An
//! export goes to a temporary file next to the target and is renamed over it only
//! when complete ([`write_atomically`]), so a failure halfway (a panic, a full disk,
//! a database error) never leaves a truncated or empty file where the export should be.

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One line of `input` without its `\n` / `\r\n`, at most `max` bytes; `Ok(None)` at
/// the end. A longer line is an error (for `line`), after reading at most `max + 1`
/// bytes of it.
pub(crate) fn read_line(
    input: &mut impl BufRead,
    buf: &mut Vec<u8>,
    max: u64,
    line: usize,
) -> Result<Option<()>> {
    buf.clear();
    let n = input
        .by_ref()
        .take(max.saturating_add(1))
        .read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() as u64 > max {
        return Err(Error::BadImport {
            line,
            message: format!("line longer than {max} bytes (--max-line)"),
        });
    }
    Ok(Some(()))
}

/// `buf` as UTF-8 text, or an error for `line`.
pub(crate) fn utf8(buf: &[u8], line: usize) -> Result<&str> {
    std::str::from_utf8(buf).map_err(|e| Error::BadImport {
        line,
        message: format!("not UTF-8 text ({e})"),
    })
}

/// Reads all of `input` as text, each line at most `max_line` bytes and the whole at
/// most `max_total` bytes.
pub(crate) fn read_text(input: &mut impl BufRead, max_line: u64, max_total: u64) -> Result<String> {
    let mut text = String::new();
    let mut buf = Vec::new();
    let mut line = 0;
    while read_line(input, &mut buf, max_line, line + 1)?.is_some() {
        line += 1;
        text.push_str(utf8(&buf, line)?);
        text.push('\n');
        if text.len() as u64 > max_total {
            return Err(Error::BadImport {
                line,
                message: format!("file larger than {max_total} bytes"),
            });
        }
    }
    Ok(text)
}

/// The temporary file an export to `path` is written to first.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "export".to_owned());
    path.with_file_name(format!(".{name}.{}.partial", std::process::id()))
}

/// Runs `write` on a temporary file beside `path` and renames it to `path` when it
/// succeeds; on failure the temporary file is removed and `path` is left as it was.
/// Generic over the caller's error, so a layer above can write with its own.
///
/// # Errors
/// What `write` returns, or [`Error::File`] when the file cannot be written.
pub fn write_atomically<T, E: From<Error>>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    let file_error = |source: std::io::Error| {
        E::from(Error::File {
            path: path.display().to_string(),
            source,
        })
    };
    let temp = temp_path(path);
    let file = std::fs::File::create(&temp).map_err(file_error)?;
    let mut out = std::io::BufWriter::new(file);
    let written = write(&mut out).and_then(|v| {
        out.flush().map_err(file_error)?;
        out.get_ref().sync_all().map_err(file_error)?;
        Ok(v)
    });
    drop(out);
    let done = written.and_then(|v| {
        std::fs::rename(&temp, path).map_err(file_error)?;
        Ok(v)
    });
    if done.is_err() {
        if let Err(error) = std::fs::remove_file(&temp) {
            tracing::warn!(file = %temp.display(), %error, "cannot remove a partial export");
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded_and_numbered() {
        let mut input = "ab\r\ncdef\nxyz".as_bytes();
        let mut buf = Vec::new();
        assert!(read_line(&mut input, &mut buf, 4, 1).unwrap().is_some());
        assert_eq!(buf, b"ab");
        assert!(read_line(&mut input, &mut buf, 4, 2).unwrap().is_some());
        assert_eq!(buf, b"cdef");
        assert!(read_line(&mut input, &mut buf, 4, 3).unwrap().is_some());
        assert_eq!(buf, b"xyz");
        assert!(read_line(&mut input, &mut buf, 4, 4).unwrap().is_none());
        let mut long = "abcdef\n".as_bytes();
        let e = read_line(&mut long, &mut buf, 4, 9)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 9") && e.contains("longer than 4 bytes"),
            "{e}"
        );
        // An endless line stops at the bound.
        let mut zeros = std::io::BufReader::new(std::io::repeat(0));
        assert!(read_line(&mut zeros, &mut buf, 1024, 1).is_err());
        assert!(buf.len() <= 1025);
    }

    #[test]
    fn a_failed_export_leaves_no_file_and_a_good_one_replaces() {
        let dir = sockscope_test_support::unique_dir("files");
        let path = dir.join("out.har");
        let failed: Result<()> = write_atomically(&path, |w| {
            w.write_all(b"half")?;
            Err(Error::BadFormat("boom".into()))
        });
        assert!(failed.is_err());
        assert!(!path.exists());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "temp file left"
        );
        write_atomically(&path, |w| Ok::<_, Error>(w.write_all(b"whole")?)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"whole");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
