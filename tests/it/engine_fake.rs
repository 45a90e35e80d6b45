//! The engine (topology, plan, apply, state) against the in-memory provider: fast checks of
//! ordering, convergence, failure handling and saved-plan staleness.

use standby::address::Address;
use standby::apply::{apply, ApplyOptions, ApplyReport};
use standby::config::*;
use standby::environment::{check_plan_is_current, Environment, PlanOptions};
use standby::plan::{Action, ChangeReason};
use standby::provider::fake::FakeProvider;
use standby::provider::Provider;
use standby::state::StateStore;
use standby::topology::Kind;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

fn spec(dir: &Path, web_size: u32) -> Spec {
    let region = |name: &str, role, cidr: &str| Region {
        name: name.into(),
        role,
        cidr: cidr.parse().unwrap(),
        zones: vec![format!("{name}a"), format!("{name}b")],
        capacity: 0.5,
    };
    Spec {
        environment: "prod".into(),
        env_dir: dir.join("environments/prod"),
        service: Service {
            name: "checkout".into(),
            rto: Duration::from_secs(900),
            rpo: Duration::from_secs(300),
            tags: BTreeMap::from([("team".into(), "payments".into())]),
            drill_every: None,
        },
        regions: vec![
            region("us-east-1", Role::Primary, "10.0.0.0/16"),
            region("us-west-2", Role::WarmStandby, "10.1.0.0/16"),
            region("eu-west-1", Role::ColdStandby, "10.2.0.0/16"),
        ],
        clusters: vec![Component {
            name: ComponentName::root("web"),
            settings: ClusterSettings {
                max_size: None,
                instance_type: "m6i.large".into(),
                size: web_size,
                image: "ami-1".into(),
                port: 443,
                min_healthy_percentage: 100,
            },
            per_region: BTreeMap::new(),
        }],
        databases: vec![Component {
            name: ComponentName::root("orders"),
            settings: DatabaseSettings {
                engine: "postgres".into(),
                engine_version: "16.3".into(),
                instance_class: "db.r6g.large".into(),
                storage_gb: 100,
                backup_days: 7,
                prevent_destroy: false,
            },
            per_region: BTreeMap::new(),
        }],
        buckets: vec![Component {
            name: ComponentName::root("receipts"),
            settings: BucketSettings {
                cold_storage_class: "GLACIER".into(),
                replication_role_arn: None,
                bucket_name: None,
            },
            per_region: BTreeMap::new(),
        }],
        dns: vec![Component {
            name: ComponentName::root("api"),
            settings: DnsSettings {
                zone: "example.com".into(),
                name: "api.example.com".into(),
                cluster: ComponentName::root("web"),
                ttl: 60,
                health_check: Some(HealthCheck {
                    path: "/health".into(),
                    port: 443,
                    protocol: "HTTPS".into(),
                }),
            },
            per_region: BTreeMap::new(),
        }],
        outputs: BTreeMap::new(),
        backend: None,
        drift_ignores: Vec::new(),
    }
}

pub(crate) fn env(dir: &Path, web_size: u32) -> Environment {
    let spec = spec(dir, web_size);
    let state_path = StateStore::path_for(&spec.env_dir, &spec.environment);
    Environment {
        spec,
        state_path,
        lock_timeout: None,
        state_failover: standby::state::Failover::Never,
    }
}

pub(crate) async fn run(
    env: &Environment,
    provider: Arc<FakeProvider>,
    opts: PlanOptions,
) -> ApplyReport {
    let mut store = env.open_state("apply").await.unwrap();
    let state = store.exists().then(|| store.state().clone());
    let plan = env.plan(&*provider, state.as_ref(), &opts).await.unwrap();
    let (events, _rx) = mpsc::unbounded_channel();
    let (_cancel_tx, cancel) = watch::channel(false);
    let p: Arc<dyn Provider> = provider;
    apply(
        &plan,
        p,
        &mut store,
        ApplyOptions {
            parallelism: 4,
            cancel,
            events,
        },
    )
    .await
    .unwrap()
}

pub(crate) fn refreshing() -> PlanOptions {
    PlanOptions {
        refresh: true,
        ..Default::default()
    }
}

/// The wanted capacity of the web cluster's group in `region`; `None` without the group.
fn capacity(provider: &FakeProvider, region: &str) -> Option<u64> {
    let address = format!("region.{region}.cluster.web.group");
    provider
        .all()
        .into_iter()
        .find(|o| o.address.as_str() == address)
        .map(|o| o.attrs["desired"].as_u64().unwrap())
}

