//! The provider's clients: one per (service, region), built on first use from the one
//! `SdkConfig`, each carrying the request counter, and cached with the batch its waits read
//! through and the limit its reads share.

use super::*;

/// A client of `$sdk` in `$region` from the provider's one `SdkConfig`, counting its
/// requests and not retrying a connection nothing listens on.
macro_rules! client {
    ($self:ident, $sdk:ident, $region:expr) => {
        $sdk::Client::from_conf(
            $sdk::config::Builder::from(&$self.sdk)
                .region($region)
                .interceptor($self.counter.clone())
                .retry_classifier(settings::NothingListens)
                .build(),
        )
    };
}

impl AwsProvider {
    pub(super) fn cloudwatch(&self, region: &str) -> cloudwatch::CloudWatch {
        let client = cached(&self.cloudwatch, region, || {
            client!(self, aws_sdk_cloudwatch, Region::new(region.to_string()))
        });
        cloudwatch::CloudWatch {
            client,
            region: region.to_string(),
        }
    }

    /// Service Quotas in `region` (`standby check`'s vCPU quota).
    pub(super) fn quotas(&self, region: &str) -> aws_sdk_servicequotas::Client {
        cached(&self.quotas, region, || {
            client!(self, aws_sdk_servicequotas, Region::new(region.to_string()))
        })
    }

    pub(super) fn rds(&self, region: &str) -> database::Rds {
        let (client, waits) = cached(&self.rds, region, || {
            (
                client!(self, aws_sdk_rds, Region::new(region.to_string())),
                poll::Batch::new(),
            )
        });
        database::Rds {
            client,
            region: region.to_string(),
            limit: self.rds_limit.clone(),
            emulator: self.emulator,
            waits,
        }
    }

    /// The account the credentials belong to (STS GetCallerIdentity, which needs no
    /// permission: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html).
    pub(super) async fn account_id(&self) -> anyhow::Result<String> {
        let id = self
            .account
            .get_or_try_init(|| async {
                let conf = aws_sdk_sts::config::Builder::from(&self.sdk)
                    .interceptor(self.counter.clone())
                    .retry_classifier(settings::NothingListens)
                    .build();
                let region = self.sdk.region().map_or("us-east-1", |r| r.as_ref());
                let out = aws_sdk_sts::Client::from_conf(conf)
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| {
                        error::failure("GetCallerIdentity", region, &"the caller's account", &e)
                    })?;
                out.account().map(str::to_string).ok_or_else(|| {
                    anyhow!(
                        "GetCallerIdentity in {region} answered no account; check the credentials"
                    )
                })
            })
            .await?;
        Ok(id.clone())
    }

    pub(super) fn secrets(&self, region: &str) -> secrets::Secrets {
        let client = cached(&self.secretsmanager, region, || {
            client!(
                self,
                aws_sdk_secretsmanager,
                Region::new(region.to_string())
            )
        });
        secrets::Secrets {
            client,
            region: region.to_string(),
            limit: self.secrets_limit.clone(),
            emulator: self.emulator,
        }
    }

    /// Route 53 is global: one client, signed for us-east-1, one limiter for every call.
    pub(super) fn route53(&self) -> dns::Route53 {
        let mut slot = self.route53.lock().unwrap_or_else(|e| e.into_inner());
        let client = slot
            .get_or_insert_with(|| client!(self, aws_sdk_route53, Region::new(ROUTE53_REGION)))
            .clone();
        dns::Route53 {
            client,
            limit: self.route53_limit.clone(),
            emulator: self.emulator,
        }
    }

    pub(super) fn ec2(&self, region: &str) -> network::Ec2 {
        let client = cached(&self.ec2, region, || {
            client!(self, aws_sdk_ec2, Region::new(region.to_string()))
        });
        network::Ec2 {
            client,
            region: region.to_string(),
            limit: self.ec2_limit.clone(),
            emulator: self.emulator,
            listed: self.ec2_listed.clone(),
        }
    }

    pub(super) fn elb_client(
        &self,
        region: &str,
    ) -> (aws_sdk_elasticloadbalancingv2::Client, BalancerWaits) {
        cached(&self.elb, region, || {
            let client = client!(
                self,
                aws_sdk_elasticloadbalancingv2,
                Region::new(region.to_string())
            );
            (client, poll::Batch::new())
        })
    }

    pub(super) fn elb(&self, region: &str) -> loadbalancing::Elb {
        let (client, waits) = self.elb_client(region);
        loadbalancing::Elb {
            client,
            region: region.to_string(),
            limit: self.elb_limit.clone(),
            emulator: self.emulator,
            waits,
        }
    }

    /// Launch templates (EC2) and Auto Scaling groups, with the target health they wait for.
    pub(super) fn compute(&self, region: &str) -> compute::Compute {
        let (asg, waits) = cached(&self.autoscaling, region, || {
            let client = client!(self, aws_sdk_autoscaling, Region::new(region.to_string()));
            (client, poll::Batch::new())
        });
        compute::Compute {
            asg,
            ec2: self.ec2(region).client,
            elb: self.elb_client(region).0,
            region: region.to_string(),
            limit: self.asg_limit.clone(),
            emulator: self.emulator,
            waits,
        }
    }

    pub(super) fn s3(&self, region: &str) -> storage::S3 {
        let client = cached(&self.s3, region, || {
            let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
                .region(Region::new(region.to_string()))
                .force_path_style(self.path_style)
                .interceptor(self.counter.clone())
                .retry_classifier(settings::NothingListens)
                .build();
            aws_sdk_s3::Client::from_conf(conf)
        });
        storage::S3 {
            client,
            region: region.to_string(),
            limit: self.s3_limit.clone(),
            emulator: self.emulator,
        }
    }

    /// IAM is global: signed for the configured region's partition (us-east-1 by default).
    pub(super) fn iam(&self) -> role::Iam {
        let mut slot = self.iam.lock().unwrap_or_else(|e| e.into_inner());
        let client = slot
            .get_or_insert_with(|| {
                let region = self
                    .sdk
                    .region()
                    .cloned()
                    .unwrap_or_else(|| Region::new("us-east-1"));
                client!(self, aws_sdk_iam, region)
            })
            .clone();
        role::Iam {
            client,
            limit: self.iam_limit.clone(),
        }
    }
}

fn cached<C: Clone>(map: &Mutex<HashMap<String, C>>, region: &str, make: impl FnOnce() -> C) -> C {
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    map.entry(region.to_string()).or_insert_with(make).clone()
}
