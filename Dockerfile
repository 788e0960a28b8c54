# For Docker, Podman or BuildKit users: the same image as hack/build-images, built in a
# container. One function per build:
#   docker build --build-arg FUNCTION=appender -t registry.local:5000/me/appender:0.1.0 .
FROM rust:1-bookworm AS build
ARG FUNCTION=appender
RUN apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN CC_x86_64_unknown_linux_musl=musl-gcc cargo build --locked --profile image \
      --target x86_64-unknown-linux-musl -p fnmesh-${FUNCTION} \
    && cp target/x86_64-unknown-linux-musl/image/${FUNCTION} /function \
    && printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > /passwd

FROM scratch
ARG FUNCTION=appender
LABEL org.opencontainers.image.source="https://github.com/fnmesh/fnmesh" \
      org.opencontainers.image.title="${FUNCTION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /passwd /etc/passwd
COPY --from=build /function /function
USER 65532:65532
ENV PORT=8080
EXPOSE 8080
ENTRYPOINT ["/function"]
