/* glia-session.c: GliaSession creation: providers, type and shape inference,
 * capability negotiation, copy insertion and compilation.
 *
 * 1. The providers named by the options (or all ranked ones) are created in
 *    preference order; with fallback allowed, "cpu" is appended if missing.
 * 2. Types and shapes are inferred node by node with the op defs the
 *    providers expose (lookup_op) or custom op sets, filling what the model
 *    left unknown.
 * 3. Providers claim nodes or fusable subgraphs in preference order; the first
 *    claimant wins. Unclaimed nodes of a custom-operator domain run through
 *    the registered op defs on the CPU. Anything else unclaimed fails the
 *    session and is listed.
 * 4. Claims become steps, ordered topologically (a fused subgraph is one
 *    step). Each value lives in the memory of its producer's provider; where
 *    a step reads a value from another memory, a copy step is inserted before
 *    it (constants are copied once, here).
 * The executor (glia-executor.c) runs the steps and plans memory.
 */
#include "glia-session-private.h"
#include "glia-optimizer.h"

#include <json-glib/json-glib.h>

#include <string.h>

/**
 * GliaSession:
 *
 * A #GliaModel prepared to run on a set of execution providers: the graph
 * optimized, its nodes assigned to providers (inspect the assignment with
 * glia_session_get_node_provider()), copies between devices inserted,
 * kernels compiled, and a memory plan made per input signature so that a
 * steady-state run allocates nothing per node.
 *
 * glia_session_run() is thread-safe: several threads may run one session at
 * once. glia_session_run_async() runs in a worker thread.
 */
G_DEFINE_FINAL_TYPE (GliaSession, glia_session, G_TYPE_OBJECT)

static void subgraph_session_free (gpointer p);

static void
profile_event_clear (gpointer p)
{
  g_free (((ProfileEvent *)p)->shapes);
}
static gboolean node_implicit_inputs (const GliaGraph *g, gint node, GArray *out, GError **error);

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *)a, *(char *const *)b);
}

struct _GliaCapability
{
  GPtrArray *claims; /* GArray of gint */
};

void
glia_capability_add_node (GliaCapability *cap, gint node)
{
  g_return_if_fail (cap != NULL);
  glia_capability_add_subgraph (cap, &node, 1);
}

void
glia_capability_add_subgraph (GliaCapability *cap, const gint *nodes, guint n_nodes)
{
  g_return_if_fail (cap != NULL);
  if (n_nodes == 0)
    return;
  GArray *a = g_array_sized_new (FALSE, FALSE, sizeof (gint), n_nodes);
  g_array_append_vals (a, nodes, n_nodes);
  g_ptr_array_add (cap->claims, a);
}

static void
provider_free (gpointer p)
{
  Provider *pr = p;
  if (pr->info && pr->instance && pr->info->destroy)
    pr->info->destroy (pr->instance);
  g_free (pr->name);
  g_free (pr);
}

static void
step_clear (gpointer p)
{
  Step *s = p;
  if (s->kernel.destroy && s->kernel.state)
    s->kernel.destroy (s->kernel.state);
  g_free (s->nodes);
  g_free (s->inputs);
  g_free (s->outputs);
}

static void
glia_session_finalize (GObject *object)
{
  GliaSession *self = GLIA_SESSION (object);
  g_clear_pointer (&self->subgraphs, g_hash_table_unref);
  g_clear_pointer (&self->profile, g_array_unref);
  g_mutex_clear (&self->profile_lock);
  g_mutex_clear (&self->subgraph_lock);
  g_clear_object (&self->options);
  if (self->plans)
    g_hash_table_unref (self->plans);
  if (self->steps)
    g_array_unref (self->steps);
  if (self->slots) {
    for (guint i = 0; i < self->slots->len; i++) {
      Slot *sl = &g_array_index (self->slots, Slot, i);
      if (sl->device_constant && self->providers) {
        Provider *p = g_ptr_array_index (self->providers, sl->owner - 1);
        p->info->free (p->instance, sl->device_constant);
      }
    }
    g_array_unref (self->slots);
  }
  if (self->constant_strings) {
    for (guint i = 0; self->constant_strings[i]; i++)
      g_free (self->constant_strings[i]);
    g_free (self->constant_strings);
  }
  if (self->providers)
    g_ptr_array_unref (self->providers);
  g_free (self->node_provider);
  g_free (self->input_slot);
  g_free (self->output_slot);
  g_clear_pointer (&self->graph, glia_graph_unref);
  g_free (self->optimization_report);
  g_clear_object (&self->model);
  g_clear_object (&self->registry);
  g_mutex_clear (&self->plan_lock);
  G_OBJECT_CLASS (glia_session_parent_class)->finalize (object);
}

static void
glia_session_class_init (GliaSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = glia_session_finalize;
}

static void
glia_session_init (GliaSession *self)
{
  g_mutex_init (&self->plan_lock);
  g_mutex_init (&self->subgraph_lock);
  self->parallel_provider = -1;
  g_mutex_init (&self->profile_lock);
  self->subgraphs = g_hash_table_new_full (NULL, NULL, NULL, subgraph_session_free);
  self->plans = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, _glia_plan_free);
}

/* ---- providers ----------------------------------------------------------- */

static gboolean
create_providers (GliaSession *self, GliaSessionOptions *options, GError **error)
{
  g_auto (GStrv) names = NULL;
  const char *const *wanted = options ? glia_session_options_get_providers (options) : NULL;
  gboolean fallback = options ? glia_session_options_get_allow_fallback (options) : TRUE;
  if (wanted)
    names = g_strdupv ((char **)wanted);
  else {
    /* default: every ranked provider, highest first */
    g_auto (GStrv) all = glia_registry_get_provider_names (self->registry);
    GStrvBuilder *b = g_strv_builder_new ();
    for (guint i = 0; all[i]; i++)
      if (glia_registry_get_provider_rank (self->registry, all[i]) > 0)
        g_strv_builder_add (b, all[i]);
    names = g_strv_builder_end (b);
    g_strv_builder_unref (b);
  }
  if (fallback && !g_strv_contains ((const char *const *)names, "cpu")) {
    guint n = g_strv_length (names);
    names = g_renew (char *, names, n + 2);
    names[n] = g_strdup ("cpu");
    names[n + 1] = NULL;
  }
  if (names[0] == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_NOT_FOUND,
                 "no execution provider to run on (none requested, none found)");
    return FALSE;
  }

  /* options: validate every key, then hand each provider its own */
  GHashTable *opts = options ? _glia_session_options_get_table (options) : NULL;
  if (opts) {
    GHashTableIter it;
    gpointer key;
    g_hash_table_iter_init (&it, opts);
    while (g_hash_table_iter_next (&it, &key, NULL))
      if (!_glia_session_options_check_key (self->registry, key, error))
        return FALSE;
  }

  self->providers = g_ptr_array_new_with_free_func (provider_free);
  self->n_owners = 1;
  for (guint i = 0; names[i]; i++) {
    const GliaProviderInfo *info = glia_registry_get_provider (self->registry, names[i], error);
    if (info == NULL)
      return FALSE;
    g_autoptr (GHashTable) mine = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_autofree char *prefix = g_strdup_printf ("ep.%s.", names[i]);
    gint device_id = 0;
    if (opts) {
      GHashTableIter it;
      gpointer key, value;
      g_hash_table_iter_init (&it, opts);
      while (g_hash_table_iter_next (&it, &key, &value))
        if (g_str_has_prefix (key, prefix)) {
          const char *k = (const char *)key + strlen (prefix);
          if (g_str_equal (k, "device_id")) {
            guint64 id;
            if (!g_ascii_string_to_unsigned (value, 10, 0, 1024, &id, NULL)) {
              g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                           "option '%s' must be a device ordinal, not '%s'", (char *)key,
                           (char *)value);
              return FALSE;
            }
            device_id = (gint)id;
          }
          g_hash_table_insert (mine, g_strdup (k), g_strdup (value));
        }
    }
    GliaProviderConfig config = {
      .struct_size = sizeof (GliaProviderConfig),
      .n_threads = self->n_threads,
      .device_id = device_id,
      .memory_limit = self->memory_limit,
      .options = mine,
    };
    GError *local = NULL;
    gpointer instance = info->create (&config, &local);
    if (instance == NULL) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "provider '%s' could not start: %s",
                   names[i], local ? local->message : "no reason given");
      g_clear_error (&local);
      return FALSE;
    }
    Provider *p = g_new0 (Provider, 1);
    p->name = g_strdup (names[i]);
    p->info = info;
    p->instance = instance;
    p->device = info->device_type;
    p->owner = p->device == GLIA_DEVICE_TYPE_CPU ? OWNER_HOST : self->providers->len + 1;
    g_ptr_array_add (self->providers, p);
  }
  /* the custom-operator pseudo provider runs registered op sets on the CPU */
  Provider *custom = g_new0 (Provider, 1);
  custom->name = g_strdup ("custom");
  custom->device = GLIA_DEVICE_TYPE_CPU;
  custom->owner = OWNER_HOST;
  g_ptr_array_add (self->providers, custom);
  self->n_owners = self->providers->len + 1;
  return TRUE;
}

