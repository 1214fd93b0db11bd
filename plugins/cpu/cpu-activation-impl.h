/* cpu-activation-impl.h: the loops of cpu-activation.c as macros, so that
 * kernels compiled for one ISA (cpu-conv-kernels.c) inline them too.
 * Private to the CPU provider; include after cpu-activation.h.
 */
#pragma once

#include <math.h>

static inline float
cpu_act_sigmoid (float v)
{
  /* written so that exp never overflows */
  float e = expf (-fabsf (v));
  return v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

/* clamp(t, 0, 1) in a form the compiler turns into vector min/max */
static inline float
cpu_act_hard_sigmoid (float t)
{
  t = t < 1.0f ? t : 1.0f;
  return t > 0.0f ? t : 0.0f;
}

/* min (max (v, lo), hi) with NaN kept, as two selects the compiler turns
 * into vector max and min (x86 maxps/minps return their second operand when
 * unordered); a nested conditional was left scalar. */
static inline float
cpu_act_clip (float v, float lo, float hi)
{
  float t = lo > v ? lo : v;
  return hi < t ? hi : t;
}

/* The activation of one element, for the loops below. */
#define ACT_LOOP(EXPR)                                                                             \
  for (gsize i = 0; i < n; i++) {                                                                  \
    float v = LOAD (i);                                                                            \
    d[i] = (EXPR);                                                                                 \
  }                                                                                                \
  break

#define ACT_SWITCH(kind)                                                                           \
  switch (kind) {                                                                                  \
  case CPU_ACTIVATION_NONE:                                                                        \
    ACT_LOOP (v);                                                                                  \
  case CPU_ACTIVATION_RELU:                                                                        \
    ACT_LOOP (v > 0.0f ? v : 0.0f);                                                                \
  case CPU_ACTIVATION_LEAKY_RELU:                                                                  \
    ACT_LOOP (v >= 0.0f ? v : alpha * v);                                                          \
  case CPU_ACTIVATION_CLIP:                                                                        \
    ACT_LOOP (cpu_act_clip (v, alpha, beta));                                                      \
  case CPU_ACTIVATION_HARD_SIGMOID:                                                                \
    ACT_LOOP (cpu_act_hard_sigmoid (alpha *v + beta));                                             \
  case CPU_ACTIVATION_HARD_SWISH:                                                                  \
    ACT_LOOP (v *cpu_act_hard_sigmoid (v *(1.0f / 6.0f) + 0.5f));                                  \
  case CPU_ACTIVATION_SIGMOID:                                                                     \
    ACT_LOOP (cpu_act_sigmoid (v));                                                                \
  case CPU_ACTIVATION_TANH:                                                                        \
    ACT_LOOP (tanhf (v));                                                                          \
  }

/* In place over @n elements of one row: act (d + bias [+ z]). */
static inline void
cpu_activation_epilogue_row (float *restrict d, gsize n, float bias, const float *restrict z,
                             const CpuActivation *act)
{
  const float alpha = act->alpha, beta = act->beta;
  if (z != NULL) {
#define LOAD(i) (d[i] + bias + z[i])
    ACT_SWITCH (act->kind)
#undef LOAD
  } else {
    if (act->kind == CPU_ACTIVATION_NONE && bias == 0.0f)
      return;
#define LOAD(i) (d[i] + bias)
    ACT_SWITCH (act->kind)
#undef LOAD
  }
}
