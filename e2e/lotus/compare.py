#!/usr/bin/env python3
"""Asks the devnet and Lotus the same thing, method by method: every Lotus method sealstack calls
(sealstack-chain's METHODS), plus the transport rules sealstack relies on (exact parameter counts, permissions,
bad tokens, MsgUuid idempotency). Prints, per call, what each answered and where the answers' shapes differ
(JSON keys present on one side only, different JSON types), then a summary. e2e/lotus/compare.sh runs it.

    compare.py --devnet API_INFO --devnet-miner t01000 --lotus API_INFO --lotus-miner t01001 [--json OUT]

API_INFO is `token:/ip4/127.0.0.1/tcp/PORT/http` (FULLNODE_API_INFO) or `token:http://host:port`.
"""

import argparse
import base64
import json
import re
import sys
import urllib.error
import urllib.request
import uuid


def base_url(api_info):
    token, addr = api_info.split(":", 1)
    m = re.match(r"/(?:ip4|ip6|dns|dns4|dns6)/([^/]+)/tcp/(\d+)", addr)
    url = f"http://{m.group(1)}:{m.group(2)}" if m else addr.rstrip("/")
    return token, url + "/rpc/v1"


class Endpoint:
    def __init__(self, name, api_info, miner):
        self.name = name
        self.token, self.url = base_url(api_info)
        self.miner = miner

    def raw(self, method, params, token="default"):
        """(HTTP status, decoded JSON body or text) of one call."""
        token = self.token if token == "default" else token
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": f"Filecoin.{method}", "params": params}).encode()
        req = urllib.request.Request(self.url, body, {"Content-Type": "application/json"})
        if token is not None:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                status, text = resp.status, resp.read().decode()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode()
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text.strip()

    def call(self, method, params):
        status, body = self.raw(method, params)
        if isinstance(body, dict) and "error" in body:
            raise RuntimeError(f"{self.name} {method}: {body['error']}")
        if not isinstance(body, dict):
            raise RuntimeError(f"{self.name} {method}: HTTP {status} {body}")
        return body.get("result")


