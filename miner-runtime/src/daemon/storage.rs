//! The miner's long-term sector storage (`<repo>/storage`, Lotus's layout) and its HTTP endpoints on the API port
//! (lotus-miner serves `/remote` likewise), behind the API's token check with `admin`:
//! - `PUT /remote/finalize/<task>/sealed` and `PUT /remote/finalize/<task>/cache/<file>`: a worker finalizing a
//!   sector uploads its files into `incoming/<task>/`; the daemon moves them into place when the task is done, so
//!   a half-finished upload never replaces anything.
//! - `GET /remote/sealed/<s-t0M-N>` and `GET /remote/cache/<s-t0M-N>/<file>`: a stored sector's files.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use sealstack_chain::auth::Permission;
use sealstack_chain::server_auth::Granted;
use tokio::io::AsyncWriteExt;

use crate::sealing::{SectorFiles, SectorRef};

/// Files of the cache directory a finalized sector keeps: the layers and other PreCommit1 scratch are left behind.
pub fn kept_in_cache(name: &str) -> bool {
    !name.starts_with("sc-02-data-layer-") && !name.ends_with(".tmp")
}

/// The long-term storage root.
#[derive(Clone, Debug)]
pub struct Storage {
    root: PathBuf,
}

impl Storage {
    /// The storage under `root` (created).
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root.join("incoming"))?;
        Ok(Storage { root: root.to_path_buf() })
    }

    /// A sector's stored files.
    pub fn files(&self, sector: &SectorRef) -> SectorFiles {
        SectorFiles::new(&self.root, sector)
    }

    /// Whether a sector's sealed file and cache are stored.
    pub fn holds(&self, sector: &SectorRef) -> bool {
        let files = self.files(sector);
        files.sealed.is_file() && files.cache.join("p_aux").is_file()
    }

    fn incoming(&self, task: &str) -> PathBuf {
        self.root.join("incoming").join(task)
    }

    /// Moves a finalize task's upload into place (replacing older copies), after checking it is complete.
    pub fn finalize(&self, task: &str, sector: &SectorRef) -> anyhow::Result<()> {
        let incoming = self.incoming(task);
        let (sealed, cache) = (incoming.join("sealed"), incoming.join("cache"));
        for required in [sealed.clone(), cache.join("p_aux"), cache.join("t_aux")] {
            anyhow::ensure!(required.is_file(), "the upload of task {task} lacks {}", required.display());
        }
        let files = self.files(sector);
        files.create_dirs()?;
        std::fs::rename(&sealed, &files.sealed)?;
        if files.cache.exists() {
            std::fs::remove_dir_all(&files.cache)?;
        }
        std::fs::rename(&cache, &files.cache)?;
        std::fs::remove_dir_all(&incoming)?;
        Ok(())
    }

    /// Receives one uploaded file of a finalize task (`part` is `sealed` or `cache/<file>`).
    async fn receive<B>(&self, task: &str, part: &str, mut body: B) -> Result<(), String>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: std::fmt::Display,
    {
        let target = match part.split_once('/') {
            None if part == "sealed" => self.incoming(task).join("sealed"),
            Some(("cache", file)) if safe_name(file) => self.incoming(task).join("cache").join(file),
            _ => return Err(format!("unknown upload part {part:?}")),
        };
        let parent = target.parent().expect("under incoming");
        tokio::fs::create_dir_all(parent).await.map_err(|e| e.to_string())?;
        let staged = target.with_extension("part");
        let mut file = tokio::fs::File::create(&staged).await.map_err(|e| e.to_string())?;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| format!("upload interrupted: {e}"))?;
            if let Ok(data) = frame.into_data() {
                file.write_all(&data).await.map_err(|e| e.to_string())?;
            }
        }
        file.sync_all().await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&staged, &target).await.map_err(|e| e.to_string())
    }

    /// A stored file (`sealed/<name>` or `cache/<name>/<file>`).
    fn stored(&self, path: &str) -> Option<PathBuf> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["sealed", name] if safe_name(name) => Some(self.root.join("sealed").join(name)),
            ["cache", name, file] if safe_name(name) && safe_name(file) => {
                Some(self.root.join("cache").join(name).join(file))
            }
            _ => None,
        }
    }
}

