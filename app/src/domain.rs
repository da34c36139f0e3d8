//! Pure domain logic shared by the server and the browser: no IO, unit-tested natively.

pub mod backends;
pub mod cluster;
pub mod links;
pub mod projects;
