//! Sign-in and RBAC on the sandbox API over real HTTPS, with kube-rs clients built from the
//! kubeconfigs the sandbox writes (the admin's and the demo users').

#[path = "support/sandbox.rs"]
mod support;

use std::path::Path;

use k8s_openapi::api::{
    authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
        SelfSubjectRulesReview, SelfSubjectRulesReviewSpec, SubjectAccessReview,
    },
    core::v1::{ConfigMap, Namespace},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding},
};
use kube::{
    Api, Client, Config,
    api::{ListParams, Patch, PatchParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use serde_json::{Value, json};
use support::api_error;

async fn client_from(path: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(path).expect("kubeconfig");
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("client config");
    Client::try_from(config).expect("client")
}

async fn user(t: &support::TestSandbox, name: &str) -> Client {
    let path = t
        .sandbox
        .user_kubeconfig(name)
        .expect("a demo user's kubeconfig");
    client_from(&path).await
}

/// A client with the sandbox's CA but another (or no) token.
async fn with_token(t: &support::TestSandbox, token: Option<&str>) -> Client {
    let kubeconfig = Kubeconfig::read_from(t.sandbox.kubeconfig_path()).unwrap();
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    config.auth_info.token = token.map(|t| t.to_string().into());
    Client::try_from(config).unwrap()
}

async fn bind(admin: &Client, ns: Option<&str>, role: &str, user: &str) {
    let subjects = json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]);
    let role_ref =
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role});
    match ns {
        Some(ns) => {
            let b: RoleBinding = serde_json::from_value(json!({
                "metadata": {"name": format!("{user}-{role}"), "namespace": ns},
                "roleRef": role_ref, "subjects": subjects}))
            .unwrap();
            Api::<RoleBinding>::namespaced(admin.clone(), ns)
                .create(&PostParams::default(), &b)
                .await
                .expect("rolebinding");
        }
        None => {
            let b: ClusterRoleBinding = serde_json::from_value(json!({
                "metadata": {"name": format!("{user}-{role}")},
                "roleRef": role_ref, "subjects": subjects}))
            .unwrap();
            Api::<ClusterRoleBinding>::all(admin.clone())
                .create(&PostParams::default(), &b)
                .await
                .expect("clusterrolebinding");
        }
    }
}

async fn can_i(client: &Client, verb: &str, resource: &str, ns: &str, name: &str) -> bool {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                resource: Some(resource.into()),
                namespace: Some(ns.into()),
                name: Some(name.into()),
                ..ResourceAttributes::default()
            }),
            ..SelfSubjectAccessReviewSpec::default()
        },
        ..SelfSubjectAccessReview::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone())
        .create(&PostParams::default(), &review)
        .await
        .expect("a review");
    answer.status.expect("status").allowed
}

