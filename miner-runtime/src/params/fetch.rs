//! Downloading and verifying parameter files, with go-paramfetch's semantics and a few improvements:
//! the digest is computed while downloading (no second pass), partial downloads live in `<name>.partial`
//! and resume with `Range`, transfers cut mid-way resume in-process, files download in parallel up to a
//! bound, and each file has its own cross-process lock.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, RANGE};
use sealstack_crds::param_cache::ParamFileStatus;

use super::digest::{ParamDigest, hash_file};
use super::lock::FileLock;
use super::manifest::ParamFile;
use super::progress::{Outcome, Progress, ProgressLine};

/// Transfers cut mid-way are resumed this many times before the file fails.
const TRANSFER_RETRIES: u32 = 3;

/// Settings of a fetch.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// URL prefix the CIDs are appended to (must end with `/`, as `IPFS_GATEWAY`).
    pub gateway: String,
    /// Cache directory (`FIL_PROOFS_PARAMETER_CACHE`).
    pub cache: PathBuf,
    /// Most files downloaded at once.
    pub parallel: usize,
    /// `TRUST_PARAMS=1`: files already present are not hashed, except the ones upstream never trusts.
    pub trust_params: bool,
}

/// Why a fetch failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No connection to the gateway at all.
    #[error("cannot reach parameter gateway {gateway}: {reason}")]
    GatewayUnreachable {
        /// The gateway URL.
        gateway: String,
        /// The connection error, in one line.
        reason: String,
    },
    /// The gateway answered with an error status.
    #[error("gateway answered {status} for {name} ({url})")]
    HttpStatus {
        /// The file.
        name: String,
        /// The URL requested.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The transfer broke and did not resume.
    #[error("download of {name} from {url} failed after {attempts} attempts: {reason}")]
    Transfer {
        /// The file.
        name: String,
        /// The URL requested.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error, in one line.
        reason: String,
    },
    /// The file downloaded twice with the wrong digest; it was removed.
    #[error("{name} has digest {actual}, the manifest says {expected}; fetched twice and removed")]
    DigestMismatch {
        /// The file.
        name: String,
        /// Digest from the manifest.
        expected: String,
        /// Digest of the downloaded bytes.
        actual: String,
    },
    /// The cache directory could not be used.
    #[error("parameter cache {path}: {source}")]
    Io {
        /// The path involved.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Several files failed.
    #[error("{} files failed: {}", .0.len(), .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<FetchError>),
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> FetchError + '_ {
    move |source| FetchError::Io { path: path.display().to_string(), source }
}

/// One line of an error and its causes.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// Whether `TRUST_PARAMS` may skip the check of this file (go-paramfetch's `hasTrustableExtension`, and
/// never for empty-sector-update parameters).
pub fn trustable(name: &str) -> bool {
    name.ends_with("params") && !name.starts_with("v28-empty-sector-update")
}

/// Fetches parameter files into a cache directory.
pub struct Fetcher {
    client: reqwest::Client,
    options: FetchOptions,
    progress: Arc<dyn Progress>,
}

impl Fetcher {
    /// A fetcher reporting to `progress`. The rustls crypto provider must be installed first.
    pub fn new(options: FetchOptions, progress: Arc<dyn Progress>) -> Result<Self, FetchError> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(120))
            .user_agent(concat!("sealstack-miner/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| FetchError::GatewayUnreachable { gateway: options.gateway.clone(), reason: one_line(&e) })?;
        Ok(Self { client, options, progress })
    }

    /// Makes every file present and verified; returns one line per file. Stops at once when the gateway
    /// cannot be reached; otherwise reports every failed file.
    pub async fn fetch_all(&self, files: Vec<ParamFile>) -> Result<Vec<ProgressLine>, FetchError> {
        let cache = &self.options.cache;
        std::fs::create_dir_all(cache).map_err(io_error(cache))?;
        let mut results =
            futures::stream::iter(files).map(|f| self.fetch_one(f)).buffer_unordered(self.options.parallel.max(1));
        let mut lines = Vec::new();
        let mut errors = Vec::new();
        while let Some(result) = results.next().await {
            match result {
                Ok(line) => lines.push(line),
                Err(e @ FetchError::GatewayUnreachable { .. }) => return Err(e),
                Err(e) => errors.push(e),
            }
        }
        match errors.len() {
            0 => Ok(lines),
            1 => Err(errors.remove(0)),
            _ => Err(FetchError::Several(errors)),
        }
    }

    /// Makes one file present and verified.
    pub async fn fetch_one(&self, file: ParamFile) -> Result<ProgressLine, FetchError> {
        let cache = &self.options.cache;
        let _lock = FileLock::acquire(cache, &file.name).await.map_err(io_error(cache))?;
        let path = cache.join(&file.name);
        let partial = cache.join(format!("{}.partial", file.name));

        // The digest of what `partial` holds, when known without reading it again.
        let mut held = None;
        if let Ok(meta) = std::fs::metadata(&path) {
            if self.options.trust_params && trustable(&file.name) {
                return Ok(self.finish(&file, meta.len(), Outcome::Trusted));
            }
            let digest = hash_in_background(path.clone()).await?;
            if digest.hex() == file.entry.digest {
                return Ok(self.finish(&file, meta.len(), Outcome::Present));
            }
            // Partial (an interrupted go-paramfetch appends in place) or corrupt: resume it; a corrupt file of
            // full length fails the digest and is fetched again from scratch below.
            tracing::warn!(file = %file.name, actual = %digest.hex(), expected = %file.entry.digest, "digest mismatch; fetching again");
            std::fs::rename(&path, &partial).map_err(io_error(&path))?;
            held = Some(digest);
        }

        for attempt in 1..=2 {
            let (digest, size) = self.download(&file, &partial, held.take()).await?;
            if digest.hex() == file.entry.digest {
                std::fs::rename(&partial, &path).map_err(io_error(&path))?;
                return Ok(self.finish(&file, size, Outcome::Downloaded));
            }
            std::fs::remove_file(&partial).map_err(io_error(&partial))?;
            if attempt == 2 {
                return Err(FetchError::DigestMismatch {
                    name: file.name.clone(),
                    expected: file.entry.digest.clone(),
                    actual: digest.hex(),
                });
            }
            tracing::warn!(file = %file.name, actual = %digest.hex(), "downloaded file has the wrong digest; fetching once more");
        }
        unreachable!("the loop returns on its second attempt")
    }

    fn finish(&self, file: &ParamFile, size: u64, outcome: Outcome) -> ProgressLine {
        let line = ProgressLine {
            param_file: ParamFileStatus {
                name: file.name.clone(),
                size: Some(size),
                expected_digest: file.entry.digest.clone(),
                verified: outcome != Outcome::Trusted,
            },
            outcome,
        };
        self.progress.finished(&line);
        line
    }

    /// Downloads into `partial`, resuming what is there, until the server has sent the whole file.
    /// Returns the digest of the whole file and its size.
    /// `held` is the digest of what `partial` holds, when the caller knows it (saves reading it again).
    async fn download(
        &self,
        file: &ParamFile,
        partial: &Path,
        mut held: Option<ParamDigest>,
    ) -> Result<(ParamDigest, u64), FetchError> {
        let url = format!("{}{}", self.options.gateway, file.entry.cid);
        let mut last_error = String::new();
        for attempt in 1..=TRANSFER_RETRIES {
            match self.transfer(file, &url, partial, held.take()).await {
                Ok(done) => return Ok(done),
                Err(TransferError::Fatal(e)) => return Err(e),
                Err(TransferError::Retry { reason, held: written }) => {
                    tracing::warn!(file = %file.name, attempt, %reason, "transfer interrupted; resuming");
                    last_error = reason;
                    held = written;
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
                }
            }
        }
        Err(FetchError::Transfer { name: file.name.clone(), url, attempts: TRANSFER_RETRIES, reason: last_error })
    }

    /// One HTTP request: resumes `partial` with `Range` when it has bytes. On an interrupted transfer the
    /// error carries the digest of what was written, so the next attempt does not read it again.
    async fn transfer(
        &self,
        file: &ParamFile,
        url: &str,
        partial: &Path,
        held: Option<ParamDigest>,
    ) -> Result<(ParamDigest, u64), TransferError> {
        let (mut digest, mut offset) = match (std::fs::metadata(partial), held) {
            (Ok(meta), Some(held)) if held.len() == u128::from(meta.len()) => (held, meta.len()),
            (Ok(meta), _) => (hash_in_background(partial.to_path_buf()).await?, meta.len()),
            (Err(_), _) => (ParamDigest::new(), 0),
        };
        let mut request = self.client.get(url);
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = request.send().await.map_err(|e| self.request_error(e))?;
        match response.status() {
            StatusCode::PARTIAL_CONTENT if offset > 0 => {}
            StatusCode::OK => {
                // The whole file: the server ignored the range, or there was nothing to resume.
                digest = ParamDigest::new();
                offset = 0;
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                // What we hold is already as long as the file (or longer), and it was not right: start over.
                std::fs::remove_file(partial).map_err(io_error(partial))?;
                return Err(TransferError::retry(format!(
                    "{} bytes already held but not the file; starting over",
                    offset
                )));
            }
            status => {
                return Err(TransferError::Fatal(FetchError::HttpStatus {
                    name: file.name.clone(),
                    url: url.to_owned(),
                    status,
                }));
            }
        }
        let remaining = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        self.progress.started(&file.name, offset, remaining.map(|r| r + offset));

        let sink = ChunkSink::open(partial, offset > 0, digest)?;
        let mut response = response;
        let outcome = loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    let len = chunk.len() as u64;
                    if sink.send(chunk).await.is_err() {
                        break Err("writer stopped".to_owned());
                    }
                    self.progress.advanced(&file.name, len);
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(one_line(&e)),
            }
        };
        let (digest, size) = sink.close().await?;
        match outcome {
            Ok(()) if remaining.is_none_or(|r| size == offset + r) => Ok((digest, size)),
            Ok(()) => Err(TransferError::Retry {
                reason: format!("connection closed after {size} bytes"),
                held: Some(digest),
            }),
            Err(reason) => Err(TransferError::Retry { reason, held: Some(digest) }),
        }
    }

    fn request_error(&self, error: reqwest::Error) -> TransferError {
        if error.is_connect() {
            TransferError::Fatal(FetchError::GatewayUnreachable {
                gateway: self.options.gateway.clone(),
                reason: one_line(&error),
            })
        } else {
            TransferError::retry(one_line(&error))
        }
    }
}

