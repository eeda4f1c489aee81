/* Pre-decode checks of image files: JPEG Huffman table counts and image dimensions. */
#include "io/imagecheck.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/status.h"

#include <stb_image.h>

/* Walks the JPEG markers; 0 when every DHT segment is consistent. */
static int jpeg_dht_bad(const uint8_t *b, size_t n)
{
    size_t i = 1;
    while (i < n && b[i] == 0xFF)
        i++;
    if (i >= n || b[i] != 0xD8)
        return 0; /* not a JPEG after all */
    i++;
    while (i + 4 <= n) {
        if (b[i] != 0xFF) {
            i++; /* entropy-coded data between markers */
            continue;
        }
        uint8_t m = b[i + 1];
        if (m == 0xFF) {
            i++; /* fill byte */
            continue;
        }
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {
            i += 2; /* stuffed byte, TEM, restart markers, SOI: no length */
            continue;
        }
        if (m == 0xD9)
            return 0;
        size_t len = ((size_t)b[i + 2] << 8) | b[i + 3];
        if (len < 2)
            return 0; /* stb rejects it itself */
        if (m == 0xC4) {
            /* stb builds each table as soon as its counts are read, before it
             * notices a segment or file that ends early: check what is there */
            size_t p = i + 4, end = i + 2 + len, avail = end < n ? end : n;
            while (p < end) {
                if (p + 17 > end)
                    return 1; /* counts cut by the segment's own length */
                /* counts cut by the end of the file: stb reads zeros for the rest */
                size_t sum = 0;
                for (int k = 0; k < 16; k++)
                    sum += p + 1 + k < avail ? b[p + 1 + k] : 0;
                if (sum > 256 || p + 17 + sum > end)
                    return 1;
                if (p + 17 > avail)
                    break;
                p += 17 + sum;
            }
        }
        if (i + 2 + len > n)
            return 0; /* truncated: stb reports that itself */
        i += 2 + len;
        if (m == 0xDA) {
            /* scan data follows until the next marker that is not stuffing or a restart */
            while (i + 1 < n && !(b[i] == 0xFF && b[i + 1] != 0x00 && !(b[i + 1] >= 0xD0 && b[i + 1] <= 0xD7)))
                i++;
        }
    }
    return 0;
}

/* Walks the PNG chunks after the signature; fails when a chunk claims more
 * bytes than the file holds: stb grows its IDAT buffer to a claimed length
 * (doubling, up to 2 GiB) before it reads a byte of it. */
static int png_chunks_bad(FILE *f, long size, const char *path)
{
    long off = 8;
    while (off + 8 <= size) {
        uint8_t h[8];
        if (fseek(f, off, SEEK_SET) != 0 || fread(h, 1, 8, f) != 8)
            return cn_fail(CN_ERR_IO, "%s: cannot read the PNG chunk at byte %ld", path, off);
        uint32_t len = ((uint32_t)h[0] << 24) | ((uint32_t)h[1] << 16) | ((uint32_t)h[2] << 8) | h[3];
        /* length, type, data, CRC */
        if (len > 0x7FFFFFFFu || (long)len > size - off - 12)
            return cn_fail(CN_ERR_FORMAT, "%s: corrupt PNG: the %.4s chunk at byte %ld claims %u bytes, the file has %ld left",
                           path, isprint(h[4]) && isprint(h[5]) && isprint(h[6]) && isprint(h[7]) ? (const char *)h + 4 : "????",
                           off, len, size - off - 12 > 0 ? size - off - 12 : 0);
        if (memcmp(h + 4, "IEND", 4) == 0)
            break;
        off += 12 + (long)len;
    }
    rewind(f);
    return CN_OK;
}

int cn_image_precheck(FILE *f, const char *path)
{
    if (fseek(f, 0, SEEK_END) != 0)
        return cn_fail(CN_ERR_IO, "%s: cannot seek", path);
    long size = ftell(f);
    rewind(f);
    if (size < 0)
        return cn_fail(CN_ERR_IO, "%s: cannot tell its size", path);
    if (size > CN_IMAGE_MAX_BYTES)
        return cn_fail(CN_ERR_FORMAT, "%s: %ld bytes is larger than the %ld-byte limit for an image", path, size,
                       CN_IMAGE_MAX_BYTES);
    uint8_t head[2] = {0, 0};
    size_t got = fread(head, 1, 2, f);
    rewind(f);
    /* stb takes any run of 0xFF fill bytes before the SOI marker */
    int jpeg = got == 2 && head[0] == 0xFF && (head[1] == 0xD8 || head[1] == 0xFF);
    uint8_t sig[8] = {0};
    size_t gs = fread(sig, 1, 8, f);
    rewind(f);
    static const uint8_t png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    /* frames and maps are JPEG or PNG; stb's other decoders (HDR, PSD, PIC,
     * PNM, GIF, TGA, BMP) are never needed, and some decode hostile files slowly */
    if (!jpeg && !(gs == 8 && memcmp(sig, png, 8) == 0))
        return cn_fail(CN_ERR_FORMAT, "%s: cannot decode image: not a JPEG or PNG file", path);
    if (jpeg) {
        uint8_t *b = malloc((size_t)size + 1);
        if (!b)
            return cn_fail(CN_ERR_OOM, "%s: out of memory reading %ld bytes", path, size);
        size_t n = fread(b, 1, (size_t)size, f);
        rewind(f);
        int bad = jpeg_dht_bad(b, n);
        free(b);
        if (bad)
            return cn_fail(CN_ERR_FORMAT, "%s: corrupt JPEG (a Huffman table claims more codes than it holds)", path);
    }
    else {
        int st = png_chunks_bad(f, size, path);
        if (st != CN_OK)
            return st;
    }
    int w = 0, h = 0, c = 0;
    if (stbi_info_from_file(f, &w, &h, &c)) {
        rewind(f);
        if (w <= 0 || h <= 0)
            return cn_fail(CN_ERR_FORMAT, "%s: image of %d x %d pixels", path, w, h);
        if ((long)w * (long)h > CN_IMAGE_MAX_PIXELS)
            return cn_fail(CN_ERR_FORMAT, "%s: image of %d x %d pixels is larger than the %ld-pixel limit",
                           path, w, h, CN_IMAGE_MAX_PIXELS);
    }
    rewind(f);
    return CN_OK;
}
