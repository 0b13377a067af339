//! Actors, the address table, value transfers and message dispatch: the init, account and power actors.

use std::collections::BTreeMap;

use fvm_ipld_encoding::RawBytes;
use fvm_shared::address::{Address, Payload, Protocol};
use fvm_shared::econ::TokenAmount;
use fvm_shared::error::ExitCode;
use fvm_shared::message::Message;
use sealstack_chain::actors::{methods, power_state};
use sealstack_chain::json::LotusJson;
use sealstack_chain::miner::MinerInfo;
use serde::{Deserialize, Serialize};

use super::gas::GasOutputs;
use super::miner::MinerActor;
use super::{ApplyReceipt, ChainEnv, StateEngine};

/// Singleton actor IDs (builtin-actors runtime/src/builtin/singletons.rs).
pub mod ids {
    /// System.
    pub const SYSTEM: u64 = 0;
    /// Init.
    pub const INIT: u64 = 1;
    /// Reward.
    pub const REWARD: u64 = 2;
    /// Cron.
    pub const CRON: u64 = 3;
    /// Storage power.
    pub const POWER: u64 = 4;
    /// Storage market.
    pub const MARKET: u64 = 5;
    /// Verified registry.
    pub const VERIFREG: u64 = 6;
    /// Burnt funds.
    pub const BURNT_FUNDS: u64 = 99;
}

/// The devnet's default base fee in attoFIL per gas unit (Lotus's minimum, `MinimumBaseFee`, 100 attoFIL).
pub const BASE_FEE_ATTO: u64 = 100;
/// Gas every message uses (the devnet does not meter execution).
pub const BASE_GAS: i64 = 1_000_000;

/// What kind of actor, with its kind-specific state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ActorKind {
    /// A built-in singleton, by name (`system`, `init`, `storagepower`, ...).
    Builtin(String),
    /// An account, with its key address (`t1`/`t3`).
    Account(LotusJson<Address>),
    /// A storage miner.
    Miner(Box<MinerActor>),
}

impl ActorKind {
    /// The builtin-actors name of this kind.
    pub fn name(&self) -> &str {
        match self {
            ActorKind::Builtin(name) => name,
            ActorKind::Account(_) => "account",
            ActorKind::Miner(_) => "storageminer",
        }
    }
}

/// One actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorState {
    /// Kind and state.
    pub kind: ActorKind,
    /// Balance.
    pub balance: LotusJson<TokenAmount>,
    /// The next nonce (accounts).
    pub nonce: u64,
    /// The robust address it was created with (f1/f3 for accounts, f2 for miners).
    pub robust: Option<LotusJson<Address>>,
}

/// A genesis allocation.
#[derive(Clone, Debug)]
pub struct GenesisAccount {
    /// The key address.
    pub key: Address,
    /// Its balance.
    pub balance: TokenAmount,
}

/// Every actor, by ID, and the robust-address index the init actor keeps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActorTable {
    actors: BTreeMap<u64, ActorState>,
    /// Robust (key or f2) address text → ID.
    index: BTreeMap<String, u64>,
    next_id: u64,
}

impl ActorTable {
    /// The genesis state: the singletons and funded accounts (IDs from 100); later actors get IDs from 1000.
    pub fn genesis(accounts: &[GenesisAccount]) -> Self {
        let mut table = ActorTable { actors: BTreeMap::new(), index: BTreeMap::new(), next_id: 100 };
        for (id, name) in [
            (ids::SYSTEM, "system"),
            (ids::INIT, "init"),
            (ids::REWARD, "reward"),
            (ids::CRON, "cron"),
            (ids::POWER, "storagepower"),
            (ids::MARKET, "storagemarket"),
            (ids::VERIFREG, "verifiedregistry"),
            (ids::BURNT_FUNDS, "account"),
        ] {
            let kind = ActorKind::Builtin(name.to_string());
            table.actors.insert(id, ActorState { kind, balance: LotusJson::default(), nonce: 0, robust: None });
        }
        table.actors.get_mut(&ids::REWARD).expect("just made").balance =
            LotusJson(TokenAmount::from_whole(super::consensus::STORAGE_MINING_ALLOCATION_FIL));
        for account in accounts {
            let id = table.create_account(account.key);
            table.actors.get_mut(&id).expect("just created").balance = LotusJson(account.balance.clone());
        }
        table.next_id = table.next_id.max(1000);
        table
    }

