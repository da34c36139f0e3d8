//! Admission policies with the real kubectl: the console's own policies from
//! `deploy/admission` on the ReleaseJob CRD, and the ValidatingAdmissionPolicy /
//! MutatingAdmissionPolicy machinery they rely on (failure policies, actions, params,
//! selectors, DELETE, dry runs), with kube-apiserver's answers.

#[path = "support/sandbox.rs"]
mod support;

#[macro_use]
#[path = "support/kubectl.rs"]
mod kubectl;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::{Api, api::PostParams};
use kubectl::Kubectl;
use serde_json::{Value, json};
use support::api_error;

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// The committed ReleaseJob CRD without its schema's value constraints (patterns,
/// lengths, bounds), as a cluster that pinned an older CRD has it: the CRD and the
/// admission policies are installed separately, and the policies must hold on their own.
/// (With the constraints, the API server's schema validation refuses bad names before
/// any policy runs, as kube-apiserver orders them.)
fn release_crd() -> String {
    let committed =
        std::fs::read_to_string(format!("{REPO}/deploy/crds/releasejobs.sluice.dev.yaml"))
            .expect("the ReleaseJob CRD");
    committed
        .lines()
        .filter(|line| {
            let key = line.trim_start().split(':').next().unwrap_or_default();
            !matches!(
                key,
                "pattern" | "minLength" | "maxLength" | "minimum" | "maximum" | "maxItems"
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

const ALICE_MAY_RELEASE: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: releasejob-editor
rules:
- apiGroups: ["sluice.dev"]
  resources: ["releasejobs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: alice-releasejobs
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: releasejob-editor
subjects:
- apiGroup: rbac.authorization.k8s.io
  kind: User
  name: alice
"#;

fn job(name: &str, namespace: &str, fields: &[(&str, &str)]) -> String {
    let mut spec = vec![
        ("component", "reviews".to_string()),
        ("baseWorkload", "reviews-v1".to_string()),
        ("baseVersion", "v1".to_string()),
        ("newVersion", "v2".to_string()),
        (
            "image",
            "docker.io/istio/examples-bookinfo-reviews-v2:1.20.3".to_string(),
        ),
        ("replicas", "1".to_string()),
        (
            "strategy",
            "{type: trafficRatio, newPercent: 10}".to_string(),
        ),
    ];
    for (k, v) in fields {
        match spec.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => spec.push((k, v.to_string())),
        }
    }
    let spec: String = spec.iter().map(|(k, v)| format!("  {k}: {v}\n")).collect();
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: ReleaseJob\nmetadata:\n  name: {name}\n  \
         namespace: {namespace}\nspec:\n{spec}"
    )
}

/// A sandbox with the ReleaseJob CRD and the console's policies applied, and kubectl for
/// the admin and for alice (who may write release jobs).
async fn with_policies() -> Option<(support::TestSandbox, Kubectl, Kubectl)> {
    let binary = kubectl::binary()?;
    let t = support::start().await;
    let admin = Kubectl::new(binary.clone(), t.sandbox.kubeconfig_path());
    let alice = Kubectl::new(binary, &t.sandbox.user_kubeconfig("alice").expect("alice"));
    admin
        .ok_with_input(&["apply", "-f", "-"], &release_crd())
        .await;
    let out = admin
        .ok(&["apply", "-k", &format!("{REPO}/deploy/admission")])
        .await;
    for line in [
        "mutatingadmissionpolicy.admissionregistration.k8s.io/sluice-releasejob-creator created",
        "mutatingadmissionpolicybinding.admissionregistration.k8s.io/sluice-releasejob-creator created",
        "validatingadmissionpolicy.admissionregistration.k8s.io/sluice-releasejob-guard created",
        "validatingadmissionpolicybinding.admissionregistration.k8s.io/sluice-releasejob-guard created",
        "validatingadmissionpolicy.admissionregistration.k8s.io/sluice-releasejob-registries created",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }
    admin
        .ok_with_input(&["apply", "-f", "-"], ALICE_MAY_RELEASE)
        .await;
    Some((t, admin, alice))
}

macro_rules! policies_or_skip {
    () => {
        match with_policies().await {
            Some(setup) => setup,
            None => {
                eprintln!("SKIPPED: no kubectl on PATH");
                return;
            }
        }
    };
}

const GUARD_DENIED: &str = "is forbidden: ValidatingAdmissionPolicy 'sluice-releasejob-guard' \
                            with binding 'sluice-releasejob-guard' denied request: ";

#[tokio::test]
async fn the_api_server_records_the_creator_and_the_guard_keeps_it() {
    let (_t, admin, alice) = policies_or_skip!();

    // Applying the policies again changes nothing, as on a cluster.
    let again = admin
        .ok(&["apply", "-k", &format!("{REPO}/deploy/admission")])
        .await;
    assert!(
        again.lines().all(|l| l.ends_with(" unchanged")),
        "second apply:\n{again}"
    );
    let listed = admin.ok(&["get", "validatingadmissionpolicies"]).await;
    assert!(
        listed.starts_with("NAME") && listed.contains("VALIDATIONS   PARAMKIND"),
        "{listed}"
    );
    assert!(listed.contains("v1/ConfigMap"), "{listed}");
    let bindings = admin
        .ok(&["get", "validatingadmissionpolicybindings"])
        .await;
    assert!(
        bindings.contains("sluice-system/sluice-admission"),
        "{bindings}"
    );

    // Alice says mallory created the job; the API server writes down alice.
    let created = alice
        .ok_with_input(
            &["apply", "-f", "-"],
            &job("reviews-v2", "demo-project", &[("creator", "mallory")]),
        )
        .await;
    assert!(
        created.contains("releasejob.sluice.dev/reviews-v2 created"),
        "{created}"
    );
    let creator = admin
        .ok(&[
            "get",
            "releasejob",
            "reviews-v2",
            "-n",
            "demo-project",
            "-o",
            "jsonpath={.spec.creator}",
        ])
        .await;
    assert_eq!(creator, "alice");

    // Nobody changes it afterwards, by apply or by patch, not even an administrator.
    let refused = alice
        .fails_with_input(
            &["apply", "-f", "-"],
            &job("reviews-v2", "demo-project", &[("creator", "bob")]),
        )
        .await;
    assert!(
        refused.contains(&format!(
            "releasejobs.sluice.dev \"reviews-v2\" {GUARD_DENIED}spec.creator records who \
             created the job (alice) and is set by the API server; it cannot be changed: \
             leave it out of the update or keep its current value"
        )),
        "{refused}"
    );
    assert!(
        refused.contains("Error from server (Forbidden)"),
        "{refused}"
    );
    let refused = admin
        .fails(&[
            "patch",
            "releasejob",
            "reviews-v2",
            "-n",
            "demo-project",
            "--type=merge",
            "-p",
            r#"{"spec":{"creator":"root"}}"#,
        ])
        .await;
    assert!(refused.contains(GUARD_DENIED), "{refused}");
    // Other changes are fine, and keep the creator.
    admin
        .ok(&[
            "patch",
            "releasejob",
            "reviews-v2",
            "-n",
            "demo-project",
            "--type=merge",
            "-p",
            r#"{"spec":{"strategy":{"newPercent":30}}}"#,
        ])
        .await;
    assert_eq!(
        admin
            .ok(&[
                "get",
                "rj",
                "reviews-v2",
                "-n",
                "demo-project",
                "-o",
                "jsonpath={.spec.creator}/{.spec.strategy.newPercent}",
            ])
            .await,
        "alice/30"
    );
}

#[tokio::test]
async fn the_guard_refuses_system_namespaces_bad_names_and_sizes_even_in_a_dry_run() {
    let (_t, admin, _alice) = policies_or_skip!();

    let in_kube_system = job("reviews-v2", "kube-system", &[]);
    for args in [
        &["apply", "-f", "-"][..],
        &["apply", "--dry-run=server", "-f", "-"][..],
        &["create", "--dry-run=server", "-f", "-"][..],
    ] {
        let refused = admin.fails_with_input(args, &in_kube_system).await;
        assert!(
            refused.contains(&format!(
                "releasejobs.sluice.dev \"reviews-v2\" {GUARD_DENIED}release jobs cannot be \
                 created in the system namespace kube-system: create the job in the namespace \
                 of the application it releases"
            )),
            "{args:?}: {refused}"
        );
    }
    let listed = admin
        .ok(&["get", "releasejobs", "-n", "kube-system", "-o", "name"])
        .await;
    assert_eq!(listed, "", "nothing was created");
    // A dry run of an acceptable job passes and stores nothing.
    let dry = admin
        .ok_with_input(
            &["apply", "--dry-run=server", "-f", "-"],
            &job("fine", "demo-project", &[]),
        )
        .await;
    assert!(dry.contains("created (server dry run)"), "{dry}");

    // Validation failures are 422 Invalid, as kubectl shows them.
    let cases = [
        (
            vec![("component", "Reviews_X")],
            "spec.component must name a Service: a DNS-1123 label (at most 63 lower-case \
             letters, digits and '-', starting and ending with a letter or digit), not 'Reviews_X'",
        ),
        (
            vec![("baseWorkload", "reviews.v1")],
            "spec.baseWorkload must name a Deployment",
        ),
        (
            vec![("newVersion", "V2")],
            "spec.newVersion becomes a version label and part of the new Deployment's name",
        ),
        (
            vec![("replicas", "21")],
            "spec.replicas must be between 1 and 20, not 21",
        ),
        (
            vec![("replicas", "0")],
            "spec.replicas must be between 1 and 20, not 0",
        ),
    ];
    for (fields, message) in cases {
        let refused = admin
            .fails_with_input(&["apply", "-f", "-"], &job("bad", "demo-project", &fields))
            .await;
        assert!(
            refused.contains("The releasejobs \"bad\" is invalid: : ValidatingAdmissionPolicy 'sluice-releasejob-guard' with binding 'sluice-releasejob-guard' denied request: "),
            "{fields:?}: {refused}"
        );
        assert!(refused.contains(message), "{fields:?}: {refused}");
    }
    let rule = "{'on': header, name: x-user, op: Exact, value: a}";
    let many = format!(
        "{{type: requestContent, rules: [{}]}}",
        vec![rule; 17].join(", ")
    );
    let refused = admin
        .fails_with_input(
            &["apply", "-f", "-"],
            &job("bad", "demo-project", &[("strategy", &many)]),
        )
        .await;
    assert!(
        refused.contains("a job may have at most 16 content rules (spec.strategy.rules), not 17"),
        "{refused}"
    );
    let sixteen = format!(
        "{{type: requestContent, rules: [{}]}}",
        vec![rule; 16].join(", ")
    );
    admin
        .ok_with_input(
            &["apply", "-f", "-"],
            &job("sixteen", "demo-project", &[("strategy", &sixteen)]),
        )
        .await;
}

#[tokio::test]
async fn the_registry_allow_list_is_read_from_a_config_map_when_there_is_one() {
    let (_t, admin, alice) = policies_or_skip!();
    let quay = [("image", "quay.io/someone/reviews:2")];

    // No ConfigMap: any registry.
    alice
        .ok_with_input(
            &["apply", "-f", "-"],
            &job("from-quay", "demo-project", &quay),
        )
        .await;

    admin
        .ok_with_input(
            &["apply", "-f", "-"],
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: sluice-system\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: sluice-admission\n  \
             namespace: sluice-system\ndata:\n  allowedRegistries: \"docker.io/istio/, registry.example.com/\"\n",
        )
        .await;
    let refused = alice
        .fails_with_input(
            &["apply", "-f", "-"],
            &job("quay-again", "demo-project", &quay),
        )
        .await;
    assert!(
        refused.contains(
            "releasejobs.sluice.dev \"quay-again\" is forbidden: ValidatingAdmissionPolicy \
             'sluice-releasejob-registries' with binding 'sluice-releasejob-registries' denied \
             request: spec.image quay.io/someone/reviews:2 is not from an allowed registry \
             (docker.io/istio/, registry.example.com/): use an image from one of them, or ask \
             a cluster administrator to add its registry to allowedRegistries in ConfigMap \
             sluice-system/sluice-admission"
        ),
        "{refused}"
    );
    let dry = alice
        .fails_with_input(
            &["apply", "--dry-run=server", "-f", "-"],
            &job("quay-again", "demo-project", &quay),
        )
        .await;
    assert!(dry.contains("is not from an allowed registry"), "{dry}");
    alice
        .ok_with_input(
            &["apply", "-f", "-"],
            &job(
                "from-example",
                "demo-project",
                &[("image", "registry.example.com/team/reviews:2")],
            ),
        )
        .await;
    // The job created before the list existed can still be changed, but not moved to
    // another registry outside it.
    alice
        .ok(&[
            "label",
            "releasejob",
            "from-quay",
            "-n",
            "demo-project",
            "stage=canary",
        ])
        .await;
    let refused = alice
        .fails(&[
            "patch",
            "releasejob",
            "from-quay",
            "-n",
            "demo-project",
            "--type=merge",
            "-p",
            r#"{"spec":{"image":"ghcr.io/x/reviews:3"}}"#,
        ])
        .await;
    assert!(
        refused.contains("is not from an allowed registry"),
        "{refused}"
    );

    // An empty list allows any registry again.
    admin
        .ok(&[
            "patch",
            "configmap",
            "sluice-admission",
            "-n",
            "sluice-system",
            "--type=merge",
            "-p",
            r#"{"data":{"allowedRegistries":""}}"#,
        ])
        .await;
    alice
        .ok_with_input(
            &["apply", "-f", "-"],
            &job("quay-again", "demo-project", &quay),
        )
        .await;
}

const FAILING_POLICY: &str = r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: configmaps-need-spec
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  validations:
  - expression: "object.spec.owner == request.userInfo.username"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: configmaps-need-spec
spec:
  policyName: configmaps-need-spec
  validationActions: [Deny]
"#;

#[tokio::test]
async fn a_policy_whose_cel_fails_denies_under_fail_and_is_skipped_under_ignore() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let admin = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    admin
        .ok_with_input(&["apply", "-f", "-"], FAILING_POLICY)
        .await;
    let cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: default\n";
    let refused = admin.fails_with_input(&["apply", "-f", "-"], cm).await;
    assert!(
        refused.contains(
            "The configmaps \"settings\" is invalid: : ValidatingAdmissionPolicy \
             'configmaps-need-spec' with binding 'configmaps-need-spec' denied request: \
             expression 'object.spec.owner == request.userInfo.username' resulted in error: \
             no such key: spec"
        ),
        "{refused}"
    );
    // The Status a client library sees: 422 Invalid, kube-apiserver's details.
    let configmaps: Api<ConfigMap> = Api::namespaced(t.client.clone(), "default");
    let err = api_error(
        configmaps
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({"metadata": {"name": "settings"}})).unwrap(),
            )
            .await,
    );
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.starts_with(
            "configmaps \"settings\" is forbidden: ValidatingAdmissionPolicy 'configmaps-need-spec'"
        ),
        "{}",
        err.message
    );
    let details = err.details.expect("details");
    assert_eq!(details.kind, "configmaps");
    assert_eq!(details.name, "settings");

    admin
        .ok(&[
            "patch",
            "validatingadmissionpolicy",
            "configmaps-need-spec",
            "--type=merge",
            "-p",
            r#"{"spec":{"failurePolicy":"Ignore"}}"#,
        ])
        .await;
    admin.ok_with_input(&["apply", "-f", "-"], cm).await;

    // An expression that does not even compile is refused when the policy is written,
    // as kube-apiserver refuses it.
    let broken = FAILING_POLICY
        .replace("configmaps-need-spec", "broken")
        .replace(
            "object.spec.owner == request.userInfo.username",
            "object.spec.owner ==",
        );
    let refused = admin.fails_with_input(&["apply", "-f", "-"], &broken).await;
    assert!(
        refused.contains("spec.validations[0].expression: Invalid value: \"object.spec.owner ==\": compilation failed: ERROR: <input>:1:"),
        "{refused}"
    );
}

