#!/usr/bin/env bash
# Install what tests/browser needs into tests/browser/node_modules (git-ignored), idempotently:
#   - puppeteer-core as pinned in package-lock.json (it drives the system Chromium; no browser
#     is ever downloaded);
#   - LHC-Forms' prebuilt web component and its FHIR R4 support script, unpacked from the pinned
#     npm tarball of `lforms` after checking its integrity. The package itself is not installed:
#     its dependencies (Angular and friends) are bundled in those files already, and resolving
#     them is what makes `npm install lforms` slow.
# Fast when everything is present. Exits non-zero, saying what is missing, when it cannot
# install (no node/npm, no registry).
set -euo pipefail
cd "$(dirname "$0")"

LFORMS_VERSION="40.1.3"
LFORMS_INTEGRITY="sha512-WLruTm+BcVnafC0rSAQ3/cNqhxvclBUxyBG68aub/uha2NaK9H8ZZcEXTTuORuGzzCt0wa7fvhuieZtcDIdPzQ=="

for tool in node npm tar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "tests/browser/install.sh: '$tool' is not installed" >&2
        exit 3
    fi
done

if ! cmp -s package-lock.json node_modules/.installed-package-lock.json 2>/dev/null; then
    PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --legacy-peer-deps --ignore-scripts \
        --loglevel=error
    cp package-lock.json node_modules/.installed-package-lock.json
fi

if [ "$(cat node_modules/lforms/VERSION 2>/dev/null || true)" != "$LFORMS_VERSION" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    tarball="$(cd "$work" && npm pack "lforms@$LFORMS_VERSION" --silent --loglevel=error)"
    found="sha512-$(node -e '
        const data = require("fs").readFileSync(process.argv[1]);
        process.stdout.write(require("crypto").createHash("sha512").update(data).digest("base64"));
    ' "$work/$tarball")"
    if [ "$found" != "$LFORMS_INTEGRITY" ]; then
        echo "tests/browser/install.sh: lforms-$LFORMS_VERSION.tgz does not match its pinned integrity" >&2
        exit 4
    fi
    tar -xzf "$work/$tarball" -C "$work" package/LICENSE.md package/package.json \
        package/dist/lforms/webcomponent package/dist/lforms/fhir/R4
    rm -rf node_modules/lforms
    mkdir -p node_modules/lforms
    mv "$work/package/LICENSE.md" "$work/package/package.json" node_modules/lforms/
    mv "$work/package/dist/lforms/webcomponent" "$work/package/dist/lforms/fhir" node_modules/lforms/
    echo "$LFORMS_VERSION" > node_modules/lforms/VERSION
fi
