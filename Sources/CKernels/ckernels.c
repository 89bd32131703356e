#include "ckernels.h"

const char *ck_version(void) { return "ckernels 1"; }
