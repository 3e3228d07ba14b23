//! `updraft agent`: the DDI polling loop.

use clap::Args;

use super::install::StatusArgs;
use crate::agent::{Agent, Step};

#[derive(Args)]
pub struct AgentArgs {
    /// Do one round (finish a rebooted update, poll, act) and exit; for scripts and tests.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub config: StatusArgs,
}

pub fn agent(args: &AgentArgs) -> anyhow::Result<()> {
    let config = args.config.load()?;
    let config_is_sim = matches!(config.bootloader, crate::config::Bootloader::Sim { .. });
    let mut agent = Agent::new(config)?;
    if !args.once {
        agent.run();
    }
    let (step, sleep) = agent.step()?;
    match &step {
        Step::Idle => outln!("idle; next poll in {}s", sleep.as_secs()),
        Step::Armed { action } if config_is_sim => {
            outln!("action {action}: installed and armed; `updraft sim reboot` to try it");
        }
        other => outln!("{other}"),
    }
    Ok(())
}
