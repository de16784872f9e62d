/* Unit tests for proto/json: ids above 2^53 survive parse and print,
 * typed access names the wrong field, and hundreds of malformed inputs each
 * give an error (the sanitizer pass proves no crash and no leak). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json.h"
#include "proto/strutil.h"
#include "tests/tap.h"

static const char run_json[] =
    "{\"job_id\":281474976710657,\"run_id\":9007199254740993,\"number_in_job\":9007199254740993,"
    "\"run_name\":\"nightly \\u00e9t\\u00e9 \\\"quoted\\\"\",\"state\":{\"life_cycle_state\":"
    "\"TERMINATED\",\"result_state\":\"SUCCESS\",\"state_message\":\"\",\"user_cancelled_or_"
    "timedout\":false},\"status\":{\"state\":\"TERMINATED\",\"termination_details\":{\"code\":"
    "\"SUCCESS\",\"type\":\"SUCCESS\",\"message\":\"\"}},\"start_time\":1764417600000,"
    "\"end_time\":1764417660000,\"tasks\":[{\"task_key\":\"a\",\"run_id\":9223372036854775807,"
    "\"depends_on\":[],\"notebook_task\":{\"notebook_path\":\"/Repos/x/y\",\"base_parameters\":"
    "{\"k\":\"v\"}}}],\"run_page_url\":\"https://example/#job/1/run/2\",\"ratio\":0.5}";

static int parse(const char *s, size_t len, struct json_object **o, struct json_error *err)
{
    return json_parse(s, len, JSON_SIZE_MAX, JSON_DEPTH_MAX, o, err);
}

static void test_ids(void)
{
    _cleanup_json_ struct json_object *o = NULL;
    struct json_error err = { { 0 } };
    int64_t id = 0;

    is_int(parse(run_json, strlen(run_json), &o, &err), 0, "a realistic run parses");
    is_int(json_get_id(o, "run_id", JSON_REQUIRED, &id, &err), 1, "run_id present");
    is_int(id, 9007199254740993LL, "run_id 2^53+1 exact");
    is_int(json_get_id(o, "job_id", JSON_REQUIRED, &id, &err), 1, "job_id present");
    is_int(id, 281474976710657LL, "job_id 2^48+1 exact");

    struct json_object *tasks = NULL, *t0;
    is_int(json_get_array(o, "tasks", JSON_REQUIRED, &tasks, &err), 1, "tasks array");
    t0 = json_object_array_get_idx(tasks, 0);
    is_int(json_get_id(t0, "run_id", JSON_REQUIRED, &id, &err), 1, "task run_id");
    is_int(id, INT64_MAX, "INT64_MAX exact");

    /* Print and parse again: the same ids, as text. */
    size_t len = 0;
    const char *text = json_dump(o, &len);
    ok(strstr(text, "\"run_id\":9007199254740993") != NULL, "printed id is exact: %s", "2^53+1");
    ok(strstr(text, "9223372036854775807") != NULL, "printed INT64_MAX is exact");
    ok(strstr(text, "https://example/#job/1/run/2") != NULL, "slashes are not escaped");
    _cleanup_json_ struct json_object *again = NULL;
    is_int(parse(text, len, &again, &err), 0, "printed text parses again");
    ok(json_object_equal(o, again), "round trip keeps every value");

    /* Beyond int64: a range error, never a silent clamp. */
    static const char *const out_of_range[] = {
        "{\"run_id\":9223372036854775808}",
        "{\"run_id\":18446744073709551615}",
        "{\"run_id\":-9223372036854775809}",
    };
    for (size_t i = 0; i < ELEMENTSOF(out_of_range); i++) {
        _cleanup_json_ struct json_object *x = NULL;
        int r = parse(out_of_range[i], strlen(out_of_range[i]), &x, &err);
        if (r < 0) {
            ok(true, "%s: refused at parse", out_of_range[i]);
            continue;
        }
        r = json_get_int64(x, "run_id", JSON_REQUIRED, &id, &err);
        is_int(r, -EINVAL, "%s: out of range", out_of_range[i]);
    }
    _cleanup_json_ struct json_object *neg = NULL;
    parse("{\"a\":-9223372036854775808}", 26, &neg, &err);
    is_int(json_get_int64(neg, "a", 0, &id, &err), 1, "INT64_MIN is in range");
    is_int(id, INT64_MIN, "INT64_MIN exact");
}

