#!/usr/bin/env bash
# The main job: installs what it needs, builds, and runs the sample on the best backend this
# machine offers. Extra arguments go to the sample.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
"$SYNCBRIDGE_SOURCE_DIR/scripts/install-deps.sh" build
sb_build default >/dev/null
exec "$SYNCBRIDGE_BUILD_ROOT/default/samples/gpu-pipeline/syncbridge-gpu-pipeline" "$@"
