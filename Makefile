# Makefile — builds libferc (build/libferc.a), the CLI (build/ferc) and the
# test runner (build/test_ferc). `make test` runs the tests; `make asan` runs
# them again under AddressSanitizer + UndefinedBehaviorSanitizer.

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2 -march=native
CFLAGS  ?= $(OPT)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Iinclude -Isrc \
           $(shell pkg-config --cflags libxml-2.0 cairo 2>/dev/null)
LDLIBS  += -ldnnl -lcairo -lxml2 -lpng -ljpeg -lz -lm -fopenmp

LIB_SRC  := $(sort $(wildcard src/*/*.c))
CLI_SRC  := $(sort $(wildcard cli/*.c))
TEST_SRC := $(sort $(wildcard tests/*.c))
LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all test asan clean deps bench check run
all: $(BUILD)/ferc $(BUILD)/test_ferc $(BUILD)/detect_example

$(BUILD)/%.o: %.c $(wildcard include/*.h src/*/*.h tests/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

# The static library is one relocatable object in which only the public
# `ferc_` names stay global: internal helpers (net_build, gemm, plot_*...)
# become local, so they cannot clash with a user's program. The tests link
# the objects themselves and still reach the internals.
$(BUILD)/libferc.a: $(LIB_OBJ)
	@rm -f $@ $(BUILD)/libferc.o
	$(LD) -r -o $(BUILD)/libferc.o $^
	objcopy --wildcard --keep-global-symbol='ferc_*' $(BUILD)/libferc.o
	ar rcs $@ $(BUILD)/libferc.o

$(BUILD)/ferc: $(CLI_OBJ) $(BUILD)/libferc.a
	$(CC) $(CFLAGS) -o $@ $(CLI_OBJ) $(BUILD)/libferc.a $(LDLIBS)

# The embedding example of the README, built so that it keeps compiling.
$(BUILD)/detect_example: examples/detect_example.c include/ferc.h $(BUILD)/libferc.a
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libferc.a $(LDLIBS)

# Tests link the objects directly so that constructor-registered tests and
# internal (non-public) functions are all available.
$(BUILD)/test_ferc: $(TEST_OBJ) $(LIB_OBJ)
	$(CC) $(CFLAGS) -o $@ $(TEST_OBJ) $(LIB_OBJ) $(LDLIBS)

test: $(BUILD)/test_ferc $(BUILD)/ferc
	OMP_WAIT_POLICY=PASSIVE ./$(BUILD)/test_ferc $(T)

asan:
	$(MAKE) BUILD=build-asan OPT="-O1 -g -march=native -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined" \
	    LDLIBS="$(LDLIBS) -fsanitize=address,undefined" build-asan/test_ferc build-asan/ferc
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp UBSAN_OPTIONS=print_stacktrace=1 \
	    FERC_ASAN=1 FERC_BIN=build-asan/ferc ./build-asan/test_ferc $(T)

deps:
	sh scripts/install-deps.sh

# The README's two commands: the test suite (plain and sanitizer builds, with
# dependency install) and the main job (build, train seed, evaluate).
check:
	sh scripts/check.sh $(T)

run:
	sh scripts/run.sh $(DATA)

clean:
	rm -rf build build-asan
