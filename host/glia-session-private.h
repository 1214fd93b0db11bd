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
  gint *inputs; /* slot ids, -1 for omitted; implicit (outer-scope) inputs last */
  guint n_inputs;
  guint n_declared_inputs; /* inputs[n_declared_inputs..] are read by subgraphs */
  gint *outputs;
  guint n_outputs;
  GliaCopyKind copy_kind;
  gint view_input; /* input whose memory output 0 may share (a reshape), -1 if none */
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
  char *optimization_report;
  guint n_threads;
  guint64 memory_limit;

  GPtrArray *providers; /* Provider* */
  guint n_owners;
  gint *node_provider;     /* per node, index in providers */
  gint parallel_provider;  /* whose pool runs the kernels' parallel loops; -1: the host's */
  GArray *steps;           /* Step */
  GArray *slots;           /* Slot */
  gint *input_slot;        /* per graph input (index in graph inputs) */
  gint *output_slot;       /* per graph output */
  char **constant_strings; /* string constants' pointer arrays, to free */
  guint n_copies;

  gssize n_dynamic_allocs; /* atomic: intermediate tensors allocated outside an arena */

  GliaSessionOptions *options; /* for subgraph sessions */
  GMutex subgraph_lock;
  GHashTable *subgraphs; /* GliaGraph* (in graph) -> SubgraphSession* */

  gboolean profiling;
  gint64 created_us;
  GMutex profile_lock;
  GArray *profile; /* ProfileEvent, when profiling */

  GMutex plan_lock;
  GHashTable *plans; /* signature -> Plan* */
};

/* A compiled subgraph: its session, and for each of its extra inputs (the
 * enclosing values it reads) the name to look up. */
typedef struct
{
  GliaSession *session;
  guint n_declared_inputs;
  GPtrArray *declared_names; /* the subgraph's own input names */
  GPtrArray *outer_names;    /* names of enclosing values, fed after them */
  GPtrArray *output_names;
} SubgraphSession;

/* glia-session.c */
SubgraphSession *_glia_session_get_subgraph (GliaSession *self, const GliaGraph *subgraph,
                                             GError **error);
/* Names of values a graph (and its nested subgraphs) reads without
 * defining them; sorted, unique. */
GPtrArray *_glia_graph_free_values (const GliaGraph *graph);

typedef struct
{
  guint step;
  gint64 start_us; /* since the session was made */
  gint64 duration_us;
  guint thread;
  char *shapes; /* "float32[1,64] -> float32[1,32]" */
} ProfileEvent;

/* glia-executor.c */
GHashTable *_glia_session_execute (GliaSession *self, GHashTable *inputs, GError **error);
void _glia_plan_free (gpointer plan);

G_END_DECLS
