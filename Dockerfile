# The decnet-swift image: one static `decnet` binary on Debian 12.
#
# This is the image the Docker driver's service containers run. `decnet deploy` builds it as
# `decnet-swift:latest` when it finds this file in DECNET_SOURCE_DIR (default: the current directory), and the
# compose writer starts every built-in service from it as `decnet service run <slug>`, inside the network
# namespace of the decky's base container, with the persona in DECNET_PERSONA_* variables.
#
#   docker build -t decnet-swift:latest .
#   docker run --rm decnet-swift:latest services

ARG SWIFT_IMAGE=swift:6.1-bookworm

# ---- build ------------------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
WORKDIR /src

# SQLite headers for the event store (DECNET_DB_BACKEND=sqlite).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libsqlite3-dev \
    && rm -rf /var/lib/apt/lists/*

# Resolve dependencies in their own layer, so editing Sources does not fetch them again.
# Package.resolved is optional (the glob matches nothing when it is absent).
COPY Package.swift Package.resolve[d] ./
RUN swift package resolve

COPY Sources ./Sources
COPY Tests ./Tests
RUN swift build -c release --product decnet --static-swift-stdlib \
    && mkdir -p /staging \
    && cp "$(swift build -c release --show-bin-path)/decnet" /staging/decnet

# ---- runtime ----------------------------------------------------------------------------------------------
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libsqlite3-0 \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /var/log/decnet

COPY --from=build /staging/decnet /usr/local/bin/decnet

ENTRYPOINT ["/usr/local/bin/decnet"]
CMD ["--help"]
