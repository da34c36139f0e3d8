//! Release jobs through the console's port, against the sandbox: concurrent slider
//! changes lose nothing, refusals come before anything is created, and every object the
//! console would write validates against Istio's own CRD schemas.

use std::time::Duration;

use kube::api::{Api, DynamicObject, PostParams};
use kube::discovery::ApiResource;
use serde_json::json;
use sluice_app::domain::release::jobs::JobChange;
use sluice_app::domain::release::rules::{Browser, ContentRule, MatchOp, Os, RuleKind};
use sluice_app::domain::release::{ReleaseSpec, Routing, Side, Strategy, render};
use sluice_app::error::AppError;
use sluice_app::ports::ReleasesPort;

#[path = "support/bookinfo.rs"]
mod support;

use support::{Env, NS, bookinfo, controller};

fn spec(component: &str, strategy: Strategy) -> ReleaseSpec {
    ReleaseSpec {
        component: component.into(),
        base_workload: format!("{component}-v1"),
        base_version: "v1".into(),
        new_version: "v2".into(),
        image: format!("docker.io/istio/examples-bookinfo-{component}-v2:1.20.3"),
        replicas: 1,
        strategy,
        taken_over_by: None,
        creator: None,
        analysis: None,
        routing: Default::default(),
        also_serving: Vec::new(),
        http_route: None,
    }
}

