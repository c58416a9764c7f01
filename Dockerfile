# Build: docker build -t accord .   Run: see docker-compose.yml
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin accord-server

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /var/lib/accord accord \
 && mkdir -p /var/lib/accord && chown accord /var/lib/accord
COPY --from=build /src/target/release/accord-server /usr/local/bin/accord-server
USER accord
ENV ACCORD_LISTEN=0.0.0.0:8081 ACCORD_DATA_DIR=/var/lib/accord
EXPOSE 8081
ENTRYPOINT ["accord-server"]
CMD ["serve"]
