//! A connection to a Lotus full node over HTTP or WebSocket, with bearer-token auth.
//!
//! [`LotusClient`] implements jsonrpsee's `ClientT`, so every method of
//! [`FullNodeClient`](crate::api::FullNodeClient) is available on it; [`Node`] adds the endpoint for error
//! messages and checks on connect.

use std::time::Duration;

use jsonrpsee::core::client::{BatchResponse, ClientT};
use jsonrpsee::core::params::BatchRequestBuilder;
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::core::{ClientError, DeserializeOwned};
use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};

use crate::api::FullNodeClient;
use crate::api_info::ApiInfo;
use crate::error::ChainError;
use crate::node::ApiVersion;

/// How to reach the node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Transport {
    /// One HTTP POST per call (no connection to lose; long calls such as StateWaitMsg hold a request open).
    #[default]
    Http,
    /// One WebSocket connection for every call, as lotus-miner does.
    WebSocket,
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    /// The transport.
    pub transport: Transport,
    /// The longest a single call may take. StateWaitMsg waits for epochs to pass, so this is generous.
    pub request_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { transport: Transport::Http, request_timeout: Duration::from_secs(600) }
    }
}

/// A jsonrpsee client of either transport.
#[derive(Debug)]
pub enum LotusClient {
    /// HTTP.
    Http(HttpClient),
    /// WebSocket.
    Ws(WsClient),
}

impl ClientT for LotusClient {
    async fn notification<Params>(&self, method: &str, params: Params) -> Result<(), ClientError>
    where
        Params: ToRpcParams + Send,
    {
        match self {
            LotusClient::Http(c) => c.notification(method, params).await,
            LotusClient::Ws(c) => c.notification(method, params).await,
        }
    }

    async fn request<R, Params>(&self, method: &str, params: Params) -> Result<R, ClientError>
    where
        R: DeserializeOwned,
        Params: ToRpcParams + Send,
    {
        match self {
            LotusClient::Http(c) => c.request(method, params).await,
            LotusClient::Ws(c) => c.request(method, params).await,
        }
    }

    async fn batch_request<'a, R>(&self, batch: BatchRequestBuilder<'a>) -> Result<BatchResponse<'a, R>, ClientError>
    where
        R: DeserializeOwned + std::fmt::Debug + 'a,
    {
        match self {
            LotusClient::Http(c) => c.batch_request(batch).await,
            LotusClient::Ws(c) => c.batch_request(batch).await,
        }
    }
}

/// A connected Lotus node.
#[derive(Debug)]
pub struct Node {
    client: LotusClient,
    url: String,
    version: ApiVersion,
}

impl Node {
    /// Connects and checks the node answers `Version` with a v1 full-node API. A wrong address gives
    /// [`ChainError::Unreachable`], a bad token [`ChainError::Unauthorized`].
    pub async fn connect(info: &ApiInfo, options: &ConnectOptions) -> Result<Self, ChainError> {
        let mut headers = HeaderMap::new();
        if let Some(token) = &info.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| ChainError::Client("the API token contains characters not allowed in a header".into()))?;
            headers.insert("Authorization", value);
        }
        let (client, url) = match options.transport {
            Transport::Http => {
                let url = info.http_url();
                let client = HttpClientBuilder::default()
                    .set_headers(headers)
                    .request_timeout(options.request_timeout)
                    .max_response_size(64 << 20)
                    .build(&url)
                    .map_err(|e| ChainError::from_client(&url, e))?;
                (LotusClient::Http(client), url)
            }
            Transport::WebSocket => {
                let url = info.ws_url();
                let client = WsClientBuilder::default()
                    .set_headers(headers)
                    .request_timeout(options.request_timeout)
                    .max_response_size(64 << 20)
                    .build(&url)
                    .await
                    .map_err(|e| ChainError::from_client(&url, e))?;
                (LotusClient::Ws(client), url)
            }
        };
        let version = client.version().await.map_err(|e| ChainError::from_client(&url, e))?;
        // Lotus verifies the token on every request: a bad one already failed Version with HTTP 401.
        Ok(Node { client, url, version })
    }

    /// The API client: every `FullNodeClient` method is callable on it.
    pub fn api(&self) -> &LotusClient {
        &self.client
    }

    /// The endpoint, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The version the node reported on connect.
    pub fn version(&self) -> &ApiVersion {
        &self.version
    }

    /// A mapper from client errors to [`ChainError`]s naming this node.
    pub fn err(&self) -> impl Fn(ClientError) -> ChainError + '_ {
        move |e| ChainError::from_client(&self.url, e)
    }

    /// Fails with [`ChainError::WrongNetwork`] unless the node's network name is `expected`.
    pub async fn expect_network(&self, expected: &str) -> Result<(), ChainError> {
        let actual = self.client.state_network_name().await.map_err(self.err())?;
        if actual == expected {
            Ok(())
        } else {
            Err(ChainError::WrongNetwork { expected: expected.to_string(), actual })
        }
    }
}
