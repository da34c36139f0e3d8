//! The Sluice console as a Leptos application.
//!
//! This crate is compiled twice: with `ssr` into the server binary (where the `#[server]`
//! functions run and reach the cluster through [`ports`]) and with `hydrate` into the
//! browser bundle. Pure logic lives in [`domain`] and is unit-tested natively; [`pages`]
//! and [`components`] only wire signals to it.

pub mod api;
pub mod charts;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;
#[cfg(feature = "ssr")]
pub mod ports;
mod shell;

pub use shell::{App, shell};
