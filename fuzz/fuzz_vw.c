/*
 * fuzz_vw.c — libFuzzer harness for the VW reader (body and option
 * bits in fuzz_reader.h).
 */
#define FMT TIDE_FMT_VW
#define NAME "fuzz.vw"
#include "fuzz_reader.h"
