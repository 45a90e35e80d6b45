//! The server: a small HTTP/1.1 server (keep-alive, Content-Length and chunked bodies,
//! `Expect: 100-continue`), so that hyper's `server` feature is not needed: enabling it
//! would change hyper's features and rebuild the whole AWS SDK for the tests.

use super::*;

pub(super) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                let _ = socket.set_nodelay(true);
                tokio::spawn(serve_connection(socket, shared.clone()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// A request as it came from the client.
pub(super) struct Request {
    pub(super) method: String,
    /// Origin form: path and query.
    pub(super) target: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Bytes,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// An answer for the client.
pub(super) struct Response {
    pub(super) status: u16,
    pub(super) reason: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Bytes,
}

pub(super) fn header<'a>(headers: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
        .map(str::trim)
}

pub(super) const MAX_HEAD: usize = 1 << 20;

pub(super) async fn serve_connection(mut socket: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let request = match read_request(&mut socket, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) | Err(_) => return,
        };
        let close = request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let head = request.method == "HEAD";
        let response = handle(&shared, request).await;
        if write_response(&mut socket, &response, head).await.is_err() || close {
            return;
        }
    }
}

/// The next request on the connection; `None` when the client closed it between requests.
pub(super) async fn read_request(
    socket: &mut TcpStream,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if read_more(socket, buf).await? == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed inside a request head"))
            };
        }
    };
    let mut slots = [httparse::EMPTY_HEADER; 256];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&buf[..head_end]) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(invalid("malformed request head")),
    }
    let method = parsed.method.unwrap_or("GET").to_string();
    let target = parsed.path.unwrap_or("/").to_string();
    let headers: Vec<(String, Vec<u8>)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    buf.drain(..head_end);

    if header(&headers, "expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        socket.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let chunked = header(&headers, "transfer-encoding")
        .is_some_and(|te| te.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        read_chunked(socket, buf).await?
    } else {
        let len = match header(&headers, "content-length") {
            Some(v) => v
                .parse::<usize>()
                .map_err(|_| invalid("bad Content-Length"))?,
            None => 0,
        };
        read_exact(socket, buf, len).await?
    };
    Ok(Some(Request {
        method,
        target,
        headers,
        body,
    }))
}

pub(super) async fn read_more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 16 * 1024];
    let n = socket.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

/// Takes `len` bytes from the front of `buf`, reading more as needed.
pub(super) async fn read_exact(
    socket: &mut TcpStream,
    buf: &mut Vec<u8>,
    len: usize,
) -> io::Result<Bytes> {
    while buf.len() < len {
        if read_more(socket, buf).await? == 0 {
            return Err(invalid("connection closed inside a request body"));
        }
    }
    Ok(Bytes::from(buf.drain(..len).collect::<Vec<u8>>()))
}

/// Takes one CRLF-terminated line (without the CRLF) from the front of `buf`.
pub(super) async fn read_line(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Vec<u8>> {
    loop {
        if let Some(i) = find(buf, b"\r\n") {
            let line = buf[..i].to_vec();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD || read_more(socket, buf).await? == 0 {
            return Err(invalid("bad chunked body"));
        }
    }
}

pub(super) async fn read_chunked(socket: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Bytes> {
    let mut body = Vec::new();
    loop {
        let line = read_line(socket, buf).await?;
        let size = std::str::from_utf8(&line)
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
            .ok_or_else(|| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            while !read_line(socket, buf).await?.is_empty() {}
            return Ok(Bytes::from(body));
        }
        body.extend_from_slice(&read_exact(socket, buf, size).await?);
        if !read_line(socket, buf).await?.is_empty() {
            return Err(invalid("bad chunk end"));
        }
    }
}

pub(super) async fn write_response(
    socket: &mut TcpStream,
    r: &Response,
    head: bool,
) -> io::Result<()> {
    let bodyless = head || r.status == 204 || r.status == 304 || r.status < 200;
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, r.reason).into_bytes();
    for (k, v) in &r.headers {
        let hop = ["connection", "keep-alive", "transfer-encoding"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h));
        // A HEAD answer keeps upstream's Content-Length (the size of what GET would send).
        if hop || (!head && k.eq_ignore_ascii_case("content-length")) {
            continue;
        }
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(v);
        out.extend_from_slice(b"\r\n");
    }
    if !bodyless {
        out.extend_from_slice(format!("content-length: {}\r\n", r.body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    if !bodyless {
        out.extend_from_slice(&r.body);
    }
    socket.write_all(&out).await?;
    socket.flush().await
}

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}