fn count(provider: &FakeProvider, needle: &str) -> usize {
    provider
        .all()
        .iter()
        .filter(|o| o.address.as_str().contains(needle))
        .count()
}

#[tokio::test]
async fn converges_from_empty_by_role_and_then_plans_clean() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), 6);
    let provider = Arc::new(FakeProvider::new());
    let report = run(&env, provider.clone(), refreshing()).await;
    assert!(report.succeeded(), "{report:?}");
    assert_eq!(capacity(&provider, "us-east-1"), Some(6));
    assert_eq!(capacity(&provider, "us-west-2"), Some(3));
    assert_eq!(capacity(&provider, "eu-west-1"), Some(0), "pilot light");
    assert_eq!(count(&provider, "eu-west-1.cluster.web.load_balancer"), 0);
    assert_eq!(
        count(&provider, "eu-west-1.network.vpc"),
        1,
        "cold standbys keep their network"
    );
    let replication = provider
        .all()
        .into_iter()
        .find(|o| o.address.as_str() == "region.us-east-1.bucket.receipts.replication")
        .expect("the primary's bucket replicates");
    let classes: Vec<&str> = replication.attrs["destinations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["storage_class"].as_str().unwrap())
        .collect();
    assert_eq!(
        classes,
        ["GLACIER", "STANDARD"],
        "eu-west-1 sorts before us-west-2"
    );

    let state = env.read_state().await.unwrap().unwrap();
    assert_eq!(state.resources().len(), provider.all().len());
    let again = env
        .plan(&*provider, Some(&state), &refreshing())
        .await
        .unwrap();
    assert!(again.actions.is_empty(), "{:?}", again.actions);
}

#[tokio::test]
async fn resizing_updates_the_groups_only() {
    let dir = tempfile::tempdir().unwrap();
    let provider = Arc::new(FakeProvider::new());
    run(&env(dir.path(), 2), provider.clone(), refreshing()).await;
    let bigger = env(dir.path(), 4);
    let state = bigger.read_state().await.unwrap().unwrap();
    let plan = bigger
        .plan(&*provider, Some(&state), &refreshing())
        .await
        .unwrap();
    let addrs: Vec<(&str, &str)> = plan
        .actions
        .iter()
        .map(|a| (a.verb(), a.address().as_str()))
        .collect();
    assert_eq!(
        addrs,
        [
            ("update", "region.eu-west-1.cluster.web.group"),
            ("update", "region.us-east-1.cluster.web.group"),
            ("update", "region.us-west-2.cluster.web.group"),
        ],
        "the cold group's maximum follows the size; records alias the load balancers"
    );
    run(&bigger, provider.clone(), refreshing()).await;
    assert_eq!(capacity(&provider, "us-east-1"), Some(4));
    run(&env(dir.path(), 1), provider.clone(), refreshing()).await;
    assert_eq!(capacity(&provider, "us-east-1"), Some(1));
    assert_eq!(capacity(&provider, "us-west-2"), Some(1), "at least one");
}

#[tokio::test]
async fn a_failure_stops_scheduling_saves_state_and_the_next_apply_converges() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), 2);
    let provider = Arc::new(FakeProvider::new());
    provider.fail_on("region.us-east-1.network.vpc");
    let report = run(&env, provider.clone(), refreshing()).await;
    assert_eq!(report.failures.len(), 1);
    assert!(
        report.failures[0].error.contains("request id"),
        "{}",
        report.failures[0].error
    );
    assert_eq!(
        count(&provider, "us-east-1.cluster.web"),
        0,
        "nothing that needs the VPC ran"
    );
    let saved = env.read_state().await.unwrap().unwrap();
    assert_eq!(
        saved.resources().len(),
        provider.all().len(),
        "the state holds what completed"
    );

    let healthy = Arc::new(FakeProvider::new());
    for o in provider.all() {
        healthy.edit(o.address.as_str(), |slot| *slot = Some(o.clone()));
    }
    let report = run(&env, healthy.clone(), refreshing()).await;
    assert!(report.succeeded());
    assert_eq!(capacity(&healthy, "us-east-1"), Some(2));
}

