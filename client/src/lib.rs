//! The Updraft device client.

pub mod journal;
pub mod slots;
