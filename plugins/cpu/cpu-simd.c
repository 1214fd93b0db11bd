/* cpu-simd.c: picks the kernel table of cpu-simd.h once per process. */
#define G_LOG_DOMAIN "Glia-CPU"

#include "cpu-simd.h"

#include "cpu-cpuid.h"

static gboolean
isa_supported (CpuIsa isa)
{
  switch (isa) {
  case CPU_ISA_GENERIC:
    return TRUE;
#ifdef CPU_SIMD_HAVE_X86
  case CPU_ISA_AVX2:
    return cpu_has_avx2_fma ();
  case CPU_ISA_AVX512:
    return cpu_has_avx512f ();
#endif
  default:
    return FALSE;
  }
}

const CpuSimdOps *
cpu_simd_get (CpuIsa isa)
{
  if (!isa_supported (isa))
    return NULL;
  switch (isa) {
#ifdef CPU_SIMD_HAVE_X86
  case CPU_ISA_AVX2:
    return &cpu_simd_ops_avx2;
  case CPU_ISA_AVX512:
    return &cpu_simd_ops_avx512;
#endif
  default:
    return &cpu_simd_ops_generic;
  }
}

static const CpuSimdOps *
choose (void)
{
  static const char *const names[CPU_ISA_N] = { "generic", "avx2", "avx512" };
  CpuIsa limit = CPU_ISA_N - 1;
  const char *env = g_getenv ("GLIA_CPU_ISA");
  if (env && *env) {
    guint i;
    for (i = 0; i < CPU_ISA_N; i++)
      if (g_ascii_strcasecmp (env, names[i]) == 0)
        break;
    if (i < CPU_ISA_N)
      limit = (CpuIsa)i;
    else
      g_warning ("GLIA_CPU_ISA=%s is not one of generic, avx2, avx512; ignoring it", env);
  }
  for (gint isa = (gint)limit; isa > CPU_ISA_GENERIC; isa--) {
    const CpuSimdOps *ops = cpu_simd_get ((CpuIsa)isa);
    if (ops) {
      g_debug ("float32 kernels: %s", ops->name);
      return ops;
    }
  }
  g_debug ("float32 kernels: generic");
  return &cpu_simd_ops_generic;
}

const CpuSimdOps *
cpu_simd (void)
{
  static gsize once = 0;
  static const CpuSimdOps *ops;
  if (g_once_init_enter (&once)) {
    ops = choose ();
    g_once_init_leave (&once, 1);
  }
  return ops;
}