static Provider *
provider_at (GliaSession *self, gint i)
{
  return g_ptr_array_index (self->providers, i);
}

/* The first provider (in preference order) that has a thread pool of its
 * own and runs kernels of this session runs every kernel's parallel loops:
 * a pool that spins after its work (OpenMP) would otherwise share the cores
 * with the host's pool right after it. */
static void
choose_parallel_provider (GliaSession *self)
{
  self->parallel_provider = -1;
  for (guint i = 0; i < self->providers->len && self->parallel_provider < 0; i++) {
    const GliaProviderInfo *info = provider_at (self, i)->info;
    if (info == NULL
        || info->struct_size
               < G_STRUCT_OFFSET (GliaProviderInfo, parallel_for) + sizeof info->parallel_for
        || info->parallel_for == NULL)
      continue;
    for (guint k = 0; k < self->steps->len; k++) {
      const Step *step = &g_array_index (self->steps, Step, k);
      if (step->kind == STEP_KERNEL && step->provider == (gint)i) {
        self->parallel_provider = (gint)i;
        break;
      }
    }
  }
}

static gint
custom_provider_index (GliaSession *self)
{
  return self->providers->len - 1;
}

/* ---- type and shape inference --------------------------------------------- */

struct _GliaShapeContext
{
  const GliaGraph *graph;
  gint node;
  guint n_inputs;
  guint n_outputs;
  GliaDataType *out_dtype;
  GliaValueKind *out_kind;
  gint *out_rank;
  gint64 (*out_dims)[GLIA_MAX_RANK];
};

guint
glia_shape_context_get_n_inputs (GliaShapeContext *ctx)
{
  return ctx->n_inputs;
}

guint
glia_shape_context_get_n_outputs (GliaShapeContext *ctx)
{
  return ctx->n_outputs;
}

static gint
shape_input (GliaShapeContext *ctx, guint i)
{
  return i < ctx->n_inputs ? glia_graph_node_get_input (ctx->graph, ctx->node, i) : -1;
}

gboolean
glia_shape_context_has_input (GliaShapeContext *ctx, guint i)
{
  return shape_input (ctx, i) >= 0;
}

GliaDataType
glia_shape_context_get_input_dtype (GliaShapeContext *ctx, guint i)
{
  gint v = shape_input (ctx, i);
  return v < 0 ? GLIA_DATA_TYPE_UNDEFINED : glia_graph_value_get_dtype (ctx->graph, v);
}

gint
glia_shape_context_get_input_rank (GliaShapeContext *ctx, guint i)
{
  gint v = shape_input (ctx, i);
  return v < 0 ? -1 : glia_graph_value_get_rank (ctx->graph, v);
}

const gint64 *
glia_shape_context_get_input_dims (GliaShapeContext *ctx, guint i)
{
  gint v = shape_input (ctx, i);
  return v < 0 ? NULL : glia_graph_value_get_dims (ctx->graph, v);
}

const GliaConstTensor *
glia_shape_context_get_input_constant (GliaShapeContext *ctx, guint i)
{
  gint v = shape_input (ctx, i);
  return v < 0 ? NULL : glia_graph_value_get_constant (ctx->graph, v);
}

const GliaGraph *
glia_shape_context_get_graph (GliaShapeContext *ctx)
{
  return ctx->graph;
}

gint
glia_shape_context_get_node (GliaShapeContext *ctx)
{
  return ctx->node;
}

GliaValueKind
glia_shape_context_get_input_kind (GliaShapeContext *ctx, guint i)
{
  gint v = shape_input (ctx, i);
  return v < 0 ? GLIA_VALUE_KIND_TENSOR : glia_graph_value_get_kind (ctx->graph, v);
}

void
glia_shape_context_set_output_kind (GliaShapeContext *ctx, guint i, GliaValueKind kind)
{
  g_return_if_fail (i < ctx->n_outputs);
  ctx->out_kind[i] = kind;
}

void
glia_shape_context_set_output (GliaShapeContext *ctx, guint i, GliaDataType dtype, gint rank,
                               const gint64 *dims)
{
  g_return_if_fail (i < ctx->n_outputs);
  g_return_if_fail (rank <= GLIA_MAX_RANK);
  ctx->out_dtype[i] = dtype;
  ctx->out_rank[i] = rank;
  for (gint k = 0; k < rank; k++)
    ctx->out_dims[i][k] = dims ? dims[k] : -1;
}

static const GliaOpDef *
find_op_def (GliaSession *self, gint node)
{
  const GliaGraph *g = self->graph;
  const char *domain = glia_graph_node_get_domain (g, node);
  const char *op = glia_graph_node_get_op_type (g, node);
  gint opset = glia_graph_node_get_opset (g, node);
  for (guint i = 0; i < self->providers->len; i++) {
    Provider *p = provider_at (self, i);
    if (p->info && p->info->struct_size > G_STRUCT_OFFSET (GliaProviderInfo, lookup_op)
        && p->info->lookup_op) {
      const GliaOpDef *def = p->info->lookup_op (p->instance, g, node);
      if (def)
        return def;
    }
  }
  if (*domain)
    return glia_registry_find_custom_op (self->registry, domain, op, opset);
  return NULL;
}

/* The symbolic name dim @k of @value carries, or NULL; a known size of 1
 * counts as "1" for broadcasting. */
static const char *
dim_symbol (GliaGraph *g, gint value, gint k, gboolean *is_one)
{
  *is_one = FALSE;
  if (value < 0)
    return NULL;
  gint rank = glia_graph_value_get_rank (g, value);
  if (k < 0 || k >= rank)
    return NULL;
  const gint64 *dims = glia_graph_value_get_dims (g, value);
  if (dims[k] == 1)
    *is_one = TRUE;
  return dims[k] < 0 ? glia_graph_value_get_dim_param (g, value, k) : NULL;
}

/* Where ONNX's semantics make output dim @k of @node's output 0 the same
 * size as an input dim, gives it that dim's symbolic name, so passes can
 * prove shapes equal across a symbolic batch (residual fusion). Only
 * identities that hold for every input are used. */
static const char *
inherited_dim_param (GliaGraph *g, gint node, guint out_index, gint out_rank, gint k)
{
  static const char *const same_shape_ops[] = { "Relu",
                                                "LeakyRelu",
                                                "Clip",
                                                "Sigmoid",
                                                "Tanh",
                                                "HardSigmoid",
                                                "HardSwish",
                                                "Elu",
                                                "Selu",
                                                "Softplus",
                                                "Softsign",
                                                "Neg",
                                                "Abs",
                                                "Exp",
                                                "Log",
                                                "Sqrt",
                                                "Erf",
                                                "Reciprocal",
                                                "Identity",
                                                "Dropout",
                                                "Cast",
                                                "BatchNormalization",
                                                "LayerNormalization",
                                                "Softmax",
                                                "LogSoftmax",
                                                "InstanceNormalization",
                                                "LRN",
                                                "Gelu",
                                                "PRelu",
                                                NULL };
  static const char *const batch_ops[]
      = { "Conv",   "FusedConv",         "ConvTranspose", "MaxPool", "AveragePool",
          "LpPool", "GlobalAveragePool", "GlobalMaxPool", NULL };
  static const char *const broadcast_ops[]
      = { "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", NULL };
  if (out_index != 0)
    return NULL;
  const char *op = glia_graph_node_get_op_type (g, node);
  const char *domain = glia_graph_node_get_domain (g, node);
  if (domain[0] != '\0' && !g_str_equal (domain, "ai.onnx") && !g_str_equal (domain, "com.glia"))
    return NULL;
  guint n_in = glia_graph_node_get_n_inputs (g, node);
  gint x = n_in > 0 ? glia_graph_node_get_input (g, node, 0) : -1;
  gboolean one;
  if (g_strv_contains (same_shape_ops, op))
    return glia_graph_value_get_rank (g, x) == out_rank ? dim_symbol (g, x, k, &one) : NULL;
  if (g_strv_contains (batch_ops, op))
    return k == 0 ? dim_symbol (g, x, 0, &one) : NULL;
  if (g_strv_contains (broadcast_ops, op)) {
    /* right-aligned: the output dim is p when every input's dim is p or a
     * known 1 (or missing), and at least one is p */
    const char *found = NULL;
    for (guint i = 0; i < n_in; i++) {
      gint in = glia_graph_node_get_input (g, node, i);
      gint r = glia_graph_value_get_rank (g, in);
      if (in < 0 || r < 0)
        return NULL;
      gint ki = k - (out_rank - r);
      if (ki < 0)
        continue;
      const char *sym = dim_symbol (g, in, ki, &one);
      if (one)
        continue;
      if (sym == NULL || (found != NULL && !g_str_equal (found, sym)))
        return NULL;
      found = sym;
    }
    return found;
  }
  return NULL;
}

