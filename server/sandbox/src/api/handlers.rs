//! Resource requests: get, list, watch, create, update, patch, delete, deletecollection,
//! and the `status`, `scale` and `log` subresources.
//!
//! Each handler decodes the request, converts between the client's version and the stored
//! form ([`super::convert`]), runs admission ([`super::admission`]) and calls the store,
//! whose operations carry the write semantics. Store calls go through
//! `Store::blocking`, because writes wait for an fsync.

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header},
    response::{IntoResponse, Response},
};
use serde_json::{Value, json};

use super::{
    ApiContext, Output, admission, convert, discovery, json_response, negotiate,
    patch::{self, PatchType},
    path::{self, ApiPath, ResourcePath},
    query::{Query, parse_propagation},
    selector::{FieldSelector, LabelSelector, Selectors},
    status::Status,
    table, watch,
};
use crate::{
    auth::{Caller, UserInfo, rbac, reviews, tokens},
    error::{Result, SandboxError},
    object, policy,
    resources::{ResourceDef, keys},
    store::ops::{DeleteOptions, Subresource},
};

/// The fallback handler: everything under `/api` and `/apis` that is not a fixed route.
pub async fn resource(
    State(ctx): State<Arc<ApiContext>>,
    caller: Option<axum::Extension<Caller>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The guard middleware always names the caller; without it nobody is anybody.
    let caller = caller
        .map(|c| c.0.0)
        .unwrap_or_else(|| Arc::new(UserInfo::anonymous()));
    match handle(ctx, caller, method, uri, headers, body).await {
        Ok(resp) => resp,
        Err(err) => err.into_response(),
    }
}

async fn handle(
    ctx: Arc<ApiContext>,
    caller: Arc<UserInfo>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response> {
    let parsed = path::parse(uri.path()).ok_or_else(Status::no_such_path)?;
    let rp = match parsed {
        ApiPath::Group(group) if method == Method::GET => {
            return discovery::api_group(&ctx, &group);
        }
        ApiPath::GroupVersion { group, version } if method == Method::GET => {
            return discovery::resource_list(&ctx, &group, &version);
        }
        ApiPath::Group(_) | ApiPath::GroupVersion { .. } => {
            return Err(Status::method_not_allowed().into());
        }
        ApiPath::Resource(rp) => rp,
    };
    let def = ctx
        .registry
        .find(&rp.group, &rp.version, &rp.plural)
        .ok_or_else(Status::no_such_path)?;
    if rp.namespace.is_some() && !def.namespaced {
        return Err(Status::no_such_path().into());
    }
    if def.storage_key == keys::SERVICE_ACCOUNTS && rp.subresource.as_deref() == Some("token") {
        return match (&method, rp.namespace.as_deref(), rp.name.as_deref()) {
            (&Method::POST, Some(ns), Some(name)) => {
                token_request(&ctx, &headers, &body, &def, ns, name).await
            }
            _ => Err(Status::method_not_allowed().into()),
        };
    }
    if def.create_only {
        return match (&method, &rp.name, &rp.subresource) {
            (&Method::POST, None, None) => {
                let obj = decode_body(&headers, &body, &def)?;
                reviews::create(&ctx, &caller, &def, rp.namespace.as_deref(), obj).await
            }
            _ => Err(Status::method_not_allowed().into()),
        };
    }
    let query = Query::parse(uri.query())?;
    let req = Req {
        ctx,
        def,
        rp,
        query,
        headers,
        caller,
    };
    let sub = req.rp.subresource.as_deref();
    let has_name = req.rp.name.is_some();
    let namespace_ok = !req.def.namespaced || req.rp.namespace.is_some();

    match (&method, has_name, sub) {
        (&Method::GET, false, None) if req.rp.watch || req.query.watch => req.watch(None).await,
        (&Method::GET, false, None) => req.list().await,
        (_, _, _) if !namespace_ok => Err(Status::no_such_path().into()),
        (&Method::GET, true, None) if req.rp.watch || req.query.watch => {
            let name = req.name().to_string();
            req.watch(Some(name)).await
        }
        (&Method::GET, true, None) => req.get().await,
        (&Method::GET, true, Some("status")) if req.def.status_subresource => req.get().await,
        (&Method::GET, true, Some("scale")) if req.def.scale_subresource => req.get_scale().await,
        (&Method::GET, true, Some("log")) if req.def.storage_key == keys::PODS => {
            req.pod_log().await
        }
        (&Method::POST, false, None) => req.create(body).await,
        (&Method::PUT, true, _) => {
            let target = req.target()?;
            req.update(body, target).await
        }
        (&Method::PATCH, true, _) => {
            let target = req.target()?;
            req.patch(body, target).await
        }
        (&Method::DELETE, true, None) => req.delete(body).await,
        (&Method::DELETE, false, None) => req.delete_collection(body).await,
        (_, _, Some(s)) if !matches!(s, "status" | "scale" | "log" | "finalize") => {
            Err(Status::no_such_path().into())
        }
        _ => Err(Status::method_not_allowed().into()),
    }
}

/// Which part of the object a PUT/PATCH writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Object,
    Status,
    Scale,
}