#[tokio::test]
async fn twenty_concurrent_slider_changes_lose_none() {
    let Env {
        sandbox, cluster, ..
    } = bookinfo().await;
    cluster
        .create_job(
            NS,
            "canary-release",
            spec("reviews", Strategy::TrafficRatio { new_percent: 0 }),
        )
        .await
        .unwrap();
    // Twenty people each move the slider one step up from what they see; on a conflict
    // they read the message, look again and retry, as the page makes them.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let cluster = cluster.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0;
            loop {
                let seen = cluster.get_job(NS, "canary-release").await.unwrap();
                let Strategy::TrafficRatio { new_percent } = seen.spec.strategy else {
                    panic!()
                };
                match cluster
                    .change_job(
                        NS,
                        "canary-release",
                        seen.generation,
                        JobChange::NewPercent(new_percent + 1),
                    )
                    .await
                {
                    Ok(_) => return conflicts,
                    Err(AppError::Conflict(m)) => {
                        assert!(m.contains("Someone else changed canary-release"), "{m}");
                        assert!(m.contains("was not applied"), "{m}");
                        conflicts += 1;
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.unwrap();
    }
    let end = cluster.get_job(NS, "canary-release").await.unwrap();
    assert_eq!(
        end.spec.strategy,
        Strategy::TrafficRatio { new_percent: 20 },
        "no change was lost"
    );
    assert!(conflicts > 0, "the test must actually race");
    // And what gets applied always sums to 100.
    let split = sluice_app::domain::release::weights::requested(&end.spec.strategy, None);
    assert_eq!(u16::from(split.base) + u16::from(split.new), 100);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn bad_jobs_are_refused_before_anything_is_created() {
    let Env {
        sandbox,
        cluster,
        client,
        ..
    } = bookinfo().await;
    // Version already in use, bad image, bad name: one message listing each.
    let mut s = spec("reviews", Strategy::TrafficRatio { new_percent: 50 });
    s.new_version = "v1".into();
    s.image = "Not An Image".into();
    let Err(AppError::Invalid(m)) = cluster.create_job(NS, "Canary", s).await else {
        panic!()
    };
    assert!(m.contains("Job name \"Canary\""), "{m}");
    assert!(m.contains("already used"), "{m}");
    assert!(m.contains("not a valid image reference"), "{m}");

    // An invalid regex is caught before submit.
    let rules = vec![ContentRule {
        kind: RuleKind::Header {
            name: "x-test".into(),
        },
        op: MatchOp::Regex,
        value: "(unclosed".into(),
    }];
    let Err(AppError::Invalid(m)) = cluster
        .create_job(
            NS,
            "content",
            spec("reviews", Strategy::RequestContent { rules }),
        )
        .await
    else {
        panic!()
    };
    assert!(
        m.contains(
            "Rule 1 (header x-test): the regular expression is invalid: missing closing `)`"
        ),
        "{m}"
    );

    // One active job per component.
    cluster
        .create_job(
            NS,
            "first",
            spec("reviews", Strategy::TrafficRatio { new_percent: 10 }),
        )
        .await
        .unwrap();
    let Err(AppError::Conflict(m)) = cluster
        .create_job(
            NS,
            "second",
            spec(
                "reviews",
                Strategy::BlueGreen {
                    serving: Side::Base,
                },
            ),
        )
        .await
    else {
        panic!()
    };
    assert!(m.contains("reviews is being released by job first"), "{m}");

    // A hand-written VirtualService: refused with a choice; adopting it lets the job in.
    let ar = ApiResource::from_gvk(&kube::api::GroupVersionKind::gvk(
        "networking.istio.io",
        "v1",
        "VirtualService",
    ));
    let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                    "metadata": {"name": "ratings", "namespace": NS},
                    "spec": {"hosts": ["ratings"], "http": [{"route": [{"destination": {"host": "ratings"}}]}]}});
    Api::<DynamicObject>::namespaced_with(client.clone(), NS, &ar)
        .create(&PostParams::default(), &serde_json::from_value(vs).unwrap())
        .await
        .unwrap();
    let Err(AppError::Conflict(m)) = cluster
        .create_job(
            NS,
            "ratings-canary",
            spec("ratings", Strategy::TrafficRatio { new_percent: 10 }),
        )
        .await
    else {
        panic!()
    };
    assert!(
        m.contains("does not manage") && m.contains("let Sluice manage it"),
        "{m}"
    );
    assert!(
        cluster.get_job(NS, "ratings-canary").await.is_err(),
        "nothing was created"
    );
    cluster.adopt_routing(NS, "ratings").await.unwrap();
    cluster
        .create_job(
            NS,
            "ratings-canary",
            spec("ratings", Strategy::TrafficRatio { new_percent: 10 }),
        )
        .await
        .unwrap();
    sandbox.shutdown().await;
}

/// Every routing object the console writes, for every strategy and both routings,
/// against Istio's and Gateway API's CRD schemas.
#[test]
fn rendered_objects_validate_against_istios_and_gateway_apis_schemas() {
    use sluice_sandbox::crds::{CrdInfo, builtin_crds};
    let schemas: Vec<(String, serde_json::Value)> = builtin_crds()
        .iter()
        .filter_map(|c| CrdInfo::from_crd(c).ok())
        .filter(|c| c.group == "networking.istio.io" || c.group == "gateway.networking.k8s.io")
        .filter_map(|c| Some((c.kind.clone(), c.version("v1")?.schema.clone()?)))
        .collect();
    let schema = |kind: &str| &schemas.iter().find(|(k, _)| k == kind).unwrap().1;
    let rules = vec![
        ContentRule {
            kind: RuleKind::Header {
                name: "end-user".into(),
            },
            op: MatchOp::Exact,
            value: "jason".into(),
        },
        ContentRule {
            kind: RuleKind::Cookie {
                name: "user".into(),
            },
            op: MatchOp::Prefix,
            value: "ja".into(),
        },
        ContentRule {
            kind: RuleKind::Uri,
            op: MatchOp::Regex,
            value: "/api/.*".into(),
        },
        ContentRule {
            kind: RuleKind::Query {
                name: "beta".into(),
            },
            op: MatchOp::Exact,
            value: "1".into(),
        },
        ContentRule {
            kind: RuleKind::Os {
                values: vec![Os::Android, Os::Ios],
            },
            op: MatchOp::Exact,
            value: String::new(),
        },
        ContentRule {
            kind: RuleKind::Browser {
                values: vec![Browser::Chrome],
            },
            op: MatchOp::Exact,
            value: String::new(),
        },
    ];
    let strategies = [
        Strategy::TrafficRatio { new_percent: 30 },
        Strategy::RequestContent { rules },
        Strategy::BlueGreen { serving: Side::New },
        Strategy::Mirroring { percent: 25 },
    ];
    let base = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "reviews-v1"},
                      "spec": {"selector": {"matchLabels": {"app": "reviews", "version": "v1"}},
                               "template": {"metadata": {"labels": {"app": "reviews", "version": "v1"}},
                                            "spec": {"containers": [{"name": "reviews", "image": "x"}]}}}});
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "reviews"},
                         "spec": {"selector": {"app": "reviews"},
                                  "ports": [{"name": "http", "port": 9080, "targetPort": 9080}]}});
    let check = |obj: &serde_json::Value, what: &str| {
        let kind = obj["kind"].as_str().unwrap();
        if kind == "Service" {
            return; // core, no CRD schema
        }
        let v = sluice_sandbox::schema::validate(schema(kind), obj);
        assert!(v.errors.is_empty(), "{kind} for {what}: {:?}", v.errors);
        assert!(
            v.unknown_fields.is_empty(),
            "{kind} for {what}: {:?}",
            v.unknown_fields
        );
    };
    // A Gateway's route (north-south) the release rewrites in place.
    let gateway_route = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
        "metadata": {"name": "bookinfo", "namespace": NS},
        "spec": {"parentRefs": [{"name": "bookinfo-gateway"}],
                 "hostnames": ["bookinfo.example.com"],
                 "rules": [
                     {"matches": [{"path": {"type": "PathPrefix", "value": "/productpage"}}],
                      "backendRefs": [{"name": "productpage", "port": 9080}]},
                     {"matches": [{"path": {"type": "PathPrefix", "value": "/reviews"}}],
                      "backendRefs": [{"name": "reviews", "port": 9080}]}]}
    });
    let mut kinds = std::collections::BTreeSet::new();
    let routings = [
        (Routing::VirtualService, serde_json::Value::Null),
        (Routing::HttpRoute, serde_json::Value::Null),
        (Routing::HttpRoute, gateway_route),
    ];
    for (routing, route) in &routings {
        for strategy in &strategies {
            let mut spec = spec("reviews", strategy.clone());
            spec.routing = *routing;
            for (base_ready, new_ready) in [(1, 1), (1, 0)] {
                let r = render::render(
                    &spec,
                    "job",
                    NS,
                    &base,
                    &service,
                    route,
                    &[base_ready, new_ready],
                );
                for obj in &r.routing {
                    kinds.insert(obj["kind"].as_str().unwrap().to_string());
                    check(obj, &format!("{strategy:?} on {routing:?}"));
                }
            }
            for obj in render::survivor_routes(&spec, "v2", "job", NS, &service, route) {
                check(&obj, &format!("Job Offline on {routing:?}"));
            }
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["DestinationRule", "HTTPRoute", "Service", "VirtualService"]
    );
}