/* Fills in dtypes and shapes the model left unknown. Declared information
 * wins; inference only adds. */
static gboolean
infer_types (GliaSession *self, GError **error)
{
  GliaGraph *g = self->graph;
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++) {
    const GliaOpDef *def = find_op_def (self, node);
    if (def == NULL || def->infer_shapes == NULL)
      continue;
    guint n_out = glia_graph_node_get_n_outputs (g, node);
    g_autofree GliaDataType *dt = g_new0 (GliaDataType, n_out);
    g_autofree GliaValueKind *kinds = g_new0 (GliaValueKind, MAX (n_out, 1));
    g_autofree gint *rank = g_new (gint, n_out);
    g_autofree gint64 (*dims)[GLIA_MAX_RANK] = g_malloc0_n (MAX (n_out, 1), sizeof *dims);
    for (guint i = 0; i < n_out; i++)
      rank[i] = -1;
    GliaShapeContext ctx
        = { g, node, glia_graph_node_get_n_inputs (g, node), n_out, dt, kinds, rank, dims };
    GError *local = NULL;
    if (!def->infer_shapes (&ctx, &local)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "shape inference failed at node '%s' (%s): %s",
                   glia_graph_node_get_name (g, node), glia_graph_node_get_op_type (g, node),
                   local ? local->message : "no reason given");
      g_clear_error (&local);
      return FALSE;
    }
    for (guint i = 0; i < n_out; i++) {
      gint v = glia_graph_node_get_output (g, node, i);
      if (v < 0)
        continue;
      if (kinds[i] != GLIA_VALUE_KIND_TENSOR)
        glia_graph_value_set_kind (g, v, kinds[i]);
      GliaDataType have_dt = glia_graph_value_get_dtype (g, v);
      gint have_rank = glia_graph_value_get_rank (g, v);
      GliaDataType new_dt = have_dt != GLIA_DATA_TYPE_UNDEFINED ? have_dt : dt[i];
      if (have_rank >= 0 && (rank[i] < 0 || rank[i] != have_rank)) {
        if (new_dt != have_dt) {
          const gint64 *hd = glia_graph_value_get_dims (g, v);
          g_autofree gint64 *copy = have_rank ? g_memdup2 (hd, have_rank * sizeof (gint64)) : NULL;
          g_autoptr (GPtrArray) params = g_ptr_array_new ();
          for (gint k = 0; k < have_rank; k++)
            g_ptr_array_add (params, (gpointer)glia_graph_value_get_dim_param (g, v, k));
          glia_graph_value_set_type (g, v, new_dt, have_rank, copy,
                                     (const char *const *)params->pdata);
        }
        continue;
      }
      /* merge: declared dims and symbolic names win over inferred ones */
      gint64 merged[GLIA_MAX_RANK];
      const char *params[GLIA_MAX_RANK];
      const gint64 *hd = have_rank >= 0 ? glia_graph_value_get_dims (g, v) : NULL;
      for (gint k = 0; k < rank[i]; k++) {
        merged[k] = hd && hd[k] >= 0 ? hd[k] : dims[i][k];
        params[k] = hd ? glia_graph_value_get_dim_param (g, v, k) : NULL;
        if (merged[k] < 0 && params[k] == NULL)
          params[k] = inherited_dim_param (g, node, i, rank[i], k);
      }
      glia_graph_value_set_type (g, v, new_dt, rank[i], merged, params);
    }
  }
  return TRUE;
}

static gboolean
session_infer_types (gpointer user_data, GliaGraph *graph, GError **error)
{
  GliaSession *self = user_data;
  g_assert (graph == self->graph);
  return infer_types (self, error);
}

/* For the optimizer: whether a provider or op set runs @node of @graph. */
static gboolean
session_supports_node (gpointer user_data, const GliaGraph *graph, gint node)
{
  GliaSession *self = user_data;
  for (guint i = 0; i < self->providers->len; i++) {
    Provider *p = provider_at (self, i);
    if (p->info && p->info->struct_size > G_STRUCT_OFFSET (GliaProviderInfo, lookup_op)
        && p->info->lookup_op && p->info->lookup_op (p->instance, graph, node))
      return TRUE;
  }
  const char *domain = glia_graph_node_get_domain (graph, node);
  return *domain
         && glia_registry_find_custom_op (self->registry, domain,
                                          glia_graph_node_get_op_type (graph, node),
                                          glia_graph_node_get_opset (graph, node))
                != NULL;
}

/* ---- negotiation ---------------------------------------------------------- */

/* A fused claim must be convex: no path leaves it and comes back. */
static gboolean
claim_is_convex (const GliaGraph *g, const gint *nodes, guint n, GHashTable *consumers)
{
  if (n <= 1)
    return TRUE;
  guint n_nodes = glia_graph_get_n_nodes (g);
  g_autofree guint8 *in_claim = g_new0 (guint8, n_nodes);
  g_autofree guint8 *reached = g_new0 (guint8, n_nodes); /* reached outside the claim */
  for (guint i = 0; i < n; i++)
    in_claim[nodes[i]] = 1;
  /* nodes are topologically ordered: one forward sweep propagates reachability */
  for (guint node = 0; node < n_nodes; node++) {
    if (!in_claim[node] && !reached[node])
      continue;
    guint n_out = glia_graph_node_get_n_outputs (g, node);
    for (guint o = 0; o < n_out; o++) {
      gint v = glia_graph_node_get_output (g, node, o);
      GArray *cs = v >= 0 ? g_hash_table_lookup (consumers, GINT_TO_POINTER (v)) : NULL;
      for (guint c = 0; cs && c < cs->len; c++) {
        gint cn = g_array_index (cs, gint, c);
        if (in_claim[cn] && reached[node])
          return FALSE; /* left the claim and came back */
        if (!in_claim[cn])
          reached[cn] = 1;
      }
    }
  }
  return TRUE;
}

static GHashTable *
build_consumers (const GliaGraph *g)
{
  GHashTable *consumers = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)g_array_unref);
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++) {
    guint n_in = glia_graph_node_get_n_inputs (g, node);
    for (guint i = 0; i < n_in; i++) {
      gint v = glia_graph_node_get_input (g, node, i);
      if (v < 0)
        continue;
      GArray *cs = g_hash_table_lookup (consumers, GINT_TO_POINTER (v));
      if (cs == NULL) {
        cs = g_array_new (FALSE, FALSE, sizeof (gint));
        g_hash_table_insert (consumers, GINT_TO_POINTER (v), cs);
      }
      gint n = node;
      if (cs->len == 0 || g_array_index (cs, gint, cs->len - 1) != n)
        g_array_append_val (cs, n);
    }
  }
  return consumers;
}

static char *
describe_op (const GliaGraph *g, gint node)
{
  const char *domain = glia_graph_node_get_domain (g, node);
  return g_strdup_printf ("%s%s%s (opset %d)", *domain ? domain : "", *domain ? ":" : "",
                          glia_graph_node_get_op_type (g, node),
                          glia_graph_node_get_opset (g, node));
}

static gint
compare_ints (gconstpointer a, gconstpointer b)
{
  gint x = *(const gint *)a, y = *(const gint *)b;
  return x < y ? -1 : x > y;
}

