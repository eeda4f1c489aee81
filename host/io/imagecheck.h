/* Checks an image file before stb_image decodes it, for the defects of the stb_image Debian ships that a hostile file can reach. */
#ifndef CASPNET_IMAGECHECK_H
#define CASPNET_IMAGECHECK_H

#include <stdio.h>

/* Largest image accepted (pixels): far above any video frame or saliency map,
 * small enough that a decode cannot exhaust memory. */
#define CN_IMAGE_MAX_PIXELS (1L << 25)
/* Largest image file accepted (bytes): the check below reads a JPEG whole,
 * and no image within the pixel limit needs more. */
#define CN_IMAGE_MAX_BYTES (1L << 29)

/* Reads f (from its start; rewound afterwards) and fails with CN_ERR_FORMAT,
 * naming path, when it is larger than CN_IMAGE_MAX_BYTES, neither JPEG nor PNG, when it is a JPEG whose Huffman tables are inconsistent (the
 * 16 code counts of a table sum above 256 or past the segment: Debian's
 * stb_image 2.27 trusts them and writes past its tables), when it is a PNG
 * with a chunk longer than the rest of the file (stb allocates the claimed
 * length first, up to 2 GiB from a 60-byte file) or when its
 * dimensions (from stbi_info) are zero or above CN_IMAGE_MAX_PIXELS. */
int cn_image_precheck(FILE *f, const char *path);

#endif
