//! The load phases' HTTP client: one keep-alive HTTP/1.1 connection per client
//! thread, each request written in one system call from bytes prepared before
//! the timed part, the response head parsed by `httparse` (hyper's parser) and
//! the body read by its `Content-Length`. The client shares the machine's cores
//! with the server it loads, so what it spends per request is taken from the
//! server: this one spends a write and a read or two. Every response is still
//! checked: HTTP status 200 and an envelope whose `status` is `ok` (the whole
//! body is parsed as JSON, without building a value of it).

use std::borrow::Cow;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Response heads longer than this are refused.
const MAX_HEAD: usize = 16 * 1024;
/// Response bodies longer than this are refused.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Headers a response head may have.
const MAX_HEADERS: usize = 32;

/// One client: a connection to the server, opened on first use and again after
/// the server closed it.
pub struct Client {
    addr: SocketAddr,
    /// `Host` and `Authorization` lines, written into every request.
    headers: String,
    stream: Option<TcpStream>,
    request: Vec<u8>,
    /// Response bytes: `buf[..filled]` were read (zeroed once, grown when full).
    buf: Vec<u8>,
    filled: usize,
}

/// The envelope's field the client checks; the rest is parsed and skipped.
#[derive(Deserialize)]
struct EnvelopeStatus<'a> {
    #[serde(borrow)]
    status: Cow<'a, str>,
}

impl Client {
    /// A client of the server at `url` (`http://127.0.0.1:PORT`) sending
    /// `Authorization: {auth}`.
    pub fn new(url: &str, auth: &str) -> Result<Client> {
        let host = url
            .strip_prefix("http://")
            .with_context(|| format!("{url}: the load client speaks plain http://"))?
            .trim_end_matches('/');
        let addr: SocketAddr = host
            .parse()
            .with_context(|| format!("{url}: expected http://IP:PORT"))?;
        Ok(Client {
            addr,
            headers: format!("Host: {host}\r\nAuthorization: {auth}\r\n"),
            stream: None,
            request: Vec::with_capacity(1024),
            buf: vec![0; 64 * 1024],
            filled: 0,
        })
    }

    /// POSTs `body` (JSON) to `path`; true when the answer is HTTP 200 with an
    /// envelope whose status is `ok`.
    pub fn post_ok(&mut self, path: &str, body: &[u8]) -> Result<bool> {
        self.request.clear();
        write!(
            self.request,
            "POST {path} HTTP/1.1\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.headers,
            body.len()
        )
        .context("writing the request head")?;
        self.request.extend_from_slice(body);
        // A kept-alive connection the server closed while it was idle fails
        // before any byte of an answer: send once more on a new one (the
        // server read nothing of it; the bench's writes are upserts of fresh
        // ids, the same write if sent twice).
        let reused = self.stream.is_some();
        let (status, body_start, body_len, close) = match self.exchange() {
            Ok(s) => s,
            Err(Failure::BeforeAnswer(e)) if reused => {
                self.stream = None;
                self.exchange().map_err(Failure::into_error).context(e)?
            }
            Err(f) => {
                self.stream = None;
                return Err(f.into_error());
            }
        };
        let body = &self.buf[body_start..body_start + body_len];
        let ok = status == 200
            && serde_json::from_slice::<EnvelopeStatus>(body).is_ok_and(|e| e.status == "ok");
        if close {
            self.stream = None;
        }
        Ok(ok)
    }

