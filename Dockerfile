# Build: docker build -t accord .   Run: see docker-compose.yml. The image holds accord-server
# (the entrypoint), accord-proxy (run it with --entrypoint accord-proxy) and the accord CLI
# (--entrypoint accord, e.g. for a CI job that mounts the repository).
# The build image has what the bundled librdkafka needs (make, a C compiler, OpenSSL and zlib
# headers); the runtime one links OpenSSL 3 and zlib.
FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a change to Accord's sources rebuilds only Accord.
# The manifest names the benches and the test binary, so they get placeholders too.
COPY Cargo.toml Cargo.lock ./
COPY cli/Cargo.toml cli/
RUN mkdir -p src/bin benches tests/it cli/src cli/benches \
 && echo 'fn main() {}' > src/bin/accord-server.rs \
 && echo 'fn main() {}' > src/bin/accord-proxy.rs \
 && echo 'fn main() {}' > cli/src/main.rs \
 && echo 'fn main() {}' > cli/benches/check.rs \
 && touch src/lib.rs tests/it/main.rs \
 && for b in http validate governance changes proxy; do echo 'fn main() {}' > "benches/$b.rs"; done \
 && cargo build --release --locked --bin accord-server --bin accord-proxy --bin accord \
 && rm -rf src benches tests cli/src cli/benches
COPY . .
# The sources may be older than the placeholder build: touch them so cargo rebuilds Accord.
RUN touch src/lib.rs src/bin/accord-server.rs src/bin/accord-proxy.rs cli/src/main.rs \
 && cargo build --release --locked --bin accord-server --bin accord-proxy --bin accord

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl git libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/accord accord \
 && mkdir -p /var/lib/accord && chown accord /var/lib/accord
COPY --from=build /src/target/release/accord-server /usr/local/bin/accord-server
COPY --from=build /src/target/release/accord-proxy /usr/local/bin/accord-proxy
COPY --from=build /src/target/release/accord /usr/local/bin/accord
USER accord
ENV ACCORD_LISTEN=0.0.0.0:8081 ACCORD_DATA_DIR=/var/lib/accord
# The embedded store (when DATABASE_URL is unset) lives here: keep it outside the container.
VOLUME /var/lib/accord
EXPOSE 8081
ENTRYPOINT ["accord-server"]
CMD ["serve"]