#[tokio::test]
async fn the_controllers_status_writes_do_not_make_a_persons_change_stale() {
    let Env {
        sandbox,
        cluster,
        client,
        ..
    } = bookinfo().await;
    let (stop, controller) = controller(&client);
    // What the person's page shows right after creating the job.
    let seen = cluster
        .create_job(
            NS,
            "canary-release",
            spec("reviews", Strategy::TrafficRatio { new_percent: 10 }),
        )
        .await
        .unwrap();
    // Meanwhile the controller goes live, writing status (and the finalizer) several times.
    for _ in 0..150 {
        let j = cluster.get_job(NS, "canary-release").await.unwrap();
        if j.phase.as_deref() == Some("Live") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let changed = cluster
        .change_job(
            NS,
            "canary-release",
            seen.generation,
            JobChange::NewPercent(40),
        )
        .await
        .expect("only another person's change makes a change stale");
    assert_eq!(
        changed.spec.strategy,
        Strategy::TrafficRatio { new_percent: 40 }
    );
    // A second change against the now-old revision is stale: someone (this person) changed it.
    let Err(AppError::Conflict(m)) = cluster
        .change_job(
            NS,
            "canary-release",
            seen.generation,
            JobChange::NewPercent(60),
        )
        .await
    else {
        panic!()
    };
    assert!(m.contains("v2") || m.contains("traffic ratio"), "{m}");
    stop.send_replace(true);
    let _ = controller.await;
    sandbox.shutdown().await;
}
