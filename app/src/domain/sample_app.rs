//! "Deploy Sample Application": the Bookinfo objects Sluice creates in a project, derived
//! from Istio's own `bookinfo.yaml` and `bookinfo-gateway.yaml` (see assets/istio) the way
//! the KubeSphere tutorial starts: productpage v1, details v1, reviews **v1 only**,
//! ratings v1, their Services and ServiceAccounts, the labels a grayscale release needs,
//! and an ingress Gateway + VirtualService for productpage on a hostname.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

const BOOKINFO: &str = include_str!("../../assets/istio/bookinfo.yaml");
const GATEWAY: &str = include_str!("../../assets/istio/bookinfo-gateway.yaml");

/// The application name every Bookinfo object carries in `app.kubernetes.io/name`.
pub const APP_NAME: &str = "bookinfo";
/// Marks what the console created, so it never touches objects it does not manage.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "sluice");
/// The ingress port of the Gateway server, as in Istio's bookinfo-gateway.yaml.
pub const GATEWAY_NAME: &str = "bookinfo-gateway";

/// One object to create, in order, with a short description for the confirm dialog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedObject {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// The full object as JSON (namespace set).
    pub object: Value,
}

/// The hostname the sample's ingress answers on. `*.localhost` resolves to loopback in
/// browsers and curl without DNS, which is what the sandbox ingress listens on.
pub fn default_host(project: &str, sandbox: bool) -> String {
    if sandbox {
        format!("bookinfo.{project}.localhost")
    } else {
        format!("bookinfo.{project}.example.com")
    }
}

/// The objects to create, ServiceAccounts and Services before Deployments (as kubectl
/// would apply the file), Istio ingress objects last.
pub fn plan(project: &str, host: &str) -> Result<Vec<PlannedObject>, String> {
    let mut out = Vec::new();
    for doc in documents(BOOKINFO)? {
        let kind = doc["kind"].as_str().unwrap_or_default().to_string();
        let name = doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        // The tutorial starts with reviews v1 only; v2 arrives through a release.
        if kind == "Deployment" && (name == "reviews-v2" || name == "reviews-v3") {
            continue;
        }
        out.push(finish(doc, project, None));
    }
    for mut doc in documents(GATEWAY)? {
        match doc["kind"].as_str() {
            Some("Gateway") => {
                doc["spec"]["servers"][0]["hosts"] = json!([host]);
            }
            Some("VirtualService") => {
                doc["spec"]["hosts"] = json!([host]);
                doc["metadata"]["name"] = json!("bookinfo");
            }
            _ => {}
        }
        out.push(finish(doc, project, Some("productpage")));
    }
    let rank = |k: &str| match k {
        "ServiceAccount" => 0,
        "Service" => 1,
        "Deployment" => 2,
        _ => 3,
    };
    out.sort_by_key(|o| rank(&o.kind));
    Ok(out)
}

fn documents(yaml: &str) -> Result<Vec<Value>, String> {
    let mut docs = Vec::new();
    for de in serde_yaml::Deserializer::from_str(yaml) {
        let v = Value::deserialize(de).map_err(|e| format!("bundled Bookinfo YAML: {e}"))?;
        if v.is_object() {
            docs.push(v);
        }
    }
    Ok(docs)
}

