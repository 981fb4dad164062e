# layerscope build. `make` builds ./layerscope; `make test` installs what is missing, builds
# and runs every test; `make run` opens the explorer on the bundled sample.
CC      ?= cc
PREFIX  ?= /usr/local
BUILD   ?= build
PKGS    := ncursesw libcjson openblas
CORE_PKGS := libcjson openblas

PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
CORE_CFLAGS := $(shell pkg-config --cflags $(CORE_PKGS) 2>/dev/null)
PKG_LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lncursesw -lcjson -lopenblas)

# -ffp-contract=off: no FMA contraction, so HQQ's bit-exact path matches the reference.
OPT      ?= -O2
SAN      ?=
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wpedantic -Wshadow -Werror
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE -pthread $(WARN) -ffp-contract=off $(SAN) $(CFLAGS) -MMD -MP
# The layering, enforced by the include path (docs/architecture.md): core/ sees only core/ and
# no curses (a poisoned curses.h stands first on its path), widgets/ sees only widgets/, and
# tui/, tests/ and tools/ see everything.
ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) -Icore -Iwidgets -Itui -Itests/support
$(BUILD)/core/%.o:    ALL_CFLAGS = $(BASE_CFLAGS) -I$(BUILD)/nocurses $(CORE_CFLAGS) -Icore
$(BUILD)/widgets/%.o: ALL_CFLAGS = $(BASE_CFLAGS) $(PKG_CFLAGS) -Iwidgets
# oneDNN (--compute bf16): Debian's libdnnl-dev ships no pkg-config file. libgomp is
# oneDNN's OpenMP runtime; core/nn/matmul_bf16.c sets its thread count.
DNNL_LIBS ?= -ldnnl -lgomp
LDLIBS   := $(PKG_LIBS) $(DNNL_LIBS) -lpthread -lm

