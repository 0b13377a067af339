// The local cluster's DNS server: CoreDNS's own main (coremain.Run) linked with the few
// plugins the Corefile written by node.sh uses, instead of CoreDNS's full plugin set
// (cloud DNS providers, tracing, ...), which would triple the build. The plugins register
// themselves in init(); CoreDNS orders them by its own directive list (core/dnsserver).
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