/// A single path component without separators or dot-dot.
fn safe_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\'])
}

/// The HTTP layer serving `/remote/...` (everything else goes to the JSON-RPC server).
#[derive(Clone)]
pub struct RemoteFiles<S> {
    inner: S,
    storage: Arc<Storage>,
}

impl<S> RemoteFiles<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, storage: Arc<Storage>) -> Self {
        RemoteFiles { inner, storage }
    }
}

fn respond(status: u16, body: impl Into<HttpBody>) -> HttpResponse<HttpBody> {
    HttpResponse::builder().status(status).body(body.into()).expect("a valid response")
}

impl<S, B> tower::Service<HttpRequest<B>> for RemoteFiles<S>
where
    S: tower::Service<HttpRequest<B>, Response = HttpResponse<HttpBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: std::fmt::Display + Send,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
        let Some(path) = request.uri().path().strip_prefix("/remote/").map(str::to_string) else {
            return Box::pin(self.inner.call(request));
        };
        let admin = request.extensions().get::<Granted>().is_some_and(|g| g.0.contains(&Permission::Admin));
        let storage = self.storage.clone();
        Box::pin(async move {
            if !admin {
                return Ok(respond(401, "the sector file endpoints need a token with 'admin'"));
            }
            let method = request.method().clone();
            Ok(match (method.as_str(), path.split_once('/')) {
                ("PUT", Some(("finalize", rest))) => match rest.split_once('/') {
                    Some((task, part)) if safe_name(task) => {
                        match storage.receive(task, part, request.into_body()).await {
                            Ok(()) => respond(200, ""),
                            Err(error) => respond(400, error),
                        }
                    }
                    _ => respond(400, "expected /remote/finalize/<task>/<part>"),
                },
                ("GET", _) => match storage.stored(&path) {
                    Some(file) => match tokio::fs::read(&file).await {
                        Ok(bytes) => respond(200, bytes),
                        Err(_) => respond(404, format!("no {path}")),
                    },
                    None => respond(400, format!("invalid path {path:?}")),
                },
                _ => respond(405, "GET sealed|cache files, or PUT finalize uploads"),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fvm_shared::sector::RegisteredSealProof;

    #[test]
    fn paths_are_confined_to_the_storage() {
        let storage = Storage { root: PathBuf::from("/s") };
        assert_eq!(storage.stored("sealed/s-t01000-0"), Some(PathBuf::from("/s/sealed/s-t01000-0")));
        assert_eq!(storage.stored("cache/s-t01000-0/p_aux"), Some(PathBuf::from("/s/cache/s-t01000-0/p_aux")));
        assert_eq!(storage.stored("cache/../etc/passwd"), None);
        assert_eq!(storage.stored("sealed/.."), None);
        assert_eq!(storage.stored("unsealed/x"), None);
        assert!(kept_in_cache("tree-r-last.dat") && !kept_in_cache("sc-02-data-layer-1.dat"));
    }

    #[tokio::test]
    async fn a_finalize_upload_is_moved_into_place_only_when_complete() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let sector = SectorRef { miner: 1000, number: 3, proof: RegisteredSealProof::StackedDRG2KiBV1P1 };
        let body = |text: &'static str| http_body_util::Full::new(Bytes::from(text));
        storage.receive("t1", "sealed", body("replica")).await.unwrap();
        storage.receive("t1", "cache/p_aux", body("p")).await.unwrap();
        assert!(storage.receive("t1", "cache/../x", body("")).await.is_err());
        assert!(storage.finalize("t1", &sector).unwrap_err().to_string().contains("t_aux"), "incomplete");
        assert!(!storage.holds(&sector));
        storage.receive("t1", "cache/t_aux", body("t")).await.unwrap();
        storage.finalize("t1", &sector).unwrap();
        assert!(storage.holds(&sector));
        assert_eq!(std::fs::read(storage.files(&sector).sealed).unwrap(), b"replica");
        assert!(!dir.path().join("incoming/t1").exists());
    }
}
