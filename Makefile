# sioc build. Sources are found by folder, so adding a module needs no edit here:
#   src/{base,net,http,ws,eio,sio,cluster}/*.c  -> build/libsioc.a   (the library)
#   src/yjs/*.c                                 -> build/libsiocyjs.a (pure Yjs codec)
#   examples/NAME.c, tools/NAME.c               -> build/NAME
#   tests/unit/LAYER/test_NAME.c                -> build/tests/test_NAME (Criterion)
#   fuzz/fuzz_NAME.c                            -> build/fuzz/fuzz_NAME (clang libFuzzer)
#   bench/NAME.c                                -> build/bench/NAME
# `make BUILD=build-asan SAN=1` builds the same tree under ASan+UBSan.

BUILD   ?= build
CC      ?= cc
SAN     ?=
LLHTTP_DIR ?= /usr/share/llhttp
LLHTTP_INC ?= /usr/share/include/llhttp

WARN    := -Wall -Wextra -Werror
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -fno-strict-aliasing -Iinclude -Isrc -I$(LLHTTP_INC) -MMD -MP
LDLIBS  := -luv -lhiredis -lcrypto -lz -lm -lpthread
# src/app and src/store (and the tests and fuzzers that include them) also need these.
APP_LIBS := -lsqlite3 -lpq -lcjson -lcrypt -lcurl
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DSIOC_ASAN=1
LDFLAGS += -fsanitize=address,undefined
endif

LIB_DIRS  := base net http ws eio sio cluster
LIB_SRC   := $(foreach d,$(LIB_DIRS),$(wildcard src/$(d)/*.c))
YJS_SRC   := $(wildcard src/yjs/*.c)
LLHTTP_SRC := $(LLHTTP_DIR)/llhttp.c $(LLHTTP_DIR)/api.c $(LLHTTP_DIR)/http.c
APP_SRC   := $(wildcard src/app/*.c src/store/*.c)
EXAMPLES  := $(patsubst examples/%.c,$(BUILD)/%,$(wildcard examples/*.c))
TOOLS     := $(patsubst tools/%.c,$(BUILD)/%,$(wildcard tools/*.c))
UNIT_SRC  := $(wildcard tests/unit/*/test_*.c)
UNITS     := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRC)))
BENCH_SRC := $(wildcard bench/*.c)
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_SRC  := $(wildcard fuzz/fuzz_*.c)
FUZZERS   := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
SIOC_BIN  := $(if $(wildcard src/main.c),$(BUILD)/sioc,)

LIB_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRC))
YJS_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(YJS_SRC))
LLHTTP_OBJ := $(patsubst $(LLHTTP_DIR)/%.c,$(BUILD)/obj/llhttp/%.o,$(LLHTTP_SRC))
APP_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(APP_SRC))

.SECONDARY:
.PHONY: all deps fuzzers run test asan fuzz bench clean unit web
all: $(BUILD)/libsioc.a $(BUILD)/libsiocyjs.a $(EXAMPLES) $(TOOLS) $(SIOC_BIN) $(UNITS) $(BENCHES)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) -c $< -o $@

# llhttp is Debian's generated parser (package node-llhttp); its code is not ours, so
# it gets relaxed warnings.
$(BUILD)/obj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -w -c $< -o $@

$(BUILD)/libsioc.a: $(LIB_OBJ) $(LLHTTP_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libsiocyjs.a: $(YJS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/%: examples/%.c $(BUILD)/libsioc.a
	$(CC) $(CFLAGS) $(WARN) $< -o $@ $(LDFLAGS) $(BUILD)/libsioc.a $(LDLIBS)

$(BUILD)/%: tools/%.c $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a
	$(CC) $(CFLAGS) $(WARN) $< -o $@ $(LDFLAGS) $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a $(LDLIBS)

$(BUILD)/sioc: src/main.c $(APP_OBJ) $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a
	$(CC) $(CFLAGS) $(WARN) $< $(APP_OBJ) -o $@ $(LDFLAGS) $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a $(LDLIBS) $(APP_LIBS)

$(BUILD)/bench/%: bench/%.c $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $< -o $@ $(LDFLAGS) $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a $(LDLIBS)

define unit_rule
$(BUILD)/tests/$(basename $(notdir $(1))): $(1) $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a
	@mkdir -p $(BUILD)/tests
	$(CC) $(CFLAGS) $(WARN) $(1) -o $$@ $(LDFLAGS) $(BUILD)/libsiocyjs.a $(BUILD)/libsioc.a -lcriterion $(LDLIBS) $(APP_LIBS)
endef
$(foreach t,$(UNIT_SRC),$(eval $(call unit_rule,$(t))))

# Fuzzers: clang's libFuzzer with ASan+UBSan, over the library built again with clang.
FUZZ_CC     := clang
FUZZ_CFLAGS := -g -O1 -std=gnu11 -Iinclude -Isrc -I$(LLHTTP_INC) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined -DSIOC_ASAN=1 -DSIOC_FUZZ=1
FUZZ_OBJ    := $(patsubst %.c,$(BUILD)/fuzzobj/%.o,$(LIB_SRC) $(YJS_SRC)) $(patsubst $(LLHTTP_DIR)/%.c,$(BUILD)/fuzzobj/llhttp/%.o,$(LLHTTP_SRC))
$(BUILD)/fuzzobj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) -c $< -o $@
$(BUILD)/fuzzobj/llhttp/%.o: $(LLHTTP_DIR)/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -w -c $< -o $@
# An archive, so a fuzzer links only the objects it uses.
$(BUILD)/fuzz/libfuzzsioc.a: $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	@rm -f $@
	ar rcs $@ $^
$(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/fuzz/libfuzzsioc.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(WARN) -fsanitize=fuzzer $< $(BUILD)/fuzz/libfuzzsioc.a -o $@ $(LDLIBS) $(APP_LIBS)
fuzzers: $(FUZZERS)

deps:
	@scripts/deps.sh

# The web client (web/, Svelte + Vite) into web/dist, which `make run` serves at /.
web/dist/index.html: $(shell find web/src web/index.html web/vite.config.js web/package.json 2>/dev/null)
	cd web && npm run build

web: deps web/dist/index.html

run: deps all web
	exec $(BUILD)/sioc --port 8080 --web-root web/dist

unit: all
	tests/run unit

test: deps
	$(MAKE) -j$$(nproc) all fuzzers
	tests/run all

asan: deps
	$(MAKE) BUILD=build-asan SAN=1 all
	SIOC_BUILD=build-asan tests/run unit integration

fuzz: deps fuzzers
	FUZZ_SECONDS=$${FUZZ_SECONDS:-300} tests/run fuzz

bench: deps all
	bench/run
	bench/yjs/run

clean:
	rm -rf build build-asan

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
