//! Names of the objects one controller creates and another refers to.

/// The Secret holding a Miner's API info (`MINER_API_INFO`), which its workers use.
pub fn miner_api_secret(miner: &str) -> String {
    format!("{miner}-api")
}
