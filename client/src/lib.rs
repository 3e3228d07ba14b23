//! The Updraft device client.

pub mod agent;
pub mod cli;
pub mod config;
pub mod install;
pub mod journal;
pub mod progress;
pub mod slots;
