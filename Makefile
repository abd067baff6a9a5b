# tide — build with `make`, test with `make test` (see README.md).
#   make                 build/tide and build/libtide.a (release, -O2)
#   make SAN=1           build-san/: AddressSanitizer + UndefinedBehaviorSanitizer
#   make test [SAN=1]    unit tests (cmocka) + CLI tests; closes with "N passed, N failed"
#   make fuzz            libFuzzer harnesses (clang), each run for FUZZ_SECONDS
#   make bench           benchmark programs under build/bench/

CC ?= cc
ifeq ($(CC),cc)
CC = gcc
endif
SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
OPT = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
else
BUILD ?= build
OPT = -O2 -g
endif

WARN = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter -Wno-format-truncation
# -ffp-contract=off: no FMA contraction (-std=c17 implies it; stated so that
# a CFLAGS or compiler default cannot change results: the learners promise
# the same bits from their AVX2 and default builds)
CFLAGS_ALL = -std=c17 -D_GNU_SOURCE $(OPT) $(WARN) -ffp-contract=off -Iinclude -Isrc -MMD -MP $(CFLAGS)
LIBS = -lxxhash -lz -ljansson -lsqlite3 -lmicrohttpd -lsodium -lsimdjson -lstdc++ -lpthread -lm
LDFLAGS_ALL = $(OPT) $(LDFLAGS)

LIB_SRC := $(sort $(wildcard src/*/*.c))
LIB_SRC := $(filter-out src/cli/%,$(LIB_SRC))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# C++17 units (src/serve/fastjson.cpp: simdjson): C ABI, no exceptions across it
LIB_CXX := $(sort $(wildcard src/*/*.cpp))
LIB_OBJ += $(LIB_CXX:%.cpp=$(BUILD)/obj/%.o)
CXXFLAGS_ALL = -std=c++17 -D_GNU_SOURCE $(OPT) $(if $(filter 1,$(SAN)),,-O3) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Iinclude -Isrc -MMD -MP $(CXXFLAGS)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_SRC := $(sort $(wildcard bench/*.c))
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)

all: $(BUILD)/tide

# the hot paths (hashing, learners, readers, metrics) are built with -O3;
# -fno-math-errno lets sqrt become one instruction (and vectorise): tide
# never reads errno after math functions, and results are unchanged
ifeq ($(SAN),1)
HOT_OPT =
else
HOT_OPT = -O3 -fno-math-errno
endif
HOT_OBJ = $(filter $(BUILD)/obj/src/learn/% $(BUILD)/obj/src/feat/% $(BUILD)/obj/src/io/% $(BUILD)/obj/src/eval/%,$(LIB_OBJ))
$(HOT_OBJ): CFLAGS_ALL += $(HOT_OPT)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	g++ $(CXXFLAGS_ALL) -c $< -o $@

$(BUILD)/libtide.a: $(LIB_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/tide: $(CLI_OBJ) $(BUILD)/libtide.a
	$(CC) $(LDFLAGS_ALL) -o $@ $(CLI_OBJ) $(BUILD)/libtide.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libtide.a tests/unit/testutil.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(BUILD)/libtide.a $(LIBS) -lcmocka

$(BUILD)/bench/%: bench/%.c $(BUILD)/libtide.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -O3 -march=native -o $@ $< $(BUILD)/libtide.a $(LIBS)

tests: $(TEST_BIN) $(BUILD)/tide

test: tests
	@BUILD=$(BUILD) bash tests/run.sh

bench: $(BENCH_BIN) $(BUILD)/tide

FUZZ_SECONDS ?= 60
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
build-fuzz/cxx/%.o: %.cpp
	@mkdir -p $(dir $@)
	clang++ -std=c++17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -Iinclude -Isrc -c $< -o $@
build-fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) $(LIB_SRC) $(LIB_CXX:%.cpp=build-fuzz/cxx/%.o)
	@mkdir -p build-fuzz
	clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude -Isrc \
	  -o $@ $< $(LIB_SRC) $(LIB_CXX:%.cpp=build-fuzz/cxx/%.o) $(LIBS)
fuzz: $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build-fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=1024 \
	    -artifact_prefix=build-fuzz/$$n- build-fuzz/corpus-$$n fuzz/corpus/$$n || exit 1; done

clean:
	rm -rf build build-san build-fuzz

.PHONY: all tests test bench fuzz clean
-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