static gboolean
negotiate (GliaSession *self, GPtrArray *claims, GArray *claim_provider, gboolean fallback,
           GHashTable *consumers, GError **error)
{
  const GliaGraph *g = self->graph;
  guint n_nodes = glia_graph_get_n_nodes (g);
  self->node_provider = g_new (gint, n_nodes);
  for (guint i = 0; i < n_nodes; i++)
    self->node_provider[i] = -1;

  for (guint p = 0; p < self->providers->len; p++) {
    Provider *pr = provider_at (self, p);
    if (pr->info == NULL)
      continue;
    GliaCapability cap = { g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref) };
    GError *local = NULL;
    if (!pr->info->get_capability (pr->instance, g, &cap, &local)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "provider '%s' failed to claim: %s",
                   pr->name, local ? local->message : "no reason given");
      g_clear_error (&local);
      g_ptr_array_unref (cap.claims);
      return FALSE;
    }
    for (guint c = 0; c < cap.claims->len; c++) {
      GArray *claim = g_ptr_array_index (cap.claims, c);
      gboolean free_nodes = TRUE;
      for (guint k = 0; k < claim->len && free_nodes; k++) {
        gint node = g_array_index (claim, gint, k);
        free_nodes = node >= 0 && (guint)node < n_nodes && self->node_provider[node] < 0;
        for (guint j = 0; j < k && free_nodes; j++)
          free_nodes = g_array_index (claim, gint, j) != node;
      }
      if (!free_nodes)
        continue;
      if (!claim_is_convex (g, (gint *)claim->data, claim->len, consumers)) {
        g_debug ("provider '%s': ignoring a non-convex claim of %u nodes", pr->name, claim->len);
        continue;
      }
      g_array_sort (claim, compare_ints);
      for (guint k = 0; k < claim->len; k++)
        self->node_provider[g_array_index (claim, gint, k)] = p;
      g_ptr_array_add (claims, g_array_ref (claim));
      g_array_append_val (claim_provider, p);
    }
    g_ptr_array_unref (cap.claims);
  }

  /* custom-operator domains, then whatever is left */
  gint custom = custom_provider_index (self);
  g_autoptr (GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  for (guint node = 0; node < n_nodes; node++) {
    if (self->node_provider[node] >= 0)
      continue;
    const char *domain = glia_graph_node_get_domain (g, node);
    if (*domain
        && glia_registry_find_custom_op (self->registry, domain,
                                         glia_graph_node_get_op_type (g, node),
                                         glia_graph_node_get_opset (g, node))) {
      self->node_provider[node] = custom;
      GArray *claim = g_array_new (FALSE, FALSE, sizeof (gint));
      gint n = node;
      g_array_append_val (claim, n);
      g_ptr_array_add (claims, claim);
      g_array_append_val (claim_provider, custom);
      continue;
    }
    char *op = describe_op (g, node);
    gboolean dup = FALSE;
    for (guint k = 0; k < missing->len && !dup; k++)
      dup = g_str_equal (g_ptr_array_index (missing, k), op);
    if (dup)
      g_free (op);
    else
      g_ptr_array_add (missing, op);
  }
  if (missing->len > 0) {
    g_ptr_array_add (missing, NULL);
    g_autofree char *list = g_strjoinv (", ", (char **)missing->pdata);
    GString *names = g_string_new (NULL);
    for (guint p = 0; p + 1 < self->providers->len; p++)
      g_string_append_printf (names, "%s%s", p ? ", " : "", provider_at (self, p)->name);
    if (!fallback)
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP,
                   "no provider among [%s] claims these operators and CPU fallback is "
                   "disabled: %s",
                   names->str, list);
    else
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP,
                   "unsupported operator%s: %s; no provider among [%s] implements %s",
                   missing->len > 2 ? "s" : "", list, names->str, missing->len > 2 ? "them" : "it");
    g_string_free (names, TRUE);
    return FALSE;
  }
  return TRUE;
}

/* ---- steps and slots ------------------------------------------------------- */

static gint
add_slot (GliaSession *self, gint value, guint owner)
{
  Slot s = { .value = value, .owner = owner, .first_step = -1, .last_step = -1 };
  g_array_append_val (self->slots, s);
  return self->slots->len - 1;
}

/* Orders claims topologically (claims as super-nodes). */
static GArray *
order_claims (GliaSession *self, GPtrArray *claims, GHashTable *implicit)
{
  const GliaGraph *g = self->graph;
  guint n_nodes = glia_graph_get_n_nodes (g);
  guint n = claims->len;
  g_autofree gint *claim_of = g_new (gint, n_nodes);
  for (guint c = 0; c < n; c++) {
    GArray *cl = g_ptr_array_index (claims, c);
    for (guint k = 0; k < cl->len; k++)
      claim_of[g_array_index (cl, gint, k)] = c;
  }
  g_autofree guint *pending = g_new0 (guint, n);
  g_autoptr (GPtrArray) succ = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  for (guint c = 0; c < n; c++)
    g_ptr_array_add (succ, g_array_new (FALSE, FALSE, sizeof (guint)));
  for (guint node = 0; node < n_nodes; node++) {
    guint n_in = glia_graph_node_get_n_inputs (g, node);
    GArray *extra = g_hash_table_lookup (implicit, GINT_TO_POINTER (node));
    guint n_all = n_in + (extra ? extra->len : 0);
    for (guint i = 0; i < n_all; i++) {
      gint v = i < n_in ? glia_graph_node_get_input (g, node, i)
                        : g_array_index (extra, gint, i - n_in);
      gint prod = v >= 0 ? glia_graph_value_get_producer (g, v) : -1;
      if (prod < 0 || claim_of[prod] == claim_of[node])
        continue;
      guint from = claim_of[prod], to = claim_of[node];
      g_array_append_val (g_ptr_array_index (succ, from), to);
      pending[to]++;
    }
  }
  /* Kahn, always taking the ready claim whose first node comes first */
  GArray *order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autofree guint8 *done = g_new0 (guint8, n);
  for (guint round = 0; round < n; round++) {
    gint best = -1;
    gint best_first = G_MAXINT;
    for (guint c = 0; c < n; c++) {
      if (done[c] || pending[c])
        continue;
      GArray *cl = g_ptr_array_index (claims, c);
      gint first = g_array_index (cl, gint, 0);
      for (guint k = 1; k < cl->len; k++)
        first = MIN (first, g_array_index (cl, gint, k));
      if (first < best_first) {
        best = c;
        best_first = first;
      }
    }
    if (best < 0)
      break; /* cannot happen for convex claims */
    done[best] = 1;
    guint b = best;
    g_array_append_val (order, b);
    GArray *s = g_ptr_array_index (succ, best);
    for (guint k = 0; k < s->len; k++)
      pending[g_array_index (s, guint, k)]--;
  }
  return order;
}

/* External inputs and outputs of a claim, as graph values. */
static void
claim_io (const GliaGraph *g, GArray *claim, GHashTable *consumers, GArray *inputs, GArray *outputs)
{
  if (claim->len == 1) {
    gint node = g_array_index (claim, gint, 0);
    for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node); i++) {
      gint v = glia_graph_node_get_input (g, node, i);
      g_array_append_val (inputs, v);
    }
    for (guint i = 0; i < glia_graph_node_get_n_outputs (g, node); i++) {
      gint v = glia_graph_node_get_output (g, node, i);
      g_array_append_val (outputs, v);
    }
    return;
  }
  g_autoptr (GHashTable) inside = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) produced = g_hash_table_new (NULL, NULL);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  for (guint k = 0; k < claim->len; k++) {
    gint node = g_array_index (claim, gint, k);
    g_hash_table_add (inside, GINT_TO_POINTER (node));
    for (guint o = 0; o < glia_graph_node_get_n_outputs (g, node); o++) {
      gint v = glia_graph_node_get_output (g, node, o);
      if (v >= 0)
        g_hash_table_add (produced, GINT_TO_POINTER (v));
    }
  }
  for (guint k = 0; k < claim->len; k++) {
    gint node = g_array_index (claim, gint, k);
    for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node); i++) {
      gint v = glia_graph_node_get_input (g, node, i);
      if (v < 0 || g_hash_table_contains (produced, GINT_TO_POINTER (v))
          || g_hash_table_contains (seen, GINT_TO_POINTER (v)))
        continue;
      g_hash_table_add (seen, GINT_TO_POINTER (v));
      g_array_append_val (inputs, v);
    }
  }
  guint n_graph_out = glia_graph_get_n_outputs (g);
  for (guint k = 0; k < claim->len; k++) {
    gint node = g_array_index (claim, gint, k);
    for (guint o = 0; o < glia_graph_node_get_n_outputs (g, node); o++) {
      gint v = glia_graph_node_get_output (g, node, o);
      if (v < 0)
        continue;
      gboolean external = FALSE;
      for (guint i = 0; i < n_graph_out && !external; i++)
        external = glia_graph_get_output (g, i) == v;
      GArray *cs = g_hash_table_lookup (consumers, GINT_TO_POINTER (v));
      for (guint c = 0; cs && c < cs->len && !external; c++)
        external = !g_hash_table_contains (inside, GINT_TO_POINTER (g_array_index (cs, gint, c)));
      if (external)
        g_array_append_val (outputs, v);
    }
  }
}

