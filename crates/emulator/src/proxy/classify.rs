//! What a request is (credential scope and operation), and the answers of the proxy's own,
//! in the error shape of each protocol.

use super::*;

pub(super) fn credential_scope(request: &Request) -> Option<(String, String)> {
    let scope = match request.header("authorization") {
        Some(auth) => {
            let rest = &auth[auth.find("Credential=")? + "Credential=".len()..];
            rest.split([',', ' ']).next()?.to_string()
        }
        None => query_pairs(query(&request.target))
            .find(|(k, _)| k == "X-Amz-Credential")?
            .1
            .to_string(),
    };
    let parts: Vec<&str> = scope.split('/').collect();
    match parts.as_slice() {
        [.., region, service, "aws4_request"] => Some((service.to_string(), region.to_string())),
        _ => None,
    }
}

pub(super) fn operation(request: &Request, service: &str) -> String {
    if let Some(target) = request.header("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let form = request
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    let body = if form {
        std::str::from_utf8(&request.body).unwrap_or("")
    } else {
        ""
    };
    let query = query(&request.target);
    if let Some((_, action)) = query_pairs(body)
        .chain(query_pairs(query))
        .find(|(k, _)| k == "Action")
    {
        return action;
    }
    let path = request.target.split('?').next().unwrap_or("/");
    if service == "s3" {
        if let Some((_, id)) = query_pairs(query).find(|(k, _)| k == "x-id") {
            return id;
        }
        let segments: Vec<&str> = path.trim_start_matches('/').splitn(2, '/').collect();
        let mut shape = match segments.as_slice() {
            [""] => "/".to_string(),
            [_] | [_, ""] => "bucket".to_string(),
            _ => "bucket/key".to_string(),
        };
        let mut keys: Vec<String> = query_pairs(query).map(|(k, _)| k).collect();
        keys.sort();
        keys.dedup();
        if !keys.is_empty() {
            shape = format!("{shape}?{}", keys.join("&"));
        }
        return format!("{} {shape}", request.method);
    }
    let elided: Vec<&str> = path
        .split('/')
        .map(|s| if id_like(s) { "{id}" } else { s })
        .collect();
    format!("{} {}", request.method, elided.join("/"))
}

/// Anything but a lower-case word or an API date (`2013-04-01`) is an id.
pub(super) fn id_like(segment: &str) -> bool {
    let word = segment
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'_');
    let date = segment.len() == 10
        && segment.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    !(word || date)
}

pub(super) fn query(target: &str) -> &str {
    target.split_once('?').map(|(_, q)| q).unwrap_or("")
}

/// `k=v&k2=v2` with percent-decoding (`+` is a space, as in forms).
pub(super) fn query_pairs(text: &str) -> impl Iterator<Item = (String, String)> + '_ {
    text.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k), decode(v))
    })
}

pub(super) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Answers of the proxy's own, in the error shape of each protocol.

#[derive(Clone, Copy, PartialEq)]
pub(super) enum Protocol {
    /// EC2 query: `<Response><Errors><Error>`.
    Ec2,
    /// AWS query (RDS, IAM, CloudWatch ...) and REST-XML (Route 53): `<ErrorResponse>`.
    ErrorResponse,
    /// S3 REST-XML: a bare `<Error>`.
    S3,
    /// awsJson 1.0 / 1.1: `{"__type": ...}` and `x-amzn-ErrorType`.
    Json,
}

pub(super) fn protocol(request: &Request, service: &str) -> Protocol {
    if request.header("x-amz-target").is_some() {
        Protocol::Json
    } else if service == "ec2" {
        Protocol::Ec2
    } else if service == "s3" {
        Protocol::S3
    } else {
        Protocol::ErrorResponse
    }
}

pub(super) fn fault_response(
    fault: Fault,
    request: &Request,
    service: &str,
    region: &str,
) -> Response {
    let protocol = protocol(request, service);
    // (status, code, SOAP-style fault type)
    let (status, code, kind) = match (&fault, protocol) {
        (Fault::Down | Fault::ServiceDown, _) => (503, "ServiceUnavailable", "Receiver"),
        (Fault::Internal, Protocol::Ec2 | Protocol::S3) => (500, "InternalError", "Receiver"),
        (Fault::Internal, _) => (500, "InternalFailure", "Receiver"),
        (Fault::Throttle, Protocol::Ec2) => (400, "RequestLimitExceeded", "Sender"),
        (Fault::Throttle, Protocol::S3) => (503, "SlowDown", "Sender"),
        (Fault::Throttle, Protocol::Json) => (400, "ThrottlingException", "Sender"),
        (Fault::Throttle, Protocol::ErrorResponse) => (400, "Throttling", "Sender"),
        (Fault::Rejected, Protocol::S3) => (400, "InvalidRequest", "Sender"),
        (Fault::Rejected, Protocol::Json) => (400, "ValidationException", "Sender"),
        (Fault::Rejected, _) => (400, "InvalidParameterCombination", "Sender"),
        (Fault::Answer(a), _) => (a.status, a.code.as_str(), "Sender"),
    };
    let message = match &fault {
        Fault::Down => format!("region {region} is down (standby test proxy)"),
        Fault::ServiceDown => "service unavailable (standby test proxy)".to_string(),
        Fault::Internal => "injected internal error (standby test proxy)".to_string(),
        Fault::Throttle => "injected throttling (standby test proxy)".to_string(),
        Fault::Rejected => "injected by the standby test proxy".to_string(),
        Fault::Answer(a) => a.message.clone(),
    };
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let request_id = format!("standby-proxy-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let (content_type, body) = match protocol {
        Protocol::Ec2 => (
            "text/xml".to_string(),
            format!(
                "{xml}<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message>\
                 </Error></Errors><RequestID>{request_id}</RequestID></Response>"
            ),
        ),
        Protocol::ErrorResponse => (
            "text/xml".to_string(),
            format!(
                "{xml}<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code>\
                 <Message>{message}</Message></Error><RequestId>{request_id}</RequestId>\
                 </ErrorResponse>"
            ),
        ),
        Protocol::S3 => (
            "application/xml".to_string(),
            format!(
                "{xml}<Error><Code>{code}</Code><Message>{message}</Message>\
                 <RequestId>{request_id}</RequestId></Error>"
            ),
        ),
        Protocol::Json => (
            request
                .header("content-type")
                .unwrap_or("application/x-amz-json-1.1")
                .to_string(),
            format!("{{\"__type\":\"{code}\",\"message\":\"{message}\"}}"),
        ),
    };
    let mut headers = vec![
        ("content-type".to_string(), content_type.into_bytes()),
        (
            "x-amzn-requestid".to_string(),
            request_id.clone().into_bytes(),
        ),
        ("x-amz-request-id".to_string(), request_id.into_bytes()),
    ];
    if protocol == Protocol::Json {
        headers.push(("x-amzn-errortype".to_string(), code.as_bytes().to_vec()));
    }
    Response {
        status,
        reason: http::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("")
            .to_string(),
        headers,
        body: Bytes::from(body),
    }
}
