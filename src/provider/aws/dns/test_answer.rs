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
        match answer {
            Ok(out) => {
                let mut values = out.record_data().to_vec();
                values.sort_unstable();
                Ok(values)
            }
            // Emulator workaround (`emulator.rs`): moto does not implement TestDNSAnswer.
            Err(e) if self.emulator.on() && emulator::not_implemented(&e) => {
                self.answer_from_records(zone_id, name, &e).await
            }
            Err(e) => Err(error::failure("TestDNSAnswer", REGION, &subject, &e)),
        }
    }
}
