//! `TestDNSAnswer`: what Route 53 answers for a name, for drills' readiness checks.

use super::*;

impl Route53 {
    /// The values Route 53 answers for an A query of `name` in the zone `zone_id`
    /// (`TestDNSAnswer`), sorted: what a drill's readiness check compares with its instances.
    pub(crate) async fn test_dns_answer(
        &self,
        zone_id: &str,
        name: &str,
    ) -> anyhow::Result<Vec<String>> {
        let zone_id = zone_id.trim_start_matches("/hostedzone/");
        let subject = format!("the DNS answer for {name}");
        let answer = {
            let _p = self.permit().await?;
            self.client
                .test_dns_answer()
                .hosted_zone_id(zone_id)
                .record_name(name)
                .record_type(RrType::A)
                .send()
                .await
        };
        let e = match answer {
            Ok(out) => {
                let mut values = out.record_data().to_vec();
                values.sort_unstable();
                return Ok(values);
            }
            Err(e) if not_implemented(&e) => e,
            Err(e) => return Err(error::failure("TestDNSAnswer", REGION, &subject, &e)),
        };
        // The emulator path: moto (5.2.5) does not implement TestDNSAnswer (it answers 404).
        // Read the record set instead: a plain record's values, else the PRIMARY's (what
        // Route 53 answers while the primary is healthy). Real Route 53 never gets here.
        tracing::debug!(
            zone_id,
            name,
            error = %error::describe(&e),
            "TestDNSAnswer unavailable; reading the record set"
        );
        let sets = self.list_records(zone_id, Some(name), &subject).await?;
        let matching: Vec<&ResourceRecordSet> = sets
            .iter()
            .filter(|s| same_name(s.name(), name) && s.r#type() == &RrType::A)
            .collect();
        let set = matching
            .iter()
            .find(|s| s.failover().is_none() && s.set_identifier().is_none())
            .or_else(|| {
                matching
                    .iter()
                    .find(|s| s.failover() == Some(&ResourceRecordSetFailover::Primary))
            })
            .or_else(|| matching.first());
        let mut values: Vec<String> = set
            .map(|s| {
                s.resource_records()
                    .iter()
                    .map(|r| r.value().to_string())
                    .collect()
            })
            .unwrap_or_default();
        values.sort_unstable();
        Ok(values)
    }
}

/// Whether an answer says the operation does not exist here (an emulator): HTTP 404, 500 or
/// 501 without a Route 53 error code, or a `NotImplemented` code. A real error (such as
/// `NoSuchHostedZone`, also a 404) is not.
pub(super) fn not_implemented<E: ProvideErrorMetadata>(e: &AwsSdkError<E>) -> bool {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match error::code(e) {
        Some(code) => code == "NotImplemented",
        None => matches!(status, Some(404 | 500 | 501)),
    }
}