/* Whether step @s is a single ONNX op that only reshapes, whose output 0
 * may share the memory of its input 0: both in host memory, the output not
 * a graph output (the caller gets its own memory). */
static gboolean
step_may_view (GliaSession *self, const Step *s)
{
  static const char *const ops[]
      = { "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", NULL };
  if (s->kind != STEP_KERNEL || s->n_nodes != 1 || s->n_inputs < 1 || s->n_outputs < 1
      || s->inputs[0] < 0 || s->outputs[0] < 0
      || provider_at (self, s->provider)->owner != OWNER_HOST)
    return FALSE;
  const char *op = glia_graph_node_get_op_type (self->graph, s->nodes[0]);
  if (*glia_graph_node_get_domain (self->graph, s->nodes[0]) != '\0' || !g_strv_contains (ops, op))
    return FALSE;
  const Slot *in = &g_array_index (self->slots, Slot, s->inputs[0]);
  const Slot *out = &g_array_index (self->slots, Slot, s->outputs[0]);
  return in->owner == OWNER_HOST && out->owner == OWNER_HOST && !out->is_output;
}

static gboolean
compile_claim (GliaSession *self, Provider *p, GArray *claim, GliaKernel *kernel, GError **error)
{
  const GliaGraph *g = self->graph;
  GError *local = NULL;
  gboolean ok;
  if (p->info == NULL) {
    gint node = g_array_index (claim, gint, 0);
    const GliaOpDef *def = glia_registry_find_custom_op (
        self->registry, glia_graph_node_get_domain (g, node), glia_graph_node_get_op_type (g, node),
        glia_graph_node_get_opset (g, node));
    kernel->compute = def->compute;
    kernel->destroy = def->destroy;
    kernel->state = def->create ? def->create (g, node, &local) : NULL;
    ok = local == NULL;
  } else
    ok = p->info->compile (p->instance, g, (gint *)claim->data, claim->len, kernel, &local);
  if (!ok || kernel->compute == NULL) {
    gint node = g_array_index (claim, gint, 0);
    g_autofree char *op = describe_op (g, node);
    g_set_error (error, GLIA_ERROR, local ? local->code : GLIA_ERROR_FAILED,
                 "provider '%s' failed to compile node '%s' %s: %s", p->name,
                 glia_graph_node_get_name (g, node), op,
                 local ? local->message : "no kernel returned");
    g_clear_error (&local);
    return FALSE;
  }
  return TRUE;
}

/* Returns the slot holding @value in memory @owner, adding a copy step (and
 * via host memory between two devices) when it lives elsewhere. Constants
 * are copied once, now. */
static gint
slot_in_owner (GliaSession *self, GHashTable *where, gint value, guint owner, GError **error)
{
  gint home = value; /* slot id == value id for home slots */
  Slot *hs = &g_array_index (self->slots, Slot, home);
  if (hs->owner == owner)
    return home;
  gint64 key = ((gint64)value << 16) | owner;
  gpointer found = g_hash_table_lookup (where, &key);
  if (found)
    return GPOINTER_TO_INT (found) - 1;

  gint src = home;
  if (hs->owner != OWNER_HOST && owner != OWNER_HOST) {
    src = slot_in_owner (self, where, value, OWNER_HOST, error);
    if (src < 0)
      return -1;
  }
  Slot *ss = &g_array_index (self->slots, Slot, src);
  guint src_owner = ss->owner;
  gboolean src_constant = ss->is_constant;
  gint dst = add_slot (self, value, owner);
  Slot *ds = &g_array_index (self->slots, Slot, dst);
  gint device_provider = (owner != OWNER_HOST ? owner : src_owner) - 1;
  Provider *p = provider_at (self, device_provider);

  if (src_constant) {
    /* upload once */
    Slot *cs = &g_array_index (self->slots, Slot, src);
    GliaTensorView view = cs->constant;
    GError *local = NULL;
    gpointer mem = p->info->alloc (p->instance, MAX (view.n_bytes, 1), &local);
    if (mem == NULL
        || !p->info->copy (p->instance, mem, view.data, view.n_bytes, GLIA_COPY_HOST_TO_DEVICE,
                           p->info->get_stream ? p->info->get_stream (p->instance) : NULL,
                           &local)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE,
                   "cannot upload constant '%s' to provider '%s': %s",
                   glia_graph_value_get_name (self->graph, value), p->name,
                   local ? local->message : "out of memory");
      g_clear_error (&local);
      if (mem)
        p->info->free (p->instance, mem);
      return -1;
    }
    if (p->info->synchronize && !p->info->synchronize (p->instance, error))
      return -1;
    ds->is_constant = TRUE;
    ds->constant = view;
    ds->constant.data = mem;
    ds->constant.device = p->device;
    ds->device_constant = mem;
  } else {
    Step s = { 0 };
    s.kind = STEP_COPY;
    s.view_input = -1;
    s.provider = device_provider;
    s.copy_kind = owner == OWNER_HOST ? GLIA_COPY_DEVICE_TO_HOST : GLIA_COPY_HOST_TO_DEVICE;
    s.n_inputs = 1;
    s.inputs = g_new (gint, 1);
    s.inputs[0] = src;
    s.n_outputs = 1;
    s.outputs = g_new (gint, 1);
    s.outputs[0] = dst;
    g_array_append_val (self->steps, s);
    self->n_copies++;
  }
  gint64 *k = g_new (gint64, 1);
  *k = key;
  g_hash_table_insert (where, k, GINT_TO_POINTER (dst + 1));
  return dst;
}

static void
prepare_constant (GliaSession *self, Slot *slot, const GliaConstTensor *c, GPtrArray *strings)
{
  GliaTensorView *v = &slot->constant;
  v->dtype = c->dtype;
  v->rank = c->rank;
  v->n_elements = 1;
  for (guint i = 0; i < c->rank && i < GLIA_MAX_RANK; i++) {
    v->dims[i] = c->dims[i];
    v->n_elements *= c->dims[i];
  }
  v->device = GLIA_DEVICE_TYPE_CPU;
  gsize size;
  const char *data = g_bytes_get_data (c->data, &size);
  if (c->dtype == GLIA_DATA_TYPE_STRING) {
    char **ptrs = g_new0 (char *, v->n_elements + 1);
    const char *p = data;
    for (gsize i = 0; i < v->n_elements; i++) {
      ptrs[i] = (char *)p;
      p += strlen (p) + 1;
    }
    g_ptr_array_add (strings, ptrs);
    v->data = ptrs;
    v->n_bytes = v->n_elements * sizeof (char *);
  } else {
    v->data = (gpointer)data;
    v->n_bytes = size;
  }
}

