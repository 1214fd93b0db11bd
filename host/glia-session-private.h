/* glia-session-private.h: what session creation (glia-session.c) hands to the
 * executor (glia-executor.c): providers, the step list with its slots, and
 * the per-signature memory plans. */
#pragma once

#include "glia-private.h"

G_BEGIN_DECLS

/* Memory owners: 0 is host memory; owner i + 1 is the memory of device
 * provider i. */
#define OWNER_HOST 0

typedef struct
{
  char *name;
  const GliaProviderInfo *info; /* NULL for the custom-operator pseudo provider */
  gpointer instance;
  GliaDeviceType device;
  guint owner;
} Provider;

typedef enum
{
  STEP_KERNEL,
  STEP_COPY,
} StepKind;

typedef struct
{
  StepKind kind;
  gint provider; /* index in providers; for copies the device side */
  GliaKernel kernel;
  gint *nodes;
  guint n_nodes;
  gint *inputs; /* slot ids, -1 for omitted */
  guint n_inputs;
  gint *outputs;
  guint n_outputs;
  GliaCopyKind copy_kind;
} Step;

typedef struct
{
  gint value; /* graph value id */
  guint owner;
  gboolean is_input;
  gboolean is_constant;
  gboolean is_output; /* a graph output (host): never in the arena */
  gint first_step;
  gint last_step;
  GliaTensorView constant;  /* constants: view of the data (on the owner's device) */
  gpointer device_constant; /* device copy to free */
} Slot;

typedef struct _Plan Plan;

struct _GliaSession
{
  GObject parent_instance;
  GliaModel *model;
  GliaRegistry *registry;
  GliaGraph *graph; /* the session's copy */
  guint n_threads;
  guint64 memory_limit;

  GPtrArray *providers; /* Provider* */
  guint n_owners;
  gint *node_provider;     /* per node, index in providers */
  GArray *steps;           /* Step */
  GArray *slots;           /* Slot */
  gint *input_slot;        /* per graph input (index in graph inputs) */
  gint *output_slot;       /* per graph output */
  char **constant_strings; /* string constants' pointer arrays, to free */
  guint n_copies;

  gssize n_dynamic_allocs; /* atomic: intermediate tensors allocated outside an arena */

  GMutex plan_lock;
  GHashTable *plans; /* signature -> Plan* */
};

/* glia-executor.c */
GHashTable *_glia_session_execute (GliaSession *self, GHashTable *inputs, GError **error);
void _glia_plan_free (gpointer plan);

G_END_DECLS