static void test_fields(void)
{
    static const char doc[] = "{\"i\":5,\"f\":1.0,\"e\":1e3,\"s\":\"7\",\"b\":true,\"n\":null,"
                              "\"o\":{},\"a\":[],\"z\":0,\"m\":-3}";
    _cleanup_json_ struct json_object *o = NULL;
    struct json_error err = { { 0 } };
    int64_t i = 0;
    bool b = false;
    const char *s = NULL;
    struct json_object *sub = NULL;

    is_int(parse(doc, strlen(doc), &o, &err), 0, "fields doc parses");
    is_int(json_get_int64(o, "i", JSON_REQUIRED, &i, &err), 1, "int present");
    is_int(i, 5, "int value");
    is_int(json_get_int64(o, "f", 0, &i, &err), -EINVAL, "1.0 is not an integer");
    ok(strstr(err.message, "'f'") != NULL, "error names the field: %s", err.message);
    is_int(json_get_int64(o, "e", 0, &i, &err), -EINVAL, "1e3 is not an integer");
    is_int(json_get_int64(o, "s", 0, &i, &err), -EINVAL, "\"7\" is not an integer");
    ok(strstr(err.message, "expected an integer, got a string") != NULL, "says what: %s",
       err.message);
    is_int(json_get_int64(o, "missing", 0, &i, &err), 0, "absent optional is 0");
    is_int(i, 5, "ret untouched when absent");
    is_int(json_get_int64(o, "missing", JSON_REQUIRED, &i, &err), -EINVAL, "absent required");
    is_str(err.message, "Missing required field: missing", "missing message");
    is_int(json_get_int64(o, "n", 0, &i, &err), -EINVAL, "null is a wrong type by default");
    is_int(json_get_int64(o, "n", JSON_NULLABLE, &i, &err), 0, "null is absent if nullable");
    is_int(json_get_id(o, "z", 0, &i, &err), -EINVAL, "id 0 is invalid");
    is_int(json_get_id(o, "m", 0, &i, &err), -EINVAL, "negative id is invalid");
    is_int(json_get_bool(o, "b", 0, &b, &err), 1, "bool present");
    ok(b, "bool value");
    is_int(json_get_bool(o, "i", 0, &b, &err), -EINVAL, "int is not a bool");
    is_int(json_get_string(o, "s", 0, &s, &err), 1, "string present");
    is_str(s, "7", "string value");
    is_int(json_get_string(o, "i", 0, &s, &err), -EINVAL, "int is not a string");
    is_int(json_get_object(o, "o", 0, &sub, &err), 1, "object present");
    is_int(json_get_object(o, "a", 0, &sub, &err), -EINVAL, "array is not an object");
    is_int(json_get_array(o, "a", 0, &sub, &err), 1, "array present");
    is_int(json_get_array(o, "o", 0, &sub, &err), -EINVAL, "object is not an array");

    struct json_object *arr = NULL;
    json_get_array(o, "a", 0, &arr, &err);
    is_int(json_get_int64(arr, "x", 0, &i, &err), -EINVAL, "field access on a non-object");

    _cleanup_json_ struct json_object *built = json_object_new_object();
    is_int(json_add_int64(built, "run_id", INT64_MAX), 0, "add int64");
    is_int(json_add_string(built, "s", "a/b\"c"), 0, "add string");
    is_int(json_add_bool(built, "b", false), 0, "add bool");
    is_int(json_add_stringn(built, "n", "abcdef", 3), 0, "add string with length");
    is_int(json_add(built, "x", NULL), -ENOMEM, "adding NULL is -ENOMEM");
    is_str(json_dump(built, NULL),
           "{\"run_id\":9223372036854775807,\"s\":\"a/b\\\"c\",\"b\":false,\"n\":\"abc\"}",
           "built object prints compactly");
}

