//! Manual runs: an automation with a `manual` trigger started by a person — from
//! Slack (`/switchboard`, the "Run automation" message shortcut, a form for its
//! inputs) or from the command line.

pub mod inputs;
