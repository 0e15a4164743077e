# The two commands of the README. Each one sets everything up itself (scripts/setup.sh is idempotent).
.PHONY: demo test test-fast lint setup

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/python -m omni_r1.fit --config configs/demo.yaml
	.venv/bin/python -m omni_r1.fit --config configs/demo_grpo.yaml

test: setup
	.venv/bin/python -m pytest -q

test-fast: setup
	.venv/bin/python -m pytest -m "not slow" -q

lint: setup
	.venv/bin/ruff check src tests benchmarks
