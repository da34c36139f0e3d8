//! An embedded Kubernetes API server for trying Sluice without a cluster.
//!
//! `sluice` without a cluster (or with `--sandbox`) starts a [`Sandbox`] in its own process:
//! an HTTP server on loopback that speaks the subset of the Kubernetes REST API the console
//! and `kubectl` use, backed by a durable object store, with simulated controllers that turn
//! Deployments into ReplicaSets and Pods that become Ready (or fail to pull their image).
//! The console connects to it through the kubeconfig the sandbox writes, with the same
//! kube-rs code it uses against a real cluster: there is no in-process shortcut, so what
//! works against the sandbox works against a cluster. See `README.md` in this crate for the
//! API subset, the unpullable-image rule, the durability design and the limits.
//!
//! Module map: [`store`] (objects, resourceVersions, watch history, write-ahead log),
//! [`resources`] (served kinds), [`api`] (the REST layer), [`controllers`] (Deployment,
//! ReplicaSet, kubelet, endpoints, namespace and garbage-collection simulations),
//! [`kubeconfig`], the CRD support ([`crds`], [`schema`]), sign-in and RBAC ([`auth`]),
//! admission policies enforced with CEL ([`policy`]), and the traffic simulation
//! ([`mesh`]).

pub mod api;
pub mod auth;
pub mod controllers;
pub mod crds;
pub mod error;
pub mod injection;
pub mod kubeconfig;
pub mod mesh;
pub mod mesh_feed;
pub mod object;
pub mod policy;
pub mod resources;
pub mod schema;
pub mod store;
pub mod tls;
pub mod validation;

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use serde_json::{Value, json};
use tokio::{sync::watch, task::JoinHandle};

pub use error::SandboxError;
use resources::{Registry, keys};
use store::{Store, ops::Subresource};

/// The namespaces a fresh sandbox starts with.
pub const INITIAL_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "istio-system", "demo-project"];

/// How to run the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where the API listens; must be a loopback address. Port 0 picks a free port.
    pub api_addr: SocketAddr,
    /// The state lives in `<data_dir>/sandbox/`.
    pub data_dir: PathBuf,
    /// Where to write the kubeconfig; default `<data_dir>/sandbox/kubeconfig`.
    pub kubeconfig_path: Option<PathBuf>,
    /// How long a pod takes from scheduled to Ready (and a bad image from Pending to
    /// ErrImagePull).
    pub pod_ready_delay: Duration,
    /// The mesh's ingress gateway (Bookinfo's product page), loopback only; port 0 = free.
    pub ingress_addr: SocketAddr,
    /// Istio metrics in Prometheus exposition format (`/metrics`), loopback only.
    pub metrics_addr: SocketAddr,
    /// The Jaeger query API v1 for the mesh's traces, loopback only.
    pub jaeger_addr: SocketAddr,
    pub mesh: mesh::MeshConfig,
    /// Synthetic users from the start (the tutorial's `watch curl`); `None` = none.
    pub load: Option<mesh::LoadConfig>,
}

impl SandboxConfig {
    /// Defaults: a free port on 127.0.0.1, the kubeconfig next to the state, pods Ready after
    /// two seconds.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            api_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            data_dir: data_dir.into(),
            kubeconfig_path: None,
            pod_ready_delay: Duration::from_secs(2),
            ingress_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            metrics_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            jaeger_addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            mesh: mesh::MeshConfig::default(),
            load: None,
        }
    }
}

/// A running sandbox. Dropping it stops the server and controllers without waiting; call
/// [`Sandbox::shutdown`] to wait for them.
pub struct Sandbox {
    url: String,
    addr: SocketAddr,
    kubeconfig: PathBuf,
    users_dir: PathBuf,
    users: Arc<auth::users::Users>,
    tokens: Arc<auth::tokens::TokenIssuer>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    store: Arc<Store>,
    mesh: mesh::Mesh,
    ingress_addr: SocketAddr,
    metrics_addr: SocketAddr,
    jaeger_addr: SocketAddr,
}