    fn create_account(&mut self, key: Address) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let state = ActorState {
            kind: ActorKind::Account(LotusJson(key)),
            balance: LotusJson::default(),
            nonce: 0,
            robust: Some(LotusJson(key)),
        };
        self.actors.insert(id, state);
        self.index.insert(key.to_string(), id);
        id
    }

    /// The ID of an address.
    pub fn resolve(&self, address: &Address) -> Option<u64> {
        match address.payload() {
            Payload::ID(id) => self.actors.contains_key(id).then_some(*id),
            _ => self.index.get(&address.to_string()).copied(),
        }
    }

    /// An actor by ID.
    pub fn get(&self, id: u64) -> Option<&ActorState> {
        self.actors.get(&id)
    }

    /// An actor by ID, mutably.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut ActorState> {
        self.actors.get_mut(&id)
    }

    /// The ID the next actor gets.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Adds an actor at `id` (the next ID), indexed by its robust address.
    pub(super) fn insert_actor(&mut self, id: u64, state: ActorState) {
        if let Some(robust) = &state.robust {
            self.index.insert(robust.to_string(), id);
        }
        self.actors.insert(id, state);
        self.next_id = self.next_id.max(id + 1);
    }

    /// An actor's balance (zero for none).
    pub fn balance(&self, id: u64) -> TokenAmount {
        self.actors.get(&id).map(|a| a.balance.0.clone()).unwrap_or_default()
    }

    /// Moves `amount` from an actor to the burnt-funds actor; the caller checked the balance covers it.
    pub(super) fn burn(&mut self, from: u64, amount: &TokenAmount) {
        if let Err(e) = self.transfer(from, ids::BURNT_FUNDS, amount) {
            tracing::error!(actor = from, error = %e, "cannot burn funds");
        }
    }

    /// Every miner actor's ID.
    pub fn miner_ids(&self) -> Vec<u64> {
        self.actors.iter().filter(|(_, a)| matches!(a.kind, ActorKind::Miner(_))).map(|(id, _)| *id).collect()
    }

    pub(super) fn transfer(&mut self, from: u64, to: u64, value: &TokenAmount) -> Result<(), String> {
        if value.is_zero() || from == to {
            return Ok(());
        }
        let sender = self.actors.get_mut(&from).ok_or("no sender")?;
        if sender.balance.0 < *value {
            return Err(format!("sender balance {} < value {}", sender.balance.0.atto(), value.atto()));
        }
        sender.balance.0 -= value;
        self.actors.get_mut(&to).ok_or("no receiver")?.balance.0 += value;
        Ok(())
    }

    /// The receiver's ID, creating an account for an unknown key address as the FVM does on first send.
    fn receiver(&mut self, to: &Address) -> Option<u64> {
        if let Some(id) = self.resolve(to) {
            return Some(id);
        }
        matches!(to.protocol(), Protocol::Secp256k1 | Protocol::BLS).then(|| self.create_account(*to))
    }

    /// power.CreateMiner, with the miner constructor's checks.
    fn create_miner(
        &mut self,
        message: &Message,
        caller: u64,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        let params: power_state::CreateMinerParams = decode(&message.params)?;
        let deposit = env.creation_deposit();
        if message.value < deposit {
            return Err((
                ExitCode::USR_INSUFFICIENT_FUNDS,
                format!(
                    "not enough balance to lock for create miner deposit: sent balance {} < deposit {}",
                    message.value.atto(),
                    deposit.atto()
                ),
            ));
        }
        let owner = self.control_id(&params.owner)?;
        let worker = self.worker_id(&params.worker)?;
        let id = self.next_id;
        let robust = next_actor_address(&message.from, message.sequence, 0);
        let miner = MinerActor::new(owner, worker, &params, id, env.epoch(), env.policy().period_deadlines)?;
        self.next_id += 1;
        let state = ActorState {
            kind: ActorKind::Miner(Box::new(miner)),
            balance: LotusJson(TokenAmount::from_atto(0)),
            nonce: 0,
            robust: Some(LotusJson(robust)),
        };
        self.actors.insert(id, state);
        self.index.insert(robust.to_string(), id);
        self.transfer(caller, id, &message.value).map_err(|e| (ExitCode::USR_INSUFFICIENT_FUNDS, e))?;
        // The deposit vests over 180 days in builtin-actors (FIP-0077); the devnet keeps it locked.
        if let ActorKind::Miner(miner) = &mut self.actors.get_mut(&id).expect("inserted").kind {
            miner.funds.locked_funds.0 += &deposit;
        }
        let ret = power_state::CreateMinerReturn { id_address: Address::new_id(id), robust_address: robust };
        Ok(fvm_ipld_encoding::to_vec(&ret).expect("encodes"))
    }

    /// An owner/control address must resolve to an account (builtin-actors resolve_control_address).
    pub fn control_id(&self, address: &Address) -> Result<u64, (ExitCode, String)> {
        let id = self
            .resolve(address)
            .ok_or((ExitCode::USR_ILLEGAL_ARGUMENT, format!("unable to resolve address {address}")))?;
        match &self.actors[&id].kind {
            ActorKind::Account(_) => Ok(id),
            other => Err((
                ExitCode::USR_ILLEGAL_ARGUMENT,
                format!("owner actor type must be a principal, was {}", other.name()),
            )),
        }
    }

    /// A worker must resolve to an account with a BLS key (builtin-actors resolve_worker_address).
    pub fn worker_id(&self, address: &Address) -> Result<u64, (ExitCode, String)> {
        let id = self
            .resolve(address)
            .ok_or((ExitCode::USR_ILLEGAL_ARGUMENT, format!("unable to resolve address {address}")))?;
        match &self.actors[&id].kind {
            ActorKind::Account(key) if key.protocol() == Protocol::BLS => Ok(id),
            ActorKind::Account(key) => Err((
                ExitCode::USR_ILLEGAL_ARGUMENT,
                format!("worker account {id} must have BLS pubkey, was {}", key.protocol() as u8),
            )),
            other => Err((
                ExitCode::USR_ILLEGAL_ARGUMENT,
                format!("worker actor type must be an account, was {}", other.name()),
            )),
        }
    }
}

