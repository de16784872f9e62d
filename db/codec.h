/* db/codec.h: compression of the archived JSON: zstd frames (magic-less, no
 * checksum, no dictionary id: the row says which dictionary) with optional
 * dictionaries trained on run JSON. struct codec owns its zstd contexts, the
 * loaded dictionaries and one output buffer; codec_free() frees them all. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/cleanup.h"
#include "proto/macro.h"

/* Values of the `dict` column. */
#define CODEC_RAW ((int64_t)-1)  /* stored as is */
#define CODEC_PLAIN ((int64_t)0) /* zstd, no dictionary */

#define CODEC_DICTS_MAX 16
#define CODEC_DICT_SIZE_MAX (256 * KIB)
/* Largest text compressed or given back. */
#define CODEC_TEXT_MAX (64 * MIB)

struct codec;

int codec_new(int level, struct codec **ret);
struct codec *codec_free(struct codec *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct codec *, codec_free)

/* Loads dictionary id (> 0). -EEXIST if loaded, -E2BIG past CODEC_DICTS_MAX. */
int codec_add_dict(struct codec *c, int64_t id, const void *data, size_t len);
bool codec_has_dict(struct codec *c, int64_t id) _pure_;
/* New frames use dictionary id (which must be loaded), or none for 0. */
int codec_use_dict(struct codec *c, int64_t id);
int64_t codec_current_dict(struct codec *c) _pure_;

/* Compresses src. *ret_data points into the codec and stays valid until the
 * next codec_compress(). A text that does not shrink is kept raw. */
int codec_compress(struct codec *c, const void *src, size_t len, const void **ret_data,
                   size_t *ret_len, int64_t *ret_dict);
/* Decompresses a stored body into a new NUL-terminated allocation.
 * -ENOKEY if the dictionary is not loaded, -EBADMSG if the data is bad. */
int codec_decompress(struct codec *c, int64_t dict, const void *src, size_t len, char **ret,
                     size_t *ret_len);

/* Trains a dictionary of at most dict_cap bytes from n samples laid end to end
 * in samples with their sizes. Returns a new allocation. */
int codec_train(const void *samples, const size_t *sizes, size_t n, size_t dict_cap, void **ret,
                size_t *ret_len);
