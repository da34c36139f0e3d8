//! One request's journey through the simulated mesh: route, reach a pod, run its
//! Bookinfo behaviour (which makes further calls), and record what each proxy on the way
//! would have reported.
//!
//! Time is simulated, not slept: every hop computes its duration from the latency
//! profiles (service time, proxy and network costs, injected delays) and spans get
//! timestamps offset from the request's arrival. The ingress HTTP server can then wait
//! the simulated duration before answering, so a slow canary *feels* slow in a browser,
//! while tests drive thousands of requests in milliseconds.
//!
//! Each request gets its own RNG seeded from the mesh's RNG, so a seeded mesh replays
//! the same traffic for the same sequence of requests.

use std::collections::BTreeSet;
use std::sync::Arc;

use rand::RngExt;
use rand::rngs::StdRng;

use super::bookinfo::{
    self, AppCtx, AppReply, AppRequest, Behaviour, CallResult, Network, OutCall, Payload, Profiles,
};
use super::metrics::{Reporter, Sample};
use super::peer::Peer;
use super::routing::{
    ClusterRef, Headers, IngressVia, MirrorHit, Outcome, RequestView, SourceCtx, route_kubernetes,
    route_mesh, split_host_port,
};
use super::snapshot::MeshSnapshot;
use super::traces::{MAX_SPANS_PER_TRACE, SpanKind, SpanRecord};

/// Calls deeper than this answer 508 (a VirtualService routing a service to its own
/// caller would otherwise recurse forever).
const MAX_DEPTH: u32 = 12;
/// Application invocations per ingress request, mirrors included.
const MAX_INVOCATIONS: u32 = 64;

/// Everything derived from one snapshot; replaced as a whole on each update.
#[derive(Debug)]
pub(crate) struct World {
    pub snapshot: MeshSnapshot,
    /// Parallel to `snapshot.pods`.
    pub peers: Vec<Arc<Peer>>,
    /// Parallel to `snapshot.pods`.
    pub behaviours: Vec<Behaviour>,
    pub istio_ingress: Arc<Peer>,
    pub kube_gateways: Vec<((String, String), Arc<Peer>)>,
    /// (namespace, workload) of every pod, for dropping dead workloads' series.
    pub live_workloads: BTreeSet<(String, String)>,
}

impl World {
    pub fn new(snapshot: MeshSnapshot, profiles: &Profiles) -> World {
        let peers = snapshot
            .pods
            .iter()
            .map(|p| Arc::new(Peer::from_pod(p)))
            .collect();
        let behaviours = snapshot
            .pods
            .iter()
            .map(|p| Behaviour::of_pod(p, profiles))
            .collect();
        let istio_ingress = Arc::new(Peer::istio_ingress(&snapshot));
        let kube_gateways = snapshot
            .kube_gateways
            .iter()
            .map(|g| {
                let key = (g.meta.namespace.clone(), g.meta.name.clone());
                let peer = Arc::new(Peer::kube_gateway(&snapshot, &key.0, &key.1));
                (key, peer)
            })
            .collect();
        let live_workloads = snapshot
            .pods
            .iter()
            .map(|p| (p.meta.namespace.clone(), p.workload.clone()))
            .collect();
        World {
            snapshot,
            peers,
            behaviours,
            istio_ingress,
            kube_gateways,
            live_workloads,
        }
    }

    /// The proxy that received an ingress request.
    pub fn gateway_peer(&self, via: &IngressVia) -> Arc<Peer> {
        match via {
            IngressVia::KubeGateway { namespace, name } => self
                .kube_gateways
                .iter()
                .find(|((ns, n), _)| ns == namespace && n == name)
                .map_or_else(
                    || Arc::new(Peer::kube_gateway(&self.snapshot, namespace, name)),
                    |(_, p)| p.clone(),
                ),
            IngressVia::IstioGateway { .. } | IngressVia::None => self.istio_ingress.clone(),
        }
    }
}

/// The sender of a request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub peer: Arc<Peer>,
}

/// A request on the wire.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Req<'a> {
    pub method: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a Headers,
    pub body: &'a str,
}

impl Req<'_> {
    fn url(&self) -> String {
        if self.query.is_empty() {
            format!("http://{}{}", self.authority, self.path)
        } else {
            format!("http://{}{}?{}", self.authority, self.path, self.query)
        }
    }
}

/// What the caller gets back.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    /// 0 when no connection could be made.
    pub status: u16,
    pub flags: &'static str,
    pub content_type: &'static str,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub payload: Payload,
    /// As observed by the caller.
    pub duration_us: u64,
}