def shape_diff(a, b, path="$"):
    """Differences of JSON shape between a (devnet) and b (Lotus): keys on one side only, type changes."""
    out = []
    ta, tb = type(a).__name__, type(b).__name__
    if a is None or b is None:
        if (a is None) != (b is None):
            out.append(f"{path}: devnet {ta if a is not None else 'null'}, Lotus {tb if b is not None else 'null'}")
        return out
    if ta != tb and not ({ta, tb} <= {"int", "float"}):
        out.append(f"{path}: devnet {ta}, Lotus {tb}")
        return out
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in b:
                out.append(f"{path}.{k}: devnet only")
            elif k not in a:
                out.append(f"{path}.{k}: Lotus only")
            else:
                out += shape_diff(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and a and b:
        out += shape_diff(a[0], b[0], f"{path}[0]")
    return out


def short(value, limit=600):
    text = json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def sealed_cid():
    """A valid CommR CID (fil-commitment-sealed, poseidon-bls12_381-a2-fc1) of 32 zero bytes, base32."""
    raw = bytes([0x01]) + varint(0xF102) + varint(0xB401) + bytes([32]) + bytes(32)
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def plan(ep):
    """The calls for one endpoint: (label, method, params, perm token), in order; later calls use earlier results."""
    head = ep.call("ChainHead", [])
    h = head["Height"]
    wallet = ep.call("WalletDefaultAddress", [])
    wallet_id = ep.call("StateLookupID", [wallet, []])
    info = ep.call("StateMinerInfo", [ep.miner, []])
    fresh = ep.call("WalletNew", ["secp256k1"])
    entropy = base64.b64encode(b"sealstack").decode()
    pci = {
        "SealProof": 5,
        "SectorNumber": 999,
        "SealedCID": {"/": sealed_cid()},
        "SealRandEpoch": max(h - 10, 0),
        "DealIDs": None,
        "Expiration": h + 1_555_200,
        "UnsealedCid": None,
    }
    return [
        ("Version", "Version", []),
        ("AuthVerify", "AuthVerify", [ep.token]),
        ("AuthNew read", "AuthNew", [["read"]]),
        ("ChainHead", "ChainHead", []),
        ("ChainGetTipSetByHeight h-3", "ChainGetTipSetByHeight", [max(h - 3, 0), []]),
        ("SyncState", "SyncState", []),
        ("NetAddrsListen", "NetAddrsListen", []),
        ("StateNetworkName", "StateNetworkName", []),
        ("StateGetNetworkParams", "StateGetNetworkParams", []),
        ("StateNetworkVersion", "StateNetworkVersion", [[]]),
        ("WalletDefaultAddress", "WalletDefaultAddress", []),
        ("WalletNew bls", "WalletNew", ["bls"]),
        ("WalletHas", "WalletHas", [wallet]),
        ("WalletList", "WalletList", []),
        ("WalletBalance", "WalletBalance", [wallet]),
        ("MpoolGetNonce", "MpoolGetNonce", [wallet]),
        ("StateLookupID robust", "StateLookupID", [wallet, []]),
        ("StateLookupID of a key never used on chain", "StateLookupID", [fresh, []]),
        ("StateAccountKey", "StateAccountKey", [wallet_id, []]),
        ("StateAccountKey of the worker", "StateAccountKey", [info["Worker"], []]),
        ("StateGetActor miner", "StateGetActor", [ep.miner, []]),
        ("StateGetActor unknown", "StateGetActor", ["t099999", []]),
        ("StateMinerCreationDeposit", "StateMinerCreationDeposit", [[]]),
        ("StateMinerInfo", "StateMinerInfo", [ep.miner, []]),
        ("StateListMiners", "StateListMiners", [[]]),
        ("StateMinerPower", "StateMinerPower", [ep.miner, []]),
        ("StateGetRandomnessFromTickets empty key", "StateGetRandomnessFromTickets", [2, max(h - 5, 0), entropy, []]),
        ("StateGetRandomnessFromTickets head key", "StateGetRandomnessFromTickets",
         [2, max(h - 5, 0), entropy, head["Cids"]]),
        ("StateGetRandomnessFromBeacon empty key", "StateGetRandomnessFromBeacon", [5, max(h - 5, 0), entropy, []]),
        ("StateGetRandomnessFromTickets future", "StateGetRandomnessFromTickets", [2, h + 100, entropy, head["Cids"]]),
        ("ChainGetTipSetByHeight genesis", "ChainGetTipSetByHeight", [0, []]),
        ("StateMinerPreCommitDepositForPower", "StateMinerPreCommitDepositForPower", [ep.miner, pci, []]),
        ("StateMinerInitialPledgeCollateral", "StateMinerInitialPledgeCollateral", [ep.miner, pci, []]),
        ("StateSectorPreCommitInfo absent", "StateSectorPreCommitInfo", [ep.miner, 999, []]),
        ("StateSectorPreCommitInfo sector 0", "StateSectorPreCommitInfo", [ep.miner, 0, []]),
        ("StateMinerProvingDeadline", "StateMinerProvingDeadline", [ep.miner, []]),
        ("StateMinerPartitions dl 0", "StateMinerPartitions", [ep.miner, 0, []]),
        ("StateMinerSectors all", "StateMinerSectors", [ep.miner, None, []]),
        # What the proving loop, `sealstack-miner info`/`proving` and the operator's status read.
        ("StateMinerFaults", "StateMinerFaults", [ep.miner, []]),
        ("StateMinerRecoveries", "StateMinerRecoveries", [ep.miner, []]),
        ("StateMinerDeadlines", "StateMinerDeadlines", [ep.miner, []]),
        ("StateMinerAvailableBalance", "StateMinerAvailableBalance", [ep.miner, []]),
        ("StateMinerSectorCount", "StateMinerSectorCount", [ep.miner, []]),
        ("StateMinerActiveSectors", "StateMinerActiveSectors", [ep.miner, []]),
        ("StateSectorGetInfo absent", "StateSectorGetInfo", [ep.miner, 999, []]),
        ("StateSectorPartition absent", "StateSectorPartition", [ep.miner, 999, []]),
        ("StateReadState miner", "StateReadState", [ep.miner, []]),
        ("MpoolPending", "MpoolPending", [[]]),
    ], wallet


def run_endpoint(ep):
    calls, wallet = plan(ep)
    results = {}
    for label, method, params in calls:
        status, body = ep.raw(method, params)
        results[label] = (status, body)
    # A message: a 0-value send to a new key, pushed twice with the same MsgUuid, then looked up.
    to = ep.call("WalletNew", ["bls"])
    msg = {"Version": 0, "To": to, "From": wallet, "Nonce": 0, "Value": "0", "GasLimit": 0, "GasFeeCap": "0",
           "GasPremium": "0", "Method": 0, "Params": None}
    spec = {"MaxFee": "0", "MsgUuid": str(uuid.uuid4())}
    results["MpoolPushMessage"] = ep.raw("MpoolPushMessage", [msg, spec])
    results["MpoolPushMessage same MsgUuid"] = ep.raw("MpoolPushMessage", [msg, spec])
    results["MpoolPushMessage null spec"] = ep.raw("MpoolPushMessage", [msg, None])
    pushed = results["MpoolPushMessage"][1]
    cid = pushed.get("result", {}).get("CID") if isinstance(pushed, dict) else None
    if cid:
        results["StateWaitMsg"] = ep.raw("StateWaitMsg", [cid, 1, -1, True])
        results["StateSearchMsg"] = ep.raw("StateSearchMsg", [[], cid, -1, True])
        results["ChainGetMessage"] = ep.raw("ChainGetMessage", [cid])
        # Replace-by-fee (chain/src/replace.rs): the message signed by the wallet, then pushed as signed.
        signed = ep.raw("WalletSignMessage", [wallet, dict(msg, Nonce=pushed["result"]["Message"]["Nonce"] + 1,
                                                           GasLimit=1_000_000, GasFeeCap="100000", GasPremium="1000")])
        results["WalletSignMessage"] = signed
        if isinstance(signed[1], dict) and "result" in signed[1]:
            results["MpoolPush"] = ep.raw("MpoolPush", [signed[1]["result"]])
        results["StateSearchMsg unknown"] = ep.raw(
            "StateSearchMsg", [[], {"/": "bafy2bzacea3wsdh6y3a36tb3skempjoxqpuyompjbmfeyf34fi3uy6uue42v4"}, -1, True])
    # Transport and permissions.
    results["wrong param count (ChainHead with 1)"] = ep.raw("ChainHead", [1])
    results["wrong param count (StateWaitMsg with 2)"] = ep.raw("StateWaitMsg", [cid or {"/": "x"}, 1])
    results["unknown method"] = ep.raw("NoSuchMethod", [])
    results["no token, read method"] = ep.raw("ChainHead", [], token=None)
    results["no token, write method"] = ep.raw("WalletDefaultAddress", [], token=None)
    results["bad token"] = ep.raw("ChainHead", [], token="not-a-jwt")
    read_token = results["AuthNew read"][1].get("result") if isinstance(results["AuthNew read"][1], dict) else None
    if read_token:
        token = base64.b64decode(read_token).decode()
        results["read token, sign method"] = ep.raw("MpoolPushMessage", [msg, None], token=token)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--devnet", required=True)
    ap.add_argument("--devnet-miner", required=True)
    ap.add_argument("--lotus", required=True)
    ap.add_argument("--lotus-miner", required=True)
    ap.add_argument("--json")
    args = ap.parse_args()
    devnet = run_endpoint(Endpoint("devnet", args.devnet, args.devnet_miner))
    lotus = run_endpoint(Endpoint("Lotus", args.lotus, args.lotus_miner))
    summary = []
    for label in list(dict.fromkeys(list(devnet) + list(lotus))):
        d, l = devnet.get(label), lotus.get(label)
        print(f"## {label}")
        for name, r in (("devnet", d), ("Lotus", l)):
            if r is None:
                print(f"  {name}: (not called)")
                continue
            status, body = r
            print(f"  {name}: HTTP {status} {short(body)}")
        diffs = []
        if d and l:
            db, lb = d[1], l[1]
            if d[0] != l[0]:
                diffs.append(f"HTTP status: devnet {d[0]}, Lotus {l[0]}")
            if isinstance(db, dict) and isinstance(lb, dict):
                if ("error" in db) != ("error" in lb):
                    diffs.append(f"devnet {'error' if 'error' in db else 'result'}, Lotus {'error' if 'error' in lb else 'result'}")
                elif "error" in db:
                    if db["error"].get("code") != lb["error"].get("code"):
                        diffs.append(f"error code: devnet {db['error'].get('code')}, Lotus {lb['error'].get('code')}")
                else:
                    diffs += shape_diff(db.get("result"), lb.get("result"))
            elif type(db) is not type(lb):
                diffs.append(f"body: devnet {type(db).__name__}, Lotus {type(lb).__name__}")
        for x in diffs:
            print(f"  DIFF {x}")
        summary.append((label, diffs))
        print()
    print("# Summary")
    for label, diffs in summary:
        print(f"- {label}: {'same shape' if not diffs else '; '.join(diffs)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"devnet": devnet, "lotus": lotus, "summary": summary}, f, indent=1, default=str)


if __name__ == "__main__":
    sys.exit(main())