/// Decodes actor parameters; a failure is USR_SERIALIZATION as in builtin-actors.
pub fn decode<T: serde::de::DeserializeOwned>(params: &RawBytes) -> Result<T, (ExitCode, String)> {
    fvm_ipld_encoding::from_slice(params.bytes())
        .map_err(|e| (ExitCode::USR_SERIALIZATION, format!("failed to decode parameters: {e}")))
}

/// The f2 address of an actor created by a message: blake2b-160 over the CBOR of the origin address, the
/// origin's nonce and the number of actors the message created so far (ref-fvm call_manager next_actor_address).
pub fn next_actor_address(origin: &Address, nonce: u64, created: u64) -> Address {
    let mut bytes = fvm_ipld_encoding::to_vec(origin).expect("an address encodes");
    bytes.extend_from_slice(&nonce.to_be_bytes());
    bytes.extend_from_slice(&created.to_be_bytes());
    Address::new_actor(&bytes)
}

impl StateEngine for ActorTable {
    fn apply(&mut self, message: &Message, env: &dyn ChainEnv) -> ApplyReceipt {
        let Some(from) = self.resolve(&message.from) else {
            return ApplyReceipt::fail(ExitCode::SYS_SENDER_INVALID, 0, "sender has no actor");
        };
        let sender = &self.actors[&from];
        if !matches!(sender.kind, ActorKind::Account(_)) {
            return ApplyReceipt::fail(ExitCode::SYS_SENDER_INVALID, 0, "sender is not an account");
        }
        if sender.nonce != message.sequence {
            return ApplyReceipt::fail(ExitCode::SYS_SENDER_STATE_INVALID, 0, "nonce mismatch");
        }
        // The sender locks fee cap × gas limit; what the gas did not cost is refunded after execution.
        let gas_limit = message.gas_limit;
        let gas_cost = message.gas_fee_cap.clone() * gas_limit;
        if sender.balance.0 < gas_cost {
            return ApplyReceipt::fail(
                ExitCode::SYS_SENDER_STATE_INVALID,
                0,
                "sender does not have enough balance to cover gas cost",
            );
        }
        self.actors.get_mut(&from).expect("sender exists").balance.0 -= &gas_cost;
        self.actors.get_mut(&from).expect("sender exists").nonce += 1;

        let before = self.clone();
        let (receipt, gas_used) = if gas_limit < BASE_GAS as u64 {
            (ApplyReceipt::fail(ExitCode::SYS_OUT_OF_GAS, gas_limit as i64, "out of gas"), gas_limit)
        } else {
            let outcome = self.call(message, from, env);
            let receipt = match outcome {
                Ok(return_data) => ApplyReceipt::ok(return_data, BASE_GAS),
                Err((code, reason)) => {
                    *self = before;
                    ApplyReceipt::fail(code, BASE_GAS, reason)
                }
            };
            (receipt, BASE_GAS as u64)
        };
        // Gas is burnt and the nonce used whatever the outcome.
        let gas = GasOutputs::compute(gas_used, gas_limit, &env.base_fee(), &message.gas_fee_cap, &message.gas_premium);
        self.credit(ids::BURNT_FUNDS, &gas.burnt());
        self.credit(ids::REWARD, &gas.miner_tip);
        self.credit(from, &gas.refund);
        receipt
    }

