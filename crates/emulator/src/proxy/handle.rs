//! Handling: record, refuse, inject, forward.

use super::*;

#[derive(Clone)]
pub(super) enum Fault {
    Down,
    /// [`Proxy::refuse_service`]
    ServiceDown,
    Internal,
    Throttle,
    /// A non-retryable rejection ([`Proxy::fail_operation`]).
    Rejected,
    /// [`Proxy::answer_operation`]
    Answer(Answer),
}

pub(super) async fn handle(shared: &Shared, request: Request) -> Response {
    let (service, region) = credential_scope(&request).unwrap_or_default();
    let operation = operation(&request, &service);
    let start = std::time::Instant::now();

    let latency = shared.lock().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let global = matches!(service.as_str(), "route53" | "iam" | "sts");
    if !global && shared.lock().black_holes.contains(&region) {
        shared.lock().seen.push(Seen {
            service: service.clone(),
            region: region.clone(),
            operation: operation.clone(),
            status: 0,
        });
        std::future::pending::<()>().await;
    }

    if let Some(answer) = quota_answer(shared, &request, &operation) {
        shared.lock().seen.push(Seen {
            service,
            region,
            operation,
            status: answer.status,
        });
        return answer;
    }

    let hold = shared.lock().held_operations.get(&operation).copied();
    if let Some(hold) = hold {
        let response =
            hold_until_released(shared, &request, &operation, &service, &region, hold).await;
        record(shared, start, service, region, operation, response.status);
        return response;
    }

    let fault = {
        let mut state = shared.lock();
        // Route 53 and IAM are global: signed for us-east-1 but not served from it, so a
        // region outage does not take them down (DESIGN.md, "DR operations").
        if state.down.contains(&region) && !global {
            *state.refused.entry(region.clone()).or_default() += 1;
            Some(Fault::Down)
        } else if state.down_services.contains(&service) {
            Some(Fault::ServiceDown)
        } else if let Some(answer) = state.answers.get(&operation) {
            Some(Fault::Answer(answer.clone()))
        } else if state.failed_operations.contains(&operation) {
            Some(Fault::Rejected)
        } else {
            let fail = match &mut state.failures {
                Some(f) if f.service.as_ref().is_none_or(|s| *s == service) => {
                    f.rng.next_f64() < f.rate
                }
                _ => false,
            };
            if fail {
                state.injected += 1;
                Some(if state.injected % 2 == 1 {
                    Fault::Internal
                } else {
                    Fault::Throttle
                })
            } else {
                None
            }
        }
    };

    let call = shared
        .lock()
        .strict
        .is_some()
        .then(|| strict_call(&request, &service, &region, &operation));
    let fault = fault.or_else(|| {
        let refusal = shared.lock().strict.as_mut()?.before(call.as_ref()?)?;
        Some(Fault::Answer(Answer {
            status: refusal.status,
            code: refusal.code,
            message: refusal.message,
        }))
    });
    let rewritten = match (&fault, &call) {
        (None, Some(call)) => shared
            .lock()
            .strict
            .as_mut()
            .and_then(|s| s.forward_as(call)),
        _ => None,
    };
    let request = match rewritten {
        Some(params) => Request {
            body: Bytes::from(form(&params)),
            ..request
        },
        None => request,
    };
    let response = match fault {
        Some(fault) => fault_response(fault, &request, &service, &region),
        None => match forward(&shared.upstream, &request).await {
            Ok(r) => {
                let (r, follow_ups) = match (&call, shared.lock().strict.as_mut()) {
                    (Some(call), Some(strict)) => {
                        let r = strict_reply(strict, call, r);
                        (r, strict.follow_ups())
                    }
                    _ => (r, Vec::new()),
                };
                follow_up(shared, &request, follow_ups).await;
                r
            }
            Err(e) => Response {
                status: 502,
                reason: "Bad Gateway".into(),
                headers: vec![("content-type".into(), b"text/plain".to_vec())],
                body: Bytes::from(format!(
                    "standby test proxy: upstream {} failed: {e}",
                    shared.upstream
                )),
            },
        },
    };
    record(shared, start, service, region, operation, response.status);
    response
}

/// A request answered: seen, and its span from `start`.
fn record(
    shared: &Shared,
    start: std::time::Instant,
    service: String,
    region: String,
    operation: String,
    status: u16,
) {
    let mut state = shared.lock();
    state.spans.push(Span {
        operation: operation.clone(),
        region: region.clone(),
        start,
        end: std::time::Instant::now(),
    });
    state.seen.push(Seen {
        service,
        region,
        operation,
        status,
    });
}

/// The call as strict-mode rules see it.
fn strict_call(
    request: &Request,
    service: &str,
    region: &str,
    operation: &str,
) -> crate::strict::Call {
    let mut params: std::collections::BTreeMap<String, String> =
        query_pairs(query(&request.target)).collect();
    if request
        .header("content-type")
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"))
    {
        params.extend(query_pairs(&String::from_utf8_lossy(&request.body)));
    }
    crate::strict::Call {
        service: service.to_string(),
        region: region.to_string(),
        operation: operation.to_string(),
        params,
        body: request.body.to_vec(),
    }
}

