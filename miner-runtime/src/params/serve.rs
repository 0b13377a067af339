//! `params serve`: a small HTTP gateway over a parameter directory, for devnets and tests.
//!
//! `GET <any prefix>/<cid>` serves the file the directory's `parameters.json` or `srs-inner-product.json`
//! names for that CID, and `GET <any prefix>/<file name>` serves a file directly; both honour `Range`,
//! so fetch-params resumes against it exactly as against a public IPFS gateway.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::manifest;

/// Which file answers which last path segment (a CID or a file name).
#[derive(Debug, Default)]
pub struct Index {
    files: HashMap<String, PathBuf>,
}

impl Index {
    /// Indexes `dir`: every regular file by name, and every manifest entry by CID.
    pub fn build(dir: &Path) -> std::io::Result<Self> {
        let mut files = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                files.insert(entry.file_name().to_string_lossy().into_owned(), entry.path());
            }
        }
        for manifest_name in ["parameters.json", "srs-inner-product.json"] {
            let path = dir.join(manifest_name);
            if !path.exists() {
                continue;
            }
            let manifest = manifest::read(&path).map_err(std::io::Error::other)?;
            for (name, entry) in manifest {
                files.insert(entry.cid, dir.join(name));
            }
        }
        Ok(Self { files })
    }

    /// The file for a request path, by its last segment.
    pub fn lookup(&self, path: &str) -> Option<&Path> {
        let key = path.rsplit('/').next()?;
        self.files.get(key).map(PathBuf::as_path)
    }

    /// Number of names served.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether nothing is served.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// Serves `dir` on `listener` until the task is dropped.
pub async fn serve(dir: &Path, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let index = Arc::new(Index::build(dir)?);
    tracing::info!(dir = %dir.display(), names = index.len(), addr = %listener.local_addr()?, "serving parameters");
    let app = Router::new().fallback(handle).with_state(index);
    axum::serve(listener, app).await
}

async fn handle(State(index): State<Arc<Index>>, request: Request) -> Response {
    let Some(path) = index.lookup(request.uri().path()).map(Path::to_path_buf) else {
        return (StatusCode::NOT_FOUND, "no such parameter file\n").into_response();
    };
    match ServeFile::new(path).oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(error) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n")).into_response(),
    }
}
