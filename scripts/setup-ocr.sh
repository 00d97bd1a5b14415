#!/usr/bin/env bash
# Scanned PDF pages and images are read by Tesseract OCR in Dutch, German and English
# (vectorstore/ingest/converters/ocr.py); install it from Debian's packages when missing.
#
#   scripts/setup-ocr.sh                       install when missing (`make test`, `make ocr`)
#   scripts/setup-ocr.sh --if-needed PATH...   only when a file under PATH needs OCR (`make run`): an
#                                              image, or a PDF with a page that is only an image
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES="tesseract-ocr tesseract-ocr-nld tesseract-ocr-deu tesseract-ocr-eng"

installed() {
  command -v tesseract >/dev/null 2>&1 || return 1
  local have
  have=$(tesseract --list-langs 2>/dev/null)
  for lang in nld deu eng; do grep -qx "$lang" <<<"$have" || return 1; done
}

if installed; then
  exit 0
fi
if [ "${1:-}" = "--if-needed" ]; then
  shift
  if ! .venv/bin/python - "$@" <<'PY'
import sys
from pathlib import Path

from vectorstore.ingest.converters import IMAGE_SUFFIXES
from vectorstore.ingest.converters.pdf import needs_ocr

files = [f for p in map(Path, sys.argv[1:]) for f in ([p] if p.is_file() else sorted(p.rglob("*")))]
wanted = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES or (f.suffix.lower() == ".pdf" and needs_ocr(f.read_bytes()))]
sys.exit(0 if wanted else 1)
PY
  then
    exit 0  # no document needs OCR: nothing to install
  fi
  echo "setup: a document needs OCR; installing Tesseract ($PACKAGES) from Debian's packages"
else
  echo "setup: installing Tesseract OCR ($PACKAGES) from Debian's packages"
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086 - the package names are words
$SUDO apt-get install -y -qq $PACKAGES >/dev/null
