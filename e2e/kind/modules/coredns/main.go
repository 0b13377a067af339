// The kind cluster's DNS server (the coredns image, e2e/kind/build.sh): CoreDNS's own main (coremain.Run)
// linked with the plugins of the Corefile kubeadm deploys (cmd/kubeadm/app/phases/addons/dns), no more: the
// local cluster's build (../../../cluster/modules/coredns) leaves out prometheus, forward, loop and reload,
// which kubeadm's Corefile names. The plugins register themselves in init(); CoreDNS orders them by its own
// directive list (core/dnsserver).
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/loop"
	_ "github.com/coredns/coredns/plugin/metrics"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"
)

func main() { coremain.Run() }
