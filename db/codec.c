/* db/codec.c: see codec.h. zstd was chosen over lz4 and zlib because its
 * dictionary mode is what makes 1-3 KB JSON documents compress well: the keys
 * and enum strings of a run repeat in every row but only a little inside one. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY
#define ZDICT_STATIC_LINKING_ONLY
#include <zdict.h>
#include <zstd.h>

#include "db/codec.h"

struct codec_dict {
    int64_t id;
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;
};

struct codec {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level;
    struct codec_dict dicts[CODEC_DICTS_MAX];
    size_t n_dicts;
    int64_t current;
    void *out;
    size_t out_cap;
};

struct codec *codec_free(struct codec *c)
{
    if (!c)
        return NULL;
    for (size_t i = 0; i < c->n_dicts; i++) {
        ZSTD_freeCDict(c->dicts[i].cdict);
        ZSTD_freeDDict(c->dicts[i].ddict);
    }
    ZSTD_freeCCtx(c->cctx);
    ZSTD_freeDCtx(c->dctx);
    free(c->out);
    free(c);
    return NULL;
}

int codec_new(int level, struct codec **ret)
{
    _cleanup_(codec_freep) struct codec *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->level = level;
    c->cctx = ZSTD_createCCtx();
    c->dctx = ZSTD_createDCtx();
    if (!c->cctx || !c->dctx)
        return -ENOMEM;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_compressionLevel, level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_dictIDFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c->cctx, ZSTD_c_contentSizeFlag, 1)) ||
        ZSTD_isError(ZSTD_DCtx_setParameter(c->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless)))
        return -EINVAL;
    *ret = TAKE_PTR(c);
    return 0;
}

static struct codec_dict *codec_find(struct codec *c, int64_t id)
{
    for (size_t i = 0; i < c->n_dicts; i++)
        if (c->dicts[i].id == id)
            return &c->dicts[i];
    return NULL;
}

bool codec_has_dict(struct codec *c, int64_t id)
{
    return codec_find(c, id) != NULL;
}

int codec_add_dict(struct codec *c, int64_t id, const void *data, size_t len)
{
    if (id <= 0 || len == 0 || len > CODEC_DICT_SIZE_MAX)
        return -EINVAL;
    if (codec_find(c, id))
        return -EEXIST;
    if (c->n_dicts >= CODEC_DICTS_MAX)
        return -E2BIG;
    ZSTD_CDict *cd = ZSTD_createCDict(data, len, c->level);
    ZSTD_DDict *dd = ZSTD_createDDict(data, len);
    if (!cd || !dd) {
        ZSTD_freeCDict(cd);
        ZSTD_freeDDict(dd);
        return -ENOMEM;
    }
    c->dicts[c->n_dicts++] = (struct codec_dict){ .id = id, .cdict = cd, .ddict = dd };
    return 0;
}

int codec_use_dict(struct codec *c, int64_t id)
{
    if (id != 0 && !codec_find(c, id))
        return -ENOKEY;
    c->current = id;
    return 0;
}

int64_t codec_current_dict(struct codec *c)
{
    return c->current;
}

int codec_compress(struct codec *c, const void *src, size_t len, const void **ret_data,
                   size_t *ret_len, int64_t *ret_dict)
{
    if (len > CODEC_TEXT_MAX)
        return -EMSGSIZE;
    size_t bound = ZSTD_compressBound(len);
    if (bound > c->out_cap) {
        size_t cap = MAX(bound, (size_t)16 * KIB);
        void *p = realloc(c->out, cap);
        if (!p)
            return -ENOMEM;
        c->out = p;
        c->out_cap = cap;
    }
    struct codec_dict *d = c->current > 0 ? codec_find(c, c->current) : NULL;
    if (ZSTD_isError(ZSTD_CCtx_refCDict(c->cctx, d ? d->cdict : NULL)))
        return -EINVAL;
    size_t n = ZSTD_compress2(c->cctx, c->out, c->out_cap, src, len);
    if (ZSTD_isError(n))
        return -EINVAL;
    if (n >= len) {
        *ret_data = src;
        *ret_len = len;
        *ret_dict = CODEC_RAW;
        return 0;
    }
    *ret_data = c->out;
    *ret_len = n;
    *ret_dict = d ? d->id : CODEC_PLAIN;
    return 0;
}

int codec_decompress(struct codec *c, int64_t dict, const void *src, size_t len, char **ret,
                     size_t *ret_len)
{
    if (dict == CODEC_RAW) {
        if (len > CODEC_TEXT_MAX)
            return -EMSGSIZE;
        char *p = malloc(len + 1);
        if (!p)
            return -ENOMEM;
        if (len)
            memcpy(p, src, len);
        p[len] = 0;
        *ret = p;
        *ret_len = len;
        return 0;
    }
    if (dict < 0)
        return -EBADMSG;
    struct codec_dict *d = NULL;
    if (dict > 0) {
        d = codec_find(c, dict);
        if (!d)
            return -ENOKEY;
    }
    ZSTD_frameHeader zfh;
    if (ZSTD_getFrameHeader_advanced(&zfh, src, len, ZSTD_f_zstd1_magicless) != 0)
        return -EBADMSG;
    if (zfh.frameContentSize == ZSTD_CONTENTSIZE_UNKNOWN ||
        zfh.frameContentSize == ZSTD_CONTENTSIZE_ERROR || zfh.frameContentSize > CODEC_TEXT_MAX)
        return -EBADMSG;
    size_t size = (size_t)zfh.frameContentSize;
    _cleanup_free_ char *p = malloc(size + 1);
    if (!p)
        return -ENOMEM;
    if (ZSTD_isError(ZSTD_DCtx_refDDict(c->dctx, d ? d->ddict : NULL)))
        return -EINVAL;
    size_t n = ZSTD_decompressDCtx(c->dctx, p, size, src, len);
    if (ZSTD_isError(n) || n != size) {
        ZSTD_DCtx_reset(c->dctx, ZSTD_reset_session_only);
        return -EBADMSG;
    }
    p[size] = 0;
    *ret = TAKE_PTR(p);
    *ret_len = size;
    return 0;
}

int codec_train(const void *samples, const size_t *sizes, size_t n, size_t dict_cap, void **ret,
                size_t *ret_len)
{
    if (n < 8 || n > UINT32_MAX || dict_cap < 1024 || dict_cap > CODEC_DICT_SIZE_MAX)
        return -EINVAL;
    _cleanup_free_ void *dict = malloc(dict_cap);
    if (!dict)
        return -ENOMEM;
    /* fastCover with fixed k/d: tens of milliseconds for a few MB of
     * samples, where the optimizing trainer takes seconds. */
    ZDICT_fastCover_params_t p = {
        .k = 200,
        .d = 8,
        .f = 20,
        .steps = 0,
        .accel = 2,
        .zParams = { .compressionLevel = 3 },
    };
    size_t r = ZDICT_trainFromBuffer_fastCover(dict, dict_cap, samples, sizes, (unsigned)n, p);
    if (ZDICT_isError(r))
        return -EINVAL;
    *ret = TAKE_PTR(dict);
    *ret_len = r;
    return 0;
}