#[tokio::test]
async fn refresh_notices_out_of_band_changes_and_adopts_what_the_state_lost() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), 2);
    let provider = Arc::new(FakeProvider::new());
    run(&env, provider.clone(), refreshing()).await;
    provider.edit("region.us-east-1.cluster.web.target_group", |o| {
        o.as_mut().unwrap().attrs.insert("port".into(), 8080.into());
    });
    provider.edit("region.us-east-1.cluster.web.listener", |o| *o = None);
    let mut state = env.read_state().await.unwrap().unwrap();
    state.remove(&Address::new("region.us-west-2.cluster.web.group"));
    let plan = env
        .plan(&*provider, Some(&state), &refreshing())
        .await
        .unwrap();
    let verbs: Vec<(&str, &str)> = plan
        .actions
        .iter()
        .map(|a| (a.verb(), a.address().as_str()))
        .collect();
    assert_eq!(
        verbs,
        [
            ("replace", "region.us-east-1.cluster.web.group"),
            ("create", "region.us-east-1.cluster.web.listener"),
            ("replace", "region.us-east-1.cluster.web.target_group"),
        ],
        "the group the state lost is adopted, not recreated"
    );
    assert!(
        matches!(&plan.actions[2], Action::Replace { reason: ChangeReason::CannotUpdate(keys), .. } if keys == &["port"])
    );
}

#[tokio::test]
async fn destroy_deletes_dependents_before_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), 2);
    let provider = Arc::new(FakeProvider::new());
    run(&env, provider.clone(), refreshing()).await;
    let report = run(
        &env,
        provider.clone(),
        PlanOptions {
            refresh: true,
            destroy: true,
            ..Default::default()
        },
    )
    .await;
    assert!(report.succeeded());
    assert!(provider.all().is_empty());
    assert!(env
        .read_state()
        .await
        .unwrap()
        .unwrap()
        .resources()
        .is_empty());
}

#[tokio::test]
async fn a_saved_plan_is_refused_once_the_state_moved_on() {
    let dir = tempfile::tempdir().unwrap();
    let env = env(dir.path(), 2);
    let provider = Arc::new(FakeProvider::new());
    let plan = env.plan(&*provider, None, &refreshing()).await.unwrap();
    run(&env, provider.clone(), refreshing()).await;
    let state = env.read_state().await.unwrap().unwrap();
    let err = check_plan_is_current(&plan, &state, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("another state"), "{err}");
    let current = env
        .plan(&*provider, Some(&state), &refreshing())
        .await
        .unwrap();
    check_plan_is_current(&current, &state, true).unwrap();
    let mut moved = state.clone();
    moved.serial += 1;
    let err = check_plan_is_current(&current, &moved, true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("stale") && err.contains("serial"), "{err}");
}

fn find(provider: &FakeProvider, address: &str) -> standby::provider::Observed {
    provider
        .all()
        .into_iter()
        .find(|o| o.address.as_str() == address)
        .unwrap_or_else(|| panic!("{address} exists"))
}

#[tokio::test]
async fn databases_and_failover_records_follow_the_roles() {
    let dir = tempfile::tempdir().unwrap();
    let small = env(dir.path(), 4);
    let provider = Arc::new(FakeProvider::new());
    assert!(run(&small, provider.clone(), refreshing())
        .await
        .succeeded());

    assert_eq!(
        find(&provider, "region.us-east-1.database.orders").attrs["replica_of"],
        serde_json::Value::Null
    );
    assert_eq!(
        find(&provider, "region.us-west-2.database.orders").attrs["replica_of"],
        "region.us-east-1.database.orders"
    );
    let cold_instances = provider
        .all()
        .into_iter()
        .filter(|o| o.kind == Kind::Database && o.region.as_deref() == Some("eu-west-1"))
        .count();
    assert_eq!(cold_instances, 0, "a cold standby runs no database");
    assert_eq!(
        find(&provider, "region.eu-west-1.database.orders.backups").attrs["source"],
        "region.us-east-1.database.orders",
        "it holds the primary's replicated backups"
    );

    let primary = find(&provider, "dns.api.record.us-east-1");
    assert_eq!(primary.attrs["failover"], "PRIMARY");
    let lb = |r: &str| find(&provider, &format!("region.{r}.cluster.web.load_balancer"));
    assert_eq!(
        primary.attrs["alias_dns_name"],
        lb("us-east-1").computed["dns_name"],
        "an alias to the primary's load balancer"
    );
    assert_eq!(primary.attrs["evaluate_target_health"], true);
    let secondary = find(&provider, "dns.api.record.us-west-2");
    assert_eq!(secondary.attrs["failover"], "SECONDARY");
    assert_eq!(
        secondary.attrs["alias_dns_name"],
        lb("us-west-2").computed["dns_name"]
    );
    assert_eq!(
        count(&provider, "dns.api.health_check."),
        0,
        "target health decides"
    );
    assert_eq!(count(&provider, "dns.api.record.eu-west-1"), 0);

    // Resizing the cluster leaves the records alone: they follow the load balancers.
    let bigger = env(dir.path(), 6);
    assert!(run(&bigger, provider.clone(), refreshing())
        .await
        .succeeded());
    assert_eq!(capacity(&provider, "us-east-1"), Some(6));
    let state = bigger.read_state().await.unwrap().unwrap();
    assert!(bigger
        .plan(&*provider, Some(&state), &refreshing())
        .await
        .unwrap()
        .actions
        .is_empty());
}

