//! Installing the console's own CRDs (when it leads) without ever undoing a newer one.
//! Each generated CRD carries a revision (`sluice.dev/crd-revision`); a console finding a
//! CRD of a higher revision, or one that serves a version it does not know, leaves it
//! alone and says so: during a rolling upgrade the old replica must not downgrade the
//! schema the new one installed.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, PostParams};

pub const REVISION_ANNOTATION: &str = "sluice.dev/crd-revision";

/// What installing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Installed {
    Created,
    Updated,
    Current,
    /// A newer CRD is there; it was left as it is (the reason in words).
    LeftNewer(String),
}

/// `crd` with its revision recorded.
pub fn with_revision(mut crd: CustomResourceDefinition, revision: u32) -> CustomResourceDefinition {
    crd.metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(REVISION_ANNOTATION.into(), revision.to_string());
    crd
}

fn revision_of(crd: &CustomResourceDefinition) -> Option<u32> {
    crd.metadata
        .annotations
        .as_ref()?
        .get(REVISION_ANNOTATION)?
        .parse()
        .ok()
}

/// Why `existing` must be left alone by a console that would install `ours`, if it must.
pub fn newer_reason(
    existing: &CustomResourceDefinition,
    ours: &CustomResourceDefinition,
) -> Option<String> {
    let name = ours.metadata.name.as_deref().unwrap_or("the CRD");
    if let (Some(theirs), Some(mine)) = (revision_of(existing), revision_of(ours))
        && theirs > mine
    {
        return Some(format!(
            "{name} is at revision {theirs}, newer than this console's {mine}: left as it is \
             (upgrade this console)"
        ));
    }
    let known: Vec<&str> = ours.spec.versions.iter().map(|v| v.name.as_str()).collect();
    existing
        .spec
        .versions
        .iter()
        .find(|v| v.served && !known.contains(&v.name.as_str()))
        .map(|v| {
            format!(
                "{name} serves version {}, which this console does not know: left as it is \
                 (upgrade this console)",
                v.name
            )
        })
}

/// Waits (up to 10 s) until the API server serves the CRD's resources, as a new CRD
/// becomes Established a moment after it is written: the first writes of its objects
/// would otherwise be 404s.
async fn wait_served(client: &Client, crd: &CustomResourceDefinition) {
    let Some(version) = crd.spec.versions.iter().find(|v| v.served) else {
        return;
    };
    let resource = kube::discovery::ApiResource {
        group: crd.spec.group.clone(),
        version: version.name.clone(),
        api_version: format!("{}/{}", crd.spec.group, version.name),
        kind: crd.spec.names.kind.clone(),
        plural: crd.spec.names.plural.clone(),
    };
    let objects: Api<kube::api::DynamicObject> = Api::all_with(client.clone(), &resource);
    for _ in 0..50 {
        if objects
            .list(&kube::api::ListParams::default().limit(1))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Creates `crd`, or updates it when it differs, unless a newer one is present.
pub async fn install(
    client: &Client,
    crd: CustomResourceDefinition,
) -> Result<Installed, kube::Error> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let name = crd.metadata.name.clone().unwrap_or_default();
    match api.get_opt(&name).await? {
        None => {
            api.create(&PostParams::default(), &crd).await?;
            wait_served(client, &crd).await;
            Ok(Installed::Created)
        }
        Some(existing) => {
            if let Some(why) = newer_reason(&existing, &crd) {
                tracing::warn!("{why}");
                return Ok(Installed::LeftNewer(why));
            }
            if existing.spec == crd.spec && revision_of(&existing) == revision_of(&crd) {
                return Ok(Installed::Current);
            }
            let mut updated = crd.clone();
            updated.metadata.resource_version = existing.metadata.resource_version;
            api.replace(&name, &PostParams::default(), &updated).await?;
            wait_served(client, &crd).await;
            Ok(Installed::Updated)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::CustomResourceExt;

    fn ours() -> CustomResourceDefinition {
        with_revision(crate::kube::releases::ReleaseJob::crd(), 3)
    }

    #[test]
    fn a_higher_revision_or_an_unknown_version_is_left_alone() {
        let mine = ours();
        assert_eq!(newer_reason(&mine.clone(), &mine), None);
        assert_eq!(newer_reason(&with_revision(mine.clone(), 2), &mine), None);
        let newer = with_revision(mine.clone(), 4);
        assert!(
            newer_reason(&newer, &mine)
                .unwrap()
                .contains("revision 4, newer than this console's 3")
        );
        let mut v2 = mine.clone();
        let mut version = v2.spec.versions[0].clone();
        version.name = "v1beta1".into();
        version.storage = false;
        v2.spec.versions.push(version);
        assert!(
            newer_reason(&v2, &mine)
                .unwrap()
                .contains("serves version v1beta1")
        );
    }
}
