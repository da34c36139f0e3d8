//! ServiceAccount tokens, so a console can sign in to the sandbox the way it does in a
//! cluster: `kubectl create token`, RBAC for ServiceAccount subjects, `kubectl auth
//! whoami`, TokenReview, expiry and revocation when the ServiceAccount goes.

#[path = "support/sandbox.rs"]
mod support;

#[macro_use]
#[path = "support/kubectl.rs"]
mod kubectl;

use std::time::Duration;

use k8s_openapi::api::{
    authentication::v1::{TokenReview, TokenReviewSpec},
    core::v1::ConfigMap,
};
use kube::{
    Api, Client, Config,
    api::{ListParams, PostParams},
    config::{KubeConfigOptions, Kubeconfig},
};
use kubectl::Kubectl;
use serde_json::Value;
use support::api_error;

const SETUP: &str = r#"
apiVersion: v1
kind: ServiceAccount
metadata:
  name: console
  namespace: demo-project
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: console-view
  namespace: demo-project
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: view
subjects:
- kind: ServiceAccount
  name: console
  namespace: demo-project
"#;

/// A kube-rs client with the sandbox's CA and `token`.
async fn with_token(t: &support::TestSandbox, token: &str) -> Client {
    let kubeconfig = Kubeconfig::read_from(t.sandbox.kubeconfig_path()).unwrap();
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    config.auth_info.token = Some(token.to_string().into());
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn kubectl_create_token_signs_in_as_the_service_account_until_it_is_deleted() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let admin = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    admin.ok_with_input(&["apply", "-f", "-"], SETUP).await;

    let token = admin
        .ok(&["create", "token", "console", "-n", "demo-project"])
        .await
        .trim()
        .to_string();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    let as_sa = |args: &[&str]| {
        let mut all = vec!["--token", token.as_str()];
        all.extend_from_slice(args);
        all.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let admin = &admin;
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            admin.run(&refs).await
        }
    };

    let whoami = run(as_sa(&["auth", "whoami", "-o", "json"])).await;
    assert_eq!(whoami.code, 0, "{}", whoami.stderr);
    let review: Value = serde_json::from_str(&whoami.stdout).expect("json");
    let user = &review["status"]["userInfo"];
    assert_eq!(
        user["username"],
        "system:serviceaccount:demo-project:console"
    );
    assert_eq!(
        user["groups"],
        serde_json::json!([
            "system:serviceaccounts",
            "system:serviceaccounts:demo-project",
            "system:authenticated"
        ])
    );
    assert!(
        user["extra"]["authentication.kubernetes.io/credential-id"][0]
            .as_str()
            .is_some_and(|id| id.starts_with("JTI=")),
        "{user}"
    );

    // The RoleBinding's ServiceAccount subject applies: view, not edit, and only there.
    let pods = run(as_sa(&["get", "pods", "-n", "demo-project"])).await;
    assert_eq!(pods.code, 0, "{}", pods.stderr);
    let can = run(as_sa(&[
        "auth",
        "can-i",
        "create",
        "configmaps",
        "-n",
        "demo-project",
    ]))
    .await;
    assert_eq!(can.stdout.trim(), "no");
    let other = run(as_sa(&["get", "pods", "-n", "default"])).await;
    assert_ne!(other.code, 0);
    assert!(
        other.stderr.contains(
            "User \"system:serviceaccount:demo-project:console\" cannot list resource \"pods\" \
             in API group \"\" in the namespace \"default\""
        ),
        "{}",
        other.stderr
    );

    // As on a cluster: at least ten minutes, and a token for another audience is not one
    // for the API server.
    let short = admin
        .fails(&[
            "create",
            "token",
            "console",
            "-n",
            "demo-project",
            "--duration=1m",
        ])
        .await;
    assert!(
        short.contains("may not specify a duration less than 10 minutes"),
        "{short}"
    );
    let vault = admin
        .ok(&[
            "create",
            "token",
            "console",
            "-n",
            "demo-project",
            "--audience=vault",
        ])
        .await
        .trim()
        .to_string();
    let refused = admin
        .run(&["--token", &vault, "get", "pods", "-n", "demo-project"])
        .await;
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("Unauthorized"),
        "{}",
        refused.stderr
    );
    let reviews: Api<TokenReview> = Api::all(t.client.clone());
    let review = |token: &str, audiences: Option<Vec<String>>| TokenReview {
        spec: TokenReviewSpec {
            token: Some(token.to_string()),
            audiences,
        },
        ..TokenReview::default()
    };
    let answer = reviews
        .create(
            &PostParams::default(),
            &review(&vault, Some(vec!["vault".into()])),
        )
        .await
        .expect("review");
    let status = answer.status.expect("status");
    assert_eq!(status.authenticated, Some(true));
    assert_eq!(status.audiences, Some(vec!["vault".to_string()]));
    assert_eq!(
        status.user.expect("user").username.as_deref(),
        Some("system:serviceaccount:demo-project:console")
    );
    let answer = reviews
        .create(&PostParams::default(), &review(&token, None))
        .await
        .expect("review");
    assert_eq!(answer.status.expect("status").authenticated, Some(true));

    // Deleting the ServiceAccount revokes its tokens, even if one of the same name returns.
    admin
        .ok(&["delete", "serviceaccount", "console", "-n", "demo-project"])
        .await;
    let gone = run(as_sa(&["get", "pods", "-n", "demo-project"])).await;
    assert_ne!(gone.code, 0);
    assert!(gone.stderr.contains("Unauthorized"), "{}", gone.stderr);
    admin.ok_with_input(&["apply", "-f", "-"], SETUP).await;
    let still_gone = run(as_sa(&["get", "pods", "-n", "demo-project"])).await;
    assert!(
        still_gone.stderr.contains("Unauthorized"),
        "{}",
        still_gone.stderr
    );
    let answer = reviews
        .create(&PostParams::default(), &review(&token, None))
        .await
        .expect("review");
    assert_eq!(answer.status.expect("status").authenticated, Some(false));
}

#[tokio::test]
async fn service_account_tokens_expire() {
    let t = support::start().await;
    let sas: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(t.client.clone(), "demo-project");
    sas.create(
        &PostParams::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": "console"}})).unwrap(),
    )
    .await
    .expect("service account");
    let token = t
        .sandbox
        .issue_service_account_token("demo-project", "console", Duration::from_secs(1))
        .await
        .expect("token");
    let client = with_token(&t, &token).await;
    // Signed in (no rights yet, so the answer is 403, not 401).
    let err = api_error(
        Api::<ConfigMap>::namespaced(client.clone(), "demo-project")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!(err.code, 403, "{}", err.message);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let err = api_error(
        Api::<ConfigMap>::namespaced(client, "demo-project")
            .list(&ListParams::default())
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (401, "Unauthorized"));

    let missing = t
        .sandbox
        .issue_service_account_token("demo-project", "nobody", Duration::from_secs(60))
        .await
        .expect_err("no such service account");
    assert_eq!(missing.code(), 404);
}
