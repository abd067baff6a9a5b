/*
 * fuzz_vw.c — libFuzzer harness for the VW reader (body and option
 * bits in fuzz_reader.h), including its fused path (FUZZ_FUSED: the same
 * vectors as reader + featurizer).
 */
#define FMT TIDE_FMT_VW
#define FUZZ_FUSED 1
#define NAME "fuzz.vw"
#include "fuzz_reader.h"
