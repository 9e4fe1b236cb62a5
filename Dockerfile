# syntax=docker/dockerfile:1
# Phare image: the `phare` binary on a slim Debian. Describes a deployment; nothing in the
# build, the tests or CI depends on Docker.
#
# The image holds no PostgreSQL server, so the managed (embedded) cluster cannot run in it:
# set PHARE_DATABASE_URL (docker-compose.yml does).

FROM rust:1.95-bookworm AS build
WORKDIR /src
# The workspace manifests, the sources, and the migrations that sqlx::migrate! embeds at
# compile time. spec/ and tests/ are only needed by the tests.
COPY Cargo.toml Cargo.lock rustfmt.toml clippy.toml ./
COPY crates crates
COPY migrations migrations
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin phare \
    && install -m 0755 target/release/phare /usr/local/bin/phare

# Same Debian release as the build image, so the binary finds the glibc it was linked against.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/phare --create-home phare
COPY --from=build /usr/local/bin/phare /usr/local/bin/phare
USER phare
WORKDIR /var/lib/phare
ENV PHARE_DATA_DIR=/var/lib/phare \
    PHARE_LISTEN=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["phare"]
CMD ["serve"]
