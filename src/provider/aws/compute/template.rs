//! Launch templates: one per cluster and region; a change of instance type or image is a
//! new version made the default, which the instances the group launches from then on use
//! (the group's update then replaces the running ones by an instance refresh).

use super::super::emulator;
use super::*;
use aws_sdk_ec2::types::{
    InstanceType, LaunchTemplate, RequestLaunchTemplateData, ResourceType,
    ResponseLaunchTemplateData, Tag, TagSpecification,
};

/// EC2's codes for a template name taken and a template not there.
const EXISTS: &str = "InvalidLaunchTemplateName.AlreadyExistsException";
const NOT_FOUND: &[&str] = &[
    "InvalidLaunchTemplateName.NotFoundException",
    "InvalidLaunchTemplateId.NotFound",
    "InvalidLaunchTemplateId.Malformed",
];

impl Compute {
    pub(super) async fn create_template(
        &self,
        d: &Desired,
        group_id: &str,
    ) -> anyhow::Result<Observed> {
        let (r, a) = (self.region.as_str(), &d.address);
        let name = str_attr(d, "name")?;
        let created = self
            .ec2
            .create_launch_template()
            .launch_template_name(name)
            .launch_template_data(data(d, group_id)?)
            .client_token(client_token(d, group_id))
            .tag_specifications(
                TagSpecification::builder()
                    .resource_type(ResourceType::LaunchTemplate)
                    .set_tags(Some(ec2_tags(d)))
                    .build(),
            )
            .send()
            .await;
        match created {
            Ok(out) => {
                let t = out.launch_template().ok_or_else(|| {
                    anyhow!("{a}: CreateLaunchTemplate in {r} described no template")
                })?;
                self.read_template(t, a.clone()).await
            }
            // Adopt the template of that name (an interrupted apply made it) and bring it to
            // the spec.
            Err(e) if error::code(&e) == Some(EXISTS) => {
                let current = self.find_template(name, a).await?.ok_or_else(|| {
                    anyhow!("{a}: launch template {name} in {r} exists but cannot be read")
                })?;
                self.update_template(d, &current, group_id).await
            }
            Err(e) => Err(error::failure("CreateLaunchTemplate", r, a, &e)),
        }
    }

    /// A new default version when the instance type or image changed; tags kept in step.
    pub(super) async fn update_template(
        &self,
        d: &Desired,
        current: &Observed,
        group_id: &str,
    ) -> anyhow::Result<Observed> {
        let (r, a, id) = (self.region.as_str(), &d.address, current.id.as_str());
        let changed = ["instance_type", "image"]
            .iter()
            .any(|k| current.attrs.get(*k) != d.attrs.get(*k));
        if changed {
            let out = self
                .ec2
                .create_launch_template_version()
                .launch_template_id(id)
                .launch_template_data(data(d, group_id)?)
                .send()
                .await
                .op("CreateLaunchTemplateVersion", r, a)?;
            let version = out
                .launch_template_version()
                .and_then(|v| v.version_number())
                .ok_or_else(|| {
                    anyhow!("{a}: CreateLaunchTemplateVersion in {r} gave no version")
                })?;
            self.ec2
                .modify_launch_template()
                .launch_template_id(id)
                .default_version(version.to_string())
                .send()
                .await
                .op("ModifyLaunchTemplate", r, a)?;
        }
        self.ec2
            .create_tags()
            .resources(id)
            .set_tags(Some(ec2_tags(d)))
            .send()
            .await
            .op("CreateTags", r, a)?;
        let removed = tags::removed(d, current);
        if !removed.is_empty() {
            let keys = removed
                .iter()
                .map(|k| Tag::builder().key(k).build())
                .collect();
            self.ec2
                .delete_tags()
                .resources(id)
                .set_tags(Some(keys))
                .send()
                .await
                .op("DeleteTags", r, a)?;
        }
        self.find_template(str_attr(d, "name")?, a)
            .await?
            .ok_or_else(|| {
                anyhow!("{a}: launch template {id} in {r} disappeared during its update")
            })
    }