static gboolean
build_steps (GliaSession *self, GPtrArray *claims, GArray *claim_provider, GHashTable *consumers,
             GHashTable *implicit, GError **error)
{
  GliaGraph *g = self->graph;
  guint n_values = glia_graph_get_n_values (g);
  self->slots = g_array_new (FALSE, TRUE, sizeof (Slot));
  self->steps = g_array_new (FALSE, TRUE, sizeof (Step));
  g_array_set_clear_func (self->steps, step_clear);

  /* home slots: one per value, in its producer's memory */
  g_autoptr (GPtrArray) strings = g_ptr_array_new ();
  for (guint v = 0; v < n_values; v++) {
    gint prod = glia_graph_value_get_producer (g, v);
    guint owner = prod >= 0 ? provider_at (self, self->node_provider[prod])->owner : OWNER_HOST;
    add_slot (self, v, owner);
    const GliaConstTensor *c = glia_graph_value_get_constant (g, v);
    if (c) {
      Slot *s = &g_array_index (self->slots, Slot, v);
      s->is_constant = TRUE;
      prepare_constant (self, s, c, strings);
    }
  }
  guint n_in = glia_graph_get_n_inputs (g);
  self->input_slot = g_new (gint, n_in);
  for (guint i = 0; i < n_in; i++) {
    gint v = glia_graph_get_input (g, i);
    self->input_slot[i] = v;
    g_array_index (self->slots, Slot, v).is_input = TRUE;
  }

  g_autoptr (GHashTable) where = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr (GArray) order = order_claims (self, claims, implicit);
  for (guint k = 0; k < order->len; k++) {
    guint c = g_array_index (order, guint, k);
    GArray *claim = g_ptr_array_index (claims, c);
    gint pi = g_array_index (claim_provider, gint, c);
    Provider *p = provider_at (self, pi);
    g_autoptr (GArray) ins = g_array_new (FALSE, FALSE, sizeof (gint));
    g_autoptr (GArray) outs = g_array_new (FALSE, FALSE, sizeof (gint));
    claim_io (g, claim, consumers, ins, outs);
    guint n_declared = ins->len;
    for (guint k = 0; k < claim->len; k++) {
      GArray *extra
          = g_hash_table_lookup (implicit, GINT_TO_POINTER (g_array_index (claim, gint, k)));
      for (guint e = 0; extra && e < extra->len; e++) {
        gint v = g_array_index (extra, gint, e);
        gboolean have = FALSE;
        for (guint j = n_declared; j < ins->len && !have; j++)
          have = g_array_index (ins, gint, j) == v;
        if (!have)
          g_array_append_val (ins, v);
      }
    }

    Step s = { 0 };
    s.kind = STEP_KERNEL;
    s.view_input = -1;
    s.provider = pi;
    s.n_nodes = claim->len;
    s.nodes = g_memdup2 (claim->data, claim->len * sizeof (gint));
    s.n_inputs = ins->len;
    s.n_declared_inputs = n_declared;
    s.inputs = g_new (gint, MAX (ins->len, 1));
    for (guint i = 0; i < ins->len; i++) {
      gint v = g_array_index (ins, gint, i);
      s.inputs[i] = v < 0 ? -1 : slot_in_owner (self, where, v, p->owner, error);
      if (v >= 0 && s.inputs[i] < 0) {
        g_free (s.nodes);
        g_free (s.inputs);
        return FALSE;
      }
    }
    s.n_outputs = outs->len;
    s.outputs = g_memdup2 (outs->data, MAX (outs->len, 1) * sizeof (gint));
    if (!compile_claim (self, p, claim, &s.kernel, error)) {
      g_free (s.nodes);
      g_free (s.inputs);
      g_free (s.outputs);
      return FALSE;
    }
    g_array_append_val (self->steps, s);
  }

  /* graph outputs end in host memory */
  guint n_out = glia_graph_get_n_outputs (g);
  self->output_slot = g_new (gint, n_out);
  for (guint i = 0; i < n_out; i++) {
    gint v = glia_graph_get_output (g, i);
    self->output_slot[i] = slot_in_owner (self, where, v, OWNER_HOST, error);
    if (self->output_slot[i] < 0)
      return FALSE;
  }
  for (guint i = 0; i < n_out; i++) {
    Slot *s = &g_array_index (self->slots, Slot, self->output_slot[i]);
    if (!s->is_input && !s->is_constant)
      s->is_output = TRUE;
  }

  /* lifetimes */
  for (guint k = 0; k < self->steps->len; k++) {
    Step *s = &g_array_index (self->steps, Step, k);
    for (guint i = 0; i < s->n_outputs; i++)
      if (s->outputs[i] >= 0) {
        Slot *sl = &g_array_index (self->slots, Slot, s->outputs[i]);
        if (sl->first_step < 0)
          sl->first_step = k;
        sl->last_step = MAX (sl->last_step, (gint)k);
      }
    for (guint i = 0; i < s->n_inputs; i++)
      if (s->inputs[i] >= 0) {
        Slot *sl = &g_array_index (self->slots, Slot, s->inputs[i]);
        sl->last_step = MAX (sl->last_step, (gint)k);
      }
  }
  /* Reshapes may make their output a view of their input
   * (glia_kernel_context_set_output_view): the input's memory then lives
   * as long as the view is read. Backwards, so that a chain of views
   * extends its first input to the last reader. */
  for (gint k = (gint)self->steps->len - 1; k >= 0; k--) {
    Step *s = &g_array_index (self->steps, Step, k);
    if (!step_may_view (self, s))
      continue;
    s->view_input = 0;
    Slot *in = &g_array_index (self->slots, Slot, s->inputs[0]);
    Slot *out = &g_array_index (self->slots, Slot, s->outputs[0]);
    in->last_step = MAX (in->last_step, out->last_step);
  }

  if (strings->len) {
    g_ptr_array_add (strings, NULL);
    self->constant_strings = (char **)g_ptr_array_steal (strings, NULL);
  }
  return TRUE;
}

/* ---- subgraphs ------------------------------------------------------------- */

static void
collect_free_values (const GliaGraph *g, GHashTable *out)
{
  g_autoptr (GHashTable) defined = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < glia_graph_get_n_inputs (g); i++)
    g_hash_table_add (defined,
                      (gpointer)glia_graph_value_get_name (g, glia_graph_get_input (g, i)));
  guint n_values = glia_graph_get_n_values (g);
  for (guint v = 0; v < n_values; v++)
    if (glia_graph_value_get_constant (g, v) || glia_graph_value_get_producer (g, v) >= 0)
      g_hash_table_add (defined, (gpointer)glia_graph_value_get_name (g, v));
  guint n_nodes = glia_graph_get_n_nodes (g);
  for (guint node = 0; node < n_nodes; node++) {
    for (guint i = 0; i < glia_graph_node_get_n_inputs (g, node); i++) {
      gint v = glia_graph_node_get_input (g, node, i);
      const char *name = v >= 0 ? glia_graph_value_get_name (g, v) : NULL;
      if (name && !g_hash_table_contains (defined, name))
        g_hash_table_add (out, g_strdup (name));
    }
    for (guint a = 0; a < glia_graph_node_get_n_attrs (g, node); a++) {
      const char *attr = glia_graph_node_get_attr_name (g, node, a);
      GliaGraph *sub = glia_graph_node_get_attr_graph (g, node, attr);
      if (sub == NULL)
        continue;
      g_autoptr (GHashTable) inner = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      collect_free_values (sub, inner);
      GHashTableIter it;
      gpointer name;
      g_hash_table_iter_init (&it, inner);
      while (g_hash_table_iter_next (&it, &name, NULL))
        if (!g_hash_table_contains (defined, name))
          g_hash_table_add (out, g_strdup (name));
    }
  }
  /* graph outputs taken straight from an enclosing scope */
  for (guint i = 0; i < glia_graph_get_n_outputs (g); i++) {
    const char *name = glia_graph_value_get_name (g, glia_graph_get_output (g, i));
    if (!g_hash_table_contains (defined, name))
      g_hash_table_add (out, g_strdup (name));
  }
}

GPtrArray *
_glia_graph_free_values (const GliaGraph *graph)
{
  g_autoptr (GHashTable) set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  collect_free_values (graph, set);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter it;
  gpointer name;
  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, &name, NULL))
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  return names;
}

/* The enclosing values each node's subgraphs read, as value ids of @g. */
static gboolean
node_implicit_inputs (const GliaGraph *g, gint node, GArray *out, GError **error)
{
  g_autoptr (GHashTable) set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint a = 0; a < glia_graph_node_get_n_attrs (g, node); a++) {
    GliaGraph *sub
        = glia_graph_node_get_attr_graph (g, node, glia_graph_node_get_attr_name (g, node, a));
    if (sub)
      collect_free_values (sub, set);
  }
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter it;
  gpointer name;
  g_hash_table_iter_init (&it, set);
  while (g_hash_table_iter_next (&it, &name, NULL))
    g_ptr_array_add (names, name);
  g_ptr_array_sort (names, compare_strings);
  for (guint i = 0; i < names->len; i++) {
    gint v = glia_graph_lookup_value (g, g_ptr_array_index (names, i));
    if (v < 0) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL,
                   "a subgraph of node '%s' (%s) reads '%s', which no enclosing graph defines",
                   glia_graph_node_get_name (g, node), glia_graph_node_get_op_type (g, node),
                   (char *)g_ptr_array_index (names, i));
      return FALSE;
    }
    g_array_append_val (out, v);
  }
  return TRUE;
}

static void
subgraph_session_free (gpointer p)
{
  SubgraphSession *ss = p;
  g_clear_object (&ss->session);
  g_ptr_array_unref (ss->declared_names);
  g_ptr_array_unref (ss->outer_names);
  g_ptr_array_unref (ss->output_names);
  g_free (ss);
}

