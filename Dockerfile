# syntax=docker/dockerfile:1
# Images of sealstack for real registries. The local test cluster builds the same images (names,
# entrypoints, users) without Docker or a registry: e2e/cluster/images.sh.
#
#   docker build --target operator -t sealstack/operator .
#   docker build --target runtime  -t sealstack/miner .
#   docker build --target devnet   -t sealstack/devnet .
#   docker build --target runtime  --build-arg MINER_FEATURES=opencl -t sealstack/miner:opencl .
#
# MINER_FEATURES turns on GPU proving in sealstack-miner: `opencl` (needs the OpenCL ICD loader at build and
# run time) or `cuda` (needs nvcc: use an nvidia/cuda devel image as BUILDER_IMAGE and a runtime image as
# RUNTIME_IMAGE).

ARG BUILDER_IMAGE=rust:1.95-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${BUILDER_IMAGE} AS builder
ARG MINER_FEATURES=""
RUN if echo "$MINER_FEATURES" | grep -q opencl; then \
      apt-get update && apt-get install -y --no-install-recommends ocl-icd-opencl-dev && rm -rf /var/lib/apt/lists/*; \
    fi
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p sealstack-operator -p sealstack-devnet \
 && cargo build --release --locked -p sealstack-miner --features "$MINER_FEATURES" \
 && install -D -m 0755 target/release/sealstack-operator /out/sealstack-operator \
 && install -D -m 0755 target/release/sealstack-miner /out/sealstack-miner \
 && install -D -m 0755 target/release/sealstack-devnet /out/sealstack-devnet

FROM ${RUNTIME_IMAGE} AS runtime-base
ARG MINER_FEATURES=""
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && if echo "$MINER_FEATURES" | grep -q opencl; then apt-get install -y --no-install-recommends ocl-icd-libopencl1; fi \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 65532 --user-group --no-create-home --shell /usr/sbin/nologin sealstack
USER 65532:65532

# The operator: reconciles ParamCache, Miner and SealingWorker resources.
FROM runtime-base AS operator
COPY --from=builder /out/sealstack-operator /usr/local/bin/sealstack-operator
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/sealstack-operator"]
CMD ["run"]

# The miner runtime: fetch-params jobs, the miner daemon and sealing workers.
FROM runtime-base AS runtime
COPY --from=builder /out/sealstack-miner /usr/local/bin/sealstack-miner
ENV FIL_PROOFS_PARAMETER_CACHE=/var/tmp/filecoin-proof-parameters
EXPOSE 2345 24001 9100
ENTRYPOINT ["/usr/local/bin/sealstack-miner"]

# The devnet: a Lotus-API dev chain for test clusters (its repo, with the admin token, lives in /devnet).
FROM runtime-base AS devnet
COPY --from=builder /out/sealstack-devnet /usr/local/bin/sealstack-devnet
ENV SEALSTACK_DEVNET_REPO=/devnet FIL_PROOFS_PARAMETER_CACHE=/var/tmp/filecoin-proof-parameters
EXPOSE 1234
ENTRYPOINT ["/usr/local/bin/sealstack-devnet"]
CMD ["run", "--listen", "0.0.0.0:1234"]
