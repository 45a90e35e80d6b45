//! Finding a live resource by its `standby:address` tag (to adopt it).
//!
//! A create first asks whether its address already exists (an interrupted apply, a lost
//! state). The environment's resources of a kind in a region are listed once per command
//! ([`Listed`]): n creates, or n adoptions after a lost state, cost one paginated describe,
//! not one filtered describe each. Creates add to the listing and deletes take from it, so
//! it stays what this command left in AWS.

use super::*;
use std::sync::Mutex;
use tokio::sync::OnceCell;

/// (region, kind, service tag, environment tag)
type ListKey = (String, Kind, String, String);
/// By address: the resource as listed, or `None` when this command created it since (so
/// only a describe of its own shows its current shape).
type Listing = Mutex<HashMap<String, Option<Raw>>>;

/// The environment's live EC2 resources by `standby:address`, per region and kind, listed at
/// the first create of that kind.
#[derive(Default)]
pub(crate) struct Listed {
    sets: Mutex<HashMap<ListKey, Arc<OnceCell<Listing>>>>,
}

impl Listed {
    fn cell(&self, key: ListKey) -> Arc<OnceCell<Listing>> {
        let mut sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.entry(key).or_default().clone()
    }

    /// Every listing of `region` and `kind`, whatever the environment.
    fn of(&self, region: &str, kind: Kind) -> Vec<Arc<OnceCell<Listing>>> {
        let sets = self.sets.lock().unwrap_or_else(|e| e.into_inner());
        sets.iter()
            .filter(|(k, _)| k.0 == region && k.1 == kind)
            .map(|(_, cell)| cell.clone())
            .collect()
    }
}

impl Ec2 {
    /// The live resource of `d`'s kind carrying `d`'s address tag, if any.
    pub(super) async fn find_by_address(&self, d: &Desired) -> anyhow::Result<Option<Observed>> {
        Ok(match self.find_raw(d, d.kind).await? {
            None => None,
            Some(Raw::Vpc(v)) => self.vpc_observed(&v),
            Some(Raw::Igw(g)) => self.igw_observed(&g),
            Some(Raw::Subnet(s)) => self.subnet_observed(&s, None),
            Some(Raw::SecurityGroup(g)) => self.sg_observed(&g),
            Some(Raw::Instance(i)) => self.instance_observed(&i),
        })
    }

    pub(super) async fn find_raw_igw(
        &self,
        d: &Desired,
    ) -> anyhow::Result<Option<InternetGateway>> {
        Ok(match self.find_raw(d, Kind::InternetGateway).await? {
            Some(Raw::Igw(g)) => Some(g),
            _ => None,
        })
    }

    /// `d`'s resource of `kind` as the listing of its environment and region holds it.
    pub(super) async fn find_raw(&self, d: &Desired, kind: Kind) -> anyhow::Result<Option<Raw>> {
        let tag = |key: &str| d.tags.get(key).cloned().unwrap_or_default();
        let (service, environment) = (tag(TAG_SERVICE), tag(TAG_ENVIRONMENT));
        let filters = vec![
            tag_filter(TAG_SERVICE, &service),
            tag_filter(TAG_ENVIRONMENT, &environment),
        ];
        let cell = self
            .listed
            .cell((self.region.clone(), kind, service, environment));
        let listing = cell
            .get_or_try_init(|| async {
                self.list_by_address(kind, filters, &d.address)
                    .await
                    .map(Mutex::new)
            })
            .await?;
        let found = {
            let listing = listing.lock().unwrap_or_else(|e| e.into_inner());
            listing.get(d.address.as_str()).cloned()
        };
        match found {
            None => Ok(None),
            Some(Some(raw)) => Ok(Some(raw)),
            Some(None) => self.describe_by_address(d, kind).await,
        }
    }

    /// `d`'s resource of `kind` described on its own (filtered by its address tag).
    async fn describe_by_address(&self, d: &Desired, kind: Kind) -> anyhow::Result<Option<Raw>> {
        // Filter values are wildcard patterns: `?` stands for the brackets of an indexed
        // address (moto 5.2.5 does not match `subnet[0]` literally for subnets); the listing
        // keys by the exact address tag.
        let pattern = d.address.as_str().replace(['[', ']'], "?");
        let tag = |key: &str| d.tags.get(key).map(String::as_str).unwrap_or_default();
        let filters = vec![
            tag_filter(TAG_ADDRESS, &pattern),
            tag_filter(TAG_SERVICE, tag(TAG_SERVICE)),
            tag_filter(TAG_ENVIRONMENT, tag(TAG_ENVIRONMENT)),
        ];
        let mut found = self.list_by_address(kind, filters, &d.address).await?;
        Ok(found.remove(d.address.as_str()).flatten())
    }

    /// Records what this command created, for a later create of the same address.
    pub(super) fn note_created(&self, d: &Desired) {
        for cell in self.listed.of(&self.region, d.kind) {
            if let Some(listing) = cell.get() {
                let mut listing = listing.lock().unwrap_or_else(|e| e.into_inner());
                listing.insert(d.address.to_string(), None);
            }
        }
    }

    /// Records what this command deleted: a replacement creates anew.
    pub(super) fn note_deleted(&self, current: &Observed) {
        for cell in self.listed.of(&self.region, current.kind) {
            if let Some(listing) = cell.get() {
                let mut listing = listing.lock().unwrap_or_else(|e| e.into_inner());
                listing.remove(current.address.as_str());
            }
        }
    }

    async fn list_by_address(
        &self,
        kind: Kind,
        filters: Vec<Filter>,
        subject: &Address,
    ) -> anyhow::Result<HashMap<String, Option<Raw>>> {
        let subject = subject.to_string();
        let raws: Vec<(Vec<Tag>, Raw)> = match kind {
            Kind::Vpc => self
                .list_vpcs(filters, &subject)
                .await?
                .into_iter()
                .map(|x| (x.tags().to_vec(), Raw::Vpc(x)))
                .collect(),
            Kind::InternetGateway => self
                .list_internet_gateways(filters, &subject)
                .await?
                .into_iter()
                .map(|x| (x.tags().to_vec(), Raw::Igw(x)))
                .collect(),
            Kind::Subnet => self
                .list_subnets(filters, &subject)
                .await?
                .into_iter()
                .map(|x| (x.tags().to_vec(), Raw::Subnet(x)))
                .collect(),
            Kind::SecurityGroup => self
                .list_security_groups(filters, &subject)
                .await?
                .into_iter()
                .map(|x| (x.tags().to_vec(), Raw::SecurityGroup(x)))
                .collect(),
            Kind::Instance => {
                let live = self.list_instances(live_filters(filters), &subject).await?;
                dedupe_instances(live)
                    .into_iter()
                    .map(|x| (x.tags().to_vec(), Raw::Instance(Box::new(x))))
                    .collect()
            }
            other => bail!("kind {other:?} is not an EC2 resource"),
        };
        Ok(raws
            .into_iter()
            .filter_map(|(tags, raw)| Some((tag_map(&tags).remove(TAG_ADDRESS)?, Some(raw))))
            .collect())
    }
}

/// A resource as `describe_*` returned it; short-lived, so its size does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Clone)]
pub(super) enum Raw {
    Vpc(Vpc),
    Igw(InternetGateway),
    Subnet(Subnet),
    SecurityGroup(SecurityGroup),
    Instance(Box<Instance>),
}