SubgraphSession *
_glia_session_get_subgraph (GliaSession *self, const GliaGraph *subgraph, GError **error)
{
  g_mutex_lock (&self->subgraph_lock);
  SubgraphSession *ss = g_hash_table_lookup (self->subgraphs, subgraph);
  if (ss) {
    g_mutex_unlock (&self->subgraph_lock);
    return ss;
  }
  g_autoptr (GliaGraph) copy = glia_graph_copy (subgraph);
  g_autoptr (GPtrArray) outer = _glia_graph_free_values (copy);
  g_autoptr (GPtrArray) declared = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < glia_graph_get_n_inputs (copy); i++)
    g_ptr_array_add (declared,
                     g_strdup (glia_graph_value_get_name (copy, glia_graph_get_input (copy, i))));
  /* enclosing values become inputs, typed as the enclosing graph knows them */
  for (guint i = 0; i < outer->len; i++) {
    const char *name = g_ptr_array_index (outer, i);
    gint v = glia_graph_add_value (copy, name, GLIA_DATA_TYPE_UNDEFINED, -1, NULL, NULL);
    gint pv = glia_graph_lookup_value (self->graph, name);
    if (pv >= 0) {
      gint rank = glia_graph_value_get_rank (self->graph, pv);
      g_autoptr (GPtrArray) params = g_ptr_array_new ();
      for (gint k = 0; k < rank; k++)
        g_ptr_array_add (params, (gpointer)glia_graph_value_get_dim_param (self->graph, pv, k));
      glia_graph_value_set_type (copy, v, glia_graph_value_get_dtype (self->graph, pv), rank,
                                 glia_graph_value_get_dims (self->graph, pv),
                                 rank > 0 ? (const char *const *)params->pdata : NULL);
    }
    glia_graph_add_input (copy, v);
  }
  GliaSession *session = NULL;
  g_autoptr (GliaModel) model = glia_model_new_from_graph (copy, error);
  if (model)
    session = glia_session_new_full (model, self->options, self->registry, error);
  if (session == NULL) {
    g_prefix_error (error, "compiling a subgraph: ");
    g_mutex_unlock (&self->subgraph_lock);
    return NULL;
  }
  ss = g_new0 (SubgraphSession, 1);
  ss->session = session;
  ss->n_declared_inputs = declared->len;
  ss->declared_names = g_steal_pointer (&declared);
  ss->outer_names = g_steal_pointer (&outer);
  ss->output_names = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < glia_graph_get_n_outputs (copy); i++)
    g_ptr_array_add (ss->output_names,
                     g_strdup (glia_graph_value_get_name (copy, glia_graph_get_output (copy, i))));
  g_hash_table_insert (self->subgraphs, (gpointer)subgraph, ss);
  g_mutex_unlock (&self->subgraph_lock);
  return ss;
}

/* ---- public ------------------------------------------------------------- */

/**
 * glia_session_new:
 * @model: a #GliaModel
 * @options: (nullable): how to set up the session
 * @error: return location for a #GError
 *
 * Prepares @model to run with the default registry's providers.
 *
 * Returns: (transfer full): the session, or %NULL with @error set
 */
GliaSession *
glia_session_new (GliaModel *model, GliaSessionOptions *options, GError **error)
{
  return glia_session_new_full (model, options, glia_registry_get_default (), error);
}

/**
 * glia_session_new_full:
 * @model: a #GliaModel
 * @options: (nullable): how to set up the session
 * @registry: the registry to take providers from
 * @error: return location for a #GError
 *
 * Prepares @model to run with the providers of @registry: optimizes a copy of the graph, asks the
 * providers for the nodes in the options' preference order, inserts copies between devices,
 * compiles the kernels and infers shapes. Fails if a provider option is unknown, a named provider
 * does not exist, or (without fallback) a node is left unclaimed.
 *
 * Returns: (transfer full): the session, or %NULL with @error set
 */
GliaSession *
glia_session_new_full (GliaModel *model, GliaSessionOptions *options, GliaRegistry *registry,
                       GError **error)
{
  g_return_val_if_fail (GLIA_IS_MODEL (model), NULL);
  g_return_val_if_fail (options == NULL || GLIA_IS_SESSION_OPTIONS (options), NULL);
  g_return_val_if_fail (GLIA_IS_REGISTRY (registry), NULL);

  g_autoptr (GliaSession) self = g_object_new (GLIA_TYPE_SESSION, NULL);
  self->model = g_object_ref (model);
  self->registry = g_object_ref (registry);
  self->options = options ? g_object_ref (options) : NULL;
  self->created_us = g_get_monotonic_time ();
  self->profiling = options && glia_session_options_get_profiling (options);
  if (self->profiling) {
    self->profile = g_array_new (FALSE, FALSE, sizeof (ProfileEvent));
    g_array_set_clear_func (self->profile, profile_event_clear);
  }
  self->graph = glia_graph_copy (glia_model_get_graph (model));
  guint threads = options ? glia_session_options_get_threads (options) : 0;
  self->n_threads = threads ? threads : g_get_num_processors ();
  self->memory_limit = options ? glia_session_options_get_memory_limit (options) : 0;
  gboolean fallback = options ? glia_session_options_get_allow_fallback (options) : TRUE;

  if (!create_providers (self, options, error))
    return NULL;
  if (!infer_types (self, error))
    return NULL;
  /* passes see the inferred types; what they add is inferred after them */
  g_autoptr (GliaSessionOptions) defaults = options ? NULL : glia_session_options_new ();
  guint level = glia_session_options_get_optimization_level (options ? options : defaults);
  if (!_glia_optimize (self->graph, level, self->registry, session_supports_node,
                       session_infer_types, self, &self->optimization_report, error))
    return NULL;

  g_autoptr (GHashTable) consumers = build_consumers (self->graph);
  g_autoptr (GPtrArray) claims = g_ptr_array_new_with_free_func ((GDestroyNotify)g_array_unref);
  g_autoptr (GArray) claim_provider = g_array_new (FALSE, FALSE, sizeof (gint));
  if (!negotiate (self, claims, claim_provider, fallback, consumers, error))
    return NULL;
  g_autoptr (GHashTable) implicit
      = g_hash_table_new_full (NULL, NULL, NULL, (GDestroyNotify)g_array_unref);
  guint n_nodes = glia_graph_get_n_nodes (self->graph);
  for (guint node = 0; node < n_nodes; node++) {
    GArray *extra = g_array_new (FALSE, FALSE, sizeof (gint));
    if (!node_implicit_inputs (self->graph, node, extra, error)) {
      g_array_unref (extra);
      return NULL;
    }
    if (extra->len)
      g_hash_table_insert (implicit, GINT_TO_POINTER (node), extra);
    else
      g_array_unref (extra);
  }
  if (!build_steps (self, claims, claim_provider, consumers, implicit, error))
    return NULL;
  choose_parallel_provider (self);
  return g_steal_pointer (&self);
}

/**
 * glia_session_get_model:
 * @self: a #GliaSession
 *
 * Gets the model the session runs.
 *
 * Returns: (transfer none): the session's model
 */
GliaModel *
glia_session_get_model (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  return self->model;
}

/**
 * glia_session_get_n_nodes:
 * @self: a #GliaSession
 *
 * Gets the number of nodes of the session's graph, after optimization: node indices for the other
 * node getters range below it.
 *
 * Returns: the number of nodes of the session's graph
 */
guint
glia_session_get_n_nodes (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), 0);
  return glia_graph_get_n_nodes (self->graph);
}

/**
 * glia_session_get_node_name:
 * @self: a #GliaSession
 * @node: a node index
 *
 * Gets the name of a node of the session's (optimized) graph.
 *
 * Returns: (transfer none) (nullable): the node's name
 */
const char *
glia_session_get_node_name (GliaSession *self, guint node)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  return glia_graph_node_get_name (self->graph, node);
}

/**
 * glia_session_get_node_op_type:
 * @self: a #GliaSession
 * @node: a node index
 *
 * Gets the operator type of a node of the session's graph.
 *
 * Returns: (transfer none) (nullable): the node's operator type ("Conv")
 */
const char *
glia_session_get_node_op_type (GliaSession *self, guint node)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  return glia_graph_node_get_op_type (self->graph, node);
}

/**
 * glia_session_get_node_domain:
 * @self: a #GliaSession
 * @node: a node index
 *
 * Gets the operator domain of a node of the session's graph.
 *
 * Returns: (transfer none) (nullable): the node's operator domain, "" for ai.onnx
 */
const char *
glia_session_get_node_domain (GliaSession *self, guint node)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  return glia_graph_node_get_domain (self->graph, node);
}

