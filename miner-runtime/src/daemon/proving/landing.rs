//! Getting a proving message on chain in time: pushed once (journaled: MsgUuid before, CID after, so a restart
//! never sends it twice), then watched every poll; when it has waited `stuck_epochs` without landing and its
//! last useful epoch is still ahead, it is replaced by fee (same nonce, premium raised by Lotus's ratio, fee
//! cap up to the message's maximum fee) so a congested message pool does not make it miss its deadline.

use cid::Cid;
use fvm_shared::econ::TokenAmount;
use fvm_shared::message::Message;
use sealstack_chain::message::MessageSendSpec;
use sealstack_chain::node::MsgLookup;
use sealstack_chain::push::{MessageLog, push_journaled, search_landed};
use sealstack_chain::replace::replace_by_fee;
use sealstack_chain::{FullNodeClient, LotusJson};

use crate::daemon::Daemon;
use crate::repo::FileJournal;

/// How a message ended.
#[derive(Debug)]
pub enum Landing {
    /// It executed successfully.
    Landed(MsgLookup),
    /// It executed and failed with this exit code.
    Refused {
        /// The exit code.
        exit_code: u32,
        /// The CID that executed.
        cid: Cid,
    },
    /// It had not executed by its last useful epoch.
    Missed,
}

/// How to deliver a message: its journal step, its fee budget, and by when it must land to count.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// What the message is, for the metrics' bounded `method` label: `window-post`, `declare-faults`,
    /// `declare-recoveries`.
    pub kind: &'static str,
    /// The step name in the journal (`window-post-p0-1`, `declare-faults-<sectors>`, ...).
    pub step: String,
    /// The most it may cost in fees, attoFIL (its replacements too).
    pub max_fee: TokenAmount,
    /// The first epoch at which landing no longer helps (the deadline's close, a declaration's cutoff).
    pub land_before: i64,
}

impl Delivery {
    /// MpoolPushMessage's spec for the first push: the node estimates the fees within the budget.
    pub fn spec(&self) -> MessageSendSpec {
        MessageSendSpec { max_fee: LotusJson(self.max_fee.clone()), ..Default::default() }
    }
}

/// Pushes `message` unless `log` shows it was pushed, then watches it until it lands, fails or misses its last
/// epoch, replacing it by fee while it is stuck.
pub async fn deliver(
    daemon: &Daemon,
    log: &mut MessageLog,
    journal: &mut FileJournal,
    delivery: &Delivery,
    message: &Message,
) -> anyhow::Result<Landing> {
    let cid = push_journaled(&daemon.node, log, journal, &delivery.step, message, &delivery.spec()).await?;
    watch(daemon, cid, delivery).await
}

/// Watches the message `cid` (or a replacement of it) until it lands, fails or misses `delivery.land_before`.
pub async fn watch(daemon: &Daemon, cid: Cid, delivery: &Delivery) -> anyhow::Result<Landing> {
    let api = daemon.node.api();
    let mut waited_since: Option<i64> = None;
    loop {
        if let Some(lookup) = search_landed(&daemon.node, cid).await? {
            if lookup.receipt.exit_code != 0 {
                daemon.metrics.chain_message(delivery.kind, "failed");
                return Ok(Landing::Refused { exit_code: lookup.receipt.exit_code, cid: lookup.message.0 });
            }
            daemon.metrics.chain_message(delivery.kind, "ok");
            return Ok(Landing::Landed(lookup));
        }
        let head = api.chain_head().await.map_err(daemon.node.err())?.height;
        if head >= delivery.land_before {
            daemon.metrics.chain_message(delivery.kind, "missed");
            tracing::warn!(step = delivery.step, %cid, head, land_before = delivery.land_before, "message did not land in time");
            return Ok(Landing::Missed);
        }
        let since = *waited_since.get_or_insert(head);
        if head - since >= daemon.config.stuck_epochs && head + 1 < delivery.land_before {
            match replace_by_fee(&daemon.node, cid, &delivery.max_fee).await {
                Ok(_) => daemon.metrics.chain_message(delivery.kind, "replaced"),
                Err(error) => tracing::warn!(step = delivery.step, %cid, error = %error, "stuck message not replaced"),
            }
            waited_since = Some(head);
        }
        tokio::time::sleep(daemon.config.poll).await;
    }
}