/// One resource request.
struct Req {
    ctx: Arc<ApiContext>,
    def: Arc<ResourceDef>,
    rp: ResourcePath,
    query: Query,
    headers: HeaderMap,
    caller: Arc<UserInfo>,
}

/// Decodes a request body: JSON, or YAML for hand-written requests (protobuf only for the
/// kinds kubectl insists on sending it for, see [`super::protobuf`]).
fn decode_body(headers: &HeaderMap, body: &[u8], def: &ResourceDef) -> Result<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    let media = content_type.split(';').next().unwrap_or("").trim();
    let value: Value = match media {
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_yaml::from_slice(body)
            .map_err(|e| Status::bad_request(format!("invalid YAML body: {e}")))?,
        "application/vnd.kubernetes.protobuf" if def.create_only => {
            super::protobuf::decode_review(&def.kind, body)?
        }
        "application/vnd.kubernetes.protobuf" if def.group == rbac::GROUP => {
            super::protobuf::decode_rbac(&def.kind, body)?
        }
        "application/vnd.kubernetes.protobuf" => {
            return Err(Status::unsupported_media_type(
                "the sandbox does not speak protobuf; send application/json",
            )
            .into());
        }
        _ => serde_json::from_slice(body)
            .map_err(|e| Status::bad_request(format!("invalid JSON body: {e}")))?,
    };
    if !value.is_object() {
        return Err(Status::bad_request("the request body must be a JSON object").into());
    }
    Ok(value)
}

/// `POST /api/v1/namespaces/<ns>/serviceaccounts/<name>/token` (TokenRequest).
async fn token_request(
    ctx: &Arc<ApiContext>,
    headers: &HeaderMap,
    body: &[u8],
    def: &ResourceDef,
    ns: &str,
    name: &str,
) -> Result<Response> {
    let protobuf = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/vnd.kubernetes.protobuf"));
    let request = if protobuf {
        super::protobuf::decode_token_request(body)?
    } else {
        decode_body(headers, body, def)?
    };
    let issuer = Arc::clone(&ctx.tokens);
    let (ns, name) = (ns.to_string(), name.to_string());
    let answer = ctx
        .store
        .blocking(move |s| tokens::token_request(s, &issuer, &ns, &name, request))
        .await?;
    Ok(json_response(StatusCode::CREATED, &answer))
}

fn with_warnings(mut resp: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", serde_json::Value::String(w.clone()));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append("Warning", v);
        }
    }
    resp
}

impl Req {
    fn name(&self) -> &str {
        self.rp.name.as_deref().unwrap_or("")
    }