pub(crate) struct Sim<'w> {
    world: &'w World,
    profiles: &'w Profiles,
    pub rng: StdRng,
    pub samples: Vec<Sample>,
    /// `None` when the request is not sampled for tracing.
    pub spans: Option<Vec<SpanRecord>>,
    invocations_left: u32,
}

fn us(ms: f64) -> u64 {
    (ms.max(0.0) * 1000.0).round() as u64
}

impl<'w> Sim<'w> {
    pub fn new(world: &'w World, profiles: &'w Profiles, rng: StdRng, sampled: bool) -> Sim<'w> {
        Sim {
            world,
            profiles,
            rng,
            samples: Vec::new(),
            spans: sampled.then(Vec::new),
            invocations_left: MAX_INVOCATIONS,
        }
    }

    fn span_id(&mut self) -> Option<u64> {
        self.spans.as_ref()?;
        // Non-zero: zero means "no parent" in B3.
        Some(self.rng.random::<u64>() | 1)
    }

    fn push_span(&mut self, span: SpanRecord) {
        if let Some(spans) = &mut self.spans
            && spans.len() < MAX_SPANS_PER_TRACE
        {
            spans.push(span);
        }
    }

    /// Carry out a routing decision made for `caller`'s request `req`, starting at
    /// `start_us`; `parent` is the span context the caller propagates.
    pub fn exchange(
        &mut self,
        caller: &Caller,
        outcome: Outcome,
        req: &Req<'_>,
        start_us: u64,
        parent: Option<u64>,
        depth: u32,
    ) -> Exchange {
        let proxy_us = us(self.profiles.proxy_ms);
        match outcome {
            Outcome::Unreachable => Exchange {
                status: 0,
                flags: "-",
                content_type: "text/plain; charset=utf-8",
                body: String::new(),
                headers: Vec::new(),
                payload: Payload::None,
                // A failed DNS lookup or refused connection, as the app sees it.
                duration_us: 1_000,
            },
            Outcome::Local(local) => {
                let duration_us = if caller.peer.has_proxy { proxy_us } else { 0 };
                if caller.peer.has_proxy {
                    self.samples.push(Sample {
                        reporter: Reporter::Source,
                        source: Some(caller.peer.clone()),
                        destination: None,
                        service: local.cluster.clone(),
                        mtls: false,
                        status: local.status,
                        flags: local.flags,
                        duration_ms: duration_us as f64 / 1000.0,
                        request_bytes: req.body.len() as u64,
                        response_bytes: local.body.len() as u64,
                    });
                    if let Some(id) = self.span_id() {
                        self.push_span(SpanRecord {
                            span_id: id,
                            parent,
                            operation: local.operation.as_str().into(),
                            start_us,
                            duration_us,
                            kind: SpanKind::Client,
                            proxy: caller.peer.clone(),
                            url: req.url(),
                            method: req.method.to_string(),
                            status: local.status,
                            flags: local.flags,
                            upstream_cluster: local
                                .cluster
                                .as_ref()
                                .map_or_else(|| "-".into(), ClusterRef::outbound_name),
                            peer_address: caller.peer.pod_ip.as_str().into(),
                            request_size: req.body.len() as u64,
                            response_size: local.body.len() as u64,
                        });
                    }
                }
                let mut headers = Vec::new();
                if let Some(l) = local.location {
                    headers.push(("location".to_string(), l));
                }
                Exchange {
                    status: local.status,
                    flags: local.flags,
                    content_type: "text/plain; charset=utf-8",
                    body: local.body,
                    headers,
                    payload: Payload::None,
                    duration_us,
                }
            }
            Outcome::Forward(f) => {
                let world = self.world;
                let callee = f.endpoint;
                let Some(callee_peer) = world.peers.get(callee).cloned() else {
                    return self.exchange(
                        caller,
                        Outcome::Unreachable,
                        req,
                        start_us,
                        parent,
                        depth,
                    );
                };
                let net_us = us(self.profiles.network_ms);
                let client_proxy = if caller.peer.has_proxy { proxy_us } else { 0 };
                let server_proxy = if callee_peer.has_proxy { proxy_us } else { 0 };
                let delay_us = us(f.fault.delay_ms);
                let client_span = if caller.peer.has_proxy {
                    self.span_id()
                } else {
                    None
                };
                let server_span = if callee_peer.has_proxy {
                    self.span_id()
                } else {
                    None
                };
                let propagated = client_span.or(parent);
                let server_start = start_us + client_proxy + delay_us + net_us;
                let reply = self.serve_at(
                    callee,
                    req,
                    server_start + server_proxy,
                    server_span.or(propagated),
                    depth,
                );
                let server_dur = reply.elapsed_us + 2 * server_proxy;
                let mut client_dur = client_proxy + delay_us + 2 * net_us + server_dur;
                let reply_len = reply.body.len() as u64;
                let mut ex = Exchange {
                    status: reply.status,
                    flags: if delay_us > 0 { "DI" } else { "-" },
                    content_type: reply.content_type,
                    body: reply.body,
                    headers: reply.headers,
                    payload: reply.payload,
                    duration_us: 0,
                };
                // The server side: what the callee's sidecar saw.
                let (mut server_status, mut server_flags) = (reply.status, "-");
                if let Some(t) = f.timeout_ms.map(us)
                    && client_dur > t
                {
                    ex.status = 504;
                    ex.flags = "UT";
                    ex.body = "upstream request timeout".into();
                    ex.content_type = "text/plain; charset=utf-8";
                    ex.headers.clear();
                    ex.payload = Payload::None;
                    client_dur = t;
                    // The caller's proxy reset the stream: the callee's sidecar logs a
                    // downstream disconnect, code 0.
                    server_status = 0;
                    server_flags = "DC";
                }
                ex.duration_us = client_dur;
                let mtls = caller.peer.has_proxy && callee_peer.has_proxy;
                let request_bytes = req.body.len() as u64;
                if caller.peer.has_proxy {
                    self.samples.push(Sample {
                        reporter: Reporter::Source,
                        source: Some(caller.peer.clone()),
                        destination: Some(callee_peer.clone()),
                        service: Some(f.cluster.clone()),
                        mtls,
                        status: ex.status,
                        flags: ex.flags,
                        duration_ms: client_dur as f64 / 1000.0,
                        request_bytes,
                        response_bytes: ex.body.len() as u64,
                    });
                }
                if callee_peer.has_proxy {
                    self.samples.push(Sample {
                        reporter: Reporter::Destination,
                        source: mtls.then(|| caller.peer.clone()),
                        destination: Some(callee_peer.clone()),
                        service: Some(f.cluster.clone()),
                        mtls,
                        status: server_status,
                        flags: server_flags,
                        duration_ms: server_dur as f64 / 1000.0,
                        request_bytes,
                        response_bytes: reply_len,
                    });
                }
                let operation: Arc<str> = f.operation.as_str().into();
                if let Some(id) = client_span {
                    self.push_span(SpanRecord {
                        span_id: id,
                        parent,
                        operation: operation.clone(),
                        start_us,
                        duration_us: client_dur,
                        kind: SpanKind::Client,
                        proxy: caller.peer.clone(),
                        url: req.url(),
                        method: req.method.to_string(),
                        status: ex.status,
                        flags: ex.flags,
                        upstream_cluster: f.cluster.outbound_name(),
                        peer_address: caller.peer.pod_ip.as_str().into(),
                        request_size: request_bytes,
                        response_size: ex.body.len() as u64,
                    });
                }
                if let Some(id) = server_span {
                    self.push_span(SpanRecord {
                        span_id: id,
                        parent: propagated,
                        operation,
                        start_us: server_start,
                        duration_us: server_dur,
                        kind: SpanKind::Server,
                        proxy: callee_peer.clone(),
                        url: req.url(),
                        method: req.method.to_string(),
                        status: server_status,
                        flags: server_flags,
                        upstream_cluster: format!("inbound|{}||", f.cluster.port),
                        peer_address: caller.peer.pod_ip.as_str().into(),
                        request_size: request_bytes,
                        response_size: reply_len,
                    });
                }
                for m in f.mirrors {
                    self.mirror(caller, m, req, server_start, propagated, depth);
                }
                ex
            }
        }
    }

    /// Send a shadow copy (host `<name>-shadow`) and forget the answer. Envoy's shadow
    /// request bypasses the caller's stats filter, so only the mirror target's sidecar
    /// reports it.
    fn mirror(
        &mut self,
        caller: &Caller,
        m: MirrorHit,
        req: &Req<'_>,
        start_us: u64,
        parent: Option<u64>,
        depth: u32,
    ) {
        let Some(callee_peer) = self.world.peers.get(m.endpoint).cloned() else {
            return;
        };
        let (host, port) = split_host_port(req.authority);
        let shadow = match port {
            Some(p) => format!("{host}-shadow:{p}"),
            None => format!("{host}-shadow"),
        };
        let shadow_req = Req {
            authority: &shadow,
            ..*req
        };
        let proxy_us = us(self.profiles.proxy_ms);
        let server_span = if callee_peer.has_proxy {
            self.span_id()
        } else {
            None
        };
        let reply = self.serve_at(
            m.endpoint,
            &shadow_req,
            start_us + proxy_us,
            server_span.or(parent),
            depth,
        );
        let server_dur = reply.elapsed_us + 2 * proxy_us;
        if !callee_peer.has_proxy {
            return;
        }
        let mtls = caller.peer.has_proxy;
        self.samples.push(Sample {
            reporter: Reporter::Destination,
            source: mtls.then(|| caller.peer.clone()),
            destination: Some(callee_peer.clone()),
            service: Some(m.cluster.clone()),
            mtls,
            status: reply.status,
            flags: "-",
            duration_ms: server_dur as f64 / 1000.0,
            request_bytes: req.body.len() as u64,
            response_bytes: reply.body.len() as u64,
        });
        if let Some(id) = server_span {
            self.push_span(SpanRecord {
                span_id: id,
                parent,
                operation: format!("{}:{}/*", m.cluster.fqdn, m.cluster.port).into(),
                start_us,
                duration_us: server_dur,
                kind: SpanKind::Server,
                proxy: callee_peer,
                url: shadow_req.url(),
                method: req.method.to_string(),
                status: reply.status,
                flags: "-",
                upstream_cluster: format!("inbound|{}||", m.cluster.port),
                peer_address: caller.peer.pod_ip.as_str().into(),
                request_size: req.body.len() as u64,
                response_size: reply.body.len() as u64,
            });
        }
    }

    /// Run pod `pod`'s application for `req`; its own calls propagate `parent`.
    fn serve_at(
        &mut self,
        pod: usize,
        req: &Req<'_>,
        start_us: u64,
        parent: Option<u64>,
        depth: u32,
    ) -> AppReply {
        let world = self.world;
        let (Some(behaviour), Some(p)) = (world.behaviours.get(pod), world.snapshot.pods.get(pod))
        else {
            return loop_reply("no such pod");
        };
        if depth >= MAX_DEPTH || self.invocations_left == 0 {
            return loop_reply("call chain too deep (routing loop?)");
        }
        self.invocations_left -= 1;
        let self_ms = behaviour.profile.sample_ms(&mut self.rng);
        let fail = (self.rng.random::<f64>() < behaviour.profile.error_rate)
            .then_some(behaviour.profile.error_status);
        let ctx = AppCtx {
            behaviour,
            pod_name: &p.meta.name,
            self_ms,
            fail,
        };
        let app_req = AppRequest {
            method: req.method,
            path: req.path,
            query: req.query,
            headers: req.headers,
            body: req.body,
        };
        let mut net = PodNet {
            sim: self,
            pod,
            parent,
            depth: depth + 1,
        };
        bookinfo::serve(&ctx, &app_req, start_us, &mut net)
    }
}