/**
 * glia_session_get_optimization_report:
 * @self: a #GliaSession
 *
 * What the graph optimizer did when the session was made: the level, the
 * node count before and after, and per pass its changes and the first few of
 * them. `glia inspect --passes` prints it.
 *
 * Returns: (transfer none): the report, several lines of text
 */
const char *
glia_session_get_optimization_report (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  return self->optimization_report ? self->optimization_report : "";
}

/**
 * glia_session_get_threads:
 * @self: a #GliaSession
 *
 * Gets the intra-op thread budget of the session.
 *
 * Returns: the intra-op thread count the session uses (resolved from the
 *   options; 0 there means one per CPU)
 */
guint
glia_session_get_threads (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), 0);
  return self->n_threads;
}

/**
 * glia_session_get_node_provider:
 * @self: a #GliaSession
 * @node: a node index
 *
 * Gets the execution provider that won a node in negotiation: `glia inspect` shows this
 * assignment.
 *
 * Returns: (transfer none) (nullable): the provider that runs the node
 *   ("custom" for nodes run by a custom-operator plugin)
 */
const char *
glia_session_get_node_provider (GliaSession *self, guint node)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  if (node >= glia_graph_get_n_nodes (self->graph))
    return NULL;
  return provider_at (self, self->node_provider[node])->name;
}

/**
 * glia_session_get_n_copies:
 * @self: a #GliaSession
 *
 * Counts the copy steps the host inserted between nodes on different devices.
 *
 * Returns: the number of copy steps between devices a run performs
 */
guint
glia_session_get_n_copies (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), 0);
  return self->n_copies;
}

/**
 * glia_session_get_providers:
 * @self: a #GliaSession
 *
 * Lists the providers the session created.
 *
 * Returns: (transfer full) (array zero-terminated=1): the session's providers
 *   in preference order
 */
char **
glia_session_get_providers (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  GStrvBuilder *b = g_strv_builder_new ();
  for (guint i = 0; i < self->providers->len; i++)
    if (provider_at (self, i)->info)
      g_strv_builder_add (b, provider_at (self, i)->name);
  char **v = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return v;
}

/**
 * glia_session_get_n_plans:
 * @self: a #GliaSession
 *
 * Counts the memory plans the session has made: one per input signature (the shapes of the inputs)
 * seen by a run.
 *
 * Returns: how many input signatures have a memory plan
 */
guint
glia_session_get_n_plans (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), 0);
  g_mutex_lock (&self->plan_lock);
  guint n = g_hash_table_size (self->plans);
  g_mutex_unlock (&self->plan_lock);
  return n;
}

/**
 * glia_session_get_n_dynamic_allocations:
 * @self: a #GliaSession
 *
 * Counts intermediate tensors allocated outside a memory plan's arena since
 * the session was made: the first run of each input signature allocates
 * them all, a steady-state run none (returned outputs are not counted).
 *
 * Returns: the count
 */
guint64
glia_session_get_n_dynamic_allocations (GliaSession *self)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), 0);
  return (guint64)g_atomic_pointer_get (&self->n_dynamic_allocs);
}

/**
 * glia_session_write_profile:
 * @self: a #GliaSession made with #GliaSessionOptions:profiling on
 * @path: (type filename): where to write
 * @error: return location for a #GError
 *
 * Writes the steps timed so far as Chrome trace-event JSON (open it in
 * Perfetto or chrome://tracing): one complete ("X") event per step, named
 * after its node, with the operator, provider, and input and output shapes.
 *
 * Returns: %FALSE with @error set if profiling is off or the file cannot be written
 */
gboolean
glia_session_write_profile (GliaSession *self, const char *path, GError **error)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);
  if (!self->profiling) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "the session was made without profiling (GliaSessionOptions:profiling)");
    return FALSE;
  }
  g_autoptr (JsonBuilder) b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "traceEvents");
  json_builder_begin_array (b);
  g_mutex_lock (&self->profile_lock);
  for (guint i = 0; i < self->profile->len; i++) {
    ProfileEvent *e = &g_array_index (self->profile, ProfileEvent, i);
    Step *step = &g_array_index (self->steps, Step, e->step);
    gint node = step->n_nodes ? step->nodes[0] : -1;
    const char *op
        = step->kind == STEP_COPY ? "copy" : glia_graph_node_get_op_type (self->graph, node);
    const char *name = node >= 0 ? glia_graph_node_get_name (self->graph, node) : NULL;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "name");
    json_builder_add_string_value (b, name && *name ? name : op);
    json_builder_set_member_name (b, "cat");
    json_builder_add_string_value (b, provider_at (self, step->provider)->name);
    json_builder_set_member_name (b, "ph");
    json_builder_add_string_value (b, "X");
    json_builder_set_member_name (b, "ts");
    json_builder_add_int_value (b, e->start_us);
    json_builder_set_member_name (b, "dur");
    json_builder_add_int_value (b, e->duration_us);
    json_builder_set_member_name (b, "pid");
    json_builder_add_int_value (b, 1);
    json_builder_set_member_name (b, "tid");
    json_builder_add_int_value (b, e->thread);
    json_builder_set_member_name (b, "args");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "op");
    json_builder_add_string_value (b, op);
    json_builder_set_member_name (b, "provider");
    json_builder_add_string_value (b, provider_at (self, step->provider)->name);
    json_builder_set_member_name (b, "nodes");
    json_builder_add_int_value (b, step->n_nodes);
    json_builder_set_member_name (b, "shapes");
    json_builder_add_string_value (b, e->shapes ? e->shapes : "");
    json_builder_end_object (b);
    json_builder_end_object (b);
  }
  g_mutex_unlock (&self->profile_lock);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "displayTimeUnit");
  json_builder_add_string_value (b, "ms");
  json_builder_end_object (b);
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_file (gen, path, error);
}

/**
 * glia_session_run:
 * @self: a #GliaSession
 * @inputs: (element-type utf8 GObject): input name → #GliaTensor (or
 *   #GliaSequence for sequence inputs; leave an optional input out for "none")
 * @error: return location for a #GError
 *
 * Runs the model. Safe to call from several threads at once.
 *
 * Returns: (transfer container) (element-type utf8 GObject): output name →
 *   #GliaTensor (#GliaSequence for sequence outputs, %NULL for an empty
 *   optional), or %NULL with @error set. The table owns its keys and values:
 *   g_hash_table_unref() frees everything. (Annotated "container" so that
 *   bindings take their own references instead of stealing the table's.)
 */
GHashTable *
glia_session_run (GliaSession *self, GHashTable *inputs, GError **error)
{
  g_return_val_if_fail (GLIA_IS_SESSION (self), NULL);
  g_return_val_if_fail (inputs != NULL, NULL);
  return _glia_session_execute (self, inputs, error);
}

static void
run_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  GError *error = NULL;
  if (g_task_return_error_if_cancelled (task))
    return;
  GHashTable *out = _glia_session_execute (GLIA_SESSION (source), data, &error);
  if (out)
    g_task_return_pointer (task, out, (GDestroyNotify)g_hash_table_unref);
  else
    g_task_return_error (task, error);
}

/**
 * glia_session_run_async:
 * @self: a #GliaSession
 * @inputs: (element-type utf8 GObject): as for glia_session_run()
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when the run is done
 * @user_data: data for @callback
 *
 * Runs the model in a worker thread.
 */
void
glia_session_run_async (GliaSession *self, GHashTable *inputs, GCancellable *cancellable,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  g_return_if_fail (GLIA_IS_SESSION (self));
  g_return_if_fail (inputs != NULL);
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, glia_session_run_async);
  /* copy: bindings free the table they passed in once this call returns */
  GHashTable *copy = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  GHashTableIter it;
  gpointer key, value;
  g_hash_table_iter_init (&it, inputs);
  while (g_hash_table_iter_next (&it, &key, &value))
    g_hash_table_insert (copy, g_strdup (key), g_object_ref (value));
  g_task_set_task_data (task, copy, (GDestroyNotify)g_hash_table_unref);
  g_task_run_in_thread (task, run_in_thread);
}

/**
 * glia_session_run_finish:
 * @self: a #GliaSession
 * @result: the #GAsyncResult given to the callback
 * @error: return location for a #GError
 *
 * Gets the result of glia_session_run_async().
 *
 * Returns: (transfer container) (element-type utf8 GObject): the outputs,
 *   as from glia_session_run(), or %NULL with @error set
 */
GHashTable *
glia_session_run_finish (GliaSession *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}
