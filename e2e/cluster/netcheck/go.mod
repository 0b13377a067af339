// netcheck: the real node's network test helper (image docker.io/sealstack/netcheck:dev,
// built by ../images.sh). Standard library only.
module sealstack.local/e2e/cluster/netcheck

go 1.24