/// moto's answer after the strict-mode rules rewrote it.
fn strict_reply(
    strict: &mut crate::strict::Strict,
    call: &crate::strict::Call,
    mut r: Response,
) -> Response {
    let mut reply = crate::strict::Reply {
        status: r.status,
        body: String::from_utf8_lossy(&r.body).into_owned(),
    };
    strict.after(call, &mut reply);
    if reply.status != r.status {
        r.status = reply.status;
        r.reason = http::StatusCode::from_u16(reply.status)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or("")
            .to_string();
        // moto's error page is HTML; the rewritten answer is the protocol's XML.
        r.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
        r.headers
            .push(("content-type".into(), b"text/xml".to_vec()));
    }
    if reply.body.as_bytes() != r.body.as_ref() {
        r.body = Bytes::from(reply.body);
    }
    r
}

/// Sends moto the calls the strict-mode rules asked for (an Auto Scaling activity moto
/// lacks, made of operations it has), signed as `request` was; their answers are dropped.
async fn follow_up(
    shared: &Shared,
    request: &Request,
    calls: Vec<std::collections::BTreeMap<String, String>>,
) {
    for params in calls {
        let side = Request {
            method: request.method.clone(),
            target: request.target.clone(),
            headers: request.headers.clone(),
            body: Bytes::from(form(&params)),
        };
        let _ = forward(&shared.upstream, &side).await;
    }
}

/// `params` as an `application/x-www-form-urlencoded` body.
fn form(params: &std::collections::BTreeMap<String, String>) -> String {
    let encode = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Holds a request of a held operation (forwarding it first with `Hold::After`) until the
/// test releases the operation; answers with an internal error.
pub(super) async fn hold_until_released(
    shared: &Shared,
    request: &Request,
    operation: &str,
    service: &str,
    region: &str,
    hold: Hold,
) -> Response {
    if hold == Hold::After {
        let _ = forward(&shared.upstream, request).await;
    }
    *shared.lock().held.entry(operation.to_string()).or_default() += 1;
    shared.held_changed.notify_all();
    loop {
        // Registered before the check, so a release between the two is not missed.
        let released = shared.released.notified();
        if !shared.lock().held_operations.contains_key(operation) {
            break;
        }
        released.await;
    }
    fault_response(Fault::Internal, request, service, region)
}

pub(super) async fn forward(upstream: &str, request: &Request) -> Result<Response, String> {
    // A fresh upstream connection per request: nothing to go stale between tests' calls.
    let stream = TcpStream::connect(upstream)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(connection);

    let mut builder = http::Request::builder()
        .method(request.method.as_str())
        .uri(request.target.as_str());
    let mut framed = false;
    for (k, v) in &request.headers {
        let lower = k.to_ascii_lowercase();
        match lower.as_str() {
            // The body was read whole: it goes on with a Content-Length.
            "content-length" | "transfer-encoding" => framed = true,
            "connection" | "keep-alive" | "expect" | "proxy-connection" => {}
            _ => builder = builder.header(k.as_str(), v.as_slice()),
        }
    }
    if framed || !request.body.is_empty() {
        builder = builder.header("content-length", request.body.len());
    }
    let upstream_request = builder
        .body(Full::new(request.body.clone()))
        .map_err(|e| format!("request: {e}"))?;
    let answer = sender
        .send_request(upstream_request)
        .await
        .map_err(|e| format!("send: {e}"))?;
    let (parts, body) = answer.into_parts();
    let body = body
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(Response {
        status: parts.status.as_u16(),
        reason: parts.status.canonical_reason().unwrap_or("").to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body,
    })
}

/// `GetServiceQuota` of a quota [`Proxy::set_service_quota`] set: its value, in the shape of
/// https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html.
fn quota_answer(shared: &Shared, request: &Request, operation: &str) -> Option<Response> {
    if operation != "GetServiceQuota" {
        return None;
    }
    let asked: serde_json::Value = serde_json::from_slice(&request.body).ok()?;
    let (service, code) = (asked["ServiceCode"].as_str()?, asked["QuotaCode"].as_str()?);
    let value = *shared.lock().quotas.get(code)?;
    let body = serde_json::json!({
        "Quota": {
            "ServiceCode": service,
            "QuotaCode": code,
            "Value": value,
            "Unit": "None",
            "Adjustable": true,
            "GlobalQuota": false
        }
    });
    Some(Response {
        status: 200,
        reason: "OK".into(),
        headers: vec![(
            "content-type".into(),
            b"application/x-amz-json-1.1".to_vec(),
        )],
        body: Bytes::from(body.to_string()),
    })
}
