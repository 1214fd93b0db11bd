/* cpu-cpuid.c: CPUID / XGETBV feature checks (see cpu-cpuid.h). */
#include "cpu-cpuid.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

enum
{
  FEATURE_AVX2_FMA = 1 << 0,
  FEATURE_AVX512F = 1 << 1,
};

static guint64
read_xcr0 (void)
{
  guint32 lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((guint64)hi << 32) | lo;
}

static guint
detect (void)
{
  guint a, b, c, d;
  if (!__get_cpuid (1, &a, &b, &c, &d))
    return 0;
  gboolean osxsave = (c & bit_OSXSAVE) != 0;
  gboolean avx = (c & bit_AVX) != 0;
  gboolean fma = (c & bit_FMA) != 0;
  if (!osxsave || !avx)
    return 0;
  guint64 xcr0 = read_xcr0 ();
  /* SSE (bit 1) and AVX (bit 2) state; AVX-512 adds opmask, ZMM_Hi256 and
   * Hi16_ZMM (bits 5-7). */
  gboolean ymm_os = (xcr0 & 0x6) == 0x6;
  gboolean zmm_os = (xcr0 & 0xe6) == 0xe6;
  if (__get_cpuid_max (0, NULL) < 7)
    return 0;
  __cpuid_count (7, 0, a, b, c, d);
  guint features = 0;
  if (ymm_os && fma && (b & bit_AVX2))
    features |= FEATURE_AVX2_FMA;
  if ((features & FEATURE_AVX2_FMA) && zmm_os && (b & bit_AVX512F))
    features |= FEATURE_AVX512F;
  return features;
}

static guint
features (void)
{
  static gsize once = 0;
  static guint value;
  if (g_once_init_enter (&once)) {
    value = detect ();
    g_once_init_leave (&once, 1);
  }
  return value;
}

gboolean
cpu_has_avx2_fma (void)
{
  return (features () & FEATURE_AVX2_FMA) != 0;
}

gboolean
cpu_has_avx512f (void)
{
  return (features () & FEATURE_AVX512F) != 0;
}

#else

gboolean
cpu_has_avx2_fma (void)
{
  return FALSE;
}

gboolean
cpu_has_avx512f (void)
{
  return FALSE;
}

#endif
