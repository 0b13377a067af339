//! A loopback HTTP gateway for tests: serves files by CID with `Range` support, records every request,
//! and can cut a response mid-body or serve the wrong bytes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request the gateway received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The CID asked for.
    pub cid: String,
    /// The `Range` header, if any.
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    files: HashMap<String, Vec<u8>>,
    /// CID -> bytes after which the next response for it is cut (once).
    cut_once: HashMap<String, usize>,
    requests: Vec<Request>,
}

/// A running test gateway; stops when dropped.
pub struct Gateway {
    /// URL prefix to give fetch-params (`http://127.0.0.1:PORT/ipfs/`).
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    /// Starts a gateway on an ephemeral loopback port.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/ipfs/", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { url, state, task }
    }

    /// Serves `content` at `/ipfs/<cid>`.
    pub fn put(&self, cid: &str, content: Vec<u8>) {
        self.state.lock().unwrap().files.insert(cid.to_owned(), content);
    }

    /// Cuts the next response for `cid` after `bytes` bytes of body (the headers promise the whole file).
    pub fn cut_next_after(&self, cid: &str, bytes: usize) {
        self.state.lock().unwrap().cut_once.insert(cid.to_owned(), bytes);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Requests for one CID.
    pub fn requests_for(&self, cid: &str) -> Vec<Request> {
        self.requests().into_iter().filter(|r| r.cid == cid).collect()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    loop {
        let Some(head) = read_head(&mut stream).await else { return };
        let mut lines = head.lines();
        let path = lines.next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/").to_owned();
        let range = lines
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.eq_ignore_ascii_case("range"))
            .map(|(_, v)| v.trim().to_owned());
        let cid = path.trim_start_matches("/ipfs/").to_owned();
        let (content, cut) = {
            let mut state = state.lock().unwrap();
            state.requests.push(Request { cid: cid.clone(), range: range.clone() });
            let cut = state.cut_once.remove(&cid);
            (state.files.get(&cid).cloned(), cut)
        };
        let Some(content) = content else {
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
            continue;
        };
        let start = range
            .as_deref()
            .and_then(|r| r.strip_prefix("bytes="))
            .and_then(|r| r.strip_suffix('-'))
            .and_then(|s| s.parse::<usize>().ok());
        let header = match start {
            Some(s) if s >= content.len() => {
                let h = format!(
                    "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */{}\r\ncontent-length: 0\r\n\r\n",
                    content.len()
                );
                let _ = stream.write_all(h.as_bytes()).await;
                continue;
            }
            Some(s) => format!(
                "HTTP/1.1 206 Partial Content\r\ncontent-range: bytes {s}-{}/{}\r\ncontent-length: {}\r\n\r\n",
                content.len() - 1,
                content.len(),
                content.len() - s
            ),
            None => format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", content.len()),
        };
        let body = &content[start.unwrap_or(0)..];
        if stream.write_all(header.as_bytes()).await.is_err() {
            return;
        }
        match cut {
            Some(n) => {
                let _ = stream.write_all(&body[..n.min(body.len())]).await;
                let _ = stream.shutdown().await;
                return;
            }
            None => {
                if stream.write_all(body).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Reads one request head (up to the blank line); `None` when the connection closes.
async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}