static void test_bounds(void)
{
    struct json_error err = { { 0 } };
    struct json_object *o = NULL;
    char deep[512];
    size_t n = 0;

    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    is_int(json_parse(deep, n, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, &err), -ELOOP,
           "100 levels deep is refused at depth 64");
    is_int(json_parse(deep + 40, 120, JSON_SIZE_MAX, JSON_DEPTH_MAX, &o, &err), 0,
           "60 levels deep is fine");
    json_object_put(o);
    o = NULL;
    is_int(json_parse(deep + 40, 120, JSON_SIZE_MAX, 10, &o, &err), -ELOOP,
           "60 levels refused at depth 10");
    is_int(json_parse("{\"a\":1}", 7, 6, JSON_DEPTH_MAX, &o, &err), -EMSGSIZE,
           "7 bytes refused at a 6-byte limit");
    is_int(json_parse("{\"a\":1}", 7, 7, JSON_DEPTH_MAX, &o, &err), 0, "7 bytes fit in 7");
    json_object_put(o);
    o = NULL;
    is_int(json_parse_object("[1]", 3, 100, 10, &o, &err), -EBADMSG, "an array is not an object");
    is_int(json_parse_object(" {} \n", 5, 100, 10, &o, &err), 0, "whitespace around is fine");
    json_object_put(o);
    o = NULL;
    is_int(json_parse("42", 2, 100, 10, &o, &err), 0, "a bare number at the end parses");
    is_int(json_object_get_int64(o), 42, "... to 42");
    json_object_put(o);
}

/* Inputs that must fail. Each is a C string; embedded NULs use the sized
 * table below. */
static const char *const malformed[] = {
    "",
    " ",
    "\n\t ",
    "{",
    "}",
    "[",
    "]",
    "{]",
    "[}",
    "{\"a\"}",
    "{\"a\":}",
    "{\"a\" 1}",
    "{\"a\":1,}",
    "[1,]",
    "[,1]",
    "[1 2]",
    "{\"a\":1 \"b\":2}",
    "{a:1}",
    "{'a':1}",
    "['a']",
    "{\"a\":'b'}",
    "{\"a\":1}}",
    "{\"a\":1}x",
    "{\"a\":1} {\"b\":2}",
    "[1][2]",
    "nul",
    "nulll",
    "tru",
    "True",
    "FALSE",
    "NaN",
    "Infinity",
    "-Infinity",
    "[NaN]",
    "[Infinity]",
    "undefined",
    "+1",
    "01",
    "-",
    "--1",
    "1.",
    ".5",
    "1e",
    "1e+",
    "0x10",
    "1_000",
    "\"abc",
    "\"abc\\\"",
    "\"\\x41\"",
    "\"\\u12\"",
    "\"\\u12G4\"",
    "\"\\uZZZZ\"",
    "\"\\q\"",
    "\"tab\there\"",
    "\"new\nline\"",
    "\"\x01\"",
    "\"\x1f\"",
    "{\"a\":\"\\ud800\\u\"}",
    "/* c */ {}",
    "{} // c",
    "# c\n{}",
    "{\"a\":[1,2,3}",
    "{\"a\":{\"b\":[}}",
    "[[[[[]]]]",
    "[[[[]]]]]",
    "{\"a\":1,\"b\":}",
    "{,\"a\":1}",
    "{:1}",
    "{\"a\"::1}",
    "{\"a\":1:2}",
    "[1,,2]",
    "\xff",
    "\"\xff\"",
    "\"\xc3\"",
    "\"\xc3\x28\"",
    "\"\xe2\x82\"",
    "\"\xe2\x28\xa1\"",
    "\"\xf0\x90\x28\xbc\"",
    "\"\xf8\x88\x80\x80\x80\"",
    "\"\xc0\xaf\"",
    "\"\xed\xa0\x80\"",
    "{\"\xff\":1}",
    "\xef\xbb\xbf{}",
    "{\"run_id\":1,\"state\":{\"life_cycle_state\":\"RUNNING\"",
    "{\"tasks\":[{\"task_key\":\"a\"},{\"task_key\":\"b\"]}",
    "{\"job_id\": 12 34}",
    "{\"job_id\": 1.2.3}",
    "{\"job_id\": 1e5e5}",
    "{\"job_id\": -}",
    "{\"a\":tru}",
    "{\"a\":nul}",
    "{\"a\":f}",
    "{\"a\":\"b\"",
    "{\"a\":\"b",
    "{\"a",
    "{\"",
    "<html><body>502 Bad Gateway</body></html>",
    "INVALID_PARAMETER_VALUE: bad",
    "Error 403 Invalid access token.",
    "{}{}",
    "[]]",
    "\"\"\"",
    "[\"a\" \"b\"]",
    "{\"a\":[1,2],}",
    "{\"a\":{},}",
    "[{},]",
    "[-]",
    "[1e]",
    "[.]",
    "[\"\\\"]",
    "{\"a\\\":1}",
};