#[tokio::test]
async fn prevent_destroy_blocks_destroy_and_replacement_but_not_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let mut env = env(dir.path(), 2);
    env.spec.databases[0].settings.prevent_destroy = true;
    let provider = Arc::new(FakeProvider::new());
    assert!(run(&env, provider.clone(), refreshing()).await.succeeded());
    let state = env.read_state().await.unwrap().unwrap();
    let destroy = env
        .plan(
            &*provider,
            Some(&state),
            &PlanOptions {
                refresh: true,
                destroy: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        destroy.blocked.len(),
        2,
        "only the primary and the secret of its password hold data: {:?}",
        destroy.blocked
    );
    assert!(
        destroy.blocked[0].contains("region.us-east-1.database.orders has prevent_destroy = true")
    );
    assert!(destroy.blocked[1]
        .contains("region.us-east-1.database.orders.secret has prevent_destroy = true"));
    let mut store = env.open_state("destroy").await.unwrap();
    let (events, _rx) = mpsc::unbounded_channel();
    let (_tx, cancel) = watch::channel(false);
    let p: Arc<dyn Provider> = provider.clone();
    let err = apply(
        &destroy,
        p,
        &mut store,
        ApplyOptions {
            parallelism: 4,
            cancel,
            events,
        },
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("prevent_destroy"), "{err}");
    drop(store);
    assert_eq!(
        count(&provider, ".database.orders")
            - count(&provider, ".database.orders.security_group")
            - count(&provider, ".database.orders.backups"),
        3,
        "nothing was deleted: both databases and the secret"
    );

    env.spec.databases[0].settings.engine = "mysql".into();
    let replace = env
        .plan(&*provider, Some(&state), &refreshing())
        .await
        .unwrap();
    let reasons: Vec<String> = replace
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Replace { reason, .. } => Some(format!("{}: {reason}", a.address())),
            _ => None,
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "region.eu-west-1.database.orders.backups: region.us-east-1.database.orders is replaced",
            "region.us-east-1.database.orders: `engine` cannot change in place",
            "region.us-west-2.database.orders: `engine` cannot change in place"
        ]
    );
    assert_eq!(replace.blocked.len(), 1);
}

mod dr {
    use super::*;
    use standby::dr::{plan_promote, plan_rebuild, PromoteRequest, RebuildRequest};

    async fn apply_plan(
        env: &Environment,
        provider: Arc<FakeProvider>,
        plan: &standby::plan::Plan,
    ) -> ApplyReport {
        let mut store = env.open_state("dr").await.unwrap();
        let (events, _rx) = mpsc::unbounded_channel();
        let (_tx, cancel) = watch::channel(false);
        let p: Arc<dyn Provider> = provider;
        apply(
            plan,
            p,
            &mut store,
            ApplyOptions {
                parallelism: 4,
                cancel,
                events,
            },
        )
        .await
        .unwrap()
    }

