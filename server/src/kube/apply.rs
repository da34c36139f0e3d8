//! Creating a set of objects all or nothing, for actions like Deploy Sample Application:
//! either every object exists afterwards, or none of the ones this call created does.
//! Kinds are resolved through API discovery, so Istio objects need no typed client.

use ::kube::Client;
use ::kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use ::kube::core::GroupVersionKind;
use ::kube::discovery::{ApiResource, Scope, pinned_kind};
use serde_json::Value;
use sluice_app::domain::applications::ObjectRef;

/// Why a set could not be created; the caller turns it into a user-facing message.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("object #{index} has no {field}")]
    Malformed { index: usize, field: &'static str },
    #[error("the cluster does not serve {api_version} {kind}: {source}")]
    UnknownKind {
        api_version: String,
        kind: String,
        source: ::kube::Error,
    },
    #[error("{0}")]
    Api(#[from] ::kube::Error),
    #[error("creating {object} failed: {source}{}", rolled_back_note(.rolled_back, .leftovers))]
    Create {
        object: ObjectRef,
        source: ::kube::Error,
        rolled_back: usize,
        leftovers: Vec<ObjectRef>,
    },
}

fn rolled_back_note(rolled_back: &usize, leftovers: &[ObjectRef]) -> String {
    if leftovers.is_empty() {
        format!(
            ". Nothing was left behind: the {rolled_back} objects created before it were deleted again."
        )
    } else {
        let names: Vec<String> = leftovers.iter().map(ToString::to_string).collect();
        format!(
            ". These objects could not be deleted again and need removing by hand: {}.",
            names.join(", ")
        )
    }
}

struct Target {
    api: Api<DynamicObject>,
    object: DynamicObject,
    reference: ObjectRef,
}

async fn target(client: &Client, index: usize, value: &Value) -> Result<Target, ApplyError> {
    let field = |f| ApplyError::Malformed { index, field: f };
    let api_version = value["apiVersion"].as_str().ok_or(field("apiVersion"))?;
    let kind = value["kind"].as_str().ok_or(field("kind"))?;
    let name = value["metadata"]["name"]
        .as_str()
        .ok_or(field("metadata.name"))?;
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    let (resource, caps): (ApiResource, _) =
        pinned_kind(client, &gvk)
            .await
            .map_err(|source| ApplyError::UnknownKind {
                api_version: api_version.to_string(),
                kind: kind.to_string(),
                source,
            })?;
    let api = match (caps.scope, value["metadata"]["namespace"].as_str()) {
        (Scope::Namespaced, Some(ns)) => Api::namespaced_with(client.clone(), ns, &resource),
        (Scope::Namespaced, None) => return Err(field("metadata.namespace")),
        (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
    };
    let object: DynamicObject =
        serde_json::from_value(value.clone()).map_err(|_| field("valid object structure"))?;
    Ok(Target {
        api,
        object,
        reference: ObjectRef {
            kind: kind.to_string(),
            name: name.to_string(),
        },
    })
}

/// The objects of the set that already exist.
pub async fn existing(client: &Client, objects: &[Value]) -> Result<Vec<ObjectRef>, ApplyError> {
    let mut found = Vec::new();
    for (i, value) in objects.iter().enumerate() {
        let t = target(client, i, value).await?;
        if t.api.get_opt(&t.reference.name).await?.is_some() {
            found.push(t.reference);
        }
    }
    Ok(found)
}

/// Creates every object in order; on the first failure deletes what it created.
pub async fn create_all(client: &Client, objects: &[Value]) -> Result<Vec<ObjectRef>, ApplyError> {
    // Resolve every kind first, so an unknown kind fails before anything is created.
    let mut targets = Vec::with_capacity(objects.len());
    for (i, value) in objects.iter().enumerate() {
        targets.push(target(client, i, value).await?);
    }
    let mut created: Vec<&Target> = Vec::new();
    for t in &targets {
        if let Err(source) = t.api.create(&PostParams::default(), &t.object).await {
            let mut leftovers = Vec::new();
            for done in created.iter().rev() {
                let gone = done
                    .api
                    .delete(&done.reference.name, &DeleteParams::background())
                    .await;
                if let Err(e) = gone {
                    tracing::warn!(object = %done.reference, error = %e, "rollback delete failed");
                    leftovers.push(done.reference.clone());
                }
            }
            return Err(ApplyError::Create {
                object: t.reference.clone(),
                source,
                rolled_back: created.len() - leftovers.len(),
                leftovers,
            });
        }
        created.push(t);
    }
    Ok(targets.into_iter().map(|t| t.reference).collect())
}

/// Makes every object exist as given: created when missing, replaced when different
/// (the console's own fixed objects, such as the sandbox's demo RBAC).
pub async fn ensure_all(client: &Client, objects: &[Value]) -> Result<(), ApplyError> {
    for (i, value) in objects.iter().enumerate() {
        let t = target(client, i, value).await?;
        match t.api.get_opt(&t.reference.name).await? {
            None => {
                t.api.create(&PostParams::default(), &t.object).await?;
            }
            Some(current) => {
                let mut next = t.object.clone();
                next.metadata.resource_version = current.metadata.resource_version.clone();
                if serde_json::to_value(&current.data).ok() != serde_json::to_value(&next.data).ok()
                    || current.metadata.labels != next.metadata.labels
                {
                    t.api
                        .replace(&t.reference.name, &PostParams::default(), &next)
                        .await?;
                }
            }
        }
    }
    Ok(())
}
