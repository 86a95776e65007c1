//! `brownout demo`: a whole game day in one process, on loopback only. A
//! small shop and the dependencies it calls start in-process, brownout's
//! targets go between them and its observer in front, the load driver
//! plays users, and a bundled experiment replays six incidents products
//! really meet, held to the shop's standards (`config/standards.toml`,
//! bundled). The shop (`shop.rs`) can also be started on the addresses
//! `config/shop.toml` names, so the examples of `experiments/` run against it.

pub mod shop;

use std::net::SocketAddr;

use crate::experiment::Experiment;

/// The bundled game day, with `{placeholders}` for the ports and the phase
/// length. Kept as a file so it reads like any other experiment.
const GAME_DAY: &str = include_str!("game_day.toml");

/// The shop's standards, which the game day inherits: the commented
/// example of `config/standards.toml`, bundled so the demo needs no file.
const STANDARDS: &str = include_str!("../../config/standards.toml");
/// How the bundled standards are named in messages and reports.
pub const STANDARDS_FILE: &str = "config/standards.toml";

/// A free loopback port, released for brownout to bind a moment later.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The demo's world: dependencies and shop started, experiment ready.
pub struct Demo {
    pub experiment: Experiment,
}

/// Starts the dependencies and the shop, and returns the game day wired to
/// them. `quick` runs each phase for 1.5 s instead of 7 s.
pub async fn prepare(quick: bool) -> Result<Demo, DemoError> {
    let deps = shop::dependencies().await?;
    let ports = [free_port()?, free_port()?, free_port()?, free_port()?, free_port()?, free_port()?];
    let at = |i: usize| SocketAddr::from(([127, 0, 0, 1], ports[i]));
    let shop = shop::shop(shop::Dependencies {
        payments: at(0),
        auth: at(1),
        search: at(2),
        export: at(3),
        crm: at(4),
        inventory: at(5),
    })
    .await?;
    let phase = if quick { "1500ms" } else { "7s" };
    let text = GAME_DAY
        .replace("{phase}", phase)
        .replace("{spike_at}", if quick { "3000ms" } else { "14s" })
        .replace("{observer}", &free_port()?.to_string())
        .replace("{shop}", &shop.to_string())
        .replace("{payments}", &format!("{}", ports[0]))
        .replace("{payments_api}", &deps.payments.to_string())
        .replace("{auth}", &format!("{}", ports[1]))
        .replace("{auth_api}", &deps.auth.to_string())
        .replace("{search}", &format!("{}", ports[2]))
        .replace("{search_api}", &deps.search.to_string())
        .replace("{export}", &format!("{}", ports[3]))
        .replace("{export_api}", &deps.export.to_string())
        .replace("{crm}", &format!("{}", ports[4]))
        .replace("{crm_api}", &deps.crm.to_string())
        .replace("{inventory}", &format!("{}", ports[5]))
        .replace("{inventory_api}", &deps.inventory.to_string());
    let standards =
        crate::standards::parse(STANDARDS_FILE, STANDARDS).map_err(|e| DemoError::Bundled(e.to_string()))?;
    let lookup = crate::standards::Lookup::Given(std::sync::Arc::new(standards));
    let experiment = crate::experiment::parse_with("demo game day", &text, None, &lookup)
        .map_err(|e| DemoError::Bundled(e.to_string()))?;
    Ok(Demo { experiment })
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("the demo could not start its in-process services: {0}")]
    Io(#[from] std::io::Error),
    #[error("the bundled game day is invalid (a bug in brownout): {0}")]
    Bundled(String),
}