    fn ns(&self) -> &str {
        self.rp.namespace.as_deref().unwrap_or("")
    }

    fn version(&self) -> &str {
        &self.rp.version
    }

    fn target(&self) -> Result<Target> {
        match self.rp.subresource.as_deref() {
            None | Some("finalize") => Ok(Target::Object),
            Some("status") if self.def.status_subresource => Ok(Target::Status),
            Some("scale") if self.def.scale_subresource => Ok(Target::Scale),
            _ => Err(Status::no_such_path().into()),
        }
    }

    fn selectors(&self) -> Result<Selectors> {
        let labels = match &self.query.label_selector {
            Some(s) => LabelSelector::parse(s)?,
            None => LabelSelector::default(),
        };
        let fields = match &self.query.field_selector {
            Some(s) => FieldSelector::parse(s)?,
            None => FieldSelector::default(),
        };
        Ok(Selectors { labels, fields })
    }

    /// An object (stored form) rendered the way the client asked.
    fn render(&self, stored: &Value) -> Result<Value> {
        Ok(match negotiate(&self.headers)? {
            Output::Object => convert::from_storage(&self.def, self.version(), stored),
            Output::Metadata => table::partial_metadata(stored),
            Output::Table => {
                let rv = object::resource_version(stored).parse().unwrap_or(0);
                table::table(
                    &self.def,
                    self.version(),
                    &[Arc::new(stored.clone())],
                    rv,
                    self.query.include_object,
                )
            }
        })
    }

    fn respond(&self, code: StatusCode, stored: &Value) -> Result<Response> {
        Ok(json_response(code, &self.render(stored)?))
    }