#[tokio::test]
async fn a_wrong_token_is_401_no_token_is_anonymous_and_anonymous_sees_only_health() {
    let t = support::start().await;
    let wrong = with_token(&t, Some("sluice-sandbox-token")).await;
    let err = api_error(
        Api::<Namespace>::all(wrong)
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (401, "Unauthorized"));

    let anonymous = with_token(&t, None).await;
    let err = api_error(
        Api::<Namespace>::all(anonymous.clone())
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(err.code, 403);
    assert!(
        err.message
            .contains("User \"system:anonymous\" cannot list resource \"namespaces\""),
        "{}",
        err.message
    );
    let version = anonymous.apiserver_version().await;
    assert!(version.is_ok(), "/version is public: {version:?}");
}

#[tokio::test]
async fn demo_users_start_with_nothing_and_get_exactly_what_they_are_bound_to() {
    let t = support::start().await;
    let (admin, alice, bob) = (
        t.client.clone(),
        user(&t, "alice").await,
        user(&t, "bob").await,
    );

    // Nothing bound: only the self reviews.
    let err = api_error(
        Api::<ConfigMap>::namespaced(alice.clone(), "demo-project")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "configmaps is forbidden: User \"alice\" cannot list resource \"configmaps\" in API \
         group \"\" in the namespace \"demo-project\""
    );
    assert!(!can_i(&alice, "list", "configmaps", "demo-project", "").await);

    // view everywhere for bob, edit in demo-project for alice.
    bind(&admin, None, "view", "bob").await;
    bind(&admin, Some("demo-project"), "edit", "alice").await;

    let bob_cms = Api::<ConfigMap>::namespaced(bob.clone(), "default");
    bob_cms
        .list(&ListParams::default())
        .await
        .expect("view aggregates read rules");
    let cm: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "c"}, "data": {"k": "v"}})).unwrap();
    let err = api_error(bob_cms.create(&PostParams::default(), &cm).await);
    assert_eq!(err.code, 403);
    assert!(
        err.message
            .contains("cannot create resource \"configmaps\""),
        "{}",
        err.message
    );

    let alice_cms = Api::<ConfigMap>::namespaced(alice.clone(), "demo-project");
    alice_cms
        .create(&PostParams::default(), &cm)
        .await
        .expect("edit in her namespace");
    let err = api_error(
        Api::<ConfigMap>::namespaced(alice.clone(), "default")
            .create(&PostParams::default(), &cm)
            .await,
    );
    assert_eq!(err.code, 403, "edit is bound only in demo-project");
    assert!(can_i(&alice, "delete", "configmaps", "demo-project", "c").await);
    assert!(!can_i(&alice, "delete", "configmaps", "default", "c").await);
    assert!(can_i(&admin, "delete", "nodes", "", "").await);

    // A RoleBinding in a namespace also covers the namespace object itself.
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "ns-label", "namespace": "demo-project"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]}]
    }))
    .unwrap();
    Api::<Role>::namespaced(admin.clone(), "demo-project")
        .create(&PostParams::default(), &role)
        .await
        .unwrap();
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "bob-ns-label", "namespace": "demo-project"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ns-label"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]
    }))
    .unwrap();
    Api::<RoleBinding>::namespaced(admin.clone(), "demo-project")
        .create(&PostParams::default(), &rb)
        .await
        .unwrap();
    let bob_ns = Api::<Namespace>::all(bob.clone());
    let patch = Patch::Merge(json!({"metadata": {"labels": {"istio-injection": "enabled"}}}));
    bob_ns
        .patch("demo-project", &PatchParams::default(), &patch)
        .await
        .expect("bob may label demo-project");
    let err = api_error(
        bob_ns
            .patch("default", &PatchParams::default(), &patch)
            .await,
    );
    assert_eq!(err.code, 403);
    assert!(can_i(&bob, "patch", "namespaces", "demo-project", "demo-project").await);

    // What bob may do in demo-project, as `kubectl auth can-i --list` shows it.
    let rules = Api::<SelfSubjectRulesReview>::all(bob.clone())
        .create(
            &PostParams::default(),
            &SelfSubjectRulesReview {
                spec: SelfSubjectRulesReviewSpec {
                    namespace: Some("demo-project".into()),
                },
                ..SelfSubjectRulesReview::default()
            },
        )
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(rules.resource_rules.iter().any(|r| {
        r.verbs.contains(&"patch".to_string())
            && r.resources
                .as_ref()
                .is_some_and(|x| x.contains(&"namespaces".to_string()))
    }));
    assert!(!rules.incomplete);
}

