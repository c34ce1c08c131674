#!/usr/bin/env bash
# Wheel check: build tokenomy's wheel from the clone's files, install it with the core dependencies only
# (pinned by constraints.txt) into a throwaway venv, and run the CLI from a folder outside the clone.
# It proves the package works without the source tree: every file under src/tokenomy is in the wheel,
# the packaged resources (autonomy schedule, routing price table) load from site-packages, and
# `tokenomy --version`, `tokenomy demo --only core`, `tokenomy audit` exit 0.
# Usage: scripts/check-wheel.sh   (PYTHON=python3.11 to choose the interpreter; TOKENOMY_DATA for the data)
# pip's cache is reused; only the package index is reached. Prints one summary line; exits non-zero on failure.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tokenomy-wheel.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
STEP="start"
fail() { echo "check-wheel: FAIL at step '$STEP' after $((SECONDS - START)) s${1:+: $1}" >&2; exit 1; }
trap 'fail' ERR

# 1. Copy the files git knows (tracked, or untracked and not ignored), so stray build output and
#    ignored files cannot hide a missing package-data entry, and the clone gets no build/ folder.
STEP="copy sources"
mkdir -p "$WORK/src"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf -) | tar -xf - -C "$WORK/src"

STEP="build wheel"
"$PYTHON" -m pip wheel --quiet --no-deps --no-build-isolation -w "$WORK/dist" "$WORK/src" 2>/dev/null \
  || "$PYTHON" -m pip wheel --quiet --no-deps -w "$WORK/dist" "$WORK/src"
WHEEL="$(ls "$WORK"/dist/tokenomy-*.whl)"

# 2. Every file under src/tokenomy (code and resources alike) must be in the wheel.
STEP="wheel contents"
"$PYTHON" - "$WHEEL" "$WORK/src/src" <<'EOF'
import sys, zipfile
from pathlib import Path
wheel, root = sys.argv[1], Path(sys.argv[2])
names = set(zipfile.ZipFile(wheel).namelist())
want = {p.relative_to(root).as_posix() for p in (root / "tokenomy").rglob("*") if p.is_file() and "__pycache__" not in p.parts}
missing = sorted(want - names)
if missing:
    sys.exit("files under src/tokenomy missing from the wheel (pyproject.toml package-data?): " + ", ".join(missing))
print(f"check-wheel: {Path(wheel).name}: {len(want)} package files present")
EOF

STEP="install into a fresh venv"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check -c "$REPO/constraints.txt" "$WHEEL" \
  > "$WORK/pip.log" 2>&1 || { tail -20 "$WORK/pip.log"; fail; }

# 3. Run from outside the clone, with nothing of the clone on the path.
mkdir -p "$WORK/run"
cd "$WORK/run"
unset PYTHONPATH
TOK="$WORK/venv/bin/tokenomy"

STEP="tokenomy --version"
want_version="$(sed -n 's/^__version__ *= *["'\'']\([^"'\'']*\)["'\''].*/\1/p' "$REPO/src/tokenomy/__init__.py")"
got="$("$TOK" --version)"
[ "$got" = "tokenomy $want_version" ] || fail "version '$got', expected 'tokenomy $want_version'"

STEP="resources load from the installed package"
"$WORK/venv/bin/python" -I - "$REPO" <<'EOF'
import sys
from importlib import resources
from pathlib import Path
import tokenomy
from tokenomy.interfaces.loaders.agent_data import load_schedule
from tokenomy.interfaces.loaders.routing import load_price_table
repo, site = Path(sys.argv[1]).resolve(), Path(sys.prefix).resolve()
for where in (Path(tokenomy.__file__), Path(str(resources.files("tokenomy.interfaces") / "resources"))):
    where = where.resolve()
    assert where.is_relative_to(site) and not where.is_relative_to(repo), f"{where} is not in the installed package"
schedule, table = load_schedule(None), load_price_table(None)
assert schedule is not None and table is not None
EOF

STEP="tokenomy demo --only core"
"$TOK" demo --data "${TOKENOMY_DATA:-$REPO/../shared/data}" --out "$WORK/run/demo" --only core --quick > "$WORK/demo.log" \
  || { tail -20 "$WORK/demo.log"; fail; }

STEP="tokenomy audit (OTLP)"
"$WORK/venv/bin/python" - <<'EOF'
import json
attrs = [("gen_ai.operation.name", {"stringValue": "chat"}), ("gen_ai.request.model", {"stringValue": "gpt-4o"}),
         ("gen_ai.usage.input_tokens", {"intValue": "1000"}), ("gen_ai.usage.output_tokens", {"intValue": "100"})]
span = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331", "parentSpanId": "",
        "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000001000000000",
        "attributes": [{"key": k, "value": v} for k, v in attrs]}
with open("spans.jsonl", "w") as f:
    f.write(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}) + "\n")
EOF
"$TOK" audit spans.jsonl --format otlp --report audit.html --json audit.json > "$WORK/audit.log" \
  || { tail -20 "$WORK/audit.log"; fail; }
[ -s audit.html ] && [ -s audit.json ] || fail "audit wrote no report"

MINISWE="${TOKENOMY_DATA:-$REPO/../shared/data}/agent/miniswe_gemini3pro_swebv"
if [ -d "$MINISWE" ]; then
  STEP="tokenomy audit (mini-swe-agent, packaged schedule)"
  "$TOK" audit "$MINISWE" --format miniswe --json miniswe.json > "$WORK/audit-miniswe.log" \
    || { tail -20 "$WORK/audit-miniswe.log"; fail; }
  audited="otlp + miniswe"
elif [ "${CI:-}" = "true" ]; then
  fail "data folder not found: $MINISWE (CI=true requires it)"
else
  audited="otlp (mini-swe data absent)"
fi

trap - ERR
echo "check-wheel: OK $(basename "$WHEEL") installed outside the clone; --version, demo core, audit $audited passed in $((SECONDS - START)) s"
