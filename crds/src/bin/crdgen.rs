//! `crdgen`: writes the CRD YAML into `charts/sealstack/crds/` and `manifests/crds.yaml`.
//!
//! `cargo crdgen` writes the files; `cargo crdgen --check` exits non-zero when a checked-in file differs;
//! `cargo crdgen --stdout` prints all CRDs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("crds/ sits in the repository root").to_path_buf()
}

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    match mode.as_str() {
        "--stdout" => match sealstack_crds::generate::all_crds_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("crdgen: {e}");
                ExitCode::FAILURE
            }
        },
        "" | "--check" => write_or_check(mode == "--check"),
        other => {
            eprintln!("crdgen: unknown argument {other:?}; usage: crdgen [--check | --stdout]");
            ExitCode::from(2)
        }
    }
}

fn write_or_check(check: bool) -> ExitCode {
    let files = match sealstack_crds::generate::generated_files() {
        Ok(files) => files,
        Err(e) => {
            eprintln!("crdgen: {e}");
            return ExitCode::FAILURE;
        }
    };
    let root = repo_root();
    let mut stale = 0;
    for (relative, content) in files {
        let path = root.join(&relative);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(content.as_str()) {
            continue;
        }
        if check {
            eprintln!("crdgen: {} is out of date; run `cargo crdgen`", relative.display());
            stale += 1;
            continue;
        }
        let written =
            path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(&path, content));
        if let Err(e) = written {
            eprintln!("crdgen: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
        println!("wrote {}", relative.display());
    }
    if stale > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