#[tokio::test]
async fn impersonation_needs_the_impersonate_verb_and_then_acts_as_that_user() {
    let t = support::start().await;
    let admin = t.client.clone();
    bind(&admin, Some("demo-project"), "edit", "alice").await;

    let mut config = Config::from_custom_kubeconfig(
        Kubeconfig::read_from(t.sandbox.kubeconfig_path()).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    config.auth_info.impersonate = Some("alice".into());
    config.auth_info.impersonate_groups = Some(vec!["sluice-demo".into()]);
    let as_alice = Client::try_from(config).unwrap();
    let cms = Api::<ConfigMap>::namespaced(as_alice.clone(), "default");
    let err = api_error(cms.list(&ListParams::default()).await);
    assert_eq!(err.code, 403);
    assert!(err.message.contains("User \"alice\""), "{}", err.message);
    Api::<ConfigMap>::namespaced(as_alice.clone(), "demo-project")
        .list(&ListParams::default())
        .await
        .expect("as alice, in her namespace");

    // alice herself may not impersonate bob.
    let mut config = Config::from_custom_kubeconfig(
        Kubeconfig::read_from(t.sandbox.user_kubeconfig("alice").unwrap()).unwrap(),
        &KubeConfigOptions::default(),
    )
    .await
    .unwrap();
    config.auth_info.impersonate = Some("bob".into());
    let alice_as_bob = Client::try_from(config).unwrap();
    let err = api_error(
        Api::<ConfigMap>::namespaced(alice_as_bob, "demo-project")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(err.code, 403);
    assert_eq!(
        err.message,
        "users \"bob\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in \
         API group \"\" at the cluster scope"
    );
}

#[tokio::test]
async fn nobody_grants_what_they_do_not_hold() {
    let t = support::start().await;
    let admin = t.client.clone();
    // alice may manage roles and bindings in demo-project (the built-in admin role).
    bind(&admin, Some("demo-project"), "admin", "alice").await;
    let alice = user(&t, "alice").await;

    let roles = Api::<Role>::namespaced(alice.clone(), "demo-project");
    let small: Role = serde_json::from_value(json!({
        "metadata": {"name": "cm-reader"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    }))
    .unwrap();
    roles
        .create(&PostParams::default(), &small)
        .await
        .expect("she holds these");
    let greedy: Role = serde_json::from_value(json!({
        "metadata": {"name": "everything"},
        "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]
    }))
    .unwrap();
    let err = api_error(roles.create(&PostParams::default(), &greedy).await);
    assert_eq!(err.code, 403);
    assert!(
        err.message
            .contains("is attempting to grant RBAC permissions not currently held"),
        "{}",
        err.message
    );
    assert!(
        roles.get_opt("everything").await.unwrap().is_none(),
        "nothing half-created"
    );

    // Patching the small role up to secrets is refused too, and leaves it as it was.
    let err = api_error(
        roles
            .patch(
                "cm-reader",
                &PatchParams::default(),
                &Patch::Merge(json!({"rules": [{"apiGroups": [""], "resources": ["nodes"],
                                                "verbs": ["delete"]}]})),
            )
            .await,
    );
    assert_eq!(err.code, 403);
    let kept = roles.get("cm-reader").await.unwrap();
    assert_eq!(
        kept.rules.unwrap()[0].resources.as_ref().unwrap()[0],
        "configmaps"
    );

    // Binding cluster-admin in her namespace would grant what she lacks.
    let rb: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "grab"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]
    }))
    .unwrap();
    let bindings = Api::<RoleBinding>::namespaced(alice.clone(), "demo-project");
    let err = api_error(bindings.create(&PostParams::default(), &rb).await);
    assert_eq!(err.code, 403);
    // Binding the role she just made is fine.
    let ok: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "bob-reads"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "cm-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}]
    }))
    .unwrap();
    bindings
        .create(&PostParams::default(), &ok)
        .await
        .expect("within her rights");
    // Cluster-wide objects are beyond a namespace admin.
    let cr: ClusterRole =
        serde_json::from_value(json!({"metadata": {"name": "x"}, "rules": []})).unwrap();
    let err = api_error(
        Api::<ClusterRole>::all(alice)
            .create(&PostParams::default(), &cr)
            .await,
    );
    assert_eq!(err.code, 403);
}

#[tokio::test]
async fn reviews_answer_for_others_and_say_what_is_missing() {
    let t = support::start().await;
    let admin = t.client.clone();
    bind(&admin, None, "view", "bob").await;
    let sar: SubjectAccessReview = serde_json::from_value(json!({
        "spec": {"user": "bob", "resourceAttributes": {"verb": "list", "resource": "pods",
                                                        "namespace": "default"}}
    }))
    .unwrap();
    let answer = Api::<SubjectAccessReview>::all(admin.clone())
        .create(&PostParams::default(), &sar)
        .await
        .unwrap()
        .status
        .unwrap();
    assert!(answer.allowed);
    assert!(
        answer
            .reason
            .unwrap()
            .contains("ClusterRoleBinding \"bob-view\" of ClusterRole \"view\""),
    );

    // A review with neither attribute kind is Invalid, with the field named.
    let raw = admin
        .request::<Value>(
            http::Request::post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews")
                .header("content-type", "application/json")
                .body(br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview","spec":{}}"#.to_vec())
                .unwrap(),
        )
        .await;
    let err = api_error(raw);
    assert_eq!(err.code, 422);
    assert!(
        err.message
            .contains("exactly one of nonResourceAttributes or resourceAttributes")
    );

    // bob may not ask about others, nor review tokens.
    let bob = user(&t, "bob").await;
    let err = api_error(
        Api::<SubjectAccessReview>::all(bob)
            .create(&PostParams::default(), &sar)
            .await,
    );
    assert_eq!(err.code, 403);

    // Who am I, and whose token is this.
    let who: Value = admin
        .request(
            http::Request::post("/apis/authentication.k8s.io/v1/selfsubjectreviews")
                .header("content-type", "application/json")
                .body(
                    br#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#
                        .to_vec(),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        who["status"]["userInfo"]["username"],
        "sluice-sandbox-admin"
    );
    let token = t.sandbox.token_of("alice").unwrap();
    let review: Value = admin
        .request(
            http::Request::post("/apis/authentication.k8s.io/v1/tokenreviews")
                .header("content-type", "application/json")
                .body(
                    serde_json::to_vec(&json!({"apiVersion": "authentication.k8s.io/v1",
                    "kind": "TokenReview", "spec": {"token": token}}))
                    .unwrap(),
                )
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(review["status"]["authenticated"], true);
    assert_eq!(review["status"]["user"]["username"], "alice");
}
