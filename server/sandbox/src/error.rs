//! The crate's one error type.
//!
//! Two kinds of failure travel through the sandbox: the ones a Kubernetes client is meant to
//! see and act on (NotFound, Conflict, Invalid, ... — carried as a [`Status`] so the REST
//! layer can send exactly what kube-apiserver would), and the ones that mean the sandbox
//! itself is broken or misconfigured (IO, a corrupt state file, a non-loopback address).
//! Keeping both in one enum lets the store, the controllers and the REST layer use `?`
//! throughout, while the REST layer still tells them apart when it builds a response.

use std::{net::SocketAddr, path::PathBuf};

use crate::api::status::Status;

/// Everything that can go wrong in the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The sandbox API has no authentication, so it must never be reachable from another
    /// machine.
    #[error(
        "the sandbox API only listens on a loopback address (127.0.0.1 or ::1); {0} is not one"
    )]
    NotLoopback(SocketAddr),
    /// The listening socket could not be opened.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A file operation on the sandbox's state failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the state directory.
    #[error(
        "the sandbox state in {0} is in use by another sandbox (lock held); stop it or use another --data-dir"
    )]
    Locked(PathBuf),
    /// The persisted state cannot be read back.
    #[error("corrupt sandbox state in {path}: {message}")]
    CorruptState { path: PathBuf, message: String },
    /// A Kubernetes API failure, as a `metav1.Status`.
    #[error("{}", .0.message)]
    Status(Box<Status>),
}

impl SandboxError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Io {
            context: context.into(),
            source,
        }
    }

    /// The Kubernetes status for this error: API failures as they are, anything else as a 500
    /// InternalError whose message names the failure (it stays on loopback, so the detail
    /// helps more than it leaks).
    pub(crate) fn to_status(&self) -> Status {
        match self {
            SandboxError::Status(status) => (**status).clone(),
            other => Status::internal(other.to_string()),
        }
    }

    /// The HTTP status code a client would see.
    pub fn code(&self) -> u16 {
        match self {
            SandboxError::Status(status) => status.code,
            _ => 500,
        }
    }
}

impl From<Status> for SandboxError {
    fn from(status: Status) -> Self {
        SandboxError::Status(Box::new(status))
    }
}

pub(crate) type Result<T, E = SandboxError> = std::result::Result<T, E>;
