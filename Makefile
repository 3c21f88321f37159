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

# ---- shared library, pkg-config and install (issue 14; h14lib) -------------
# libferc.so is the same sources compiled position-independent into
# $(BUILD)/pic/ (the static objects stay as they are), linked with a soname
# that carries the major version of FERC_VERSION_STRING in include/ferc.h
# (libferc.so.0 -> libferc.so.0.1.0). Its version script is generated from
# the functions include/ferc.h declares (preprocessed, so comments do not
# count): exactly the public API is exported, while internal `ferc_` helpers
# that the static library keeps global stay hidden in the .so.
PREFIX       ?= /usr/local
DESTDIR      ?=
LIBDIR       ?= $(PREFIX)/lib
DATADIR      ?= $(PREFIX)/share/ferc
FERC_VERSION := $(shell sed -n 's/^\#define FERC_VERSION_STRING "\([0-9.]*\)".*/\1/p' include/ferc.h)
FERC_SONAME  := libferc.so.$(firstword $(subst ., ,$(FERC_VERSION)))
PIC_OBJ      := $(LIB_SRC:%.c=$(BUILD)/pic/%.o)

.PHONY: shared install
all: $(BUILD)/libferc.so
shared: $(BUILD)/libferc.so

$(BUILD)/pic/%.o: %.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -c $< -o $@

$(BUILD)/libferc.map: include/ferc.h
	@mkdir -p $(dir $@)
	{ echo '{ global:'; $(CC) -E -P -Iinclude include/ferc.h | grep -oE '\bferc_[a-z0-9_]+ *\(' | \
	  sed 's/ *($$/;/' | sort -u; echo 'local: *; };'; } > $@.tmp && mv $@.tmp $@

$(BUILD)/libferc.so.$(FERC_VERSION): $(PIC_OBJ) $(BUILD)/libferc.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(FERC_SONAME) -Wl,--version-script,$(BUILD)/libferc.map \
	    -Wl,--no-undefined -o $@ $(PIC_OBJ) $(LDLIBS)

$(BUILD)/libferc.so: $(BUILD)/libferc.so.$(FERC_VERSION)
	ln -sf libferc.so.$(FERC_VERSION) $(BUILD)/$(FERC_SONAME)
	ln -sf $(FERC_SONAME) $@

# The installed CLI finds its models with no flags: cli/util.c looks in
# FERC_DATADIR/models after ./models (and in ../share/ferc/models beside the
# executable, so a DESTDIR copy works too). prefix.txt changes only when
# PREFIX does, so util.o is rebuilt exactly then.
$(shell mkdir -p $(BUILD) && { [ "`cat $(BUILD)/prefix.txt 2>/dev/null`" = "$(PREFIX)" ] || echo "$(PREFIX)" > $(BUILD)/prefix.txt; })
$(BUILD)/cli/util.o: CFLAGS += -DFERC_DATADIR='"$(DATADIR)"'
$(BUILD)/cli/util.o: $(BUILD)/prefix.txt

