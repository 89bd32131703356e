#include <oneapi/dnnl/dnnl.h>

/* Debian's oneDNN 2.6 runs on OpenMP (libgomp): the thread count of a run is the OpenMP one. */
extern void omp_set_num_threads(int num_threads);
extern int omp_get_max_threads(void);
