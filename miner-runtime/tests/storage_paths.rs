//! Long-term stores (`run --store`, `storage list | redeclare`) with a genesis miner's pre-sealed 2KiB sectors on
//! an in-process devnet (needs `SEALSTACK_GENERATED_PARAMS`): a store attached beside the default one gets its
//! `sectorstore.json`; a sector moved onto it by hand is found by `storage redeclare` and proven from there; when
//! the store's directory disappears (an unmounted volume) its sector fails the proving check, the others pass, and
//! the daemon serves on. Then `storage move` killed in each of its steps (copy, switch, delete): after the
//! restart exactly one complete copy of the sector is there, on the source or the target, and it checks good.

#[path = "support/generated.rs"]
mod generated;

#[path = "support/world.rs"]
mod world;

use sealstack_chain::{FullNodeClient, LotusJson, Node, TipSetKey};
use world::{Keep, World};

#[tokio::test(flavor = "multi_thread")]
async fn sectors_are_read_from_the_store_that_holds_them() {
    let Some(params) = generated::generated_dir() else { return };
    // SAFETY: set before any thread of this process reads the environment (the in-process devnet verifies the
    // daemon's WindowPoSts with these parameters).
    unsafe { std::env::set_var("FIL_PROOFS_PARAMETER_CACHE", &params) };
    let dir = Keep(tempfile::tempdir().unwrap());
    let mut world = World::start_genesis(dir.path(), params, 1000, 20, 4, 3).await;
    world.run_args.push("--no-mining".into());
    let attached = dir.path().join("store-b");
    std::fs::create_dir_all(&attached).unwrap();
    let store = format!("{},weight=20", attached.display());
    let daemon = world.daemon_with("daemon.log", None, &["--store", &store]);

    let list = world.cli(&["storage", "list"]);
    assert_eq!(list.matches("Local: ").count(), 2, "{list}");
    assert!(list.contains("Sectors: 3 (") && list.contains("Sectors: 0 ("), "{list}");
    assert!(list.contains("Weight: 20; Use: Store") && list.contains(&format!("Local: {}", attached.display())));
    assert!(attached.join("sectorstore.json").is_file());

    // Sector 2 moved onto the attached store by hand: found there after a redeclare.
    let name = "s-t01000-2";
    let default = world.repo().join("storage");
    std::fs::create_dir_all(attached.join("sealed")).unwrap();
    std::fs::create_dir_all(attached.join("cache")).unwrap();
    std::fs::rename(default.join("sealed").join(name), attached.join("sealed").join(name)).unwrap();
    std::fs::rename(default.join("cache").join(name), attached.join("cache").join(name)).unwrap();
    let redeclared = world.cli(&["storage", "redeclare"]);
    assert!(redeclared.contains("3 sectors indexed"), "{redeclared}");
    assert!(redeclared.contains("Sectors: 2 (") && redeclared.contains("Sectors: 1 ("), "{redeclared}");

    let node = Node::connect(&world.devnet.api_info, &Default::default()).await.unwrap();
    let miner = LotusJson(sealstack_chain::json::parse_address(world::GENESIS_MINER).unwrap());
    let location = node.api().state_sector_partition(miner, 2, TipSetKey::head()).await.unwrap().unwrap();
    let deadline = location.deadline.to_string();
    let checked = world.cli(&["proving", "check", &deadline, "--sectors", "0,1,2"]);
    assert_eq!(checked.matches(" good").count(), 3, "every sector readable where it is: {checked}");

    // The store's volume goes away: its sector fails the check, the others pass, the daemon serves on.
    std::fs::rename(&attached, dir.path().join("unmounted")).unwrap();
    let output = std::process::Command::new(world::BIN)
        .env("FULLNODE_API_INFO", world.devnet.api_info.to_env_value())
        .arg("--repo")
        .arg(world.repo())
        .args(["proving", "check", &deadline, "--sectors", "0,1,2"])
        .output()
        .unwrap();
    let checked = String::from_utf8_lossy(&output.stdout);
    assert_eq!(checked.matches(" good").count(), 2, "{checked}");
    assert!(checked.lines().any(|l| l.contains(" 2 ") && l.contains("bad")), "{checked}");
    let list = world.cli(&["storage", "list"]);
    assert!(list.contains(&format!("[missing] {}", attached.display())), "{list}");
    let missing = format!("sealstack_miner_store_missing{{store=\"{}\"}}", attached.display());
    assert_eq!(world.metric(&missing), 1.0);

    // The volume back (sector 2 on it again); then sector 0 moved to it, the daemon killed in each step.
    std::fs::rename(dir.path().join("unmounted"), &attached).unwrap();
    drop(daemon);
    let complete = |root: &std::path::Path, name: &str| {
        root.join("sealed").join(name).is_file() && root.join("cache").join(name).join("p_aux").is_file()
    };
    let name = "s-t01000-0";
    for (step, moved) in [("copy", false), ("switch", false), ("delete", true)] {
        let mut command = world.daemon_command(&world.first(), &format!("daemon-move-{step}.log"));
        command.args(["--store", &store]).env("SEALSTACK_CRASH_IN_MOVE", step);
        let mut crashing = world.spawn_daemon(&world.first(), command, &format!("daemon-move-{step}.log"));
        let (from, to) = if complete(&default, name) { (&default, &attached) } else { (&attached, &default) };
        let target = to.display().to_string();
        let output = std::process::Command::new(world::BIN)
            .env("FULLNODE_API_INFO", world.devnet.api_info.to_env_value())
            .arg("--repo")
            .arg(world.repo())
            .args(["storage", "move", "0", &target])
            .output()
            .unwrap();
        assert!(!output.status.success(), "the daemon died in the {step} step");
        assert!(!crashing.wait_exit(std::time::Duration::from_secs(30)).success());
        let restarted = world.daemon_with(&format!("daemon-after-{step}.log"), None, &["--store", &store]);
        let (on_from, on_to) = (complete(from, name), complete(to, name));
        assert!(on_from != on_to, "after a crash in the {step} step: one complete copy ({on_from}, {on_to})");
        assert_eq!(on_to, moved, "the {step} step {}", if moved { "finished the move" } else { "undid the move" });
        let checked = world.cli(&["proving", "check", &deadline, "--sectors", "0,1,2"]);
        assert_eq!(checked.matches(" good").count(), 3, "after a crash in the {step} step: {checked}");
        drop(restarted);
    }
    // And a move that completes.
    let _daemon = world.daemon_with("daemon-final.log", None, &["--store", &store]);
    let to = if complete(&default, name) { &attached } else { &default };
    let moved = world.cli(&["storage", "move", "0", &to.display().to_string()]);
    assert!(moved.contains("sector 0 moved"), "{moved}");
    assert!(complete(to, name) && !attached.join("incoming/move-0").exists());
}