CORE_SRC    := $(wildcard core/*/*.c)
SUPPORT_SRC := $(wildcard tests/support/*.c)
WIDGETS_SRC := $(wildcard widgets/*.c)
TUI_SRC     := $(wildcard tui/*.c)
TEST_SRC    := $(wildcard tests/test_*.c)
BENCH_SRC   := $(wildcard tests/bench_*.c)
TOOL_SRC    := $(wildcard tools/*.c)

CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/%.o)
WIDGETS_OBJ := $(WIDGETS_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ     := $(TUI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCH_BIN   := $(BENCH_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_BIN    := $(TOOL_SRC:tools/%.c=%)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/%.o)

LIBCORE    := $(BUILD)/libcore.a

# The bundled sample (demo model, evaluation and calibration texts) in this source tree.
CFLAGS_core_io_samples := -DLS_SAMPLES_DIR='"$(CURDIR)/samples"'
LIBWIDGETS := $(BUILD)/libwidgets.a
# Test support (synthetic model writer): linked into tests and tools, never into the program.
LIBSUPPORT := $(BUILD)/libsupport.a

.PHONY: all deps test run bench fuzz asan tsan install clean check-man
# Keep intermediate objects so test binaries are not relinked from scratch every run.
.SECONDARY:
# The program; make asan builds its own copy as build-asan/layerscope.
BIN ?= layerscope
all: $(BIN) $(TOOL_BIN)

deps:
	@sh tools/install-deps.sh

# Per-file extra flags: CFLAGS_core_quant_hqq_fast := ... applies to core/quant/hqq_fast.c only.
$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CFLAGS_$(subst /,_,$*)) -c $< -o $@

$(LIBCORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(LIBSUPPORT): $(SUPPORT_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

# Stand-ins for the curses headers that fail the build of any core/ file including them.
NOCURSES := $(addprefix $(BUILD)/nocurses/,curses.h ncurses.h ncursesw/curses.h ncursesw/ncurses.h)
$(NOCURSES):
	@mkdir -p $(dir $@)
	@echo '#error "core/ must not include curses: drawing belongs in widgets/ or tui/"' > $@
$(CORE_OBJ): | $(NOCURSES)

$(LIBWIDGETS): $(WIDGETS_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(TUI_OBJ) $(LIBWIDGETS) $(LIBCORE)
	$(CC) $(ALL_CFLAGS) -o $@ $(TUI_OBJ) $(LIBWIDGETS) $(LIBCORE) $(LDLIBS)

# Project tools (tools/NAME.c -> ./NAME), e.g. the synthetic model generator.
$(TOOL_BIN): %: $(BUILD)/tools/%.o $(LIBSUPPORT) $(LIBCORE)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBSUPPORT) $(LIBCORE) $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIBWIDGETS) $(LIBSUPPORT) $(LIBCORE)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBWIDGETS) $(LIBSUPPORT) $(LIBCORE) $(LDLIBS)

# Fuzz targets built without libFuzzer (tests/fuzz/replay_main.c): tests/fuzz_corpus.sh
# replays their seed and regression corpora in make test and make asan.
FUZZ_SRC      := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_REPLAY    = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz-replay/%) $(BUILD)/fuzz-replay/make_seeds
FUZZ_CFLAGS    = $(filter-out -MMD -MP,$(ALL_CFLAGS)) -Itests/fuzz
FUZZ_HDRS     := $(wildcard tests/fuzz/*.h)
$(BUILD)/fuzz-replay/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(FUZZ_HDRS) $(LIBSUPPORT) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(LIBSUPPORT) $(LIBCORE) $(LDLIBS)
$(BUILD)/fuzz-replay/make_seeds: tests/fuzz/make_seeds.c $(FUZZ_HDRS) $(LIBSUPPORT) $(LIBCORE)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) -o $@ $< $(LIBSUPPORT) $(LIBCORE) $(LDLIBS)

test: deps
	@$(MAKE) --no-print-directory all $(TEST_BIN) $(FUZZ_REPLAY)
	@sh tests/run_all.sh $(TEST_BIN)

# Everything under AddressSanitizer and UBSan, in its own build directory.
asan: deps all
	@$(MAKE) --no-print-directory BUILD=build-asan BIN=build-asan/layerscope OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    build-asan/layerscope $(TEST_SRC:tests/%.c=build-asan/tests/%) \
	    $(FUZZ_SRC:tests/fuzz/%.c=build-asan/fuzz-replay/%) build-asan/fuzz-replay/make_seeds
	@ASAN_OPTIONS=detect_leaks=1 LAYERSCOPE_BIN=build-asan/layerscope \
	    FUZZ_REPLAY_DIR=build-asan/fuzz-replay \
	    sh tests/run_all.sh $(TEST_SRC:tests/%.c=build-asan/tests/%)

# The job tests (jobs, parallel loops, forward threads) and the scripted explorer under
# ThreadSanitizer, in its own build directory. Any report fails the run: each process logs
# to build-tsan/reports/, which must stay empty (tests/tsan.supp says what is suppressed).
TSAN_TESTS := test_explorer_core test_qmodel test_forward test_perplexity test_sensitivity
tsan: deps all
	@$(MAKE) --no-print-directory BUILD=build-tsan BIN=build-tsan/layerscope OPT=-O1 \
	    SAN="-fsanitize=thread -fno-omit-frame-pointer" \
	    build-tsan/layerscope $(TSAN_TESTS:%=build-tsan/tests/%)
	@rm -rf build-tsan/reports && mkdir -p build-tsan/reports
	@TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp log_path=$(CURDIR)/build-tsan/reports/tsan exitcode=66" \
	    LAYERSCOPE_BIN=build-tsan/layerscope LAYERSCOPE_TEST_SCRIPTS=tests/tui_script.sh \
	    LAYERSCOPE_SAN_REPORTS=build-tsan/reports \
	    sh tests/run_all.sh $(TSAN_TESTS:%=build-tsan/tests/%)

# The explorer on the bundled demo model (samples/demo).
run: deps all
	./layerscope

# The peers of the benchmarks (PyTorch, numpy, scipy) are installed for them only.
bench: deps all $(BENCH_BIN)
	@sh tools/install-deps.sh python3-torch python3-numpy python3-scipy
	@sh tests/bench.sh

fuzz: deps
	@sh tests/fuzz/run.sh

# The man page lint alone (make test runs it too, with the key-table checks).
check-man:
	groff -man -ww -z man/layerscope.1

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 layerscope $(DESTDIR)$(PREFIX)/bin/layerscope
	install -m 644 man/layerscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/layerscope.1

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz layerscope $(TOOL_BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
