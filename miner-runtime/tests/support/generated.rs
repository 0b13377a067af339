//! The generated devnet parameters for tests (scripts/test.sh's convention): the directory comes from
//! `SEALSTACK_GENERATED_PARAMS`; without it a test says so and passes, unless
//! `SEALSTACK_REQUIRE_GENERATED_PARAMS=1` makes that a failure.

use std::path::PathBuf;

/// The generated parameters' directory, or `None` (with the reason printed) when the test must be skipped.
pub fn generated_dir() -> Option<PathBuf> {
    match std::env::var_os("SEALSTACK_GENERATED_PARAMS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("SEALSTACK_REQUIRE_GENERATED_PARAMS").is_ok_and(|v| v == "1") => {
            panic!("SEALSTACK_GENERATED_PARAMS is not set; run scripts/params.sh")
        }
        None => {
            eprintln!("skipped: SEALSTACK_GENERATED_PARAMS is not set (scripts/params.sh makes the parameters)");
            None
        }
    }
}