    pub(super) async fn delete_template(&self, current: &Observed) -> anyhow::Result<()> {
        self.ec2
            .delete_launch_template()
            .launch_template_id(&current.id)
            .send()
            .await
            .absent_if(
                NOT_FOUND,
                "DeleteLaunchTemplate",
                &self.region,
                &current.address,
            )?;
        Ok(())
    }

    /// The template named `name`, with its default version's settings.
    async fn find_template(
        &self,
        name: &str,
        a: &crate::address::Address,
    ) -> anyhow::Result<Option<Observed>> {
        let out = self
            .ec2
            .describe_launch_templates()
            .launch_template_names(name)
            .send()
            .await
            .absent_if(NOT_FOUND, "DescribeLaunchTemplates", &self.region, a)?;
        let Some(t) = out.as_ref().and_then(|o| o.launch_templates().first()) else {
            return Ok(None);
        };
        self.read_template(t, a.clone()).await.map(Some)
    }

    /// A template as `Observed`, with its default version read (one
    /// `DescribeLaunchTemplateVersions`).
    async fn read_template(
        &self,
        t: &LaunchTemplate,
        address: crate::address::Address,
    ) -> anyhow::Result<Observed> {
        let id = t.launch_template_id().unwrap_or_default();
        let out = self
            .ec2
            .describe_launch_template_versions()
            .launch_template_id(id)
            .versions(DEFAULT_VERSION)
            .send()
            .await
            .op("DescribeLaunchTemplateVersions", &self.region, &address)?;
        let data = out
            .launch_template_versions()
            .first()
            .and_then(|v| v.launch_template_data());
        let mut live = own_tags(t);
        // Emulator workaround (`emulator.rs`, 13): moto's template tags are stale.
        if self.emulator.on() {
            let (r, a) = (self.region.as_str(), &address);
            let mut all = emulator::launch_template_tags(&self.ec2, Some(id), r, a).await?;
            live = all.remove(id).unwrap_or_default();
        }
        Ok(self.template_observed(t, address, data, &live))
    }

    /// A template as `Observed` from its default version's `data` and its tags.
    pub(super) fn template_observed(
        &self,
        t: &LaunchTemplate,
        address: crate::address::Address,
        data: Option<&ResponseLaunchTemplateData>,
        live: &[(String, String)],
    ) -> Observed {
        let mut o = Observed {
            address,
            kind: Kind::LaunchTemplate,
            region: Some(self.region.clone()),
            id: t.launch_template_id().unwrap_or_default().to_string(),
            attrs: map([
                ("name", json!(t.launch_template_name())),
                (
                    "instance_type",
                    json!(data.and_then(|d| d.instance_type()).map(|t| t.as_str())),
                ),
                ("image", json!(data.and_then(|d| d.image_id()))),
            ]),
            computed: map([("version", json!(t.default_version_number()))]),
            depends_on: Vec::new(),
        };
        tags::observe(&mut o, live.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        o
    }
}

/// The tags `DescribeLaunchTemplates` reported for `t`.
pub(super) fn own_tags(t: &LaunchTemplate) -> Vec<(String, String)> {
    t.tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

/// What the template launches: the image, the type and the cluster's security group.
fn data(d: &Desired, group_id: &str) -> anyhow::Result<RequestLaunchTemplateData> {
    Ok(RequestLaunchTemplateData::builder()
        .image_id(str_attr(d, "image")?)
        .instance_type(InstanceType::from(str_attr(d, "instance_type")?))
        .security_group_ids(group_id)
        .build())
}

/// A `ClientToken` derived from everything `CreateLaunchTemplate` sends (settings, security
/// group, every tag, so a drill's or a recreated template's differs): EC2 keeps a token
/// bound and answers `IdempotentParameterMismatch` to the same token with other parameters
/// ("Ensuring idempotency", https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html).
fn client_token(d: &Desired, group_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let attrs = serde_json::to_string(&d.attrs).unwrap_or_default();
    let tags = serde_json::to_string(&d.tags).unwrap_or_default();
    let input = format!("{}|{group_id}|{attrs}|{tags}", d.address);
    hex::encode(Sha256::digest(input.as_bytes()))[..64].to_string()
}

pub(super) fn ec2_tags(d: &Desired) -> Vec<Tag> {
    d.tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}
