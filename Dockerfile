# The decnet-swift image: the `decnet` binary on Debian 12, for the Docker driver's service containers.
#
# The compose file `decnet deploy --driver docker` writes starts every built-in service from this image as
# `decnet service run <slug>`, inside the network namespace of the decky's base container, with the persona in
# DECNET_PERSONA_* variables. Two ways to build it:
#
#   docker build -t decnet-swift:latest .              # compiles decnet inside the swift image (needs a registry)
#   scripts/docker-image.sh                            # offline: puts a decnet built on this host into the image
#
# The second passes --build-arg DECNET_BINARY_FROM=prebuilt and a context holding prebuilt/decnet (and, for a
# binary linked against the toolchain's Swift runtime, prebuilt/lib/); it needs BuildKit (DOCKER_BUILDKIT=1).

ARG SWIFT_IMAGE=swift:6.1-bookworm
ARG BASE_IMAGE=debian:bookworm-slim
ARG DECNET_BINARY_FROM=build

# ---- build from source -----------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
WORKDIR /src
# The C libraries our system-library targets link (scripts/deps.sh, group build).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev libsodium-dev nettle-dev libgmp-dev zlib1g-dev libpcap-dev libnetfilter-queue-dev libloc-dev \
    && rm -rf /var/lib/apt/lists/*
# Resolve dependencies in their own layer, so editing Sources does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product decnet --static-swift-stdlib \
    && mkdir -p /staging/lib \
    && cp "$(swift build -c release --show-bin-path)/decnet" /staging/decnet

# ---- or a binary built on the host -----------------------------------------------------------------------
FROM scratch AS prebuilt
COPY prebuilt/ /staging/

FROM ${DECNET_BINARY_FROM} AS binary

# ---- runtime ---------------------------------------------------------------------------------------------
FROM ${BASE_IMAGE}
# What the binary links (scripts/deps.sh lists their -dev packages as the build group).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 libsodium23 libnettle8 libgmp10 zlib1g libpcap0.8 libnetfilter-queue1 libloc1 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/log/decnet
COPY --from=binary /staging/ /usr/local/lib/decnet/
RUN ln -s /usr/local/lib/decnet/decnet /usr/local/bin/decnet
# Only used by a prebuilt binary linked against the Swift runtime of the host's toolchain.
ENV LD_LIBRARY_PATH=/usr/local/lib/decnet/lib

ENTRYPOINT ["/usr/local/bin/decnet"]
CMD ["--help"]