/// A failed request: worth resuming (with the digest of what the partial file holds, when known), or final.
enum TransferError {
    Retry { reason: String, held: Option<ParamDigest> },
    Fatal(FetchError),
}

impl TransferError {
    fn retry(reason: String) -> Self {
        Self::Retry { reason, held: None }
    }
}

impl From<FetchError> for TransferError {
    fn from(e: FetchError) -> Self {
        Self::Fatal(e)
    }
}

async fn hash_in_background(path: PathBuf) -> Result<ParamDigest, FetchError> {
    let shown = path.clone();
    tokio::task::spawn_blocking(move || hash_file(&path))
        .await
        .expect("the hashing task does not panic")
        .map_err(io_error(&shown))
}

/// Hashes and writes downloaded chunks on a blocking thread, so the network read never waits for the disk
/// or the hash.
struct ChunkSink {
    sender: tokio::sync::mpsc::Sender<bytes::Bytes>,
    worker: tokio::task::JoinHandle<std::io::Result<(ParamDigest, u64)>>,
    path: PathBuf,
}

impl ChunkSink {
    fn open(path: &Path, append: bool, mut digest: ParamDigest) -> Result<Self, FetchError> {
        use std::io::Write;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(io_error(path))?;
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(64);
        let worker = tokio::task::spawn_blocking(move || {
            let mut out = std::io::BufWriter::with_capacity(4 << 20, file);
            while let Some(chunk) = receiver.blocking_recv() {
                digest.update(&chunk);
                out.write_all(&chunk)?;
            }
            let file = out.into_inner().map_err(|e| e.into_error())?;
            let size = file.metadata()?.len();
            Ok((digest, size))
        });
        Ok(Self { sender, worker, path: path.to_path_buf() })
    }

    async fn send(&self, chunk: bytes::Bytes) -> Result<(), ()> {
        self.sender.send(chunk).await.map_err(|_| ())
    }

    async fn close(self) -> Result<(ParamDigest, u64), FetchError> {
        drop(self.sender);
        self.worker.await.expect("the writer task does not panic").map_err(io_error(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_params_skips_only_what_upstream_skips() {
        assert!(trustable(
            "v28-stacked-proof-of-replication-merkletree-poseidon_hasher-8-0-0-sha256_hasher-0170db1f394b35d995252228ee359194b13199d259380541dc529fb0099096b0.params"
        ));
        assert!(!trustable(
            "v28-stacked-proof-of-replication-merkletree-poseidon_hasher-8-0-0-sha256_hasher-0170db1f394b35d995252228ee359194b13199d259380541dc529fb0099096b0.vk"
        ));
        assert!(!trustable(
            "v28-empty-sector-update-merkletree-poseidon_hasher-8-0-0-61fa69f38b9cc771ba27b670124714b4ea77fbeae05e377fb859c4a43b73a30c.params"
        ));
        assert!(!trustable("v28-fil-inner-product-v1.srs"));
    }
}