impl Sandbox {
    /// Opens (or creates) the state, binds the API, writes the kubeconfig and starts the
    /// controllers.
    pub async fn start(cfg: SandboxConfig) -> Result<Sandbox, SandboxError> {
        for addr in [
            cfg.api_addr,
            cfg.ingress_addr,
            cfg.metrics_addr,
            cfg.jaeger_addr,
        ] {
            if !addr.ip().is_loopback() {
                return Err(SandboxError::NotLoopback(addr));
            }
        }
        let state_dir = cfg.data_dir.join("sandbox");
        let store = {
            let dir = state_dir.clone();
            tokio::task::spawn_blocking(move || Store::open(&dir))
                .await
                .map_err(|e| {
                    SandboxError::io("sandbox start-up failed", std::io::Error::other(e))
                })??
        };
        let store = Arc::new(store);
        let registry = Arc::new(Registry::new());
        {
            let (store, registry) = (Arc::clone(&store), Arc::clone(&registry));
            store
                .clone()
                .blocking(move |_| bootstrap(&store, &registry))
                .await?;
        }

        let listener = tokio::net::TcpListener::bind(cfg.api_addr)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: cfg.api_addr,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| SandboxError::io("cannot read the listening address", e))?;
        let url = format!("https://{addr}");
        let kubeconfig = cfg
            .kubeconfig_path
            .clone()
            .unwrap_or_else(|| state_dir.join("kubeconfig"));
        let users = {
            let dir = state_dir.clone();
            tokio::task::spawn_blocking(move || auth::users::Users::load_or_create(&dir))
                .await
                .map_err(|e| {
                    SandboxError::io("sandbox start-up failed", std::io::Error::other(e))
                })??
        };
        let users = Arc::new(users);
        let tokens = {
            let dir = state_dir.clone();
            tokio::task::spawn_blocking(move || auth::tokens::TokenIssuer::load_or_create(&dir))
                .await
                .map_err(|e| {
                    SandboxError::io("sandbox start-up failed", std::io::Error::other(e))
                })??
        };
        let tokens = Arc::new(tokens);
        let pki = {
            let dir = state_dir.clone();
            tokio::task::spawn_blocking(move || tls::Pki::load_or_create(&dir))
                .await
                .map_err(|e| {
                    SandboxError::io("sandbox start-up failed", std::io::Error::other(e))
                })??
        };
        let ca_data = pki.ca_data();
        kubeconfig::write(
            &kubeconfig,
            &url,
            &ca_data,
            kubeconfig::NAME,
            users.admin_token(),
        )?;
        let users_dir = state_dir.join("users");
        for account in users.accounts() {
            let name = &account.user.username;
            if name == auth::users::ADMIN {
                continue;
            }
            kubeconfig::write(
                &users_dir.join(format!("{name}.kubeconfig")),
                &url,
                &ca_data,
                name,
                &account.token,
            )?;
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(api::ApiContext {
            store: Arc::clone(&store),
            registry: Arc::clone(&registry),
            shutdown: shutdown_rx.clone(),
            server_address: addr.to_string(),
            users: Arc::clone(&users),
            tokens: Arc::clone(&tokens),
        });
        let app = api::router(ctx);
        let listener = tls::TlsListener::new(listener, &pki, shutdown_rx.clone())?;
        let mut server_shutdown = shutdown_rx.clone();
        let server = tokio::spawn(async move {
            let stop = async move {
                let _ = server_shutdown.wait_for(|stop| *stop).await;
            };
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::error!("sandbox API server failed: {err}");
            }
        });
        let controllers = tokio::spawn(controllers::run(
            Arc::clone(&store),
            Arc::clone(&registry),
            controllers::Settings {
                pod_ready_delay: cfg.pod_ready_delay,
            },
            shutdown_rx,
        ));
        let mesh = mesh::Mesh::new(cfg.mesh.clone());
        let mut tasks = vec![server, controllers];
        tasks.push(tokio::spawn(mesh_feed::run(
            Arc::clone(&store),
            mesh.clone(),
            shutdown.subscribe(),
        )));
        let mut mesh_addrs = Vec::new();
        for (what, want, router) in [
            ("mesh ingress", cfg.ingress_addr, mesh.ingress_router()),
            ("mesh metrics", cfg.metrics_addr, mesh.metrics_router()),
            ("mesh Jaeger API", cfg.jaeger_addr, mesh.jaeger_router()),
        ] {
            let listener = tokio::net::TcpListener::bind(want)
                .await
                .map_err(|source| SandboxError::Bind { addr: want, source })?;
            let bound = listener
                .local_addr()
                .map_err(|e| SandboxError::io("cannot read the listening address", e))?;
            let mut stop = shutdown.subscribe();
            tasks.push(tokio::spawn(async move {
                let stop = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(err) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    tracing::error!("sandbox {what} server failed: {err}");
                }
            }));
            mesh_addrs.push(bound);
        }
        let (ingress_addr, metrics_addr, jaeger_addr) =
            (mesh_addrs[0], mesh_addrs[1], mesh_addrs[2]);
        if let Some(load) = cfg.load.clone()
            && let Err(e) = mesh.start_load(load)
        {
            tracing::warn!("sandbox load generator not started: {e}");
        }
        tracing::info!(
            "sandbox Kubernetes API at {url}; kubeconfig {}; ingress http://{ingress_addr}; \
             metrics http://{metrics_addr}/metrics; Jaeger API http://{jaeger_addr}",
            kubeconfig.display()
        );
        Ok(Sandbox {
            url,
            addr,
            kubeconfig,
            users_dir,
            users,
            tokens,
            shutdown,
            tasks,
            store,
            mesh,
            ingress_addr,
            metrics_addr,
            jaeger_addr,
        })
    }

    /// `https://127.0.0.1:<port>` (the kubeconfigs trust its CA).
    pub fn api_url(&self) -> &str {
        &self.url
    }

    /// The address the API listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The kubeconfig written at start.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }

    /// Where each user's kubeconfig is (`<user>.kubeconfig`, e.g. `alice.kubeconfig`).
    pub fn users_dir(&self) -> &Path {
        &self.users_dir
    }

    /// A kubeconfig of one of the sandbox's users, if there is such a user.
    pub fn user_kubeconfig(&self, user: &str) -> Option<PathBuf> {
        self.users
            .token_of(user)
            .map(|_| self.users_dir.join(format!("{user}.kubeconfig")))
    }

    /// The bearer token of one of the sandbox's users.
    pub fn token_of(&self, user: &str) -> Option<&str> {
        self.users.token_of(user)
    }

    /// A bearer token for the ServiceAccount `namespace/name`, valid for `lifetime` (what
    /// `kubectl create token` gets, without its ten-minute minimum, so tests can watch one
    /// expire). The token stops working when it expires or the ServiceAccount is deleted.
    pub async fn issue_service_account_token(
        &self,
        namespace: &str,
        name: &str,
        lifetime: Duration,
    ) -> Result<String, SandboxError> {
        let issuer = Arc::clone(&self.tokens);
        let (ns, name) = (namespace.to_string(), name.to_string());
        let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX).max(1);
        self.store
            .blocking(move |s| auth::tokens::issue_for(s, &issuer, &ns, &name, seconds))
            .await
    }

    /// Where the mesh's ingress gateway serves (Bookinfo's product page).
    pub fn ingress_addr(&self) -> SocketAddr {
        self.ingress_addr
    }

    /// Where the mesh's Istio metrics are served (`/metrics`).
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Where the mesh's Jaeger query API is served.
    pub fn jaeger_addr(&self) -> SocketAddr {
        self.jaeger_addr
    }

    /// The mesh simulator, e.g. to start or stop synthetic load.
    pub fn mesh(&self) -> &mesh::Mesh {
        &self.mesh
    }

    /// Stops the API (open watches end) and the controllers, and waits for them. Every
    /// acknowledged write is already on disk; nothing else needs flushing.
    pub async fn shutdown(mut self) {
        self.shutdown.send_replace(true);
        for mut task in std::mem::take(&mut self.tasks) {
            // Bounded: a client holding a connection open must not stall shutdown.
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
        // Watches and in-flight store calls end on their own once they see the shutdown;
        // wait (bounded) until nothing else holds the store, so that when this returns the
        // log is closed and the directory lock released (a restart can open it at once).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&self.store) > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

/// Seeds a fresh store and (on every start) installs the nodes and built-in CRDs.
fn bootstrap(store: &Store, registry: &Registry) -> Result<(), SandboxError> {
    use api::admission::{self, Request};
    let ns_def = registry.builtin(keys::NAMESPACES);
    if store.is_fresh() {
        for name in INITIAL_NAMESPACES {
            let mut obj = json!({"apiVersion": "v1", "kind": "Namespace",
                                 "metadata": {"name": name}});
            admission::admit(
                Request {
                    def: &ns_def,
                    version: "v1",
                    field_validation: api::query::FieldValidation::Strict,
                    old: None,
                    subresource: Subresource::Main,
                },
                &mut obj,
            )?;
            store.create(&ns_def, obj, false)?;
        }
    }
    let node_def = registry.builtin(keys::NODES);
    for node in controllers::kubelet::node_objects() {
        if store.get(keys::NODES, "", object::name(&node)).is_none() {
            store.create(&node_def, node, false)?;
        }
    }
    let crd_def = registry.builtin(keys::CRDS);
    for crd in crds::builtin_crds()
        .into_iter()
        .chain(resources::extra_crds())
    {
        install_crd(store, &crd_def, crd)?;
    }
    let (crds, _) = store.list(keys::CRDS, None);
    registry.set_crds(&crds);
    for obj in auth::rbac::bootstrap_policy() {
        let key = if obj["kind"] == "ClusterRole" {
            auth::rbac::CLUSTER_ROLES
        } else {
            auth::rbac::CLUSTER_ROLE_BINDINGS
        };
        if store.get(key, "", object::name(&obj)).is_none() {
            let def = registry.builtin(key);
            let mut obj = obj;
            admission::admit(
                Request {
                    def: &def,
                    version: "v1",
                    field_validation: api::query::FieldValidation::Strict,
                    old: None,
                    subresource: Subresource::Main,
                },
                &mut obj,
            )?;
            store.create(&def, obj, false)?;
        }
    }
    Ok(())
}

/// Creates a built-in CRD, or brings an existing one's spec up to date (a newer sandbox may
/// ship newer Istio schemas).
fn install_crd(
    store: &Store,
    crd_def: &resources::ResourceDef,
    crd: Value,
) -> Result<(), SandboxError> {
    use api::admission::{self, Request};
    let name = object::name(&crd).to_string();
    fn request<'a>(def: &'a resources::ResourceDef, old: Option<&'a Value>) -> Request<'a> {
        Request {
            def,
            version: "v1",
            field_validation: api::query::FieldValidation::Ignore,
            old,
            subresource: Subresource::Main,
        }
    }
    match store.get(keys::CRDS, "", &name) {
        None => {
            let mut obj = crd;
            admission::admit(request(crd_def, None), &mut obj)?;
            store.create(crd_def, obj, false)?;
        }
        Some(existing) if existing.get("spec") != crd.get("spec") => {
            store.update_with(crd_def, "", &name, Subresource::Main, false, |current| {
                let mut obj = current.clone();
                obj["spec"] = crd["spec"].clone();
                admission::admit(request(crd_def, Some(current)), &mut obj)?;
                Ok(obj)
            })?;
        }
        Some(_) => {}
    }
    Ok(())
}
