//! Requests kept as `.http` files, the fixture format of the bad-input corpus
//! (`tests/corpus/requests/`) and of event-display's golden cases: header lines
//! (`name: value`), a blank line, then the body verbatim (bytes as they are, invalid UTF-8
//! included). A file that starts with the blank line has no headers. One parser, so that
//! a fixture means the same request wherever it is read.

use std::path::Path;

use crate::CeRequest;

impl CeRequest {
    /// The `POST /` the `.http` file at `path` holds (header lines, a blank line, the body
    /// verbatim); a header written twice is sent twice. Panics, naming the file, when it
    /// cannot be read or does not follow that format.
    pub fn from_http_file(path: &Path) -> Self {
        let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }
}

fn parse(text: &[u8]) -> Result<CeRequest, String> {
    let (head, body) = match text.strip_prefix(b"\n") {
        Some(body) => (&[][..], body),
        None => {
            let split = text.windows(2).position(|w| w == b"\n\n").ok_or("no blank line after the headers")?;
            (&text[..split], &text[split + 2..])
        }
    };
    let head = std::str::from_utf8(head).map_err(|e| format!("the headers are not UTF-8: {e}"))?;
    head.lines().try_fold(CeRequest::raw().body(body.to_vec()), |request, line| {
        let (name, value) = line.split_once(':').ok_or_else(|| format!("bad header line {line:?}"))?;
        Ok(request.header_append(name.trim(), value.trim()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(request: &CeRequest) -> Vec<(&str, &str)> {
        request.headers().collect()
    }

    #[test]
    fn headers_a_blank_line_and_the_body_verbatim() {
        let request = parse(b"ce-id: 1\nce-id: 2\ncontent-type:text/plain \nce-type: \n\n\xff\n\nrest").unwrap();
        assert_eq!(
            headers(&request),
            [("ce-id", "1"), ("ce-id", "2"), ("content-type", "text/plain"), ("ce-type", "")]
        );
        assert_eq!(request.body_bytes().as_ref(), b"\xff\n\nrest");
    }

    #[test]
    fn a_file_that_starts_blank_has_no_headers() {
        let request = parse(b"\n").unwrap();
        assert!(headers(&request).is_empty());
        assert!(request.body_bytes().is_empty());
        assert_eq!(headers(&parse(b"\nce-id: 1").unwrap()), [], "the body, not a header");
    }

    #[test]
    fn a_file_out_of_format_says_why() {
        assert_eq!(parse(b"ce-id: 1\n").unwrap_err(), "no blank line after the headers");
        assert_eq!(parse(b"ce-id 1\n\n").unwrap_err(), "bad header line \"ce-id 1\"");
        assert!(parse(b"ce-id: \xff\n\n").unwrap_err().starts_with("the headers are not UTF-8"));
    }
}
