# The two commands a new user types: `make run` and `make test`.
.PHONY: setup run test index lint bench

setup:
	bash scripts/setup.sh

index: setup
	.venv/bin/citeqa index seeds

run: index
	.venv/bin/python app.py

test: setup
	bash scripts/setup-browser.sh
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check .
	.venv/bin/mypy qa vectorstore

bench: setup
	.venv/bin/python benchmarks/run.py --quick
