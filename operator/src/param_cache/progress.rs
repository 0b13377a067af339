//! Reading a fetch Job's log: the JSON progress lines `sealstack-miner fetch-params` writes, one per file.

use sealstack_crds::param_cache::{FetchProgressLine, ParamFileStatus};

/// Files reported in a fetch log, in the order they finished; other lines (logs) are ignored.
pub fn files_from_log(log: &str) -> Vec<ParamFileStatus> {
    let mut files: Vec<ParamFileStatus> = Vec::new();
    for line in log.lines().filter(|l| l.starts_with("{\"paramFile\"")) {
        let Ok(progress) = serde_json::from_str::<FetchProgressLine>(line) else { continue };
        match files.iter_mut().find(|f| f.name == progress.param_file.name) {
            Some(known) => *known = progress.param_file,
            None => files.push(progress.param_file),
        }
    }
    files
}

/// Bytes of the files reported, and whether every one of them is verified.
pub fn summary(files: &[ParamFileStatus]) -> (u64, bool) {
    let bytes = files.iter().filter_map(|f| f.size).sum();
    (bytes, !files.is_empty() && files.iter().all(|f| f.verified))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_are_read_and_log_lines_ignored() {
        let log = concat!(
            "{\"timestamp\":\"2026-11-24T21:00:00Z\",\"level\":\"INFO\",\"message\":\"fetching proof parameters\"}\n",
            "{\"paramFile\":{\"name\":\"a.vk\",\"size\":10,\"expectedDigest\":\"00\",\"verified\":true},\"outcome\":\"downloaded\"}\n",
            "{\"paramFile\":{\"name\":\"a.params\",\"size\":2000,\"expectedDigest\":\"11\",\"verified\":false},\"outcome\":\"trusted\"}\n",
            "{\"paramFile\": broken\n",
            "{\"paramFile\":{\"name\":\"a.vk\",\"size\":10,\"expectedDigest\":\"00\",\"verified\":true},\"outcome\":\"present\"}\n",
        );
        let files = files_from_log(log);
        assert_eq!(files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(), ["a.vk", "a.params"]);
        assert_eq!(summary(&files), (2010, false), "a trusted file is not verified");
        assert_eq!(summary(&files[..1]), (10, true));
        assert_eq!(summary(&[]), (0, false), "nothing reported is not ready");
    }
}
