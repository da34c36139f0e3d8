//! Reads and deletes of a project's objects by kind, for the configuration diagnosis and
//! Uninstall Sample Application. Kinds are named by apiVersion and kind and reached as
//! dynamic objects, so Istio's and the Gateway API's need no typed client, and a kind the
//! cluster does not serve (no Gateway API installed) simply has no objects.

use ::kube::Client;
use ::kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams};
use sluice_app::domain::diagnosis::{MeshConfig, MeshPod, MeshService};
use sluice_app::domain::sample_uninstall::{ClusterObject, ObjectKind};

use super::applications::list_dynamic;

fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, kind))
}

fn is_not_found(e: &::kube::Error) -> bool {
    matches!(e, ::kube::Error::Api(s) if s.code == 404)
}

/// The project's Services, pods, VirtualServices, DestinationRules and HTTPRoutes.
pub async fn mesh_config(client: &Client, project: &str) -> Result<MeshConfig, ::kube::Error> {
    let (services, pods, virtual_services, destination_rules, http_routes) = futures::try_join!(
        list_dynamic(client, project, "", "v1", "Service"),
        list_dynamic(client, project, "", "v1", "Pod"),
        list_dynamic(
            client,
            project,
            "networking.istio.io",
            "v1",
            "VirtualService"
        ),
        list_dynamic(
            client,
            project,
            "networking.istio.io",
            "v1",
            "DestinationRule"
        ),
        list_dynamic(
            client,
            project,
            "gateway.networking.k8s.io",
            "v1",
            "HTTPRoute"
        ),
    )?;
    Ok(MeshConfig {
        services: services.iter().map(MeshService::from_object).collect(),
        pods: pods.iter().filter_map(MeshPod::from_object).collect(),
        virtual_services,
        destination_rules,
        http_routes,
    })
}

/// Objects of the kinds in the project, with their labels.
pub async fn list(
    client: &Client,
    project: &str,
    kinds: &[ObjectKind],
    label_selector: Option<&str>,
) -> Result<Vec<ClusterObject>, ::kube::Error> {
    let lists = futures::future::try_join_all(kinds.iter().map(|k| async move {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), project, &resource(k.api_version, k.kind));
        let mut lp = ListParams::default();
        if let Some(s) = label_selector {
            lp = lp.labels(s);
        }
        match api.list(&lp).await {
            Ok(list) => Ok(list
                .items
                .into_iter()
                .map(|o| ClusterObject {
                    api_version: k.api_version.to_string(),
                    kind: k.kind.to_string(),
                    name: o.metadata.name.unwrap_or_default(),
                    labels: o.metadata.labels.unwrap_or_default(),
                    deleting: o.metadata.deletion_timestamp.is_some(),
                })
                .collect()),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }))
    .await?;
    Ok(lists.into_iter().flatten().collect())
}

/// Deletes one object, in the background (dependents are garbage-collected), or only asks
/// whether it could (`dry_run`). Gone already is fine.
pub async fn delete(
    client: &Client,
    project: &str,
    object: &ClusterObject,
    dry_run: bool,
) -> Result<(), ::kube::Error> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        project,
        &resource(&object.api_version, &object.kind),
    );
    let params = DeleteParams {
        dry_run,
        ..DeleteParams::background()
    };
    match api.delete(&object.name, &params).await {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Ok(()),
        Err(e) => Err(e),
    }
}
