/* cpu-simd.h: float32 kernels with runtime ISA dispatch.
 *
 * The same kernels are compiled three times from cpu-simd-impl.h: portable C
 * (cpu-simd-generic.c, one lane), AVX2 + FMA (cpu-simd-avx2.c) and AVX-512F
 * (cpu-simd-avx512.c), each into a table of function pointers. cpu_simd()
 * picks a table once per process: the widest the CPU and the OS support
 * (cpu-cpuid.h), or the one the environment variable GLIA_CPU_ISA names
 * ("generic", "avx2" or "avx512"; capped by what the CPU supports), so tests
 * can compare the paths.
 *
 * exp, log, sigmoid, tanh and erf are polynomial approximations (relative
 * error under 1e-6; a few float ulps for all but erf) that handle
 * infinities, NaN, zeros and subnormal results. Unless stated otherwise
 * @y may equal @x (in place), and every length may be anything, 0 included.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum
{
  CPU_ISA_GENERIC,
  CPU_ISA_AVX2,
  CPU_ISA_AVX512,
  CPU_ISA_N
} CpuIsa;

typedef enum
{
  CPU_SIMD_UN_RELU,
  CPU_SIMD_UN_EXP,
  CPU_SIMD_UN_LOG,
  CPU_SIMD_UN_SIGMOID,
  CPU_SIMD_UN_TANH,
  CPU_SIMD_UN_SQRT,
  CPU_SIMD_UN_RECIPROCAL,
  CPU_SIMD_UN_NEG,
  CPU_SIMD_UN_ABS,
  CPU_SIMD_UN_FLOOR,
  CPU_SIMD_UN_CEIL,
  CPU_SIMD_UN_ERF,
  CPU_SIMD_UN_LEAKY_RELU,   /* x >= 0 ? x : alpha * x */
  CPU_SIMD_UN_ELU,          /* x >= 0 ? x : alpha * (exp (x) - 1) */
  CPU_SIMD_UN_CLIP,         /* min (max (x, alpha), beta); NaN stays NaN */
  CPU_SIMD_UN_HARD_SIGMOID, /* max (0, min (1, alpha * x + beta)) */
  CPU_SIMD_UN_HARD_SWISH,   /* x * max (0, min (1, x / 6 + 1 / 2)) */
  CPU_SIMD_UN_SOFTSIGN,     /* x / (1 + |x|) */
  CPU_SIMD_UN_N
} CpuSimdUnary;

typedef enum
{
  CPU_SIMD_BIN_ADD,
  CPU_SIMD_BIN_SUB,
  CPU_SIMD_BIN_MUL,
  CPU_SIMD_BIN_DIV,
  CPU_SIMD_BIN_MAX, /* NaN in either input gives NaN */
  CPU_SIMD_BIN_MIN,
  CPU_SIMD_BIN_N
} CpuSimdBinary;

typedef struct
{
  CpuIsa isa;
  const char *name;
  guint width; /* floats per vector */

  /* y[i] = op (x[i]) with the parameters @alpha and @beta where the op
   * takes them. */
  void (*unary) (CpuSimdUnary op, const float *x, float *y, gsize n, float alpha, float beta);
  /* y[i] = a[i * sa] op b[i * sb], strides 0 or 1; @y may equal @a or @b. */
  void (*binary) (CpuSimdBinary op, const float *a, gsize sa, const float *b, gsize sb, float *y,
                  gsize n);
  /* y[i] = x[i] * a + b */
  void (*affine) (const float *x, float *y, gsize n, float a, float b);

  float (*sum) (const float *x, gsize n);
  /* The largest element, NaN if any is NaN, -inf for n = 0. */
  float (*max) (const float *x, gsize n);
  float (*min) (const float *x, gsize n);
  /* sum of x[i]^2 */
  float (*sum_squares) (const float *x, gsize n);
  /* acc[i] += x[i], acc[i] = max or min (acc[i], x[i]) (NaN wins): reductions
   * over an outer axis. */
  void (*accumulate) (CpuSimdBinary op, float *acc, const float *x, gsize n);

  /* Softmax and LogSoftmax of one contiguous row of @n > 0 elements. */
  void (*softmax) (const float *x, float *y, gsize n);
  void (*log_softmax) (const float *x, float *y, gsize n);
  /* y = (x - mean) / sqrt (var + eps) * scale + bias (bias may be NULL) over
   * one row of @n > 0; @mean and @inv_std (may be NULL) get the statistics. */
  void (*layer_norm) (const float *x, float *y, gsize n, const float *scale, const float *bias,
                      float eps, float *mean, float *inv_std);

  /* y[j] = (init ? init[j] : 0) + sum_k a[j * lda + k] * x[k] for j < m:
   * a small matrix-vector product (the recurrent step of RNNs at batch 1).
   * @y must not overlap @x or @a. */
  void (*matvec) (const float *a, gsize lda, gsize m, const float *x, gsize k, const float *init,
                  float *y);
  /* One LSTM step with the default activations, from the gates'
   * pre-activations g = [i o f c] (each @n): c = sigmoid (f) * c +
   * sigmoid (i) * tanh (g_c); h = sigmoid (o) * tanh (c). @g is clobbered. */
  void (*lstm_cell) (float *g, float *c, float *h, gsize n);
} CpuSimdOps;

/* The table in use (chosen once). */
const CpuSimdOps *cpu_simd (void);
/* The table for @isa, or NULL when this build or this CPU lacks it. */
const CpuSimdOps *cpu_simd_get (CpuIsa isa);

/* The per-ISA tables (NULL-free; only call one the CPU supports). */
extern const CpuSimdOps cpu_simd_ops_generic;
#ifdef CPU_SIMD_HAVE_X86
extern const CpuSimdOps cpu_simd_ops_avx2;
extern const CpuSimdOps cpu_simd_ops_avx512;
#endif

G_END_DECLS
