# Contributor entry points. `make demo` is the main job on a fresh machine; `make check` the tests.
.PHONY: setup build build-agent lint typecheck test check dist-check smoke bench demo format clean

setup:
	sh scripts/setup.sh

build-agent:
	sh scripts/build-agent.sh

build: build-agent
	npm run -s build

lint:
	npx eslint .
	npx prettier --check .

typecheck:
	npx tsc -p tsconfig.json --noEmit

test:
	sh guest/agent/tests/run.sh
	npx vitest run

# setup runs first and only installs or rebuilds what is missing or stale.
check: setup
	$(MAKE) lint typecheck test

dist-check: setup
	sh scripts/dist-check.sh

smoke: setup
	npx tsx scripts/smoke.ts

bench: setup
	npx tsx bench/run.ts
	npx tsx bench/shell.ts
	npx tsx bench/workspace.ts
	npx tsx bench/stream.ts
	npx tsx bench/memory.ts
	npx tsx bench/warm.ts
	npx tsx bench/output.ts
	npx tsx bench/full-snapshot.ts
	npx tsx bench/oci.ts

demo: setup
	node dist/src/cli/main.js doctor
	node dist/src/cli/main.js run debian:12 -- git --version

format:
	npx prettier --write .
	npx eslint --fix .

clean:
	rm -rf dist build