/// Sets the namespace and the labels, on the object and on a Deployment's pod template
/// (the Service selectors and the release controller read those).
fn finish(mut doc: Value, project: &str, component: Option<&str>) -> PlannedObject {
    doc["metadata"]["namespace"] = json!(project);
    let version = doc["metadata"]["labels"]["version"]
        .as_str()
        .unwrap_or("v1")
        .to_string();
    let component = component
        .map(str::to_string)
        .or_else(|| {
            doc["metadata"]["labels"]["app"]
                .as_str()
                .map(str::to_string)
        })
        .or_else(|| {
            doc["metadata"]["labels"]["account"]
                .as_str()
                .map(str::to_string)
        })
        .unwrap_or_default();
    let add = |labels: &mut Value, with_version: bool| {
        if !labels.is_object() {
            *labels = json!({});
        }
        labels["app.kubernetes.io/name"] = json!(APP_NAME);
        labels[MANAGED_BY.0] = json!(MANAGED_BY.1);
        if with_version {
            labels["app.kubernetes.io/version"] = json!(version);
        }
        if !component.is_empty() && labels.get("app").is_none() {
            labels["app"] = json!(component);
        }
    };
    let is_deployment = doc["kind"] == "Deployment";
    add(&mut doc["metadata"]["labels"], is_deployment);
    if is_deployment {
        add(&mut doc["spec"]["template"]["metadata"]["labels"], true);
    }
    PlannedObject {
        api_version: doc["apiVersion"].as_str().unwrap_or_default().to_string(),
        kind: doc["kind"].as_str().unwrap_or_default().to_string(),
        name: doc["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        object: doc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(plan: &[PlannedObject], kind: &str) -> Vec<String> {
        plan.iter()
            .filter(|o| o.kind == kind)
            .map(|o| o.name.clone())
            .collect()
    }

    #[test]
    fn plans_the_tutorial_starting_point() {
        let plan = plan("demo-project", "bookinfo.demo-project.localhost").unwrap();
        assert_eq!(
            names(&plan, "Deployment"),
            ["details-v1", "ratings-v1", "reviews-v1", "productpage-v1"]
        );
        assert_eq!(
            names(&plan, "Service"),
            ["details", "ratings", "reviews", "productpage"]
        );
        assert_eq!(names(&plan, "ServiceAccount").len(), 4);
        assert_eq!(names(&plan, "Gateway"), [GATEWAY_NAME]);
        assert_eq!(names(&plan, "VirtualService"), ["bookinfo"]);
        // Creation order: accounts, services, deployments, Istio objects.
        let kinds: Vec<&str> = plan.iter().map(|o| o.kind.as_str()).collect();
        assert_eq!(kinds.first(), Some(&"ServiceAccount"));
        assert_eq!(kinds.last(), Some(&"VirtualService"));
    }

    #[test]
    fn every_object_is_in_the_project_and_labelled_for_a_release() {
        for o in plan("p1", "h").unwrap() {
            assert_eq!(o.object["metadata"]["namespace"], "p1", "{}", o.name);
            let labels = &o.object["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/name"], APP_NAME, "{}", o.name);
            assert_eq!(
                labels["app.kubernetes.io/managed-by"], "sluice",
                "{}",
                o.name
            );
            if o.kind == "Deployment" {
                let pod = &o.object["spec"]["template"]["metadata"]["labels"];
                assert_eq!(pod["version"], "v1", "{}", o.name);
                assert_eq!(pod["app.kubernetes.io/version"], "v1", "{}", o.name);
                assert!(pod["app"].is_string(), "{}", o.name);
            }
        }
    }

    #[test]
    fn the_ingress_answers_on_the_hostname() {
        let plan = plan("demo-project", "bookinfo.demo-project.localhost").unwrap();
        let vs = plan.iter().find(|o| o.kind == "VirtualService").unwrap();
        assert_eq!(
            vs.object["spec"]["hosts"],
            json!(["bookinfo.demo-project.localhost"])
        );
        assert_eq!(vs.object["spec"]["gateways"], json!([GATEWAY_NAME]));
        assert_eq!(
            vs.object["spec"]["http"][0]["route"][0]["destination"]["host"],
            "productpage"
        );
        let gw = plan.iter().find(|o| o.kind == "Gateway").unwrap();
        assert_eq!(
            gw.object["spec"]["servers"][0]["hosts"],
            json!(["bookinfo.demo-project.localhost"])
        );
        assert_eq!(
            default_host("demo-project", true),
            "bookinfo.demo-project.localhost"
        );
    }
}