    /// Checks `apiVersion`/`kind` of a body against the URL and fills in the namespace.
    fn check_body(&self, obj: &mut Value, kind: &str, api_version: &str) -> Result<()> {
        if let Some(v) = obj.get("apiVersion").and_then(Value::as_str)
            && v != api_version
        {
            return Err(Status::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            ))
            .into());
        }
        if let Some(k) = obj.get("kind").and_then(Value::as_str)
            && k != kind
        {
            return Err(Status::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({kind})"
            ))
            .into());
        }
        if self.def.namespaced {
            let url_ns = self.ns().to_string();
            let body_ns = object::namespace(obj).to_string();
            if body_ns.is_empty() {
                object::meta_mut(obj).insert("namespace".into(), json!(url_ns));
            } else if body_ns != url_ns {
                return Err(Status::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                )
                .into());
            }
        }
        Ok(())
    }

    async fn get(&self) -> Result<Response> {
        let (key, ns, name) = (
            self.def.storage_key.clone(),
            self.ns().to_string(),
            self.name().to_string(),
        );
        let found = self
            .ctx
            .store
            .blocking(move |s| Ok(s.get(&key, &ns, &name)))
            .await?;
        let obj = found
            .ok_or_else(|| Status::not_found(&self.def.plural, &self.def.group, self.name()))?;
        self.respond(StatusCode::OK, &obj)
    }

    async fn list(&self) -> Result<Response> {
        let selectors = self.selectors()?;
        let key = self.def.storage_key.clone();
        let ns = self.rp.namespace.clone();
        let (items, rv) = self
            .ctx
            .store
            .blocking(move |s| Ok(s.list(&key, ns.as_deref())))
            .await?;
        let version = self.version();
        let mut shown = Vec::new();
        let mut kept = Vec::new();
        for item in items {
            let converted = convert::from_storage(&self.def, version, &item);
            if selectors.matches(&converted) {
                shown.push(converted);
                kept.push(item);
            }
        }
        let body = match negotiate(&self.headers)? {
            Output::Object => json!({
                "kind": self.def.list_kind,
                "apiVersion": self.def.api_version(version),
                "metadata": {"resourceVersion": rv.to_string()},
                "items": shown,
            }),
            Output::Metadata => json!({
                "kind": "PartialObjectMetadataList",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": {"resourceVersion": rv.to_string()},
                "items": kept.iter().map(|o| table::partial_metadata(o)).collect::<Vec<_>>(),
            }),
            Output::Table => table::table(&self.def, version, &kept, rv, self.query.include_object),
        };
        Ok(json_response(StatusCode::OK, &body))
    }

    async fn watch(&self, name: Option<String>) -> Result<Response> {
        let mut selectors = self.selectors()?;
        if let Some(name) = name {
            selectors.fields = selectors.fields.and(FieldSelector::name(&name));
        }
        watch::serve(
            Arc::clone(&self.ctx),
            Arc::clone(&self.def),
            self.version().to_string(),
            self.rp.namespace.clone(),
            selectors,
            &self.query,
            negotiate(&self.headers)?,
        )
    }

    async fn create(&self, body: Bytes) -> Result<Response> {
        let mut obj = decode_body(&self.headers, &body, &self.def)?;
        let api_version = self.def.api_version(self.version());
        self.check_body(&mut obj, &self.def.kind, &api_version)?;
        let def = Arc::clone(&self.def);
        let registry = Arc::clone(&self.ctx.registry);
        let version = self.version().to_string();
        let fv = self.query.field_validation;
        let dry_run = self.query.dry_run;
        let caller = Arc::clone(&self.caller);
        let (created, warnings) = self
            .ctx
            .store
            .blocking(move |s| {
                let (ns, name) = (
                    object::namespace(&obj).to_string(),
                    object::name(&obj).to_string(),
                );
                let preq = policy::Request {
                    def: &def,
                    version: &version,
                    subresource: "",
                    operation: policy::Operation::Create,
                    namespace: &ns,
                    name: &name,
                    user: &caller,
                    dry_run,
                };
                let areq = admission::Request {
                    def: &def,
                    version: &version,
                    field_validation: fv,
                    old: None,
                    subresource: Subresource::Main,
                };
                let (obj, mut warnings) = policy::admit(s, &registry, &preq, areq, obj, None)?;
                let stored = convert::to_storage(&def, obj);
                rbac::check_grant(s, &caller, &def, &stored)?;
                let created = s.create_checked(&def, stored, dry_run, |new| {
                    let shown = convert::from_storage(&def, &version, new);
                    let preq = policy::Request {
                        name: object::name(new),
                        ..preq.clone()
                    };
                    warnings.extend(policy::validate(s, &registry, &preq, Some(&shown), None)?);
                    Ok(())
                })?;
                Ok((created, warnings))
            })
            .await?;
        if self.def.is_crd() && !dry_run {
            self.refresh_crds().await?;
        }
        Ok(with_warnings(
            self.respond(StatusCode::CREATED, &created)?,
            &warnings,
        ))
    }

    async fn update(&self, body: Bytes, target: Target) -> Result<Response> {
        let mut obj = decode_body(&self.headers, &body, &self.def)?;
        if target == Target::Scale {
            self.check_body(&mut obj, "Scale", "autoscaling/v1")?;
            return self.write_scale(obj).await;
        }
        let api_version = self.def.api_version(self.version());
        self.check_body(&mut obj, &self.def.kind, &api_version)?;
        let sub = if target == Target::Status {
            Subresource::Status
        } else {
            Subresource::Main
        };
        self.write_existing(sub, move |_, _, _| Ok(obj)).await
    }

    async fn patch(&self, body: Bytes, target: Target) -> Result<Response> {
        let content_type = self
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let kind = patch::patch_type(content_type, &self.def)?;
        if target == Target::Scale {
            return self.patch_scale(kind, body).await;
        }
        let sub = if target == Target::Status {
            Subresource::Status
        } else {
            Subresource::Main
        };
        self.write_existing(sub, move |def, version, current| {
            let shown = convert::from_storage(def, version, current);
            Ok(patch::apply(kind, &shown, &body)?)
        })
        .await
    }

    /// The write path shared by update and patch: `make` builds the new object from the
    /// stored one (in the request's version); admission, conversion and the store's
    /// conflict handling then run under the store lock, identically for both verbs.
    async fn write_existing<F>(&self, sub: Subresource, make: F) -> Result<Response>
    where
        F: FnOnce(&ResourceDef, &str, &Value) -> Result<Value> + Send + 'static,
    {
        let def = Arc::clone(&self.def);
        let registry = Arc::clone(&self.ctx.registry);
        let version = self.version().to_string();
        let fv = self.query.field_validation;
        let (ns, name, dry_run) = (
            self.ns().to_string(),
            self.name().to_string(),
            self.query.dry_run,
        );
        let subresource = self.rp.subresource.clone().unwrap_or_default();
        let caller = Arc::clone(&self.caller);
        let (updated, warnings) = self
            .ctx
            .store
            .blocking(move |s| {
                let preq = policy::Request {
                    def: &def,
                    version: &version,
                    subresource: &subresource,
                    operation: policy::Operation::Update,
                    namespace: &ns,
                    name: &name,
                    user: &caller,
                    dry_run,
                };
                let mut warnings = Vec::new();
                let mut validation_warnings = Vec::new();
                let updated = s.update_with_checked(
                    &def,
                    &ns,
                    &name,
                    sub,
                    dry_run,
                    |current| {
                        let obj = make(&def, &version, current)?;
                        let old = convert::from_storage(&def, &version, current);
                        let areq = admission::Request {
                            def: &def,
                            version: &version,
                            field_validation: fv,
                            old: Some(current),
                            subresource: sub,
                        };
                        let (obj, w) = policy::admit(s, &registry, &preq, areq, obj, Some(&old))?;
                        warnings = w;
                        // Writes are serialized here, so the check sees the roles as they are.
                        rbac::check_grant(s, &caller, &def, &obj)?;
                        Ok(convert::to_storage(&def, obj))
                    },
                    |new, current| {
                        let shown = convert::from_storage(&def, &version, new);
                        let old = convert::from_storage(&def, &version, current);
                        validation_warnings =
                            policy::validate(s, &registry, &preq, Some(&shown), Some(&old))?;
                        Ok(())
                    },
                )?;
                warnings.extend(validation_warnings);
                Ok((updated, warnings))
            })
            .await?;
        if self.def.is_crd() && !dry_run {
            self.refresh_crds().await?;
        }
        Ok(with_warnings(
            self.respond(StatusCode::OK, &updated)?,
            &warnings,
        ))
    }

    /// DeleteOptions from the body (kubectl, kube-rs) merged with query parameters.
    fn delete_options(&self, body: &[u8]) -> Result<DeleteOptions> {
        let mut opts = DeleteOptions {
            dry_run: self.query.dry_run,
            propagation: self.query.propagation_policy,
            ..DeleteOptions::default()
        };
        if body.iter().any(|b| !b.is_ascii_whitespace()) {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| Status::bad_request(format!("invalid DeleteOptions: {e}")))?;
            if let Some(p) = v.get("propagationPolicy").and_then(Value::as_str) {
                opts.propagation = Some(parse_propagation(p)?);
            } else if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
                opts.propagation = Some(crate::store::ops::Propagation::Orphan);
            }
            if let Some(uid) = v.pointer("/preconditions/uid").and_then(Value::as_str) {
                opts.uid = Some(uid.to_string());
            }
            if let Some(rv) = v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
            {
                opts.resource_version = Some(rv.to_string());
            }
            if v.get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|d| d.iter().any(|x| x == "All"))
            {
                opts.dry_run = true;
            }
        }
        Ok(opts)
    }

    async fn delete(&self, body: Bytes) -> Result<Response> {
        let opts = self.delete_options(&body)?;
        let def = Arc::clone(&self.def);
        let registry = Arc::clone(&self.ctx.registry);
        let version = self.version().to_string();
        let caller = Arc::clone(&self.caller);
        let (ns, name) = (self.ns().to_string(), self.name().to_string());
        let dry_run = opts.dry_run;
        let (deleted, still_there, warnings) = self
            .ctx
            .store
            .blocking(move |s| {
                let mut warnings = Vec::new();
                let deleted = s.delete_checked(&def, &ns, &name, &opts, |current| {
                    warnings =
                        validate_delete(s, &registry, &def, &version, &caller, &opts, current)?;
                    Ok(())
                })?;
                let still_there = s.get(&def.storage_key, &ns, &name).is_some();
                Ok((deleted, still_there, warnings))
            })
            .await?;
        if self.def.is_crd() && !dry_run {
            self.refresh_crds().await?;
            if !still_there {
                // Deleting a CRD deletes its objects, as on a real cluster.
                let crd_key = crate::resources::def_from_crd(&deleted)
                    .map(|d| d.storage_key)
                    .ok();
                if let Some(key) = crd_key {
                    self.ctx.store.blocking(move |s| s.purge(&key)).await?;
                }
            }
        }
        // 202 while a finalizer or the namespace controller still holds the object.
        let code = if still_there && !dry_run {
            StatusCode::ACCEPTED
        } else {
            StatusCode::OK
        };
        Ok(with_warnings(self.respond(code, &deleted)?, &warnings))
    }

    async fn delete_collection(&self, body: Bytes) -> Result<Response> {
        let opts = self.delete_options(&body)?;
        let selectors = self.selectors()?;
        let def = Arc::clone(&self.def);
        let registry = Arc::clone(&self.ctx.registry);
        let caller = Arc::clone(&self.caller);
        let ns = self.rp.namespace.clone();
        let version = self.version().to_string();
        let (deleted, rv) = self
            .ctx
            .store
            .blocking(move |s| {
                let (items, _) = s.list(&def.storage_key, ns.as_deref());
                let mut deleted = Vec::new();
                for item in items {
                    let shown = convert::from_storage(&def, &version, &item);
                    if !selectors.matches(&shown) {
                        continue;
                    }
                    let check = |current: &serde_json::Value| {
                        validate_delete(s, &registry, &def, &version, &caller, &opts, current)
                            .map(drop)
                    };
                    match s.delete_checked(
                        &def,
                        object::namespace(&item),
                        object::name(&item),
                        &opts,
                        check,
                    ) {
                        Ok(d) => deleted.push(convert::from_storage(&def, &version, &d)),
                        // Gone in the meantime (a cascade of an earlier item): fine.
                        Err(SandboxError::Status(st)) if st.code == 404 => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok((deleted, s.current_rv()))
            })
            .await?;
        if self.def.is_crd() {
            self.refresh_crds().await?;
        }
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "kind": self.def.list_kind,
                "apiVersion": self.def.api_version(self.version()),
                "metadata": {"resourceVersion": rv.to_string()},
                "items": deleted,
            }),
        ))
    }

    /// Re-reads the CRDs into the registry so new kinds are served at once.
    async fn refresh_crds(&self) -> Result<()> {
        let registry = Arc::clone(&self.ctx.registry);
        self.ctx
            .store
            .blocking(move |s| {
                registry.refresh_crds(|| s.list(keys::CRDS, None).0);
                Ok(())
            })
            .await
    }

    async fn get_scale(&self) -> Result<Response> {
        let (key, ns, name) = (
            self.def.storage_key.clone(),
            self.ns().to_string(),
            self.name().to_string(),
        );
        let obj = self
            .ctx
            .store
            .blocking(move |s| Ok(s.get(&key, &ns, &name)))
            .await?
            .ok_or_else(|| Status::not_found(&self.def.plural, &self.def.group, self.name()))?;
        Ok(json_response(StatusCode::OK, &scale_view(&obj)))
    }

    /// Writes a Scale: its `spec.replicas` becomes the object's; its resourceVersion (if
    /// any) must be current.
    async fn write_scale_with<F>(&self, make_scale: F) -> Result<Response>
    where
        F: FnOnce(&Value) -> Result<Value> + Send + 'static,
    {
        let def = Arc::clone(&self.def);
        let (ns, name, dry_run) = (
            self.ns().to_string(),
            self.name().to_string(),
            self.query.dry_run,
        );
        let updated = self
            .ctx
            .store
            .blocking(move |s| {
                s.update_with(&def, &ns, &name, Subresource::Main, dry_run, |current| {
                    let scale = make_scale(&scale_view(current))?;
                    let replicas = scale
                        .pointer("/spec/replicas")
                        .and_then(Value::as_i64)
                        .ok_or_else(|| Status::bad_request("spec.replicas: Required value"))?;
                    if replicas < 0 {
                        return Err(Status::invalid(
                            "Scale",
                            "autoscaling",
                            object::name(current),
                            vec![super::status::Cause {
                                reason: "FieldValueInvalid".into(),
                                message: format!(
                                    "Invalid value: {replicas}: must be greater than or equal to 0"
                                ),
                                field: "spec.replicas".into(),
                            }],
                        )
                        .into());
                    }
                    let mut next = current.clone();
                    next["spec"]["replicas"] = json!(replicas);
                    let rv = object::resource_version(&scale);
                    if !rv.is_empty() {
                        object::meta_mut(&mut next).insert("resourceVersion".into(), json!(rv));
                    }
                    Ok(next)
                })
            })
            .await?;
        Ok(json_response(StatusCode::OK, &scale_view(&updated)))
    }

    async fn write_scale(&self, scale: Value) -> Result<Response> {
        self.write_scale_with(move |_| Ok(scale)).await
    }

    async fn patch_scale(&self, kind: PatchType, body: Bytes) -> Result<Response> {
        self.write_scale_with(move |current_scale| Ok(patch::apply(kind, current_scale, &body)?))
            .await
    }

    async fn pod_log(&self) -> Result<Response> {
        let (ns, name) = (self.ns().to_string(), self.name().to_string());
        let exists = self
            .ctx
            .store
            .blocking(move |s| Ok(s.get(keys::PODS, &ns, &name).is_some()))
            .await?;
        if !exists {
            return Err(Status::not_found("pods", "", self.name()).into());
        }
        let mut resp = format!(
            "sluice sandbox: pod {}/{} is simulated; its containers do not run and write no logs\n",
            self.ns(),
            self.name()
        )
        .into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Ok(resp)
    }
}

/// Validating admission policies for a DELETE of `current` (stored form).
fn validate_delete(
    s: &crate::store::Store,
    registry: &crate::resources::Registry,
    def: &ResourceDef,
    version: &str,
    caller: &UserInfo,
    opts: &DeleteOptions,
    current: &Value,
) -> Result<Vec<String>> {
    let old = convert::from_storage(def, version, current);
    let req = policy::Request {
        def,
        version,
        subresource: "",
        operation: policy::Operation::Delete,
        namespace: object::namespace(current),
        name: object::name(current),
        user: caller,
        dry_run: opts.dry_run,
    };
    policy::validate(s, registry, &req, None, Some(&old))
}

/// The `autoscaling/v1` Scale view of a deployment or replica set.
fn scale_view(obj: &Value) -> Value {
    let mut meta = serde_json::Map::new();
    for k in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = obj.get("metadata").and_then(|m| m.get(k)) {
            meta.insert(k.into(), v.clone());
        }
    }
    let selector = obj
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .map(|m| {
            let mut parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            parts.sort();
            parts.join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": meta,
        "spec": {"replicas": obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0)},
        "status": {
            "replicas": obj.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0),
            "selector": selector,
        },
    })
}
