//! `coordination.k8s.io/v1` Leases as leader election uses them (client-go's and
//! kube-rs' lease locks): create-if-absent, compare-and-swap on the resourceVersion, and
//! MicroTime fields that come back exactly as a real API server returns them.

#[path = "support/sandbox.rs"]
mod support;

use k8s_openapi::api::coordination::v1::Lease;
use kube::{
    Api,
    api::{ApiResource, DynamicObject, GroupVersionKind, PostParams},
};
use serde_json::{Value, json};
use support::api_error;

fn lease(name: &str, holder: &str, renew: &str, transitions: i64) -> Lease {
    serde_json::from_value(json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": name, "namespace": "demo-project"},
        "spec": {
            "holderIdentity": holder,
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-12-06T05:00:00.123456Z",
            "renewTime": renew,
            "leaseTransitions": transitions,
        }
    }))
    .expect("a lease")
}

/// The stored object as JSON, untouched by any client-side type.
async fn raw(client: &kube::Client, name: &str) -> Value {
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"));
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "demo-project", &ar);
    serde_json::to_value(api.get(name).await.expect("lease")).expect("json")
}

#[tokio::test]
async fn leader_election_on_a_lease_behaves_like_kube_apiserver() {
    let t = support::start().await;
    let leases: Api<Lease> = Api::namespaced(t.client.clone(), "demo-project");

    // Candidate A acquires the lock by creating the lease.
    let created = leases
        .create(
            &PostParams::default(),
            &lease(
                "sluice-controller",
                "pod-a",
                "2026-12-06T05:00:00.123456Z",
                0,
            ),
        )
        .await
        .expect("first create wins");
    let spec = raw(&t.client, "sluice-controller").await["spec"].clone();
    assert_eq!(
        spec,
        json!({
            "holderIdentity": "pod-a",
            "leaseDurationSeconds": 15,
            "acquireTime": "2026-12-06T05:00:00.123456Z",
            "renewTime": "2026-12-06T05:00:00.123456Z",
            "leaseTransitions": 0,
        }),
        "spec round-trips exactly"
    );

    // Candidate B tries to create it too: 409 AlreadyExists.
    let err = api_error(
        leases
            .create(
                &PostParams::default(),
                &lease(
                    "sluice-controller",
                    "pod-b",
                    "2026-12-06T05:00:01.000000Z",
                    0,
                ),
            )
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    assert_eq!(
        err.message,
        "leases.coordination.k8s.io \"sluice-controller\" already exists"
    );

    // A renews (compare-and-swap on its resourceVersion) ...
    let mut renewal = created.clone();
    renewal.spec.as_mut().expect("spec").renew_time =
        Some(serde_json::from_value(json!("2026-12-06T05:00:05.654321Z")).expect("micro time"));
    let renewed = leases
        .replace("sluice-controller", &PostParams::default(), &renewal)
        .await
        .expect("renew");
    assert_ne!(
        renewed.metadata.resource_version,
        created.metadata.resource_version
    );
    assert_eq!(
        raw(&t.client, "sluice-controller").await["spec"]["renewTime"],
        "2026-12-06T05:00:05.654321Z"
    );

    // ... so B's takeover computed from the lease it read before is stale: 409 Conflict.
    let mut takeover = created.clone();
    let spec = takeover.spec.as_mut().expect("spec");
    spec.holder_identity = Some("pod-b".into());
    spec.lease_transitions = Some(1);
    let err = api_error(
        leases
            .replace("sluice-controller", &PostParams::default(), &takeover)
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        err.message,
        "Operation cannot be fulfilled on leases.coordination.k8s.io \"sluice-controller\": \
         the object has been modified; please apply your changes to the latest version and \
         try again"
    );
    assert_eq!(
        raw(&t.client, "sluice-controller").await["spec"]["holderIdentity"],
        "pod-a"
    );

    // From the current resourceVersion the takeover goes through.
    let mut takeover = renewed.clone();
    let spec = takeover.spec.as_mut().expect("spec");
    spec.holder_identity = Some("pod-b".into());
    spec.lease_transitions = Some(1);
    leases
        .replace("sluice-controller", &PostParams::default(), &takeover)
        .await
        .expect("takeover");
    let spec = raw(&t.client, "sluice-controller").await["spec"].clone();
    assert_eq!(spec["holderIdentity"], "pod-b");
    assert_eq!(spec["leaseTransitions"], 1);
    assert_eq!(spec["acquireTime"], "2026-12-06T05:00:00.123456Z");
}

#[tokio::test]
async fn lease_times_are_stored_as_micro_time_and_the_spec_is_validated() {
    let t = support::start().await;
    let ar = ApiResource::from_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"));
    let api: Api<DynamicObject> = Api::namespaced_with(t.client.clone(), "demo-project", &ar);
    let obj = |name: &str, spec: Value| -> DynamicObject {
        serde_json::from_value(json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": "demo-project"}, "spec": spec,
        }))
        .expect("object")
    };

    // Other RFC 3339 spellings are decoded and re-encoded as MicroTime (UTC, 6 digits).
    api.create(
        &PostParams::default(),
        &obj(
            "spelled",
            json!({"holderIdentity": "x", "leaseDurationSeconds": 10,
                   "acquireTime": "2026-12-06T07:00:00.5+02:00",
                   "renewTime": "2026-12-06T05:00:00Z"}),
        ),
    )
    .await
    .expect("create");
    let spec = raw(&t.client, "spelled").await["spec"].clone();
    assert_eq!(spec["acquireTime"], "2026-12-06T05:00:00.500000Z");
    assert_eq!(spec["renewTime"], "2026-12-06T05:00:00.000000Z");

    let err = api_error(
        api.create(
            &PostParams::default(),
            &obj(
                "zero",
                json!({"holderIdentity": "x", "leaseDurationSeconds": 0}),
            ),
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message
            .contains("spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0"),
        "{}",
        err.message
    );
    let err = api_error(
        api.create(
            &PostParams::default(),
            &obj("garbled", json!({"renewTime": "yesterday"})),
        )
        .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (400, "BadRequest"));
    assert!(err.message.contains("\"yesterday\""), "{}", err.message);
}