#[tokio::test]
async fn actions_conditions_params_selectors_and_deletes_behave_like_kube_apiserver() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let admin = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    admin
        .ok_with_input(
            &["apply", "-f", "-"],
            r#"
apiVersion: v1
kind: Namespace
metadata:
  name: prod
  labels: {env: prod}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: limits
  namespace: default
  labels: {policy-param: "true"}
data:
  maxKeys: "2"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: small-configmaps
spec:
  paramKind: {apiVersion: v1, kind: ConfigMap}
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE", "UPDATE"]
      resources: ["configmaps"]
    namespaceSelector:
      matchLabels: {env: prod}
  matchConditions:
  - name: not-exempt
    expression: "!has(object.metadata.annotations) || !('exempt' in object.metadata.annotations)"
  variables:
  - name: keys
    expression: "has(object.data) ? size(object.data) : 0"
  validations:
  - expression: "variables.keys <= int(params.data.maxKeys)"
    messageExpression: "'at most ' + params.data.maxKeys + ' keys, not ' + string(variables.keys)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: small-configmaps-warn
spec:
  policyName: small-configmaps
  paramRef:
    selector:
      matchLabels: {policy-param: "true"}
    namespace: default
    parameterNotFoundAction: Deny
  validationActions: [Warn]
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: keep-protected
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["DELETE"]
      resources: ["configmaps"]
    objectSelector:
      matchLabels: {protected: "true"}
  validations:
  - expression: "request.userInfo.username == 'nobody'"
    reason: Forbidden
    message: "protected configmaps are not deleted"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: keep-protected
spec:
  policyName: keep-protected
  validationActions: [Deny]
"#,
        )
        .await;
    let big = |ns: &str, name: &str, extra: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\n{extra}\
             data:\n  a: \"1\"\n  b: \"2\"\n  c: \"3\"\n"
        )
    };
    // Warn: allowed, with kube-apiserver's warning, only in the selected namespace.
    let out = admin
        .run_with_input(&["apply", "-f", "-"], &big("prod", "big", ""))
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "Warning: Validation failed for ValidatingAdmissionPolicy 'small-configmaps' with \
             binding 'small-configmaps-warn': at most 2 keys, not 3"
        ),
        "{}",
        out.stderr
    );
    let out = admin
        .run_with_input(&["apply", "-f", "-"], &big("default", "big", ""))
        .await;
    assert!(!out.stderr.contains("Warning"), "{}", out.stderr);
    // A false match condition skips the policy.
    let out = admin
        .run_with_input(
            &["apply", "-f", "-"],
            &big("prod", "exempt", "  annotations: {exempt: \"yes\"}\n"),
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("Warning"), "{}", out.stderr);

    // Missing params under Deny: the binding's configuration error denies (Fail).
    admin
        .ok(&[
            "label",
            "configmap",
            "limits",
            "-n",
            "default",
            "policy-param-",
        ])
        .await;
    let refused = admin
        .fails_with_input(&["apply", "-f", "-"], &big("prod", "big2", ""))
        .await;
    assert!(
        refused.contains(
            "ValidatingAdmissionPolicy 'small-configmaps' with binding 'small-configmaps-warn' \
             denied request: failed to configure binding: no params found for policy binding \
             with `Deny` parameterNotFoundAction"
        ),
        "{refused}"
    );

    // DELETE: oldObject and the object selector; the reason sets the code (403).
    admin
        .ok(&[
            "label",
            "configmap",
            "big",
            "-n",
            "default",
            "protected=true",
        ])
        .await;
    let refused = admin
        .fails(&["delete", "configmap", "big", "-n", "default"])
        .await;
    assert!(
        refused.contains(
            "Error from server (Forbidden): configmaps \"big\" is forbidden: \
             ValidatingAdmissionPolicy 'keep-protected' with binding 'keep-protected' denied \
             request: protected configmaps are not deleted"
        ),
        "{refused}"
    );
    let refused = admin
        .fails(&[
            "delete",
            "configmap",
            "big",
            "-n",
            "default",
            "--dry-run=server",
        ])
        .await;
    assert!(
        refused.contains("protected configmaps are not deleted"),
        "{refused}"
    );
    admin
        .ok(&["label", "configmap", "big", "-n", "default", "protected-"])
        .await;
    admin
        .ok(&["delete", "configmap", "big", "-n", "default"])
        .await;
}

