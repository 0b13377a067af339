// Package oracle is sealstack's test oracle: a real Lotus full node (v1.36.2, 2k build, the builtin-actors
// devnet bundle, real proofs) and a genesis miner mining blocks, in one process, built from Lotus's own
// integration-test kit (itests/kit), with the full node's JSON-RPC API served on loopback behind Lotus's
// token checks, as `lotus daemon` serves it.
//
// It is a Go test because kit.NewEnsemble takes a *testing.T. e2e/lotus/build.sh copies this file into a
// writable copy of the Lotus module (as sealstack/oracle) and builds it with `go test -c -tags 2k`;
// e2e/lotus/up.sh runs the binary with `-test.run TestOracle -test.timeout 0`. It runs until SIGINT/SIGTERM.
//
// Environment:
//
//	SEALSTACK_ORACLE_DIR        where the node's API files are written (required): api, token, api-info,
//	                            genesis-miner, wallet, then ready (its content: FULLNODE_API_INFO)
//	SEALSTACK_ORACLE_LISTEN     host:port of the JSON-RPC API (default 127.0.0.1:1234)
//	SEALSTACK_ORACLE_BLOCKTIME  pause between blocks, a Go duration (default 250ms); an epoch takes that plus
//	                            the time to mine and apply the block
//	SEALSTACK_ORACLE_NV         network version at genesis (default 28, the 2k build's genesis version)
//	SEALSTACK_ORACLE_LOG        log level of every Lotus subsystem (default WARN)
package oracle

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	logging "github.com/ipfs/go-log/v2"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/stretchr/testify/require"

	"github.com/filecoin-project/go-state-types/network"

	"github.com/filecoin-project/lotus/api"
	"github.com/filecoin-project/lotus/build"
	"github.com/filecoin-project/lotus/itests/kit"
	"github.com/filecoin-project/lotus/node"
)

func env(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

// writeFile writes a file atomically (0600), so that readers never see half of it.
func writeFile(t *testing.T, dir, name, content string) {
	tmp := filepath.Join(dir, name+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(content), 0o600))
	require.NoError(t, os.Rename(tmp, filepath.Join(dir, name)))
}

func TestOracle(t *testing.T) {
	dir := os.Getenv("SEALSTACK_ORACLE_DIR")
	if dir == "" {
		t.Skip("SEALSTACK_ORACLE_DIR is not set: this test is the oracle that e2e/lotus/up.sh runs")
	}
	listen := env("SEALSTACK_ORACLE_LISTEN", "127.0.0.1:1234")
	blocktime, err := time.ParseDuration(env("SEALSTACK_ORACLE_BLOCKTIME", "250ms"))
	require.NoError(t, err, "SEALSTACK_ORACLE_BLOCKTIME")
	nv, err := strconv.Atoi(env("SEALSTACK_ORACLE_NV", "28"))
	require.NoError(t, err, "SEALSTACK_ORACLE_NV")

	// Listen first: a port already taken fails before minutes of start-up.
	listener, err := net.Listen("tcp", listen)
	require.NoError(t, err, "listening on %s", listen)

	kit.QuietMiningLogs()
	level := env("SEALSTACK_ORACLE_LOG", "WARN")
	logging.SetAllLoggers(logging.LevelWarn)
	require.NoError(t, logging.SetLogLevelRegex(".*", level))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// The network: the 2k build's devnet bundle of builtin-actors (its proof types, 2 KiB consensus minimum,
	// short PreCommit challenge delay), real proofs (seal and WindowPoSt proofs verified by filecoin-ffi with
	// the parameters in FIL_PROOFS_PARAMETER_CACHE; kit only fakes the genesis miner's WinningPoSt, as Lotus's
	// own integration tests do: build.InsecurePoStValidation). F3 is off: one node has nothing to finalise with.
	var (
		full  kit.TestFullNode
		miner kit.TestMiner
	)
	start := time.Now()
	ens := kit.NewEnsemble(t,
		kit.RealProofs(),
		kit.NetworkName("devnet"),
		kit.GenesisNetworkVersion(network.Version(nv)),
	).
		FullNode(&full, kit.F3Disabled()).
		Miner(&miner, &full, kit.WithAllSubsystems(), kit.PresealSectors(2)).
		Start()
	t.Logf("ensemble started in %s (InsecurePoStValidation=%v)", time.Since(start), build.InsecurePoStValidation)
	// The genesis miner mines a block every blocktime and never lets a deadline of its own close unproven.
	ens.BeginMiningMustPost(blocktime)

	// What the lotus binary sets at start (cli/lotus/lotus.go); kit leaves it unset, and Version would fail
	// with "unknown node type 0".
	api.RunningNodeType = api.NodeFull

	handler, err := node.FullNodeHandler(full.FullNode, full.V2, true)
	require.NoError(t, err)
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second}
	served := make(chan error, 1)
	go func() { served <- server.Serve(listener) }()
	defer func() { _ = server.Close() }()

	token, err := full.AuthNew(ctx, api.AllPermissions)
	require.NoError(t, err)
	maddr, err := manet.FromNetAddr(listener.Addr())
	require.NoError(t, err)
	apiAddr := maddr.String() + "/http"
	wallet, err := full.WalletDefaultAddress(ctx)
	require.NoError(t, err)
	version, err := full.Version(ctx)
	require.NoError(t, err)

	require.NoError(t, os.MkdirAll(dir, 0o700))
	writeFile(t, dir, "api", apiAddr)
	writeFile(t, dir, "token", string(token))
	writeFile(t, dir, "api-info", string(token)+":"+apiAddr)
	writeFile(t, dir, "genesis-miner", miner.ActorAddr.String())
	writeFile(t, dir, "wallet", wallet.String())
	writeFile(t, dir, "ready", "FULLNODE_API_INFO="+string(token)+":"+apiAddr+"\n")
	fmt.Printf("oracle ready: Lotus %s, network version %d, genesis miner %s, default wallet %s\n",
		version.Version, nv, miner.ActorAddr, wallet)
	fmt.Printf("FULLNODE_API_INFO=%s:%s\n", token, apiAddr)

	// A line a minute on the chain's progress, for the log.
	ticker := time.NewTicker(time.Minute)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("oracle stopping")
			_ = os.Remove(filepath.Join(dir, "ready"))
			return
		case err := <-served:
			if !errors.Is(err, http.ErrServerClosed) {
				t.Fatalf("the API server stopped: %v", err)
			}
			return
		case <-ticker.C:
			head, err := full.ChainHead(ctx)
			if err == nil {
				fmt.Printf("%s head %d\n", time.Now().Format(time.TimeOnly), head.Height())
			}
		}
	}
}