    fn end_epoch(&mut self, env: &dyn ChainEnv) {
        let policy = env.policy();
        for id in self.miner_ids() {
            let Some(ActorState { kind: ActorKind::Miner(miner), balance, .. }) = self.actors.get_mut(&id) else {
                continue;
            };
            let burnt = miner.end_deadlines(env.epoch(), &policy, &balance.0);
            self.burn(id, &burnt);
        }
    }

    fn lookup_id(&self, address: &Address) -> Option<u64> {
        self.resolve(address)
    }

    fn actor(&self, address: &Address) -> Option<&ActorState> {
        self.resolve(address).and_then(|id| self.actors.get(&id))
    }

    fn account_key(&self, address: &Address) -> Option<Address> {
        match &self.actor(address)?.kind {
            ActorKind::Account(key) => Some(key.0),
            _ => None,
        }
    }

    fn miner_info(&self, address: &Address) -> Option<MinerInfo> {
        self.miner(address).map(|m| m.info())
    }

    fn miner(&self, address: &Address) -> Option<&MinerActor> {
        match &self.actor(address)?.kind {
            ActorKind::Miner(miner) => Some(miner),
            _ => None,
        }
    }
}

impl ActorTable {
    /// Adds `amount` to an actor's balance.
    fn credit(&mut self, id: u64, amount: &TokenAmount) {
        if let Some(actor) = self.actors.get_mut(&id) {
            actor.balance.0 += amount;
        }
    }

    /// The value transfer and the receiver's method.
    fn call(&mut self, message: &Message, from: u64, env: &dyn ChainEnv) -> Result<Vec<u8>, (ExitCode, String)> {
        let to = self
            .receiver(&message.to)
            .ok_or_else(|| (ExitCode::SYS_INVALID_RECEIVER, format!("no actor at {}", message.to)))?;
        self.transfer(from, to, &message.value).map_err(|e| (ExitCode::SYS_INSUFFICIENT_FUNDS, e))?;
        self.dispatch(message, from, to, env)
    }

    /// Runs the receiver's method after the value transfer.
    fn dispatch(
        &mut self,
        message: &Message,
        caller: u64,
        to: u64,
        env: &dyn ChainEnv,
    ) -> Result<Vec<u8>, (ExitCode, String)> {
        if message.method_num == methods::SEND {
            return Ok(Vec::new());
        }
        let unhandled = || Err((ExitCode::USR_UNHANDLED_MESSAGE, format!("method {} not handled", message.method_num)));
        match &self.actors[&to].kind {
            ActorKind::Builtin(name) if name == "storagepower" => match message.method_num {
                methods::CREATE_MINER | methods::CREATE_MINER_EXPORTED => self.create_miner(message, caller, env),
                _ => unhandled(),
            },
            ActorKind::Miner(_) => {
                let ActorKind::Miner(mut miner) = self.actors[&to].kind.clone() else { unreachable!() };
                let result = miner.invoke(message, caller, self, env);
                if result.is_ok() {
                    self.actors.get_mut(&to).expect("exists").kind = ActorKind::Miner(miner);
                }
                result
            }
            _ => unhandled(),
        }
    }
}