fn loop_reply(why: &str) -> AppReply {
    AppReply {
        status: 508,
        content_type: "text/plain; charset=utf-8",
        body: format!("{why}\n"),
        headers: Vec::new(),
        payload: Payload::None,
        elapsed_us: 100,
    }
}

/// The network seen from inside one pod.
struct PodNet<'s, 'w> {
    sim: &'s mut Sim<'w>,
    pod: usize,
    parent: Option<u64>,
    depth: u32,
}

impl Network for PodNet<'_, '_> {
    fn call(&mut self, at_us: u64, call: OutCall) -> CallResult {
        let world = self.sim.world;
        let Some(pod) = world.snapshot.pods.get(self.pod) else {
            return CallResult {
                status: 0,
                payload: Payload::None,
                body_len: 0,
                duration_us: 0,
            };
        };
        let (path, query) = call
            .path
            .split_once('?')
            .unwrap_or((call.path.as_str(), ""));
        let view = RequestView {
            method: call.method,
            authority: &call.authority,
            path,
            query,
            headers: &call.headers,
            scheme: "http",
        };
        let outcome = if pod.sidecar {
            let source = SourceCtx {
                namespace: &pod.meta.namespace,
                labels: &pod.meta.labels,
            };
            route_mesh(&world.snapshot, &source, &view, &mut self.sim.rng)
        } else {
            route_kubernetes(
                &world.snapshot,
                &pod.meta.namespace,
                &call.authority,
                &mut self.sim.rng,
            )
        };
        let Some(peer) = world.peers.get(self.pod).cloned() else {
            return CallResult {
                status: 0,
                payload: Payload::None,
                body_len: 0,
                duration_us: 0,
            };
        };
        let caller = Caller { peer };
        let req = Req {
            method: call.method,
            authority: &call.authority,
            path,
            query,
            headers: &call.headers,
            body: "",
        };
        let ex = self
            .sim
            .exchange(&caller, outcome, &req, at_us, self.parent, self.depth);
        CallResult {
            status: ex.status,
            payload: ex.payload,
            body_len: ex.body.len() as u64,
            duration_us: ex.duration_us,
        }
    }
}
