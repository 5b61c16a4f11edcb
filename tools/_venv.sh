# Shared by tools/lab and tools/test: make sure a virtualenv with lstm_lab, its test and its
# grading (`teach`: nbgrader) dependencies, pinned by requirements/constraints.txt, exists.
# Source it, or run it (`bash tools/_venv.sh`) to only create or refresh the environment.
#
#   VENV=/some/dir     use that virtualenv instead of .venv in the repository
#   PYTHON=python3.12  interpreter to create it with (default python3; needs >= 3.10)

set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PYTHON="${PYTHON:-python3}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "tools: need Python >= 3.10 as '$PYTHON' (set PYTHON=...)" >&2
            return 1
        fi
        echo "tools: creating virtualenv $VENV with $("$PYTHON" --version 2>&1)"
        "$PYTHON" -m venv "$VENV"
    fi
    # (Re)install when pyproject.toml or the constraints changed since the last install.
    local stamp="$VENV/.lstm_lab-installed" want
    want="$(cat "$REPO/pyproject.toml" "$REPO/requirements/constraints.txt" | sha256sum | cut -d' ' -f1) $REPO"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return 0
    fi
    echo "tools: installing lstm_lab[test,teach] into $VENV (pinned by requirements/constraints.txt)"
    "$VENV/bin/python" -m pip install -e "$REPO[test,teach]" -c "$REPO/requirements/constraints.txt"
    echo "$want" > "$stamp"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    ensure_venv
fi