# `make install PREFIX=/usr/local DESTDIR=`: the CLI, the header, both
# libraries, ferc.pc, the shipped models and the man page. The Haar cascade
# is not installed: ferc reads opencv-data's (apt-get install opencv-data).
install: $(BUILD)/ferc $(BUILD)/libferc.a $(BUILD)/libferc.so
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig \
	    $(DESTDIR)$(DATADIR)/models $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/ferc $(DESTDIR)$(PREFIX)/bin/ferc
	install -m 644 include/ferc.h $(DESTDIR)$(PREFIX)/include/ferc.h
	install -m 644 $(BUILD)/libferc.a $(DESTDIR)$(LIBDIR)/libferc.a
	install -m 755 $(BUILD)/libferc.so.$(FERC_VERSION) $(DESTDIR)$(LIBDIR)/libferc.so.$(FERC_VERSION)
	ln -sf libferc.so.$(FERC_VERSION) $(DESTDIR)$(LIBDIR)/$(FERC_SONAME)
	ln -sf $(FERC_SONAME) $(DESTDIR)$(LIBDIR)/libferc.so
	install -m 644 models/*.ferc $(DESTDIR)$(DATADIR)/models/
	install -m 644 docs/ferc.1 $(DESTDIR)$(PREFIX)/share/man/man1/ferc.1
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(LIBDIR)' 'includedir=$${prefix}/include' \
	    'modeldir=$(DATADIR)/models' '' 'Name: ferc' 'Description: facial emotion recognition in C' \
	    'Version: $(FERC_VERSION)' 'Libs: -L$${libdir} -lferc' 'Libs.private: $(LDLIBS)' \
	    'Cflags: -I$${includedir}' > $(DESTDIR)$(LIBDIR)/pkgconfig/ferc.pc

# ---- ferc serve (issue 15; h15) ----------------------------------------------
# The page `ferc serve` shows is web/index.html, compiled into the binary as
# a C string (web/embed.sh: od and sed, so no xxd is needed) and so needs no
# file at run time. libmicrohttpd serves HTTP for the CLI only (libferc does
# not link it); `override` so that an LDLIBS given on the command line (the
# sanitizer build of scripts/check.sh) still gets it.
CLI_OBJ += $(BUILD)/gen/web_index.o
$(BUILD)/ferc: $(BUILD)/gen/web_index.o
$(BUILD)/ferc: override LDLIBS += -lmicrohttpd
$(BUILD)/gen/web_index.c: web/index.html web/embed.sh
	@mkdir -p $(dir $@)
	sh web/embed.sh ferc_web_index web/index.html > $@.tmp && mv $@.tmp $@
$(BUILD)/gen/web_index.o: $(BUILD)/gen/web_index.c
	$(CC) $(CFLAGS) -c $< -o $@

# ---- ONNX export (issue 14; h14onnx) -----------------------------------------
# src/export/ writes .onnx files through protobuf-c (Debian libprotobuf-c-dev).
# `override` so that an LDLIBS given on the command line (the sanitizer build
# of scripts/check.sh) still links it; per target, because a global override
# would make every later plain `LDLIBS +=` silently ignored. The generated
# onnx.pb-c.[ch] are committed; `make onnx-proto` regenerates them from
# src/export/onnx.proto (a copy of python3-onnx's) with protoc-c (Debian
# protobuf-c-compiler).
$(BUILD)/ferc $(BUILD)/test_ferc $(BUILD)/detect_example $(BUILD)/libferc.so.$(FERC_VERSION) install: \
    override LDLIBS += -lprotobuf-c
.PHONY: onnx-proto
onnx-proto:
	cd src/export && protoc-c --c_out=. onnx.proto

# ---- fuzzing (issue 18; h18) -------------------------------------------------
# libFuzzer harnesses, one per input surface (tests/fuzz/fuzz_*.c), built with
# Debian's clang-14 and libFuzzer (clang-14, libfuzzer-14-dev) under ASan +
# UBSan. `make fuzz FUZZ_SECONDS=N` builds them and runs each for N seconds on
# a scratch copy of its seed corpus (tests/fuzz/run.sh) and fails on any
# finding. The whole library is compiled (its folders call each other), but
# without OpenMP: one thread is what a fuzzer wants (libgomp provides the
# omp_* calls). The objects are kept (.SECONDARY) so that a rebuild is quick.
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 10
FUZZ_BUILD   ?= build-fuzz
FUZZ_CFLAGS  := -O1 -g -march=native -fno-omit-frame-pointer -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -Wall -Wno-unknown-pragmas \
                -Iinclude -Isrc $(shell pkg-config --cflags libxml-2.0 cairo 2>/dev/null)
FUZZ_LIBS     = $(filter-out -fopenmp,$(LDLIBS)) -lprotobuf-c -lgomp -lpthread
FUZZ_LIB_SRC := $(LIB_SRC)
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/%.o)
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS    := $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)

$(FUZZ_BUILD)/src/%.o: src/%.c $(wildcard include/*.h src/*/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB_OBJ)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_LIBS)

.SECONDARY: $(FUZZ_LIB_OBJ)
.PHONY: fuzz fuzz-build
fuzz-build: $(FUZZ_BINS)
fuzz: fuzz-build
	sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ)

# ---- MPI, data-parallel training (issue 17; h17) ------------------------------
# Optional: `make MPI=1` builds src/train/dist.c against Open MPI (Debian
# libopenmpi-dev, openmpi-bin) so that `mpirun -np N build/ferc train ...`
# trains data-parallel; `make MPI=0` builds its one-rank stubs. Unset, MPI is
# on when mpicc is found. Only dist.c sees mpi.h; the programs link the MPI
# library (`override`, per target, as the ONNX block does, so that the
# sanitizer build's command-line LDLIBS still gets it; `install` too, for
# ferc.pc's Libs.private). A stamp per setting
# rebuilds dist.o when MPI changes in the same build folder.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
MPI_CFLAGS := -DFERC_MPI $(shell mpicc --showme:compile 2>/dev/null || pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   := $(shell mpicc --showme:link 2>/dev/null || pkg-config --libs ompi-c 2>/dev/null)
endif
$(BUILD)/src/train/dist.o $(BUILD)/pic/src/train/dist.o: CFLAGS += $(MPI_CFLAGS)
$(BUILD)/src/train/dist.o $(BUILD)/pic/src/train/dist.o: $(BUILD)/mpi-$(MPI).stamp
$(BUILD)/mpi-$(MPI).stamp:
	@mkdir -p $(BUILD) && rm -f $(BUILD)/mpi-*.stamp && touch $@
$(BUILD)/ferc $(BUILD)/test_ferc $(BUILD)/detect_example $(BUILD)/libferc.so.$(FERC_VERSION) install: \
    override LDLIBS += $(MPI_LIBS)
