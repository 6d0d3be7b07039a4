# syntax=docker/dockerfile:1
#
# The nautobot-sync-operator image: a release build on Debian bookworm, run on UBI 9 micro.
#
#   docker build -t nautobot-sync-operator:dev \
#     --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
#   (or: podman build ...)
#
# OpenShift runs it under an arbitrary UID in group 0 (restricted-v2 SCC): the image's files
# belong to 0:0 with group permissions equal to the owner's, nothing is written at run time
# (readOnlyRootFilesystem), and USER is numeric and non-root.
# scripts/check-chart.sh checks this file statically (paths, binary name, build command).

ARG RUST_VERSION=1.95
# UBI images track the newest RHEL 9 minor under `latest` (glibc 2.34 throughout RHEL 9);
# release builds pin a digest: --build-arg UBI_VERSION=latest@sha256:...
ARG UBI_VERSION=latest

# ---- build -------------------------------------------------------------------------------
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build
# the workspace: the operator, its test helper crate and the benchmarks (members cargo must see)
COPY Cargo.toml Cargo.lock ./
COPY src/ src/
COPY tests/stand-in/ tests/stand-in/
COPY bench/ bench/
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked --bin nautobot-sync-operator \
    && install -D -m 0755 target/release/nautobot-sync-operator /out/nautobot-sync-operator

# ---- CA certificates (ubi-micro has no ca-certificates package) ------------------------
FROM registry.access.redhat.com/ubi9/ubi-minimal:${UBI_VERSION} AS certs
RUN test -s /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem

# ---- runtime -----------------------------------------------------------------------------
FROM registry.access.redhat.com/ubi9/ubi-micro:${UBI_VERSION}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="nautobot-sync-operator" \
      org.opencontainers.image.description="Kubernetes/OpenShift operator that keeps Nautobot in sync with a cluster (namespaces, nodes, KubeVirt VMs, deployments, services)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/nautobot-sync-operator/nautobot-sync-operator" \
      org.opencontainers.image.url="https://github.com/nautobot-sync-operator/nautobot-sync-operator" \
      org.opencontainers.image.documentation="https://github.com/nautobot-sync-operator/nautobot-sync-operator/blob/main/docs/install-openshift.md" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="registry.access.redhat.com/ubi9/ubi-micro:${UBI_VERSION}" \
      name="nautobot-sync-operator" \
      summary="Keeps Nautobot in sync with an OpenShift cluster" \
      io.k8s.display-name="Nautobot Sync Operator" \
      io.k8s.description="Syncs namespaces, nodes, KubeVirt VMs, Deployments and Services into Nautobot" \
      io.openshift.tags="nautobot,inventory,kubevirt,operator"
# The system trust store at the path rustls' platform verifier reads; the Helm chart's
# caBundle option mounts a replacement over this directory.
COPY --from=certs --chown=0:0 --chmod=0664 \
     /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem /etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem
COPY --from=builder --chown=0:0 --chmod=0775 \
     /out/nautobot-sync-operator /usr/local/bin/nautobot-sync-operator
ENV SSL_CERT_FILE=/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem
USER 1001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/nautobot-sync-operator"]
CMD ["run"]