    fn promote(region: &str) -> PromoteRequest {
        PromoteRequest {
            region: region.into(),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn promote_refuses_beyond_the_rpo_unless_data_loss_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path(), 4);
        let provider = Arc::new(FakeProvider::new());
        run(&env, provider.clone(), refreshing()).await;
        provider.set_lag("checkout-prod-orders-us-west-2", Duration::from_secs(600));
        let state = env.read_state().await.unwrap().unwrap();
        let err = plan_promote(&env, &*provider, &state, &promote("us-west-2"))
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("replica lag 10m") && err.contains("rpo of 5m"),
            "{err}"
        );
        let req = PromoteRequest {
            accept_data_loss: true,
            ..promote("us-west-2")
        };
        let p = plan_promote(&env, &*provider, &state, &req).await.unwrap();
        assert!(p.gate.accepted_data_loss);
    }

    #[tokio::test]
    async fn promote_with_the_primary_down_never_calls_it_and_moves_everything() {
        let dir = tempfile::tempdir().unwrap();
        let env = env(dir.path(), 4);
        let provider = Arc::new(FakeProvider::new());
        run(&env, provider.clone(), refreshing()).await;
        let fresh = Arc::new(FakeProvider::new());
        for o in provider.all() {
            fresh.edit(o.address.as_str(), |slot| *slot = Some(o.clone()));
        }
        fresh.set_lag("checkout-prod-orders-us-west-2", Duration::from_secs(2));
        let state = env.read_state().await.unwrap().unwrap();
        let req = PromoteRequest {
            assume_down: ["us-east-1".to_string()].into(),
            ..promote("us-west-2")
        };
        let p = plan_promote(&env, &*fresh, &state, &req).await.unwrap();
        eprintln!(
            "called {:?} roles {:?} actions {}",
            fresh.regions_called(),
            p.plan.roles,
            p.plan.actions.len()
        );
        assert!(p
            .plan
            .notes
            .iter()
            .any(|n| n.contains("us-east-1 is assumed down")));
        let report = apply_plan(&env, fresh.clone(), &p.plan).await;
        assert!(report.succeeded(), "{report:?}");
        assert!(
            !fresh.regions_called().contains("us-east-1"),
            "{:?} {:?}",
            fresh.regions_called(),
            p.plan
                .actions
                .iter()
                .map(|a| format!("{} {}", a.verb(), a.address()))
                .collect::<Vec<_>>()
        );

        assert_eq!(
            find(&fresh, "region.us-west-2.database.orders").attrs["replica_of"],
            serde_json::Value::Null
        );
        assert_eq!(capacity(&fresh, "us-west-2"), Some(4), "full size");
        let record = find(&fresh, "dns.api.record.us-west-2");
        assert_eq!(record.attrs["failover"], "PRIMARY");
        let replication = find(&fresh, "region.us-west-2.bucket.receipts.replication");
        let dests: Vec<&str> = replication.attrs["destinations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["region"].as_str().unwrap())
            .collect();
        assert_eq!(
            dests,
            ["eu-west-1"],
            "replicates to the remaining standby only"
        );
        let roles = env.read_state().await.unwrap().unwrap().roles;
        assert_eq!(roles["us-west-2"], Role::Primary);
        assert_eq!(roles["us-east-1"], Role::Failed);

        // Failover then failback: rebuild the old primary, promote it back, rebuild again.
        let state = env.read_state().await.unwrap().unwrap();
        let req = RebuildRequest {
            region: "us-east-1".into(),
            role: Role::WarmStandby,
            assume_down: Default::default(),
            abandon_interrupted: false,
        };
        let plan = plan_rebuild(&env, &*fresh, &state, &req).await.unwrap();
        assert!(plan.actions.iter().any(|a| matches!(a, Action::Replace { reason, .. } if a.address().as_str() == "region.us-east-1.database.orders" && matches!(reason, ChangeReason::CannotUpdate(keys) if keys.iter().any(|k| k == "replica_of")))));
        assert!(apply_plan(&env, fresh.clone(), &plan).await.succeeded());
        assert_eq!(
            find(&fresh, "region.us-east-1.database.orders").attrs["replica_of"],
            "region.us-west-2.database.orders"
        );
        let state = env.read_state().await.unwrap().unwrap();
        let back = plan_promote(&env, &*fresh, &state, &promote("us-east-1"))
            .await
            .unwrap();
        assert!(apply_plan(&env, fresh.clone(), &back.plan)
            .await
            .succeeded());
        let state = env.read_state().await.unwrap().unwrap();
        let req = RebuildRequest {
            region: "us-west-2".into(),
            role: Role::WarmStandby,
            assume_down: Default::default(),
            abandon_interrupted: false,
        };
        let plan = plan_rebuild(&env, &*fresh, &state, &req).await.unwrap();
        assert!(apply_plan(&env, fresh.clone(), &plan).await.succeeded());
        let state = env.read_state().await.unwrap().unwrap();
        assert_eq!(
            env.roles(Some(&state)),
            env.roles(None),
            "the original layout is back"
        );
        let clean = env
            .plan(&*fresh, Some(&state), &refreshing())
            .await
            .unwrap();
        assert!(
            clean.actions.is_empty(),
            "{:?}",
            clean
                .actions
                .iter()
                .map(|a| a.address())
                .collect::<Vec<_>>()
        );
    }
}
