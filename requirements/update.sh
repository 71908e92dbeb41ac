#!/usr/bin/env sh
# Regenerate the image's pinned, hash-checked dependency locks with uv:
#   requirements/image.txt  the runtime dependencies of pyproject.toml: [project] dependencies and
#                           the `web` extra (the dashboard, `cronctl serve`), so one image runs both
#   requirements/build.txt  the build backend the Dockerfile's builder stage uses (build.in)
# Existing pins are kept unless you pass --upgrade (all) or --upgrade-package NAME (one).
# The lock is universal from Python 3.11 (the project's floor): on the image's Python 3.12 on
# linux x86_64 it resolves exactly as a 3.12-only lock would, and it also installs on 3.11 (the
# dev and CI machines), where tests/image installs it. `pip install uv` if you lack uv.
set -eu
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || { echo "uv not found: pip install uv" >&2; exit 2; }
compile() {
  uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
    --custom-compile-command "requirements/update.sh" "$@"
}
compile pyproject.toml --extra web -o requirements/image.txt "$@"
compile requirements/build.in -o requirements/build.txt "$@"
