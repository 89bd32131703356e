#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Identifies the C kernel library build (sanity check that the target links).
const char *ck_version(void);

#endif
