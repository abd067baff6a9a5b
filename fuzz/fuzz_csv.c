/*
 * fuzz_csv.c — libFuzzer harness for the CSV reader (body and option
 * bits in fuzz_reader.h).
 */
#define FMT TIDE_FMT_CSV
#define NAME "fuzz.csv"
#include "fuzz_reader.h"
