import CDNNL
import CKernels
import TensorCore
// Kernels — buffer-level math over oneDNN and CKernels (DESIGN §5, §7).
