/*
 * fuzz_jsonl.c — libFuzzer harness for the JSON Lines reader (body and option
 * bits in fuzz_reader.h).
 */
#define FMT TIDE_FMT_JSONL
#define NAME "fuzz.jsonl"
#include "fuzz_reader.h"