static void test_malformed(void)
{
    unsigned count = 0;
    for (size_t i = 0; i < ELEMENTSOF(malformed); i++) {
        struct json_object *o = NULL;
        struct json_error err = { { 0 } };
        int r = parse(malformed[i], strlen(malformed[i]), &o, &err);
        ok(r == -EBADMSG || r == -ELOOP, "malformed #%zu refused (%d: %s)", i, r, err.message);
        ok(o == NULL && err.message[0], "malformed #%zu: no object, an error message", i);
        json_object_put(o);
        count++;
    }

    /* Sized inputs with NUL bytes. */
    static const struct {
        const char *s;
        size_t n;
    } sized[] = {
        { "{}\0", 3 }, { "\0{}", 3 }, { "{\"a\":\"b\0c\"}", 11 }, { "[1,\0 2]", 7 }, { "\0", 1 },
    };
    for (size_t i = 0; i < ELEMENTSOF(sized); i++) {
        struct json_object *o = NULL;
        struct json_error err = { { 0 } };
        int r = parse(sized[i].s, sized[i].n, &o, &err);
        is_int(r, -EBADMSG, "NUL input #%zu refused: %s", i, err.message);
        count++;
    }

    /* Every proper prefix of a realistic run is malformed. */
    size_t len = strlen(run_json);
    unsigned prefixes_ok = 0, prefixes = 0;
    for (size_t cut = 0; cut < len; cut++) {
        struct json_object *o = NULL;
        int r = parse(run_json, cut, &o, NULL);
        prefixes++;
        if (r < 0 && !o)
            prefixes_ok++;
        else
            tap_diag("prefix of %zu bytes parsed", cut);
        json_object_put(o);
    }
    is_int(prefixes_ok, prefixes, "all %u proper prefixes of a run are refused", prefixes);
    count += prefixes;

    /* Single-byte corruptions at structural positions. */
    unsigned flips = 0, flips_refused = 0;
    bool in_string = false;
    for (size_t pos = 0; pos < len; pos++) {
        char c = run_json[pos];
        bool was_in_string = in_string;
        if (c == '"' && run_json[pos - 1] != '\\')
            in_string = !in_string;
        if (was_in_string && c != '"')
            continue;
        if (c != '{' && c != '}' && c != '[' && c != ']' && c != ':' && c != ',' && c != '"')
            continue;
        char *copy = strdup(run_json);
        copy[pos] = c == '"' ? '\'' : (c == ':' ? ',' : (c == ',' ? ':' : '#'));
        struct json_object *o = NULL;
        flips++;
        if (parse(copy, len, &o, NULL) < 0 && !o)
            flips_refused++;
        else
            tap_diag("corruption at %zu parsed: %.40s", pos, copy + (pos > 10 ? pos - 10 : 0));
        json_object_put(o);
        free(copy);
    }
    is_int(flips_refused, flips, "all %u structural corruptions are refused", flips);
    count += flips;

    ok(count >= 200, "%u malformed inputs tried (at least 200)", count);
}

int main(void)
{
    test_ids();
    test_fields();
    test_bounds();
    test_malformed();
    return tap_done();
}
