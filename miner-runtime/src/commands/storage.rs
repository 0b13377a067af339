//! `sealstack-miner storage list | redeclare | move` (lotus-miner storage): the long-term stores through the running
//! daemon's API, printed as lotus-miner prints them (ID, path, use bar, sectors, weight, limit).

use std::path::Path;

use sealstack_miner::protocol::{MinerApiClient, StoreStat};

use super::context;
use super::info::size;
use crate::cli::{MinerApiArgs, StorageCommand};

/// Runs a `storage` subcommand.
pub async fn run(repo_dir: &Path, api: MinerApiArgs, command: StorageCommand) -> anyhow::Result<()> {
    let (client, _) = context::daemon_api(repo_dir, api.miner_api.as_deref())?;
    let stores = match command {
        StorageCommand::List => client.storage_stat().await?,
        StorageCommand::Move { sector, store } => {
            client.storage_move(sector, store.clone()).await?;
            println!("sector {sector} moved to {store}");
            client.storage_stat().await?
        }
        StorageCommand::Redeclare => {
            let stores = client.storage_redeclare_local().await?;
            println!("stores read again: {} sectors indexed", stores.iter().map(|s| s.sectors).sum::<u64>());
            stores
        }
    };
    for store in &stores {
        print!("{}", describe(store));
    }
    Ok(())
}

/// A store's lines, as lotus-miner's `storage list` prints them.
fn describe(store: &StoreStat) -> String {
    let mut text = format!("{}:\n", store.id);
    if store.missing {
        text.push_str(&format!("\t[missing] {}: its sectors are not readable\n", store.path));
    } else {
        let used = store.capacity.saturating_sub(store.available);
        let percent = (used * 100).checked_div(store.capacity).unwrap_or(0);
        let bar: String = (0..30).map(|i| if i * 100 / 30 < percent { '|' } else { ' ' }).collect();
        let (used, capacity) = (size(used as f64), size(store.capacity as f64));
        text.push_str(&format!("\t[{bar}] {used}/{capacity} {percent}%\n"));
        text.push_str(&format!(
            "\tSectors: {} ({}); room {}\n",
            store.sectors,
            size(store.used as f64),
            size(store.room as f64)
        ));
    }
    let limit = if store.max_storage == 0 { "none".to_string() } else { size(store.max_storage as f64) };
    text.push_str(&format!("\tWeight: {}; Use: Store; Max: {limit}\n", store.weight));
    text.push_str(&format!("\tLocal: {}\n", store.path));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_prints_its_use_sectors_and_weight() {
        let store = StoreStat {
            id: "abc".into(),
            path: "/stores/a".into(),
            weight: 20,
            max_storage: 0,
            sectors: 3,
            used: 6144,
            capacity: 4 << 30,
            available: 3 << 30,
            room: 3 << 30,
            missing: false,
        };
        let text = describe(&store);
        assert!(text.starts_with("abc:\n\t[|||||||| "), "{text}");
        assert!(text.contains("1 GiB/4 GiB 25%") && text.contains("Sectors: 3 (6 KiB); room 3 GiB"), "{text}");
        assert!(text.contains("Weight: 20; Use: Store; Max: none") && text.contains("Local: /stores/a"), "{text}");
        let gone = describe(&StoreStat { missing: true, ..store });
        assert!(gone.contains("[missing] /stores/a"), "{gone}");
    }
}
