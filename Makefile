# Keepernet: `make setup` once on a fresh machine, then `make test`.
PYTHON ?= .venv/bin/python
CC := clang-19
BUILD := program/build
# SBPF v0: no ALU32 (-mcpu=v2), no libc, Solana's 4 KiB stack frame.
SBF_CFLAGS := -target bpf -mcpu=v2 -O2 -ffreestanding -fno-builtin -nostdlib -std=c11 \
	-Wall -Wextra -Werror -mllvm -bpf-stack-size=4096
# math/probe.c is a test-only program (tests/math builds it).
PROGRAM_SRCS := $(filter-out program/src/math/probe.c, \
	$(wildcard program/src/*.c program/src/*/*.c))
PROGRAM_OBJS := $(patsubst program/src/%.c,$(BUILD)/obj/%.o,$(PROGRAM_SRCS))
HEADERS := $(wildcard program/src/*.h program/src/*/*.h)
GENERATED := program/idl/keepernet.json $(wildcard program/src/generated/*.h) program/accounts.py

.PHONY: setup program idl test lint bench bench-cu bench-scan bench-indexer bench-queue \
	bench-localnet bench-reaction bench-requests localnet demo clean
.DELETE_ON_ERROR:

setup:
	scripts/setup

program: $(BUILD)/keepernet.so

idl: $(GENERATED)

# The generator only rewrites files whose content changed; touch them all so that make
# sees them as newer than the spec either way.
$(GENERATED) &: program/idl/spec.py program/idl/generate.py
	$(PYTHON) -m program.idl
	@touch $(GENERATED)

$(BUILD)/obj/%.o: program/src/%.c $(HEADERS) | idl
	@mkdir -p $(dir $@)
	$(CC) $(SBF_CFLAGS) -c $< -o $@

$(BUILD)/keepernet.so: $(PROGRAM_OBJS) $(wildcard program/toolchain/*.py)
	$(PYTHON) -m program.toolchain -o $@ $(PROGRAM_OBJS)

# The one command: install what is missing, build, lint, run every test.
test: setup
	$(MAKE) program
	$(MAKE) lint
	$(PYTHON) -m pytest -q --durations=30

lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m mypy

# Every benchmark, one table, bench/results/latest.json and plots; BENCH_ARGS=--quick for
# smaller sizes.
bench: setup
	$(MAKE) program
	$(PYTHON) -m bench $(BENCH_ARGS)

bench-scan: setup
	$(PYTHON) -m bench.scan

bench-indexer: setup
	$(MAKE) program
	$(PYTHON) -m bench.indexer

bench-queue: setup
	$(PYTHON) -m bench.queue

bench-cu: setup
	$(MAKE) program
	$(PYTHON) -m bench.cu

bench-localnet: setup
	$(MAKE) program
	$(PYTHON) -m bench.localnet

bench-reaction: setup
	$(MAKE) program
	$(PYTHON) -m bench.reaction

bench-requests: setup
	$(MAKE) program
	$(PYTHON) -m bench.requests

# Solana JSON-RPC on 127.0.0.1:8899 (WebSocket 8900) with the program deployed.
localnet: setup
	$(MAKE) program
	.venv/bin/keepernet localnet

# The whole fleet on a seeded localnet; DURATION=60 stops it after a minute (else Ctrl-C).
demo: setup
	$(MAKE) program
	.venv/bin/keepernet demo $(if $(DURATION),--duration $(DURATION))

clean:
	rm -rf $(BUILD)
