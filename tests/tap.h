/* tests/tap.h: a small TAP producer for unit tests, read by automake's
 * tap-driver. Every assertion prints both values when it fails. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "proto/macro.h"

bool tap_ok_at(bool cond, const char *file, int line, const char *fmt, ...) _printf_(4, 5);
bool tap_is_int_at(int64_t got, int64_t expected, const char *file, int line, const char *fmt, ...)
    _printf_(5, 6);
bool tap_is_str_at(const char *got, const char *expected, const char *file, int line,
                   const char *fmt, ...) _printf_(5, 6);
void tap_diag(const char *fmt, ...) _printf_(1, 2);
void tap_skip(const char *fmt, ...) _printf_(1, 2);
/* Prints the plan and returns the exit status: 0 when every test passed. */
int tap_done(void);
_noreturn_ void tap_skip_all(const char *reason);

#define ok(cond, ...) tap_ok_at(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, expected, ...) tap_is_int_at((got), (expected), __FILE__, __LINE__, __VA_ARGS__)
#define is_str(got, expected, ...) tap_is_str_at((got), (expected), __FILE__, __LINE__, __VA_ARGS__)
