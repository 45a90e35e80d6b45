//! Reading the known secrets: one `DescribeSecret` each (a database has one), in its home
//! region when that region is read; none at all for an environment without databases.

use super::*;
use futures::future::try_join_all;

/// Every secret the caller knows of (state or desired) whose home region is in scope, that
/// exists, is not scheduled for deletion and whose tags name this environment; one whose
/// tags name another environment refuses the refresh.
pub(crate) async fn refresh(
    scope: &Scope,
    secrets_in: &(dyn Fn(&str) -> Secrets + Send + Sync),
) -> anyhow::Result<Vec<Observed>> {
    let known: Vec<(&str, &str, &Address)> = scope
        .known
        .iter()
        .filter(|k| k.kind == Kind::DbSecret)
        .filter_map(|k| Some((k.region.as_deref()?, k.name.as_str(), &k.address)))
        .filter(|(region, _, _)| scope.regions.contains(*region))
        .collect();
    let read = try_join_all(known.iter().map(|(region, name, address)| async move {
        let secrets = secrets_in(region);
        let _permit = secrets.limit.acquire().await?;
        let live = secrets.describe(name, address).await?;
        Ok::<_, anyhow::Error>(live.map(|l| (*region, *address, l)))
    }))
    .await?;
    let ours = tags::ours(scope);
    let mut out = Vec::new();
    let mut conflicts = Vec::new();
    for (region, address, live) in read.into_iter().flatten() {
        if live.deleted_date().is_some() {
            continue;
        }
        let live_tags = tag_map(live.tags());
        if let Some(owner) = tags::foreign(&live_tags, scope) {
            let what = format!("the secret {} in {region}", live.name().unwrap_or_default());
            let fix = "rename the environment (or the service) so the names differ";
            conflicts.push(tags::conflict(address, &what, &owner, &ours, fix));
            continue;
        }
        if tags::owner(&live_tags) == Some(ours.clone()) {
            out.push(observed(&live, address.clone(), region));
        }
    }
    tags::refuse(conflicts)?;
    Ok(out)
}
