# syntax=docker/dockerfile:1
# The `cronjobs` image: the maintenance jobs (`cronjobs`, the ENTRYPOINT the chart's CronJobs
# run), the controller CLI (`cronctl`) and its dashboard (`cronctl serve`, the `web` extra,
# which the chart's serve Deployment runs). Build and publish it as docs/image.md shows:
#   docker build --build-arg VERSION=0.1.0 -t cronjobs:0.1.0 .
#   podman build --format docker --build-arg VERSION=0.1.0 -t cronjobs:0.1.0 .
# Every input reaches a stage by COPY, never by `RUN --mount=type=bind`: buildah (podman) caches a
# RUN step by its text, not by the files it mounts, and would keep old code after a change.

# Exact patch release and Debian release, so a rebuild gets the same interpreter; bump it on
# purpose (and consider pinning the digest too: python:3.12.11-slim-bookworm@sha256:...).
# checkov reads `FROM ${PYTHON_IMAGE}` without resolving the ARG, so it sees no tag:
# checkov:skip=CKV_DOCKER_7: false positive, the base is the exact tag in PYTHON_IMAGE above
ARG PYTHON_IMAGE=python:3.12.11-slim-bookworm

# ---- builder: turn the source into a wheel (nothing from this stage but the wheel ships) ----
FROM ${PYTHON_IMAGE} AS builder

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# The build backend, pinned and hash-checked (requirements/build.txt), so that building without
# isolation does not fetch whatever setuptools is newest today.
COPY requirements/build.txt /tmp/build.txt
RUN pip install --no-cache-dir --require-hashes --only-binary=:all: -r /tmp/build.txt

COPY pyproject.toml README.md ./
COPY jobs/ jobs/

# Besides the wheel, write a requirement line naming it with its sha256: installing the lock in
# hash-checking mode (below) requires every requirement, the wheel included, to carry a hash.
# The lock joins them in /wheels: the final stage takes that one folder (COPY --from=builder).
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .
WORKDIR /wheels
RUN for whl in cronjobs-*.whl; do \
         echo "cronjobs @ file:///wheels/${whl} --hash=sha256:$(sha256sum "${whl}" | cut -d' ' -f1)"; \
       done > cronjobs.txt
COPY requirements/image.txt image.txt

# ---- final: the wheel and its pinned dependencies on a slim Python, nothing else ----
FROM ${PYTHON_IMAGE}

SHELL ["/bin/bash", "-o", "pipefail", "-c"]

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=https://github.com/example/cronjobs

LABEL org.opencontainers.image.title="cronjobs" \
      org.opencontainers.image.description="A web app's maintenance jobs as Kubernetes CronJobs (ENTRYPOINT cronjobs), and cronctl to list, suspend, resume and trigger them." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="MIT"

# Read-only root filesystem: only /tmp (an emptyDir in the chart) is writable, so HOME points
# there (kubeconfig lookups, anything a library caches under ~) and no .pyc is written at run
# time (pip compiled the bytecode at install time, below, so start-up stays fast).
ENV HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# The wheel, its hashed requirement line and the lock, copied (not bind-mounted: a copy is cached
# by its content, so a new wheel or lock is never answered with an old layer); ~0.2 MB that the
# RUN below deletes from the image's view.
COPY --from=builder /wheels /wheels

# One layer: a numeric system user (so runAsNonRoot can verify it without a passwd lookup), then
# the locked dependencies and the wheel in pip's hash-checking mode (every file verified against
# requirements/image.txt; wheels only, so no compiler is needed or present). pip's --constraint
# cannot be used here: a hashed constraints file switches pip to hash-checking mode, and
# constraints do not satisfy it (every dependency must be a hashed, == pinned requirement), so
# the lock is installed as requirements; it holds exactly the dependencies of pyproject.toml and
# its `web` extra (tests/image checks), and `pip check` proves the set is complete. pip compiles
# what it installs; the standard library of the official base ships without bytecode, and on a
# read-only root every command would compile the modules it imports again in memory (2-3x the
# start-up time, see bench/README.md), so it is compiled here too. Finally pip itself goes:
# nothing in the running image installs packages.
RUN groupadd --system --gid 10001 cronjobs \
    && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
         --shell /usr/sbin/nologin cronjobs \
    && pip install --no-cache-dir --require-hashes --only-binary=:all: \
         -r /wheels/image.txt -r /wheels/cronjobs.txt \
    && pip check \
    && pip uninstall --yes pip \
    && rm -rf /wheels \
    && python -m compileall -q -j 0 "$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')" \
    && cronjobs --version \
    && cronctl --help > /dev/null

# Numeric, so Kubernetes' runAsNonRoot can check it; the chart's securityContext uses the same.
USER 10001:10001
WORKDIR /tmp

# A batch job: it runs to completion and Kubernetes reads its exit code (see the exit-code table
# in docs/architecture.md); there is no long-running process whose health a probe could check.
HEALTHCHECK NONE

ENTRYPOINT ["cronjobs"]
CMD ["--help"]
