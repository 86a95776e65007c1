//! The faults that apply to one TCP connection: decided once per fault
//! (match, probability, `first`) and kept for the connection's life, while
//! faults added later are picked up at the next chunk.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::time::Instant;
use tracing::debug;

use crate::fault::{tcp_applies, ActiveFault, FaultSwitch};
use crate::record::fields;

pub struct ConnFaults {
    /// The names of the faults applied so far, for the connection's record.
    applied: Mutex<Vec<String>>,
    switch: Arc<FaultSwitch>,
    client: IpAddr,
    seed: u64,
    decisions: Mutex<Decisions>,
    /// When the connection was accepted: connection-wide deadlines count from here.
    pub opened: Instant,
}

/// What this connection decided, and the faults that apply under the plan
/// of one generation.
struct Decisions {
    generation: u64,
    applicable: Arc<[Arc<ActiveFault>]>,
    /// Decisions so far, by fault id: a fault keeps its verdict for the
    /// connection's life.
    decided: Vec<(u64, bool)>,
}

impl ConnFaults {
    pub fn new(switch: Arc<FaultSwitch>, client: IpAddr) -> Self {
        let seed = switch.next_request_seed();
        let decisions = Decisions { generation: u64::MAX, applicable: Arc::from(Vec::new()), decided: Vec::new() };
        ConnFaults {
            applied: Mutex::new(Vec::new()),
            switch,
            client,
            seed,
            decisions: Mutex::new(decisions),
            opened: Instant::now(),
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn switch(&self) -> &FaultSwitch {
        &self.switch
    }

    /// The faults applying to this connection now.
    pub fn snapshot(&self) -> Arc<[Arc<ActiveFault>]> {
        static NONE: std::sync::LazyLock<Arc<[Arc<ActiveFault>]>> = std::sync::LazyLock::new(|| Arc::from(Vec::new()));
        let plan = self.switch.load();
        // No fault at the target: none applies, and nothing need be decided.
        if plan.faults.is_empty() {
            return NONE.clone();
        }
        let mut decisions = self.decisions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if decisions.generation != plan.generation {
            let mut applicable = Vec::new();
            for active in &plan.faults {
                let id = active.fault.id;
                let applies = match decisions.decided.iter().find(|(i, _)| *i == id) {
                    Some((_, applies)) => *applies,
                    None => {
                        let applies = tcp_applies(active, self.client, self.seed) && active.admit();
                        decisions.decided.push((id, applies));
                        applies
                    }
                };
                if applies {
                    applicable.push(active.clone());
                }
            }
            decisions.applicable = Arc::from(applicable);
            decisions.generation = plan.generation;
        }
        decisions.applicable.clone()
    }

    /// The applied faults' names, comma-separated.
    pub fn applied_names(&self) -> Option<String> {
        let names = self.applied.lock().unwrap_or_else(|p| p.into_inner());
        (!names.is_empty()).then(|| names.join(","))
    }

    pub fn applied(&self, active: &ActiveFault, what: &str) {
        {
            let mut names = self.applied.lock().unwrap_or_else(|p| p.into_inner());
            if !names.contains(&active.fault.name) {
                names.push(active.fault.name.clone());
            }
        }
        debug!(
            { fields::TARGET } = %self.switch.target(),
            { fields::FAULT_NAME } = %active.fault.name,
            { fields::FAULT_KIND } = active.fault.kind.name(),
            { fields::FAULT_APPLIED } = what,
            { fields::ORIGIN } = fields::ORIGIN_INJECTED,
            "fault applied"
        );
    }
}
