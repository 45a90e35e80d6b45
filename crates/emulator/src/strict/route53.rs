//! Route 53 rules: the account's request rate, change propagation, caller references.

use super::{elements, Call, Clock, Refusal, Reply, Rule};
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

fn is_route53(call: &Call) -> bool {
    call.service == "route53"
}

/// Five requests a second per account; above it Route 53 answers `Throttling` ("Quotas on API
/// requests", https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DNSLimitations.html#limits-api-requests).
/// A quota, not a duration: not scaled.
#[derive(Default)]
pub struct Rate {
    recent: VecDeque<Instant>,
}

impl Rule for Rate {
    fn name(&self) -> &'static str {
        "route53.rate"
    }

    fn before(&mut self, call: &Call, now: Instant, _clock: Clock) -> Option<Refusal> {
        if !is_route53(call) {
            return None;
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= 5 {
            return Some(Refusal::bad_request(
                self.name(),
                "Throttling",
                "Rate exceeded",
            ));
        }
        self.recent.push_back(now);
        None
    }
}

/// A record change is `PENDING` until it reached every Route 53 server, then `INSYNC`
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html); moto answers
/// `INSYNC` at once.
#[derive(Default)]
pub struct ChangePending {
    changes: HashMap<String, Instant>,
}

/// How long a change stays `PENDING`, in AWS time ("generally within 60 seconds").
const PROPAGATION: Duration = Duration::from_secs(60);

impl Rule for ChangePending {
    fn name(&self) -> &'static str {
        "route53.change-pending"
    }

    fn after(&mut self, call: &Call, reply: &mut Reply, now: Instant, clock: Clock) -> bool {
        if !is_route53(call) || reply.status != 200 || !reply.body.contains("<ChangeInfo>") {
            return false;
        }
        let Some(id) = elements(&reply.body, "Id").first().map(|s| s.to_string()) else {
            return false;
        };
        let at = *self.changes.entry(id).or_insert(now);
        if now.duration_since(at) >= clock.of(PROPAGATION)
            || !reply.body.contains("<Status>INSYNC</Status>")
        {
            return false;
        }
        reply.body = reply
            .body
            .replacen("<Status>INSYNC</Status>", "<Status>PENDING</Status>", 1);
        true
    }
}

/// A `CallerReference` is never reused: a second `CreateHealthCheck` or `CreateHostedZone`
/// with one answers `HealthCheckAlreadyExists` / `HostedZoneAlreadyExists` unless it is the
/// same request again, and always once its resource was deleted
/// (https://docs.aws.amazon.com/Route53/latest/APIReference/API_CreateHealthCheck.html).
/// Deletions are not seen here (the id is in the path), so any reuse with another body, and
/// any reuse of a reference whose first request is older than a second, is refused.
#[derive(Default)]
pub struct CallerReference {
    used: HashMap<String, (Vec<u8>, Instant)>,
    refused: HashSet<String>,
}

impl Rule for CallerReference {
    fn name(&self) -> &'static str {
        "route53.caller-reference"
    }

    fn before(&mut self, call: &Call, now: Instant, _clock: Clock) -> Option<Refusal> {
        if !is_route53(call) || !call.operation.starts_with("POST") {
            return None;
        }
        let body = String::from_utf8_lossy(&call.body).to_string();
        let code = if body.contains("<CreateHealthCheckRequest") {
            "HealthCheckAlreadyExists"
        } else if body.contains("<CreateHostedZoneRequest") {
            "HostedZoneAlreadyExists"
        } else {
            return None;
        };
        let reference = elements(&body, "CallerReference").first()?.to_string();
        match self.used.get(&reference) {
            Some((first, at))
                if *first != call.body || now.duration_since(*at) > Duration::from_secs(1) =>
            {
                self.refused.insert(reference.clone());
                Some(Refusal {
                    status: 409,
                    code: code.to_string(),
                    message: format!(
                        "caller reference {reference} was used before (standby strict proxy: {})",
                        self.name()
                    ),
                })
            }
            Some(_) => None,
            None => {
                self.used.insert(reference, (call.body.clone(), now));
                None
            }
        }
    }
}
