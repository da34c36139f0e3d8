//! Pure domain logic shared by the server and the browser: no IO, unit-tested natively.

pub mod access;
pub mod applications;
pub mod audit;
pub mod backends;
pub mod cluster;
pub mod csp;
pub mod dataplane;
pub mod diagnosis;
pub mod links;
pub mod live;
pub mod metrics;
pub mod names;
pub mod projects;
pub mod refresh;
pub mod release;
#[cfg(feature = "ssr")]
pub mod sample_app;
pub mod sample_uninstall;
pub mod timefmt;
pub mod topology;
pub mod traces;
