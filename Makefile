# The two commands a new user types: `make run` and `make test`.
.PHONY: setup setup-test run test index lint bench ocr

# What the default (extractive) mode needs: no compiler run, no chat model.
setup:
	bash scripts/setup.sh

# Also the test tools, llama-cpp-python and the local chat model: the tests run the generative mode.
setup-test:
	bash scripts/setup.sh --test

# Tesseract only when a document of the collection needs OCR (seeds/ needs none: no time added).
index: setup
	bash scripts/setup-ocr.sh --if-needed seeds
	.venv/bin/citeqa index seeds

run: index
	.venv/bin/python app.py

test: setup-test
	bash scripts/setup-browser.sh
	bash scripts/setup-ocr.sh
	.venv/bin/python -m pytest

# Tesseract OCR with its Dutch, German and English models, for scanned PDFs and images.
ocr:
	bash scripts/setup-ocr.sh

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy qa vectorstore

bench: setup
	.venv/bin/python benchmarks/run.py --quick
