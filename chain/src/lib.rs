//! The Lotus full-node JSON-RPC v1 API subset sealstack speaks (work in progress, issue "chain").
