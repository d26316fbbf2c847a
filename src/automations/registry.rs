//! The automations in force, shared by ingest (matching) and workers (executing).
//! Every version a process has seen stays reachable, so a run queued before an edit
//! still executes the version it matched.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use super::Automation;
use super::calendars::Calendars;
use crate::sla::Policies;

/// An automation with its stored version number.
#[derive(Debug, Clone)]
pub struct VersionedAutomation {
    /// The checked automation.
    pub automation: Arc<Automation>,
    /// Its version in the database.
    pub version: i64,
}

/// The current automations and every version seen.
#[derive(Debug, Default)]
pub struct Registry {
    current: RwLock<Arc<Vec<VersionedAutomation>>>,
    versions: Mutex<HashMap<(String, i64), Arc<Automation>>>,
    calendars: RwLock<Arc<Calendars>>,
    slas: RwLock<Arc<Policies>>,
}

impl Registry {
    /// The automations in force now.
    pub fn current(&self) -> Arc<Vec<VersionedAutomation>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the automations in force.
    pub fn install(&self, automations: Vec<VersionedAutomation>) {
        for a in &automations {
            self.remember(a.version, a.automation.clone());
        }
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(automations);
    }

    /// The business-hours calendars in force now.
    pub fn calendars(&self) -> Arc<Calendars> {
        self.calendars
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the calendars in force.
    pub fn install_calendars(&self, calendars: Calendars) {
        *self.calendars.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(calendars);
    }

    /// The SLA policies in force now, in the order they are tried.
    pub fn slas(&self) -> Arc<Policies> {
        self.slas.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the SLA policies in force.
    pub fn install_slas(&self, policies: Policies) {
        *self.slas.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policies);
    }

    /// Keeps a version reachable for runs that reference it.
    pub fn remember(&self, version: i64, automation: Arc<Automation>) {
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((automation.id.clone(), version), automation);
    }

    /// A specific version, if this process has seen it.
    pub fn version(&self, id: &str, version: i64) -> Option<Arc<Automation>> {
        self.versions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(id.to_owned(), version))
            .cloned()
    }
}
