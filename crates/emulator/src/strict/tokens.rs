//! Idempotency tokens.

use super::{Call, Clock, Refusal, Rule};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

/// An EC2 `ClientToken` stays bound to its first request's parameters (for at least 24 hours,
/// also after the instance terminated); the same token with other parameters answers
/// `IdempotentParameterMismatch`
/// (https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
#[derive(Default)]
pub struct ClientToken {
    /// Token → the parameters first sent with it (the token itself left out).
    bound: HashMap<String, BTreeMap<String, String>>,
}

impl Rule for ClientToken {
    fn name(&self) -> &'static str {
        "ec2.client-token"
    }

    fn before(&mut self, call: &Call, _now: Instant, _clock: Clock) -> Option<Refusal> {
        if call.service != "ec2" || call.operation != "RunInstances" {
            return None;
        }
        let token = call.param("ClientToken")?.to_string();
        let mut params = call.params.clone();
        params.remove("ClientToken");
        match self.bound.get(&token) {
            Some(first) if *first != params => Some(Refusal::bad_request(
                self.name(),
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource that is already created with different parameters",
            )),
            Some(_) => None,
            None => {
                self.bound.insert(token, params);
                None
            }
        }
    }
}
