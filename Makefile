# clip.c build. `make` builds build/clip and build/libclip.{a,so}; `make test` runs every test.
# Sources are found by wildcard: a new file in src/ joins the library, tests/test_*.c
# become test programs, tools/clip/*.c make the tool, fuzz/fuzz_*.c the fuzzers.
BUILD   ?= build
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
CC      ?= gcc
PREFIX  ?= /usr/local
OPT     ?= -O2
SAN     ?=
CFLAGS  := -std=c11 $(OPT) -g -Wall -Wextra -Werror -Wno-unused-parameter -fPIC -fopenmp \
           -D_GNU_SOURCE -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-pthread $(SAN) $(EXTRA_CFLAGS)
LIBS    := -lopenblas -lutf8proc -ljpeg -lpng -lwebp -lcjson -lsqlite3 -lz -lm -lpthread
LDFLAGS := -fopenmp $(SAN)

LIB_SRC   := $(sort $(shell find src -name '*.c'))
TOOL_SRC  := $(sort $(wildcard tools/clip/*.c))
TEST_SRC  := $(sort $(wildcard tests/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/bench_*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_OBJ  := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
TESTS     := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
DEPS_STAMP := $(BUILD)/.deps

all: $(BUILD)/clip $(BUILD)/libclip.a $(BUILD)/libclip.so

$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@bash scripts/deps.sh
	@touch $@

$(BUILD)/obj/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libclip.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@ar rcs $@ $^

$(BUILD)/libclip.so: $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) -shared -o $@ $^ $(LDFLAGS) $(LIBS)

$(BUILD)/obj/tools/clip/main.o: CFLAGS += -DCLIP_DATA_DIR=\"$(PREFIX)/share/clip\"

$(BUILD)/clip: $(TOOL_OBJ) $(BUILD)/libclip.a
	@echo "  LD      $@"
	@$(CC) -o $@ $(TOOL_OBJ) $(BUILD)/libclip.a $(LDFLAGS) $(LIBS)

$(BUILD)/tests/%: tests/%.c tests/testutil.h $(BUILD)/libclip.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -Itests -o $@ $< $(BUILD)/libclip.a $(LDFLAGS) $(LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libclip.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) -O3 -o $@ $< $(BUILD)/libclip.a $(LDFLAGS) $(LIBS)

test: all $(TESTS)
	@BUILD=$(BUILD) bash tests/run_tests.sh $(TESTS)

bench: all $(BENCHES)

# One pass of every test under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" test

# The tool with MPI data-parallel training (`clip train --mpi`), in build-mpi/; then the check
# that 2 ranks train like 1 process on the same global batch.
mpi:
	@bash scripts/deps.sh --mpi
	$(MAKE) BUILD=build-mpi CC=mpicc EXTRA_CFLAGS=-DCLIP_MPI build-mpi/clip
	@bash tests/mpi/check.sh build-mpi/clip

# libFuzzer targets (clang), each run for FUZZ_SECONDS.
FUZZ_SECONDS ?= 20
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
fuzz:
	@BUILD=build-fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run_fuzz.sh $(FUZZ_SRC)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/share/clip
	install -m 755 $(BUILD)/clip $(DESTDIR)$(PREFIX)/bin/clip
	install -m 644 $(BUILD)/libclip.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libclip.so $(DESTDIR)$(PREFIX)/lib/
	install -m 644 include/clip.h $(DESTDIR)$(PREFIX)/include/
	cp -r data/. $(DESTDIR)$(PREFIX)/share/clip/
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBS@|$(LIBS)|g' scripts/clip.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/clip.pc

# The emoji image-text data set (network: npm registry and a Debian mirror); see docs/data.md.
# The README's first command: zero-shot and search with the shipped model (scripts/demo.sh).
demo: all
	@bash scripts/demo.sh

data:
	bash scripts/data/prepare.sh

# The shipped emoji model (docs/emoji.md): data prep, then training from scratch (~15 min on 2 cores).
model: all data
	bash scripts/emoji/train.sh --data datasets/emoji --out data/models/default.safetensors

clean:
	rm -rf build build-asan build-fuzz build-mpi

.PHONY: all test bench asan fuzz mpi install clean data model demo
-include $(LIB_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)

# Files linked into the library with .incbin (the compiler cannot see these dependencies).
$(BUILD)/obj/src/eval/prompts.o: $(wildcard data/prompts/*.txt)
