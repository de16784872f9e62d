/* tests/unit/test-db-codec.c: db/codec round trips, dictionaries, bad input. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/codec.h"
#include "proto/strutil.h"
#include "tests/tap.h"

static size_t make_sample(char *buf, size_t n, int i)
{
    int k = snprintf(buf, n,
                     "{\"job_id\":%d,\"run_id\":%d,\"state\":{\"life_cycle_state\":\"TERMINATED\","
                     "\"result_state\":\"%s\",\"state_message\":\"\"},\"run_name\":\"job-%d\","
                     "\"start_time\":17640000%05d,\"trigger\":\"PERIODIC\",\"run_type\":"
                     "\"JOB_RUN\",\"tasks\":[{\"task_key\":\"ingest\",\"run_id\":%d}]}",
                     i % 50, 100000 + i, i % 7 ? "SUCCESS" : "FAILED", i % 50, i, 200000 + i);
    return (size_t)k;
}

int main(void)
{
    _cleanup_(codec_freep) struct codec *c = NULL;
    is_int(codec_new(3, &c), 0, "codec_new");

    static const struct {
        const char *name;
        const char *text;
        int64_t want_dict;
    } cases[] = {
        { "empty object is kept raw", "{}", CODEC_RAW },
        { "short text is kept raw", "{\"a\":1}", CODEC_RAW },
        { "repetitive text is compressed",
          "{\"tasks\":[{\"state\":\"TERMINATED\"},{\"state\":\"TERMINATED\"},{\"state\":"
          "\"TERMINATED\"},{\"state\":\"TERMINATED\"},{\"state\":\"TERMINATED\"}]}",
          CODEC_PLAIN },
    };
    for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
        const void *data;
        size_t n, len = strlen(cases[i].text);
        int64_t dict;
        is_int(codec_compress(c, cases[i].text, len, &data, &n, &dict), 0, "%s: compress",
               cases[i].name);
        is_int(dict, cases[i].want_dict, "%s: dict", cases[i].name);
        _cleanup_free_ void *copy = malloc(n);
        memcpy(copy, data, n);
        _cleanup_free_ char *out = NULL;
        size_t out_len = 0;
        is_int(codec_decompress(c, dict, copy, n, &out, &out_len), 0, "%s: decompress",
               cases[i].name);
        is_str(out, cases[i].text, "%s: round trip", cases[i].name);
    }

    /* a dictionary trained on samples shrinks a new sample further */
    struct buf samples = BUF_INIT(4 * MIB);
    size_t sizes[500];
    char tmp[1024];
    for (int i = 0; i < 500; i++) {
        sizes[i] = make_sample(tmp, sizeof(tmp), i);
        buf_append(&samples, tmp, sizes[i]);
    }
    _cleanup_free_ void *dict = NULL;
    size_t dict_len = 0;
    is_int(codec_train(samples.data, sizes, 500, 16 * 1024, &dict, &dict_len), 0, "train");
    ok(dict_len > 0 && dict_len <= 16 * 1024, "dictionary of %zu bytes", dict_len);
    is_int(codec_add_dict(c, 7, dict, dict_len), 0, "add dictionary 7");
    is_int(codec_add_dict(c, 7, dict, dict_len), -EEXIST, "adding it twice is -EEXIST");
    is_int(codec_use_dict(c, 8), -ENOKEY, "using an unknown dictionary is -ENOKEY");

    size_t len = make_sample(tmp, sizeof(tmp), 9999);
    const void *data;
    size_t plain_n, dict_n;
    int64_t used;
    codec_compress(c, tmp, len, &data, &plain_n, &used);
    is_int(used, CODEC_PLAIN, "without use_dict: plain zstd");
    is_int(codec_use_dict(c, 7), 0, "use dictionary 7");
    codec_compress(c, tmp, len, &data, &dict_n, &used);
    is_int(used, 7, "with use_dict: dictionary 7");
    ok(dict_n * 2 < plain_n, "dictionary frame %zu bytes < half of plain %zu", dict_n, plain_n);
    _cleanup_free_ void *frame = malloc(dict_n);
    memcpy(frame, data, dict_n);
    _cleanup_free_ char *out = NULL;
    size_t out_len;
    is_int(codec_decompress(c, 7, frame, dict_n, &out, &out_len), 0, "decompress with dict");
    ok(out_len == len && memcmp(out, tmp, len) == 0, "dictionary round trip");

    /* a codec without that dictionary cannot read the row */
    _cleanup_(codec_freep) struct codec *c2 = NULL;
    codec_new(3, &c2);
    char *bad = NULL;
    is_int(codec_decompress(c2, 7, frame, dict_n, &bad, &out_len), -ENOKEY,
           "unknown dictionary is -ENOKEY");
    is_int(codec_decompress(c2, 0, "garbage!", 8, &bad, &out_len), -EBADMSG, "garbage is -EBADMSG");
    is_int(codec_decompress(c2, -5, "x", 1, &bad, &out_len), -EBADMSG, "bad dict id is -EBADMSG");
    ok(!bad, "nothing returned on failure");
    buf_done(&samples);
    return tap_done();
}
