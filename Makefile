# Warden build. `make` builds ./warden (release, -O2 -g, asserts on);
# `make asan` builds build/asan/warden with ASan+UBSan; `make test` runs every
# suite on the sanitizer build; `make fuzz` builds libFuzzer targets;
# `make bench` compares against Mosquitto.

CC ?= cc
WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE = -std=c11 -D_GNU_SOURCE $(WARN) -Icore -MMD -MP
REL_FLAGS = -O2 -g
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1
LIBS = -lpthread -lm -lsodium -lwolfssl -ljansson -llmdb -lncursesw -lhttp_parser
TEST_LIBS = -lcmocka

CORE_SRC := $(sort $(wildcard core/*.c))
STORE_SRC := $(sort $(wildcard store/*.c))
TUI_SRC := $(sort $(wildcard tui/*.c))
SRC := $(CORE_SRC) $(STORE_SRC) $(TUI_SRC)
# Modules every unit test links.
UNIT_BASE := core/mem.c core/err.c core/buf.c

# What each unit test links besides UNIT_BASE (default: core/<name>.c).
UNIT_topic := core/topic.c core/tree.c core/rtree.c
UNIT_acl := core/acl.c core/topic.c
UNIT_model := tui/model.c core/admin_page.c
UNIT_form := tui/form.c tui/widget.c
UNIT_http := core/introspect.c core/oauth_form.c
UNIT_token := core/token.c core/topic.c
UNIT_import := store/import.c core/topic.c core/codec.c core/pw.c
UNIT_store := $(filter-out store/import.c,$(STORE_SRC)) core/topic.c
UNIT_admin := $(filter-out core/main.c core/cli.c core/cli_%.c,$(CORE_SRC))
UNIT_oom := $(UNIT_admin)
UNIT_admin_edit := $(UNIT_admin)
UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))

.PHONY: all asan test unit vg fuzz bench clean
all: warden

# V=1 shows whole command lines.
Q = $(if $(V),,@)

build/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(BASE) $(REL_FLAGS) $(CFLAGS) -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC asan $<")
	$(Q)$(CC) $(BASE) $(ASAN_FLAGS) $(CFLAGS) -c $< -o $@

warden: $(SRC:%.c=build/rel/%.o)
	$(CC) $(REL_FLAGS) -o $@ $^ $(LIBS)

build/asan/warden: $(SRC:%.c=build/asan/%.o)
	$(CC) $(ASAN_FLAGS) -o $@ $^ $(LIBS)

asan: build/asan/warden

define unit_rule
build/asan/tests/test_$(1): tests/unit/test_$(1).c $$(patsubst %.c,build/asan/%.o,$$(sort $$(if $$(UNIT_$(1)),$$(UNIT_$(1)),core/$(1).c) $$(UNIT_BASE)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE) $$(ASAN_FLAGS) -Itests/unit -o $$@ $$(filter %.c %.o,$$^) $$(LIBS) $$(TEST_LIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

UNIT_BINS := $(UNIT_TESTS:%=build/asan/tests/test_%)

unit: $(UNIT_BINS)

# The parsers' unit tests again, without sanitizers, for valgrind.
VG_TESTS := codec topic config
VG_FLAGS = -g -O1
build/vg/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC vg   $<")
	$(Q)$(CC) $(BASE) $(VG_FLAGS) -c $< -o $@
define vg_rule
build/vg/tests/test_$(1): tests/unit/test_$(1).c $$(patsubst %.c,build/vg/%.o,$$(sort $$(if $$(UNIT_$(1)),$$(UNIT_$(1)),core/$(1).c) $$(UNIT_BASE)))
	@mkdir -p $$(dir $$@)
	$$(CC) $$(BASE) $$(VG_FLAGS) -Itests/unit -o $$@ $$(filter %.c %.o,$$^) $$(LIBS) $$(TEST_LIBS)
endef
$(foreach t,$(VG_TESTS),$(eval $(call vg_rule,$(t))))
VG_BINS := $(VG_TESTS:%=build/vg/tests/test_%)
vg: $(VG_BINS)

test: warden build/asan/warden $(UNIT_BINS) $(VG_BINS) fuzz build/tests/tls_client
	tests/run.sh

clean:
	rm -rf build warden

-include $(shell find build -name '*.d' 2>/dev/null)

# libFuzzer targets: tests/fuzz/fuzz_<name>.c links the same modules as the
# unit test of <name>. Seeds live in tests/fuzz/<name>/.
FUZZ_TESTS := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -g -O1
define fuzz_rule
build/fuzz/fuzz_$(1): tests/fuzz/fuzz_$(1).c $$(sort $$(if $$(UNIT_$(1)),$$(UNIT_$(1)),core/$(1).c) $$(UNIT_BASE))
	@mkdir -p $$(dir $$@)
	clang -std=c11 -D_GNU_SOURCE -Icore $$(FUZZ_FLAGS) -o $$@ $$(filter %.c,$$^) $$(LIBS)
endef
$(foreach t,$(FUZZ_TESTS),$(eval $(call fuzz_rule,$(t))))
fuzz: $(FUZZ_TESTS:%=build/fuzz/fuzz_%)

# The TLS tests' WolfSSL client (offers NULL-only or RC4-only suites).
build/tests/tls_client: tests/tls/tls_client.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O1 -g $(CFLAGS) -o $@ $< -lwolfssl

# Benchmarks (tests/bench/, see its README): the load generator and the
# trivial relay at -O2, then the driver runs Warden against Mosquitto.
# Not a test: it reports, it asserts nothing. BENCH_DURATION, BENCH_PAIRS
# and BENCH_ONLY (comma-separated scenario ids) tune a run.
BENCH_FLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g
build/bench/%: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) $(CFLAGS) -o $@ $<
# The generator links WolfSSL for the TLS handshake scenario only.
build/bench/mqbench: tests/bench/mqbench.c
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) -DMQBENCH_TLS $(CFLAGS) -o $@ $< -lwolfssl
bench: warden build/bench/mqbench build/bench/relay
	/usr/bin/python3 tests/bench/bench.py