#[tokio::test]
async fn mutating_policies_patch_and_apply_before_validation() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let admin = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    admin
        .ok_with_input(
            &["apply", "-f", "-"],
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: stamp
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  mutations:
  - patchType: JSONPatch
    jsonPatch:
      expression: >-
        has(object.metadata.labels)
        ? [JSONPatch{op: "add", path: "/metadata/labels/" + jsonpatch.escapeKey("example.com/by"),
                     value: request.userInfo.username}]
        : [JSONPatch{op: "add", path: "/metadata/labels",
                     value: {"example.com/by": request.userInfo.username}}]
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >-
        Object{data: {"stamped": object.metadata.labels["example.com/by"]}}
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: stamp
spec:
  policyName: stamp
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: must-be-stamped
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: [""]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["configmaps"]
  validations:
  - expression: "object.data.stamped == request.userInfo.username"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: must-be-stamped
spec:
  policyName: must-be-stamped
  validationActions: [Deny]
"#,
        )
        .await;
    // The validating policy sees the mutated object.
    admin
        .ok_with_input(
            &["create", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\n  namespace: default\n",
        )
        .await;
    let plain: Value = serde_json::from_str(
        &admin
            .ok(&["get", "configmap", "plain", "-n", "default", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(
        plain["metadata"]["labels"]["example.com/by"],
        "sluice-sandbox-admin"
    );
    assert_eq!(plain["data"]["stamped"], "sluice-sandbox-admin");
    admin
        .ok_with_input(
            &["create", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: labelled\n  namespace: default\n  labels: {app: web}\n",
        )
        .await;
    let labels = admin
        .ok(&[
            "get",
            "configmap",
            "labelled",
            "-n",
            "default",
            "-o",
            "jsonpath={.metadata.labels}",
        ])
        .await;
    let labels: Value = serde_json::from_str(&labels).unwrap();
    assert_eq!(
        labels,
        json!({"app": "web", "example.com/by": "sluice-sandbox-admin"})
    );

    // A mutation that fails under failurePolicy Fail refuses the request (403).
    admin
        .ok(&[
            "patch",
            "mutatingadmissionpolicy",
            "stamp",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/mutations/1/applyConfiguration/expression","value":"Object{data: {\"n\": object.data.missing}}"}]"#,
        ])
        .await;
    let refused = admin
        .fails_with_input(
            &["create", "-f", "-"],
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: default\n",
        )
        .await;
    assert!(
        refused.contains(
            "Error from server (Forbidden): error when creating \"STDIN\": policy 'stamp' with \
             binding 'stamp' denied request: expression 'Object{data: {\"n\": \
             object.data.missing}}' resulted in error: no such key: data"
        ),
        "{refused}"
    );
}

#[tokio::test]
async fn a_crd_whose_schema_kubectl_reads_as_booleans_is_refused_like_kube_apiserver() {
    let binary = kubectl_or_skip!();
    let t = support::start().await;
    let admin = Kubectl::new(binary, t.sandbox.kubeconfig_path());
    let crd = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: switches.example.com
spec:
  group: example.com
  names: {kind: Switch, plural: switches}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              on: {type: boolean}
            required:
            - on
"#;
    let refused = admin.fails_with_input(&["apply", "-f", "-"], crd).await;
    assert!(
        refused.contains(
            "cannot unmarshal bool into Go struct field \
             spec.versions[0].schema.openAPIV3Schema.properties[spec].required of type string"
        ),
        "{refused}"
    );
    let quoted = crd.replace("- on", "- 'on'").replace(" on:", " 'on':");
    admin.ok_with_input(&["apply", "-f", "-"], &quoted).await;
}
