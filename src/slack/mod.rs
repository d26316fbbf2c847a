//! Everything that knows Slack's wire formats: request signatures, Events API payloads,
//! and the Web API client. Nothing outside this module sees a Slack payload type.

pub mod client;
pub mod commands;
pub mod events;
pub mod interactions;
pub mod kit;
pub mod ratelimit;
pub mod signature;
pub mod socket;

pub use client::{SlackClient, SlackError};
