//! Everything that talks to the Kubernetes API, through kube-rs. The same code serves a
//! real cluster and the embedded sandbox: the sandbox is reached over HTTP through the
//! kubeconfig it writes, never through an in-process shortcut.

pub mod applications;
pub mod apply;
pub mod audit;
pub mod cluster;
pub mod connect;
pub mod crd_install;
pub mod identity;
pub mod leader;
pub mod objects;
pub mod patience;
pub mod problems;
pub mod release_controller;
pub mod releases;
pub mod releases_port;