    /// Writes the prepared request and reads one response into `buf`: its
    /// status, where its body starts, its length and whether the server closes
    /// the connection after it.
    fn exchange(&mut self) -> Result<(u16, usize, usize, bool), Failure> {
        if self.stream.is_none() {
            let s = TcpStream::connect_timeout(&self.addr, Duration::from_secs(10))
                .map_err(|e| Failure::Other(anyhow::Error::new(e).context("connecting")))?;
            s.set_nodelay(true)
                .and_then(|()| s.set_read_timeout(Some(Duration::from_secs(120))))
                .map_err(|e| Failure::Other(anyhow::Error::new(e).context("socket options")))?;
            self.stream = Some(s);
        }
        let Some(stream) = self.stream.as_mut() else {
            return Err(Failure::Other(anyhow::anyhow!("no connection")));
        };
        stream
            .write_all(&self.request)
            .map_err(|e| Failure::BeforeAnswer(format!("sending the request: {e}")))?;
        self.filled = 0;
        let (status, head_len, body_len, close) = loop {
            let read = match read_more(stream, &mut self.buf, &mut self.filled) {
                Ok(n) => n,
                // The server had closed the connection: the request met a reset.
                Err(e)
                    if self.filled == 0
                        && matches!(
                            e.kind(),
                            ErrorKind::ConnectionReset
                                | ErrorKind::ConnectionAborted
                                | ErrorKind::BrokenPipe
                        ) =>
                {
                    return Err(Failure::BeforeAnswer(format!("reading the response: {e}")));
                }
                Err(e) => {
                    return Err(Failure::Other(
                        anyhow::Error::new(e).context("reading the response"),
                    ));
                }
            };
            if read == 0 {
                return Err(if self.filled == 0 {
                    Failure::BeforeAnswer("the server closed the connection".into())
                } else {
                    Failure::Other(anyhow::anyhow!(
                        "the server closed the connection inside a response head"
                    ))
                });
            }
            let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buf[..self.filled]) {
                Ok(httparse::Status::Complete(head_len)) => {
                    let status = response.code.unwrap_or(0);
                    let (len, close) = framing(response.headers).map_err(Failure::Other)?;
                    break (status, head_len, len, close);
                }
                Ok(httparse::Status::Partial) if self.filled < MAX_HEAD => {}
                Ok(httparse::Status::Partial) => {
                    return Err(Failure::Other(anyhow::anyhow!(
                        "a response head longer than {MAX_HEAD} bytes"
                    )));
                }
                Err(e) => {
                    return Err(Failure::Other(anyhow::anyhow!(
                        "an invalid response head: {e}"
                    )));
                }
            }
        };
        while self.filled < head_len + body_len {
            let read = read_more(stream, &mut self.buf, &mut self.filled).map_err(|e| {
                Failure::Other(anyhow::Error::new(e).context("reading the response body"))
            })?;
            if read == 0 {
                return Err(Failure::Other(anyhow::anyhow!(
                    "the server closed the connection inside a response body"
                )));
            }
        }
        if self.filled > head_len + body_len {
            return Err(Failure::Other(anyhow::anyhow!(
                "bytes after the response (no request was pipelined)"
            )));
        }
        Ok((status, head_len, body_len, close))
    }
}

/// How an exchange failed: before any byte of an answer (the request may be
/// sent again on a new connection) or otherwise.
enum Failure {
    BeforeAnswer(String),
    Other(anyhow::Error),
}

impl Failure {
    fn into_error(self) -> anyhow::Error {
        match self {
            Failure::BeforeAnswer(m) => anyhow::anyhow!(m),
            Failure::Other(e) => e,
        }
    }
}

/// Reads what the socket has into `buf` after its `filled` bytes (doubling
/// `buf` when little room is left).
fn read_more(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    filled: &mut usize,
) -> std::io::Result<usize> {
    if buf.len() - *filled < 16 * 1024 {
        buf.resize(buf.len() * 2, 0);
    }
    let read = stream.read(&mut buf[*filled..])?;
    *filled += read;
    Ok(read)
}

