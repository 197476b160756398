# The reconciler's container image: a static binary on distroless, run as
# a non-root user.
#
#   docker build \
#     --build-arg VERSION="$(git describe --tags --always --dirty)" \
#     --build-arg COMMIT="$(git rev-parse HEAD)" \
#     -t reconciler .
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.
# Multi-platform: docker buildx build --platform linux/amd64,linux/arm64 ...
#
# Both base images are pinned: the Go toolchain by exact version, the
# runtime by digest (the tag beside it says what the digest was). Bump them
# in a reviewed commit; `crane digest gcr.io/distroless/static-debian12:nonroot`
# or `docker buildx imagetools inspect` gives the current digest.

FROM --platform=$BUILDPLATFORM golang:1.26.8 AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
# Modules first, so that a source change reuses the download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# Only what the binary is built from: no .git, no tests' data, no secrets
# (.dockerignore keeps the build context to the same).
COPY cmd/ cmd/
COPY internal/ internal/
COPY pkg/ pkg/
# The quickstart embeds the example configuration.
COPY examples/ examples/
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=unknown
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/reconciler ./cmd/reconciler

# distroless/static: CA certificates, tzdata and /etc/passwd, no shell, no
# package manager. 65532 is its "nonroot" user; numeric, so that Kubernetes'
# runAsNonRoot can check it.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:d093aa3e30dbadd3efe1310db061a14da60299baff8450a17fe0ccc514a16639
COPY --from=build /out/reconciler /reconciler
USER 65532:65532
EXPOSE 9090
ENTRYPOINT ["/reconciler"]
CMD ["run", "--config", "/etc/reconciler/config.yaml"]
