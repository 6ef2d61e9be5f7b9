# syntax=docker/dockerfile:1
# mfad (and mfac, for admin commands) in a small non-root image. UNTESTED: no Docker engine ran
# where this was written (README, "Container (untested)").
#
#   docker build -t mfa .
#   docker run -d -p 127.0.0.1:8420:8420 -v mfa-data:/var/lib/mfa mfa
#   docker exec -it CONTAINER mfac client add tux
#
# compose.yaml runs it with PostgreSQL. Needs BuildKit (RUN --mount, COPY --chmod): Docker's
# default builder since 23.0.

# --- build ------------------------------------------------------------------------------------
# The workspace's rust-version (Cargo.toml) is the minimum; this is the toolchain it is tested with.
ARG RUST_VERSION=1.95
FROM rust:${RUST_VERSION}-bookworm AS build
# libpam0g-dev: only pam_mfa.so links libpam; with it the whole workspace builds here too.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpam0g-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p mfad -p mfac \
    && install -D -m 0755 -t /out target/release/mfad target/release/mfac

# --- runtime ----------------------------------------------------------------------------------
FROM debian:bookworm-slim
# ca-certificates: mfad's outgoing HTTPS (ntfy, webhooks) verifies against the system store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 mfa \
    && useradd --system --uid 10001 --gid mfa --home-dir /var/lib/mfa --no-create-home \
        --shell /usr/sbin/nologin mfa \
    && install -d -o mfa -g mfa -m 0700 /var/lib/mfa \
    && install -d -o root -g mfa -m 0750 /etc/mfa
COPY --from=build /out/mfad /out/mfac /usr/local/bin/
COPY --chmod=0755 docker/healthcheck.sh /usr/local/bin/mfa-healthcheck
# mfad and mfac refuse a config that group or others may read: 0600, owned by the user they run as.
COPY --chown=mfa:mfa --chmod=0600 docker/mfad.toml /etc/mfa/mfad.toml
# mfad and mfac (docker exec) both find the config here.
ENV MFA_CONFIG=/etc/mfa/mfad.toml
USER mfa
WORKDIR /var/lib/mfa
VOLUME ["/var/lib/mfa"]
EXPOSE 8420
# GET /healthz: 200 when the database answers. No curl in the image: bash's /dev/tcp does it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/mfa-healthcheck", "8420"]
# SIGTERM (docker stop) makes mfad finish its requests and exit.
ENTRYPOINT ["/usr/local/bin/mfad"]
CMD ["serve"]