/// The body length a response head announces and whether the server closes
/// the connection after it; bodies without a `Content-Length` (chunked) are
/// refused: the server sends every envelope with its length.
fn framing(headers: &[httparse::Header<'_>]) -> Result<(usize, bool)> {
    let mut len = None;
    let mut close = false;
    for h in headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let v = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .context("an invalid Content-Length")?;
            len = Some(v);
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            bail!(
                "a response with a Transfer-Encoding; the load client reads Content-Length bodies"
            );
        }
    }
    let len = len.context("a response without a Content-Length")?;
    if len > MAX_BODY {
        bail!("a response body of {len} bytes (more than {MAX_BODY})");
    }
    Ok((len, close))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;

    /// A server answering each request of each connection with the next of
    /// `answers` (a connection is closed after an answer marked `close`).
    /// Returns its URL and what it was sent.
    fn canned(
        answers: Vec<(&'static str, bool)>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut answers = answers.into_iter().peekable();
            'conns: while let Ok((stream, _)) = listener.accept() {
                let mut reader = std::io::BufReader::new(stream.try_clone().expect("clone"));
                let mut out = stream;
                loop {
                    let mut head = String::new();
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            continue 'conns;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().expect("length");
                        }
                        head.push_str(&line);
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    reader.read_exact(&mut body).expect("body");
                    seen.push(format!("{head}{}", String::from_utf8_lossy(&body)));
                    let Some((answer, close)) = answers.next() else {
                        return seen;
                    };
                    out.write_all(answer.as_bytes()).expect("answer");
                    if answers.peek().is_none() {
                        return seen;
                    }
                    if close {
                        continue 'conns;
                    }
                }
            }
            seen
        });
        (url, handle)
    }

    fn answer(status: &str, body: &str, extra: &str) -> &'static str {
        Box::leak(
            format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_boxed_str(),
        )
    }

    #[test]
    fn checks_status_and_envelope_and_keeps_the_connection() {
        let big = format!(r#"{{"data":"{}","status":"ok"}}"#, "x".repeat(200_000));
        let (url, server) = canned(vec![
            (
                answer("200 OK", r#"{"status":"ok","data":{"a":[1,2]}}"#, ""),
                false,
            ),
            (answer("200 OK", r#"{"status":"invalid"}"#, ""), false),
            (answer("403 Forbidden", r#"{"status":"ok"}"#, ""), false),
            (answer("200 OK", "not json", ""), false),
            (answer("200 OK", &big, ""), false),
        ]);
        let mut c = Client::new(&url, "Bearer t").expect("client");
        let results: Vec<bool> = (0..5)
            .map(|i| {
                c.post_ok("/v1/ops/x", format!("{{\"i\":{i}}}").as_bytes())
                    .expect("post")
            })
            .collect();
        assert_eq!(results, [true, false, false, false, true]);
        drop(c);
        let seen = server.join().expect("server");
        assert_eq!(seen.len(), 5, "all five on one connection");
        assert!(seen[0].starts_with("POST /v1/ops/x HTTP/1.1\r\n"));
        assert!(seen[0].contains("Authorization: Bearer t\r\n"));
        assert!(seen[4].ends_with("{\"i\":4}"));
    }

    #[test]
    fn sends_again_on_a_new_connection_after_the_server_closed_it() {
        let (url, server) = canned(vec![
            (
                answer("200 OK", r#"{"status":"ok"}"#, "connection: close\r\n"),
                true,
            ),
            (answer("200 OK", r#"{"status":"ok"}"#, ""), true),
            (answer("200 OK", r#"{"status":"ok"}"#, ""), false),
        ]);
        let mut c = Client::new(&url, "Bearer t").expect("client");
        // The first answer says close; the second connection is closed by the
        // server without saying so, and the third request is sent again.
        for _ in 0..3 {
            assert!(c.post_ok("/p", b"{}").expect("post"));
        }
        drop(c);
        assert_eq!(server.join().expect("server").len(), 3);
    }

    #[test]
    fn refuses_responses_it_cannot_frame() {
        let (url, _server) = canned(vec![(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
            false,
        )]);
        let mut c = Client::new(&url, "Bearer t").expect("client");
        let e = c.post_ok("/p", b"{}").expect_err("chunked");
        assert!(format!("{e:#}").contains("Transfer-Encoding"), "{e:#}");
        assert!(Client::new("https://127.0.0.1:1", "x").is_err());
        assert!(Client::new("http://localhost:1", "x").is_err());
    }
}
