/* glia-executor.c: running a session's steps, the kernel context, and the
 * per-signature memory plans.
 *
 * Memory plan. The first run with a given input signature (dtypes and dims
 * of the inputs) allocates each intermediate tensor on demand, frees it after
 * its last use, and records its size. From those sizes and the lifetimes
 * computed at session creation the executor packs all intermediates of each
 * memory owner (host, or one device provider) into one arena with a greedy
 * best-offset placement (largest first; tensors whose lifetimes do not
 * overlap share bytes). Later runs with that signature take a frame (arenas
 * + views + scratch) from the plan's pool, so a steady-state run allocates
 * nothing per node: only the returned output tensors are new memory. A
 * tensor larger than planned (a data-dependent shape) is allocated on its own
 * for that run, which stays correct. Concurrent runs each hold their own
 * frame; plans and steps are read-only while running.
 */
#include "glia-session-private.h"

#include <string.h>

#define ALIGNMENT   64
#define MAX_PLANS   32
#define NOT_PLANNED G_MAXSIZE

/* A sequence value in a frame: item views over memory the frame owns (or
 * over the caller's tensors, which @refs keeps alive). */
typedef struct _SeqValue
{
  GliaDataType dtype;
  guint length;
  GliaTensorView *items;
  GPtrArray *owned; /* item buffers (g_free) */
  GPtrArray *refs;  /* GliaTensor references */
} SeqValue;

static void
seq_value_free (SeqValue *sv)
{
  if (sv == NULL)
    return;
  if (sv->dtype == GLIA_DATA_TYPE_STRING && sv->owned->len) {
    for (guint i = 0; i < sv->length; i++) {
      char **strs = sv->items[i].data;
      for (gsize k = 0; k < sv->items[i].n_elements; k++)
        g_free (strs[k]);
    }
  }
  g_ptr_array_unref (sv->owned);
  g_ptr_array_unref (sv->refs);
  g_free (sv->items);
  g_free (sv);
}

typedef struct
{
  gpointer ptr;
  guint owner;
  gsize size;
  gboolean released;
} Alloc;

typedef struct
{
  Plan *plan;     /* NULL while recording */
  guint8 **arena; /* per owner */
  GliaTensorView *views;
  guint8 *have;
  guint8 *none;           /* optional outputs marked empty */
  struct _SeqValue **seq; /* sequence values, NULL for tensors */
  gsize *sizes;
  gint *dyn_of_slot;
  GArray *dynamic; /* Alloc */
  GPtrArray *extra_views;
  guint8 *scratch;
  gsize scratch_size;
  guint64 live_bytes;
} Frame;

struct _Plan
{
  GliaSession *session;
  gsize *offset;
  gsize *capacity;
  gsize *arena_size; /* per owner */
  GMutex lock;
  GPtrArray *free_frames;
};

struct _GliaKernelContext
{
  GliaSession *session;
  Frame *frame;
  Step *step;
  GHashTable *held;      /* outputs of the last subgraph run */
  GPtrArray *held_items; /* item view arrays of sequences in held */
};

static inline Slot *
slot_at (GliaSession *self, gint i)
{
  return &g_array_index (self->slots, Slot, i);
}

static inline Provider *
provider_at (GliaSession *self, gint i)
{
  return g_ptr_array_index (self->providers, i);
}

/* The device provider behind memory owner @owner (> 0). */
static Provider *
owner_provider (GliaSession *self, guint owner)
{
  return provider_at (self, owner - 1);
}

static gpointer
owner_alloc (GliaSession *self, guint owner, gsize size, GError **error)
{
  if (owner == OWNER_HOST) {
    gpointer p = NULL;
    if (posix_memalign (&p, ALIGNMENT, MAX (size, 1)) != 0) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                   "out of memory allocating %" G_GSIZE_FORMAT " bytes", size);
      return NULL;
    }
    return p;
  }
  Provider *p = owner_provider (self, owner);
  GError *local = NULL;
  gpointer mem = p->info->alloc (p->instance, MAX (size, 1), &local);
  if (mem == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE,
                 "provider '%s' could not allocate %" G_GSIZE_FORMAT " bytes: %s", p->name, size,
                 local ? local->message : "out of memory");
    g_clear_error (&local);
  }
  return mem;
}

static void
owner_free (GliaSession *self, guint owner, gpointer ptr)
{
  if (ptr == NULL)
    return;
  if (owner == OWNER_HOST)
    free (ptr);
  else {
    Provider *p = owner_provider (self, owner);
    p->info->free (p->instance, ptr);
  }
}

/* ---- frames --------------------------------------------------------------- */

static void frame_free (GliaSession *self, Frame *f);

static Frame *
frame_new (GliaSession *self, Plan *plan, GError **error)
{
  guint n_slots = self->slots->len;
  Frame *f = g_new0 (Frame, 1);
  f->plan = plan;
  f->arena = g_new0 (guint8 *, self->n_owners);
  f->views = g_new0 (GliaTensorView, n_slots);
  f->have = g_new0 (guint8, n_slots);
  f->none = g_new0 (guint8, n_slots);
  f->seq = g_new0 (SeqValue *, n_slots);
  f->sizes = g_new0 (gsize, n_slots);
  f->dyn_of_slot = g_new (gint, n_slots);
  for (guint i = 0; i < n_slots; i++)
    f->dyn_of_slot[i] = -1;
  f->dynamic = g_array_new (FALSE, FALSE, sizeof (Alloc));
  f->extra_views = g_ptr_array_new_with_free_func (g_free);
  if (plan)
    for (guint o = 0; o < self->n_owners; o++)
      if (plan->arena_size[o] > 0) {
        f->arena[o] = owner_alloc (self, o, plan->arena_size[o], error);
        if (f->arena[o] == NULL) {
          frame_free (self, f); /* frees the arenas allocated so far */
          return NULL;
        }
      }
  return f;
}

static void
frame_release_dynamic (GliaSession *self, Frame *f, guint index)
{
  Alloc *a = &g_array_index (f->dynamic, Alloc, index);
  if (a->released)
    return;
  owner_free (self, a->owner, a->ptr);
  a->released = TRUE;
  f->live_bytes -= a->size;
}

/* Frees string elements written by kernels and all dynamic memory, and
 * resets the frame for its next run. */
static void
frame_reset (GliaSession *self, Frame *f)
{
  guint n_slots = self->slots->len;
  for (guint i = 0; i < n_slots; i++) {
    Slot *s = slot_at (self, i);
    if (f->have[i] && !s->is_input && !s->is_constant && f->views[i].dtype == GLIA_DATA_TYPE_STRING
        && f->views[i].data && f->views[i].device == GLIA_DEVICE_TYPE_CPU) {
      char **strs = f->views[i].data;
      for (gsize k = 0; k < f->views[i].n_elements; k++)
        g_free (strs[k]);
    }
  }
  for (guint i = 0; i < f->dynamic->len; i++)
    frame_release_dynamic (self, f, i);
  g_array_set_size (f->dynamic, 0);
  g_ptr_array_set_size (f->extra_views, 0);
  memset (f->have, 0, n_slots);
  memset (f->none, 0, n_slots);
  for (guint i = 0; i < n_slots; i++)
    g_clear_pointer (&f->seq[i], seq_value_free);
  for (guint i = 0; i < n_slots; i++)
    f->dyn_of_slot[i] = -1;
  f->live_bytes = 0;
}

static void
frame_free (GliaSession *self, Frame *f)
{
  frame_reset (self, f);
  for (guint o = 0; o < self->n_owners; o++)
    owner_free (self, o, f->arena[o]);
  g_free (f->arena);
  g_free (f->views);
  g_free (f->have);
  g_free (f->none);
  g_free (f->seq);
  g_free (f->sizes);
  g_free (f->dyn_of_slot);
  g_array_unref (f->dynamic);
  g_ptr_array_unref (f->extra_views);
  g_free (f->scratch);
  g_free (f);
}

void
_glia_plan_free (gpointer p)
{
  Plan *plan = p;
  for (guint i = 0; i < plan->free_frames->len; i++)
    frame_free (plan->session, g_ptr_array_index (plan->free_frames, i));
  g_ptr_array_unref (plan->free_frames);
  g_mutex_clear (&plan->lock);
  g_free (plan->offset);
  g_free (plan->capacity);
  g_free (plan->arena_size);
  g_free (plan);
}

/* ---- planning ------------------------------------------------------------- */

typedef struct
{
  gint slot;
  gsize size;
  gsize offset;
} Placement;

static gint
compare_placement_size (gconstpointer a, gconstpointer b)
{
  const Placement *x = a, *y = b;
  if (x->size != y->size)
    return x->size > y->size ? -1 : 1;
  return x->slot - y->slot;
}

static gint
compare_placement_offset (gconstpointer a, gconstpointer b)
{
  const Placement *x = *(Placement **)a, *y = *(Placement **)b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static Plan *
plan_from_recording (GliaSession *self, Frame *rec)
{
  guint n_slots = self->slots->len;
  Plan *plan = g_new0 (Plan, 1);
  plan->session = self;
  plan->offset = g_new (gsize, n_slots);
  plan->capacity = g_new0 (gsize, n_slots);
  plan->arena_size = g_new0 (gsize, self->n_owners);
  g_mutex_init (&plan->lock);
  plan->free_frames = g_ptr_array_new ();
  for (guint i = 0; i < n_slots; i++)
    plan->offset[i] = NOT_PLANNED;

  for (guint owner = 0; owner < self->n_owners; owner++) {
    g_autoptr (GArray) items = g_array_new (FALSE, FALSE, sizeof (Placement));
    for (guint i = 0; i < n_slots; i++) {
      Slot *s = slot_at (self, i);
      if (s->owner != owner || s->is_input || s->is_constant || s->is_output || s->first_step < 0
          || rec->sizes[i] == 0)
        continue;
      Placement p = { i, (rec->sizes[i] + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT, 0 };
      g_array_append_val (items, p);
    }
    g_array_sort (items, compare_placement_size);
    g_autoptr (GPtrArray) placed = g_ptr_array_new ();
    gsize arena = 0;
    for (guint k = 0; k < items->len; k++) {
      Placement *p = &g_array_index (items, Placement, k);
      Slot *s = slot_at (self, p->slot);
      /* lowest offset that fits between the blocks live at the same time */
      g_autoptr (GPtrArray) live = g_ptr_array_new ();
      for (guint j = 0; j < placed->len; j++) {
        Placement *q = g_ptr_array_index (placed, j);
        Slot *t = slot_at (self, q->slot);
        if (t->first_step <= s->last_step && s->first_step <= t->last_step)
          g_ptr_array_add (live, q);
      }
      g_ptr_array_sort (live, compare_placement_offset);
      gsize offset = 0;
      for (guint j = 0; j < live->len; j++) {
        Placement *q = g_ptr_array_index (live, j);
        if (q->offset >= offset + p->size)
          break;
        offset = MAX (offset, q->offset + q->size);
      }
      p->offset = offset;
      g_ptr_array_add (placed, p);
      plan->offset[p->slot] = offset;
      plan->capacity[p->slot] = p->size;
      arena = MAX (arena, offset + p->size);
    }
    plan->arena_size[owner] = arena;
  }
  return plan;
}

/* ---- kernel context ------------------------------------------------------ */

guint
glia_kernel_context_get_n_inputs (GliaKernelContext *ctx)
{
  return ctx->step->n_inputs;
}

guint
glia_kernel_context_get_n_outputs (GliaKernelContext *ctx)
{
  return ctx->step->n_outputs;
}

const GliaTensorView *
glia_kernel_context_get_input (GliaKernelContext *ctx, guint i)
{
  if (i >= ctx->step->n_inputs)
    return NULL;
  gint slot = ctx->step->inputs[i];
  if (slot < 0 || !ctx->frame->have[slot] || ctx->frame->seq[slot])
    return NULL;
  return &ctx->frame->views[slot];
}

static SeqValue *
input_seq (GliaKernelContext *ctx, guint i)
{
  if (i >= ctx->step->n_inputs || ctx->step->inputs[i] < 0)
    return NULL;
  return ctx->frame->seq[ctx->step->inputs[i]];
}

const GliaTensorView *
glia_kernel_context_get_input_sequence (GliaKernelContext *ctx, guint i, guint *length)
{
  SeqValue *sv = input_seq (ctx, i);
  *length = sv ? sv->length : 0;
  return sv ? sv->items : NULL;
}

gboolean
glia_kernel_context_input_is_sequence (GliaKernelContext *ctx, guint i)
{
  return input_seq (ctx, i) != NULL;
}

GliaDataType
glia_kernel_context_get_input_sequence_dtype (GliaKernelContext *ctx, guint i)
{
  SeqValue *sv = input_seq (ctx, i);
  return sv ? sv->dtype : GLIA_DATA_TYPE_UNDEFINED;
}

static SeqValue *
seq_value_new (GliaDataType dtype, guint length)
{
  SeqValue *sv = g_new0 (SeqValue, 1);
  sv->dtype = dtype;
  sv->length = length;
  sv->items = length ? g_new0 (GliaTensorView, length) : NULL;
  sv->owned = g_ptr_array_new_with_free_func (g_free);
  sv->refs = g_ptr_array_new_with_free_func (g_object_unref);
  return sv;
}

gboolean
glia_kernel_context_set_output_sequence (GliaKernelContext *ctx, guint i, GliaDataType dtype,
                                         guint length, const GliaTensorView *items, GError **error)
{
  Step *step = ctx->step;
  Frame *f = ctx->frame;
  if (i >= step->n_outputs || glia_data_type_get_size (dtype) == 0) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "cannot make output %u a sequence of type %d", i, dtype);
    return FALSE;
  }
  SeqValue *sv = seq_value_new (dtype, length);
  for (guint k = 0; k < length; k++) {
    const GliaTensorView *src = &items[k];
    if (src->dtype != dtype || src->device != GLIA_DEVICE_TYPE_CPU) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "sequence item %u is not a host %s tensor", k, glia_data_type_get_name (dtype));
      seq_value_free (sv);
      return FALSE;
    }
    GliaTensorView *dst = &sv->items[k];
    *dst = *src;
    gpointer mem = g_malloc (MAX (src->n_bytes, 1));
    g_ptr_array_add (sv->owned, mem);
    if (dtype == GLIA_DATA_TYPE_STRING) {
      char **d = mem;
      char *const *from = src->data;
      for (gsize e = 0; e < src->n_elements; e++)
        d[e] = g_strdup (from[e] ? from[e] : "");
    } else
      memcpy (mem, src->data, src->n_bytes);
    dst->data = mem;
  }
  gint slot = step->outputs[i];
  if (slot < 0) {
    seq_value_free (sv);
    return TRUE;
  }
  if (f->have[slot]) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED, "output %u set twice", i);
    seq_value_free (sv);
    return FALSE;
  }
  g_clear_pointer (&f->seq[slot], seq_value_free);
  f->seq[slot] = sv;
  f->have[slot] = 1;
  memset (&f->views[slot], 0, sizeof f->views[slot]);
  f->views[slot].dtype = dtype;
  return TRUE;
}

void
glia_kernel_context_set_output_none (GliaKernelContext *ctx, guint i)
{
  if (i < ctx->step->n_outputs && ctx->step->outputs[i] >= 0)
    ctx->frame->none[ctx->step->outputs[i]] = 1;
}

static GliaTensorView *
allocate_slot (GliaSession *self, Frame *f, gint slot, guint owner, GliaDataType dtype, guint rank,
               const gint64 *dims, GError **error)
{
  gsize esize = glia_data_type_get_size (dtype);
  if (esize == 0 || rank > GLIA_MAX_RANK) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "cannot allocate a tensor of type %d and rank %u", dtype, rank);
    return NULL;
  }
  gsize n = 1;
  for (guint i = 0; i < rank; i++)
    if (dims[i] < 0 || !g_size_checked_mul (&n, n, (gsize)dims[i])) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "cannot allocate a tensor with dimension %" G_GINT64_FORMAT, dims[i]);
      return NULL;
    }
  gsize nbytes;
  if (!g_size_checked_mul (&nbytes, n, esize)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT, "tensor size overflows");
    return NULL;
  }

  GliaTensorView *view;
  if (slot >= 0) {
    if (f->have[slot]) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED, "output '%s' allocated twice",
                   glia_graph_value_get_name (self->graph, slot_at (self, slot)->value));
      return NULL;
    }
    view = &f->views[slot];
    f->sizes[slot] = MAX (f->sizes[slot], nbytes);
  } else {
    view = g_new0 (GliaTensorView, 1);
    g_ptr_array_add (f->extra_views, view);
  }

  gpointer data = NULL;
  Plan *plan = f->plan;
  if (slot >= 0 && plan && plan->offset[slot] != NOT_PLANNED && nbytes <= plan->capacity[slot])
    data = f->arena[owner] + plan->offset[slot];
  else {
    guint64 planned = 0;
    if (plan)
      for (guint o = 0; o < self->n_owners; o++)
        planned += plan->arena_size[o];
    if (self->memory_limit && planned + f->live_bytes + nbytes > self->memory_limit) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                   "the run needs more than the session's memory limit of %" G_GUINT64_FORMAT
                   " bytes (%" G_GUINT64_FORMAT " in use, %" G_GSIZE_FORMAT " more asked)",
                   self->memory_limit, planned + f->live_bytes, nbytes);
      return NULL;
    }
    data = owner_alloc (self, owner, nbytes, error);
    if (data == NULL)
      return NULL;
    if (slot < 0 || !slot_at (self, slot)->is_output)
      g_atomic_pointer_add (&self->n_dynamic_allocs, 1);
    Alloc a = { data, owner, nbytes, FALSE };
    g_array_append_val (f->dynamic, a);
    f->live_bytes += nbytes;
    if (slot >= 0)
      f->dyn_of_slot[slot] = f->dynamic->len - 1;
  }
  if (dtype == GLIA_DATA_TYPE_STRING)
    memset (data, 0, nbytes);

  memset (view, 0, sizeof *view);
  view->dtype = dtype;
  view->rank = rank;
  if (rank)
    memcpy (view->dims, dims, rank * sizeof (gint64));
  view->data = data;
  view->n_elements = n;
  view->n_bytes = nbytes;
  view->device = owner == OWNER_HOST ? GLIA_DEVICE_TYPE_CPU : owner_provider (self, owner)->device;
  if (slot >= 0)
    f->have[slot] = 1;
  return view;
}

GliaTensorView *
glia_kernel_context_set_output_view (GliaKernelContext *ctx, guint i, guint input, guint rank,
                                     const gint64 *dims, GError **error)
{
  const GliaTensorView *x = glia_kernel_context_get_input (ctx, input);
  if (x == NULL || i >= ctx->step->n_outputs || rank > GLIA_MAX_RANK) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "output %u as a view of input %u: no such %s", i, input,
                 x == NULL                   ? "input tensor"
                 : i >= ctx->step->n_outputs ? "output"
                                             : "rank");
    return NULL;
  }
  gsize n = 1;
  for (guint d = 0; d < rank; d++)
    if (dims[d] < 0 || !g_size_checked_mul (&n, n, (gsize)dims[d]))
      n = G_MAXSIZE;
  if (n != x->n_elements || x->dtype == GLIA_DATA_TYPE_STRING) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 x->dtype == GLIA_DATA_TYPE_STRING
                     ? "output %u as a view of input %u: string tensors are not viewed"
                     : "output %u as a view of input %u: the element counts differ",
                 i, input);
    return NULL;
  }
  gint slot = ctx->step->outputs[i];
  Frame *f = ctx->frame;
  if (i == 0 && (gint)input == ctx->step->view_input && slot >= 0) {
    if (f->have[slot]) {
      g_set_error (
          error, GLIA_ERROR, GLIA_ERROR_FAILED, "output '%s' allocated twice",
          glia_graph_value_get_name (ctx->session->graph, slot_at (ctx->session, slot)->value));
      return NULL;
    }
    GliaTensorView *v = &f->views[slot];
    *v = *x;
    v->rank = rank;
    if (rank)
      memcpy (v->dims, dims, rank * sizeof (gint64));
    f->have[slot] = 1;
    return v;
  }
  if (x->device != GLIA_DEVICE_TYPE_CPU) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE,
                 "output %u as a view of input %u: a copy needs host memory", i, input);
    return NULL;
  }
  GliaTensorView *y = glia_kernel_context_allocate_output (ctx, i, x->dtype, rank, dims, error);
  if (y && x->n_bytes)
    memcpy (y->data, x->data, MIN (x->n_bytes, y->n_bytes));
  return y;
}

GliaTensorView *
glia_kernel_context_allocate_output (GliaKernelContext *ctx, guint i, GliaDataType dtype,
                                     guint rank, const gint64 *dims, GError **error)
{
  Step *step = ctx->step;
  if (i >= step->n_outputs) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "output %u requested; the node has %u", i, step->n_outputs);
    return NULL;
  }
  guint owner = provider_at (ctx->session, step->provider)->owner;
  return allocate_slot (ctx->session, ctx->frame, step->outputs[i], owner, dtype, rank, dims,
                        error);
}

gpointer
glia_kernel_context_get_scratch (GliaKernelContext *ctx, gsize size, GError **error)
{
  Frame *f = ctx->frame;
  if (size > f->scratch_size) {
    if (ctx->session->memory_limit && size > ctx->session->memory_limit) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                   "scratch of %" G_GSIZE_FORMAT " bytes exceeds the memory limit", size);
      return NULL;
    }
    g_free (f->scratch);
    f->scratch = g_try_malloc (size);
    f->scratch_size = f->scratch ? size : 0;
    if (f->scratch == NULL) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_RESOURCE_LIMIT,
                   "out of memory for %" G_GSIZE_FORMAT " bytes of scratch", size);
      return NULL;
    }
  }
  return f->scratch;
}

gpointer
glia_kernel_context_get_stream (GliaKernelContext *ctx)
{
  Provider *p = provider_at (ctx->session, ctx->step->provider);
  return p->info && p->info->get_stream ? p->info->get_stream (p->instance) : NULL;
}

guint
glia_kernel_context_get_n_threads (GliaKernelContext *ctx)
{
  return ctx->session->n_threads;
}

const GliaGraph *
glia_kernel_context_get_graph (GliaKernelContext *ctx)
{
  return ctx->session->graph;
}

gint
glia_kernel_context_get_node (GliaKernelContext *ctx)
{
  return ctx->step->n_nodes ? ctx->step->nodes[0] : -1;
}

void
glia_kernel_context_parallel_for (GliaKernelContext *ctx, gsize n, gsize grain,
                                  GliaParallelFunc func, gpointer user_data)
{
  GliaSession *self = ctx->session;
  if (self->parallel_provider >= 0) {
    const Provider *p = provider_at (self, self->parallel_provider);
    p->info->parallel_for (p->instance, self->n_threads, n, grain, func, user_data);
  } else
    _glia_parallel_for (self->n_threads, n, grain, func, user_data);
}

/* A tensor over a view's host memory, without copying. */
static GliaTensor *
tensor_over_view (const GliaTensorView *v, GError **error)
{
  if (v->device != GLIA_DEVICE_TYPE_CPU) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE,
                 "subgraphs read host tensors; a value is in %s memory",
                 glia_device_type_get_name (v->device));
    return NULL;
  }
  if (v->dtype == GLIA_DATA_TYPE_STRING)
    return glia_tensor_new_from_strings (v->dims, v->rank, (const char *const *)v->data,
                                         v->n_elements, error);
  g_autoptr (GBytes) bytes = g_bytes_new_static (v->data, v->n_bytes);
  return glia_tensor_new (v->dtype, v->dims, v->rank, bytes, error);
}

/* A GliaSequence over item views, without copying. */
static GliaSequence *
sequence_over_views (GliaDataType dtype, guint length, const GliaTensorView *items, GError **error)
{
  g_autoptr (GPtrArray) tensors = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint k = 0; k < length; k++) {
    GliaTensor *t = tensor_over_view (&items[k], error);
    if (t == NULL)
      return NULL;
    g_ptr_array_add (tensors, t);
  }
  return glia_sequence_new (dtype, (GliaTensor **)tensors->pdata, length, error);
}

/* Runs subgraph @attr_name of the running node with @inputs; the outputs
 * (GliaTensor, GliaSequence or NULL) stay in ctx->held. */
static gboolean
run_subgraph (GliaKernelContext *ctx, const char *attr_name, guint n_inputs,
              const GliaValueView *inputs, SubgraphSession **ss_out, GError **error)
{
  GliaSession *self = ctx->session;
  Step *step = ctx->step;
  gint node = step->nodes[0];
  GliaGraph *sub = glia_graph_node_get_attr_graph (self->graph, node, attr_name);
  if (sub == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_MODEL, "node has no graph attribute '%s'",
                 attr_name);
    return FALSE;
  }
  SubgraphSession *ss = _glia_session_get_subgraph (self, sub, error);
  if (ss == NULL)
    return FALSE;

  g_autoptr (GHashTable) feeds
      = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  for (guint i = 0; i < MIN (n_inputs, ss->n_declared_inputs); i++) {
    const GliaValueView *in = &inputs[i];
    if (in->none)
      continue;
    gpointer obj
        = in->kind == GLIA_VALUE_KIND_SEQUENCE
              ? (gpointer)sequence_over_views (in->seq_dtype, in->seq_length, in->seq_items, error)
              : (gpointer)tensor_over_view (&in->tensor, error);
    if (obj == NULL)
      return FALSE;
    g_hash_table_insert (feeds, g_ptr_array_index (ss->declared_names, i), obj);
  }
  for (guint i = 0; i < ss->outer_names->len; i++) {
    const char *name = g_ptr_array_index (ss->outer_names, i);
    gint found = -1;
    for (guint k = step->n_declared_inputs; k < step->n_inputs && found < 0; k++) {
      gint slot = step->inputs[k];
      if (slot >= 0
          && g_str_equal (glia_graph_value_get_name (self->graph, slot_at (self, slot)->value),
                          name))
        found = slot;
    }
    if (found < 0) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED,
                   "the subgraph reads '%s', which is not available here", name);
      return FALSE;
    }
    if (!ctx->frame->have[found])
      continue; /* an empty optional */
    SeqValue *sv = ctx->frame->seq[found];
    gpointer obj = sv ? (gpointer)sequence_over_views (sv->dtype, sv->length, sv->items, error)
                      : (gpointer)tensor_over_view (&ctx->frame->views[found], error);
    if (obj == NULL)
      return FALSE;
    g_hash_table_insert (feeds, (gpointer)name, obj);
  }
  GHashTable *out = _glia_session_execute (ss->session, feeds, error);
  if (out == NULL)
    return FALSE;
  g_clear_pointer (&ctx->held, g_hash_table_unref);
  g_clear_pointer (&ctx->held_items, g_ptr_array_unref);
  ctx->held = out;
  *ss_out = ss;
  return TRUE;
}

gboolean
glia_kernel_context_run_subgraph (GliaKernelContext *ctx, const char *attr_name, guint n_inputs,
                                  const GliaTensorView *const *inputs, guint n_outputs,
                                  GliaTensorView *outputs, guint *n_produced, GError **error)
{
  g_autofree GliaValueView *values = g_new0 (GliaValueView, MAX (n_inputs, 1));
  for (guint i = 0; i < n_inputs; i++) {
    values[i].kind = GLIA_VALUE_KIND_TENSOR;
    if (inputs[i])
      values[i].tensor = *inputs[i];
    else
      values[i].none = TRUE;
  }
  SubgraphSession *ss;
  if (!run_subgraph (ctx, attr_name, n_inputs, values, &ss, error))
    return FALSE;
  for (guint i = 0; i < MIN (n_outputs, ss->output_names->len); i++) {
    GObject *o = g_hash_table_lookup (ctx->held, g_ptr_array_index (ss->output_names, i));
    if (o == NULL || !GLIA_IS_TENSOR (o)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_UNSUPPORTED_OP,
                   "subgraph output '%s' is %s; use glia_kernel_context_run_subgraph_values()",
                   (char *)g_ptr_array_index (ss->output_names, i), o ? "a sequence" : "empty");
      return FALSE;
    }
    glia_tensor_fill_view (GLIA_TENSOR (o), &outputs[i]);
  }
  if (n_produced)
    *n_produced = ss->output_names->len;
  return TRUE;
}

gboolean
glia_kernel_context_run_subgraph_values (GliaKernelContext *ctx, const char *attr_name,
                                         guint n_inputs, const GliaValueView *inputs,
                                         guint n_outputs, GliaValueView *outputs, guint *n_produced,
                                         GError **error)
{
  SubgraphSession *ss;
  if (!run_subgraph (ctx, attr_name, n_inputs, inputs, &ss, error))
    return FALSE;
  ctx->held_items = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < MIN (n_outputs, ss->output_names->len); i++) {
    GObject *o = g_hash_table_lookup (ctx->held, g_ptr_array_index (ss->output_names, i));
    GliaValueView *v = &outputs[i];
    memset (v, 0, sizeof *v);
    if (o == NULL) {
      v->none = TRUE;
    } else if (GLIA_IS_SEQUENCE (o)) {
      GliaSequence *sq = GLIA_SEQUENCE (o);
      guint len = glia_sequence_get_length (sq);
      GliaTensorView *items = g_new0 (GliaTensorView, MAX (len, 1));
      g_ptr_array_add (ctx->held_items, items);
      for (guint k = 0; k < len; k++)
        glia_tensor_fill_view (glia_sequence_get_item (sq, k), &items[k]);
      v->kind = GLIA_VALUE_KIND_SEQUENCE;
      v->seq_dtype = glia_sequence_get_dtype (sq);
      v->seq_length = len;
      v->seq_items = items;
    } else {
      v->kind = GLIA_VALUE_KIND_TENSOR;
      glia_tensor_fill_view (GLIA_TENSOR (o), &v->tensor);
    }
  }
  if (n_produced)
    *n_produced = ss->output_names->len;
  return TRUE;
}

void
glia_kernel_context_get_input_value (GliaKernelContext *ctx, guint i, GliaValueView *value)
{
  memset (value, 0, sizeof *value);
  SeqValue *sv = input_seq (ctx, i);
  if (sv) {
    value->kind = GLIA_VALUE_KIND_SEQUENCE;
    value->seq_dtype = sv->dtype;
    value->seq_length = sv->length;
    value->seq_items = sv->items;
    return;
  }
  const GliaTensorView *t = glia_kernel_context_get_input (ctx, i);
  value->kind = GLIA_VALUE_KIND_TENSOR;
  if (t)
    value->tensor = *t;
  else
    value->none = TRUE;
}

gboolean
glia_kernel_context_set_output_value (GliaKernelContext *ctx, guint i, const GliaValueView *value,
                                      GError **error)
{
  if (value->none) {
    glia_kernel_context_set_output_none (ctx, i);
    return TRUE;
  }
  if (value->kind == GLIA_VALUE_KIND_SEQUENCE)
    return glia_kernel_context_set_output_sequence (ctx, i, value->seq_dtype, value->seq_length,
                                                    value->seq_items, error);
  const GliaTensorView *t = &value->tensor;
  GliaTensorView *y
      = glia_kernel_context_allocate_output (ctx, i, t->dtype, t->rank, t->dims, error);
  if (y == NULL)
    return FALSE;
  if (t->dtype == GLIA_DATA_TYPE_STRING) {
    char **d = y->data;
    char *const *src = t->data;
    for (gsize e = 0; e < t->n_elements; e++)
      d[e] = g_strdup (src[e] ? src[e] : "");
  } else if (t->n_bytes)
    memcpy (y->data, t->data, t->n_bytes);
  return TRUE;
}

/* ---- inputs -------------------------------------------------------------- */

/* Checks the given inputs against the graph and builds the signature key. */
static char *
check_inputs (GliaSession *self, GHashTable *inputs, GObject **by_input, GError **error)
{
  const GliaGraph *g = self->graph;
  guint n_in = glia_graph_get_n_inputs (g);
  GString *key = g_string_new (NULL);
  g_autoptr (GHashTable) sym = g_hash_table_new (g_str_hash, g_str_equal);
  guint matched = 0;

  for (guint i = 0; i < n_in; i++) {
    gint v = glia_graph_get_input (g, i);
    const char *name = glia_graph_value_get_name (g, v);
    GliaValueKind kind = glia_graph_value_get_kind (g, v);
    gboolean is_seq_kind
        = kind == GLIA_VALUE_KIND_SEQUENCE || kind == GLIA_VALUE_KIND_OPTIONAL_SEQUENCE;
    GObject *obj = g_hash_table_lookup (inputs, name);
    by_input[i] = obj;
    if (obj == NULL) {
      if (glia_graph_value_get_constant (g, v) || kind == GLIA_VALUE_KIND_OPTIONAL_TENSOR
          || kind == GLIA_VALUE_KIND_OPTIONAL_SEQUENCE) {
        g_string_append (key, "-;");
        continue;
      }
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "missing input '%s' (%s%s)",
                   name, is_seq_kind ? "sequence of " : "",
                   glia_data_type_get_name (glia_graph_value_get_dtype (g, v)));
      return g_string_free (key, TRUE);
    }
    matched++;
    if (GLIA_IS_SEQUENCE (obj)) {
      GliaSequence *sq = GLIA_SEQUENCE (obj);
      GliaDataType want = glia_graph_value_get_dtype (g, v);
      if (!is_seq_kind
          || (want != GLIA_DATA_TYPE_UNDEFINED && want != glia_sequence_get_dtype (sq))) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                     "input '%s' must be %s%s, got a sequence of %s", name,
                     is_seq_kind ? "a sequence of " : "a tensor of ",
                     glia_data_type_get_name (want),
                     glia_data_type_get_name (glia_sequence_get_dtype (sq)));
        return g_string_free (key, TRUE);
      }
      g_string_append_printf (key, "S%d:%u:", glia_sequence_get_dtype (sq),
                              glia_sequence_get_length (sq));
      for (guint k = 0; k < glia_sequence_get_length (sq); k++) {
        guint r;
        const gint64 *d = glia_tensor_get_shape (glia_sequence_get_item (sq, k), &r);
        for (guint j = 0; j < r; j++)
          g_string_append_printf (key, "%" G_GINT64_FORMAT ",", d[j]);
        g_string_append_c (key, '|');
      }
      g_string_append_c (key, ';');
      continue;
    }
    if (!GLIA_IS_TENSOR (obj)) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "input '%s' is neither a GliaTensor nor a GliaSequence", name);
      return g_string_free (key, TRUE);
    }
    if (is_seq_kind) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                   "input '%s' must be a sequence (GliaSequence), got a tensor", name);
      return g_string_free (key, TRUE);
    }
    GliaTensor *t = GLIA_TENSOR (obj);
    GliaDataType want = glia_graph_value_get_dtype (g, v);
    GliaDataType got = glia_tensor_get_dtype (t);
    if (want != GLIA_DATA_TYPE_UNDEFINED && want != got) {
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT, "input '%s' must be %s, got %s",
                   name, glia_data_type_get_name (want), glia_data_type_get_name (got));
      return g_string_free (key, TRUE);
    }
    guint rank;
    const gint64 *dims = glia_tensor_get_shape (t, &rank);
    gint want_rank = glia_graph_value_get_rank (g, v);
    if (want_rank >= 0) {
      const gint64 *want_dims = glia_graph_value_get_dims (g, v);
      gboolean ok = (gint)rank == want_rank;
      for (guint d = 0; ok && d < rank; d++) {
        const char *param = glia_graph_value_get_dim_param (g, v, d);
        if (param) {
          gpointer bound = g_hash_table_lookup (sym, param);
          if (bound && GPOINTER_TO_SIZE (bound) - 1 != (gsize)dims[d]) {
            g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                         "input '%s' dimension %u is %" G_GINT64_FORMAT
                         " but '%s' is %" G_GSIZE_FORMAT " in another input",
                         name, d, dims[d], param, GPOINTER_TO_SIZE (bound) - 1);
            return g_string_free (key, TRUE);
          }
          g_hash_table_insert (sym, (gpointer)param, GSIZE_TO_POINTER (dims[d] + 1));
        } else if (want_dims[d] >= 0 && want_dims[d] != dims[d])
          ok = FALSE;
      }
      if (!ok) {
        g_autofree char *want_s = glia_graph_value_format_shape (g, v);
        GString *got_s = g_string_new ("[");
        for (guint d = 0; d < rank; d++)
          g_string_append_printf (got_s, "%s%" G_GINT64_FORMAT, d ? "," : "", dims[d]);
        g_string_append_c (got_s, ']');
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                     "input '%s' must have shape %s, got %s", name, want_s, got_s->str);
        g_string_free (got_s, TRUE);
        return g_string_free (key, TRUE);
      }
    }
    g_string_append_printf (key, "%d:", got);
    for (guint d = 0; d < rank; d++)
      g_string_append_printf (key, "%" G_GINT64_FORMAT ",", dims[d]);
    g_string_append_c (key, ';');
  }
  if (matched != g_hash_table_size (inputs)) {
    GHashTableIter it;
    gpointer name;
    g_hash_table_iter_init (&it, inputs);
    while (g_hash_table_iter_next (&it, &name, NULL)) {
      gint v = glia_graph_lookup_value (g, name);
      gboolean is_input = FALSE;
      for (guint i = 0; i < n_in && !is_input; i++)
        is_input = glia_graph_get_input (g, i) == v;
      if (!is_input) {
        g_auto (GStrv) names = glia_model_get_input_names (self->model);
        g_autofree char *list = g_strjoinv (", ", names);
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                     "the model has no input '%s' (inputs: %s)", (char *)name, list);
        return g_string_free (key, TRUE);
      }
    }
  }
  return g_string_free (key, FALSE);
}

/* ---- running ------------------------------------------------------------- */

static void
object_unref0 (gpointer object)
{
  if (object)
    g_object_unref (object);
}

/* An input given in device memory is brought to the host through a session
 * provider on that device; the normal copy steps take it from there. (A
 * zero-copy path for inputs consumed on their own device belongs with the
 * CUDA provider.) */
static gboolean
stage_device_input (GliaSession *self, Frame *f, gint slot, GliaTensor *t, GError **error)
{
  GliaTensorView dev;
  glia_tensor_fill_view (t, &dev);
  Provider *p = NULL;
  for (guint i = 0; i < self->providers->len && p == NULL; i++)
    if (provider_at (self, i)->info && provider_at (self, i)->device == dev.device)
      p = provider_at (self, i);
  const char *name = glia_graph_value_get_name (self->graph, slot_at (self, slot)->value);
  if (p == NULL) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                 "input '%s' is in %s memory, but no provider of this session runs there", name,
                 glia_device_type_get_name (dev.device));
    return FALSE;
  }
  GliaTensorView *hv
      = allocate_slot (self, f, slot, OWNER_HOST, dev.dtype, dev.rank, dev.dims, error);
  if (hv == NULL)
    return FALSE;
  GError *local = NULL;
  gpointer stream = p->info->get_stream ? p->info->get_stream (p->instance) : NULL;
  if (!p->info->copy (p->instance, hv->data, dev.data, dev.n_bytes, GLIA_COPY_DEVICE_TO_HOST,
                      stream, &local)
      || (p->info->synchronize && !p->info->synchronize (p->instance, &local))) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "reading input '%s' from %s failed: %s",
                 name, p->name, local ? local->message : "no reason given");
    g_clear_error (&local);
    return FALSE;
  }
  return TRUE;
}

static gboolean
run_copy (GliaSession *self, Frame *f, Step *step, GError **error)
{
  gint src = step->inputs[0], dst = step->outputs[0];
  if (!f->have[src]) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED, "value '%s' was not produced",
                 glia_graph_value_get_name (self->graph, slot_at (self, src)->value));
    return FALSE;
  }
  GliaTensorView *sv = &f->views[src];
  if (sv->dtype == GLIA_DATA_TYPE_STRING) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE,
                 "string tensor '%s' cannot be copied to a device",
                 glia_graph_value_get_name (self->graph, slot_at (self, src)->value));
    return FALSE;
  }
  GliaTensorView *dv = allocate_slot (self, f, dst, slot_at (self, dst)->owner, sv->dtype, sv->rank,
                                      sv->dims, error);
  if (dv == NULL)
    return FALSE;
  Provider *p = provider_at (self, step->provider);
  gpointer stream = p->info->get_stream ? p->info->get_stream (p->instance) : NULL;
  GError *local = NULL;
  if (!p->info->copy (p->instance, dv->data, sv->data, sv->n_bytes, step->copy_kind, stream,
                      &local)) {
    g_set_error (error, GLIA_ERROR, GLIA_ERROR_DEVICE, "copy by provider '%s' failed: %s", p->name,
                 local ? local->message : "no reason given");
    g_clear_error (&local);
    return FALSE;
  }
  if (step->copy_kind == GLIA_COPY_DEVICE_TO_HOST && p->info->synchronize
      && !p->info->synchronize (p->instance, error))
    return FALSE;
  return TRUE;
}

static gboolean
run_kernel (GliaSession *self, Frame *f, Step *step, GError **error)
{
  GliaKernelContext ctx = { self, f, step, NULL, NULL };
  GError *local = NULL;
  gboolean ok = step->kernel.compute (step->kernel.state, &ctx, &local);
  g_clear_pointer (&ctx.held, g_hash_table_unref);
  g_clear_pointer (&ctx.held_items, g_ptr_array_unref);
  if (!ok || local) {
    gint node = step->nodes[0];
    const char *name = glia_graph_node_get_name (self->graph, node);
    if (local == NULL)
      g_set_error (&local, GLIA_ERROR, GLIA_ERROR_FAILED, "the kernel failed without saying why");
    g_propagate_prefixed_error (error, local, "node '%s' (%s) on %s: ", *name ? name : "?",
                                glia_graph_node_get_op_type (self->graph, node),
                                provider_at (self, step->provider)->name);
    return FALSE;
  }
  /* an output someone reads later (or a graph output) must exist, unless the
   * kernel marked it as an empty optional */
  gint k = step - (Step *)self->steps->data;
  for (guint i = 0; i < step->n_outputs; i++) {
    gint slot = step->outputs[i];
    if (slot < 0 || f->have[slot] || f->none[slot])
      continue;
    Slot *sl = slot_at (self, slot);
    if (sl->is_output || sl->last_step > k) {
      gint node = step->nodes[0];
      g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED,
                   "node '%s' (%s) did not produce its output '%s'",
                   glia_graph_node_get_name (self->graph, node),
                   glia_graph_node_get_op_type (self->graph, node),
                   glia_graph_value_get_name (self->graph, slot_at (self, slot)->value));
      return FALSE;
    }
  }
  return TRUE;
}

static void
append_shapes (GString *s, GliaSession *self, Frame *f, const gint *slots, guint n)
{
  for (guint i = 0; i < n; i++) {
    if (i)
      g_string_append (s, ", ");
    gint slot = slots[i];
    if (slot < 0 || !f->have[slot]) {
      g_string_append (s, "-");
      continue;
    }
    if (f->seq[slot]) {
      g_string_append_printf (s, "seq<%s>[%u]", glia_data_type_get_name (f->seq[slot]->dtype),
                              f->seq[slot]->length);
      continue;
    }
    const GliaTensorView *v = &f->views[slot];
    g_string_append_printf (s, "%s[", glia_data_type_get_name (v->dtype));
    for (guint d = 0; d < v->rank; d++)
      g_string_append_printf (s, "%s%" G_GINT64_FORMAT, d ? "," : "", v->dims[d]);
    g_string_append_c (s, ']');
  }
}

/* Profiling: one event per step, with the shapes it saw. */
static void
record_event (GliaSession *self, Frame *f, Step *step, guint k, gint64 t0)
{
  gint64 t1 = g_get_monotonic_time ();
  GString *shapes = g_string_new (NULL);
  append_shapes (shapes, self, f, step->inputs,
                 step->n_declared_inputs ? step->n_declared_inputs : step->n_inputs);
  g_string_append (shapes, " -> ");
  append_shapes (shapes, self, f, step->outputs, step->n_outputs);
  ProfileEvent e
      = { k, t0 - self->created_us, t1 - t0, (guint)(GPOINTER_TO_SIZE (g_thread_self ()) % 100000),
          g_string_free (shapes, FALSE) };
  /* bounded: a profiled session that runs forever keeps its first events */
  g_mutex_lock (&self->profile_lock);
  if (self->profile->len < 1000000)
    g_array_append_val (self->profile, e);
  else
    g_free (e.shapes);
  g_mutex_unlock (&self->profile_lock);
}

/* Frees dynamic buffers whose last reader was step @k (recording runs). */
static void
release_dead (GliaSession *self, Frame *f, Step *step, guint k)
{
  for (guint i = 0; i < step->n_inputs; i++) {
    gint slot = step->inputs[i];
    if (slot < 0 || f->dyn_of_slot[slot] < 0)
      continue;
    Slot *s = slot_at (self, slot);
    if (s->last_step == (gint)k && !s->is_output) {
      if (f->views[slot].dtype == GLIA_DATA_TYPE_STRING
          && f->views[slot].device == GLIA_DEVICE_TYPE_CPU) {
        char **strs = f->views[slot].data;
        for (gsize e = 0; e < f->views[slot].n_elements; e++)
          g_clear_pointer (&strs[e], g_free);
      }
      frame_release_dynamic (self, f, f->dyn_of_slot[slot]);
      f->dyn_of_slot[slot] = -1;
      f->have[slot] = 0;
    }
  }
}

static GliaTensor *
take_output (GliaSession *self, Frame *f, gint slot)
{
  GliaTensorView *v = &f->views[slot];
  gint d = f->dyn_of_slot[slot];
  if (d >= 0 && v->dtype != GLIA_DATA_TYPE_STRING && slot_at (self, slot)->owner == OWNER_HOST) {
    Alloc *a = &g_array_index (f->dynamic, Alloc, d);
    if (!a->released) {
      a->released = TRUE;
      f->live_bytes -= a->size;
      f->dyn_of_slot[slot] = -1;
      g_autoptr (GBytes) bytes = g_bytes_new_with_free_func (a->ptr, v->n_bytes, free, a->ptr);
      return glia_tensor_new (v->dtype, v->dims, v->rank, bytes, NULL);
    }
  }
  return glia_tensor_new_from_view (v);
}

GHashTable *
_glia_session_execute (GliaSession *self, GHashTable *inputs, GError **error)
{
  const GliaGraph *g = self->graph;
  guint n_in = glia_graph_get_n_inputs (g);
  g_autofree GObject **by_input = g_new0 (GObject *, MAX (n_in, 1));
  g_autofree char *key = check_inputs (self, inputs, by_input, error);
  if (key == NULL)
    return NULL;

  /* a frame from the signature's plan, or a recording frame */
  g_mutex_lock (&self->plan_lock);
  Plan *plan = g_hash_table_lookup (self->plans, key);
  g_mutex_unlock (&self->plan_lock);
  Frame *f = NULL;
  if (plan) {
    g_mutex_lock (&plan->lock);
    if (plan->free_frames->len > 0)
      f = g_ptr_array_steal_index_fast (plan->free_frames, plan->free_frames->len - 1);
    g_mutex_unlock (&plan->lock);
  }
  if (f == NULL) {
    f = frame_new (self, plan, error);
    if (f == NULL)
      return NULL;
  }

  for (guint i = 0; i < self->slots->len; i++) {
    Slot *s = slot_at (self, i);
    if (s->is_constant) {
      f->views[i] = s->constant;
      f->have[i] = 1;
    }
  }
  gboolean ok = TRUE;
  for (guint i = 0; i < n_in && ok; i++)
    if (by_input[i] && GLIA_IS_SEQUENCE (by_input[i])) {
      gint slot = self->input_slot[i];
      GliaSequence *sq = GLIA_SEQUENCE (by_input[i]);
      SeqValue *sv = seq_value_new (glia_sequence_get_dtype (sq), glia_sequence_get_length (sq));
      for (guint k = 0; k < sv->length; k++) {
        GliaTensor *item = glia_sequence_get_item (sq, k);
        if (glia_tensor_get_device (item) != GLIA_DEVICE_TYPE_CPU) {
          g_set_error (error, GLIA_ERROR, GLIA_ERROR_INVALID_ARGUMENT,
                       "sequence items must be in host memory");
          ok = FALSE;
        }
        glia_tensor_fill_view (item, &sv->items[k]);
        g_ptr_array_add (sv->refs, g_object_ref (item));
      }
      f->seq[slot] = sv;
      f->have[slot] = 1;
      memset (&f->views[slot], 0, sizeof f->views[slot]);
      f->views[slot].dtype = sv->dtype;
    } else if (by_input[i]) {
      gint slot = self->input_slot[i];
      GliaTensor *t = GLIA_TENSOR (by_input[i]);
      if (glia_tensor_get_device (t) != GLIA_DEVICE_TYPE_CPU)
        ok = stage_device_input (self, f, slot, t, error);
      else {
        glia_tensor_fill_view (t, &f->views[slot]);
        f->have[slot] = 1;
      }
    }

  for (guint k = 0; k < self->steps->len && ok; k++) {
    Step *step = &g_array_index (self->steps, Step, k);
    gint64 t0 = self->profiling ? g_get_monotonic_time () : 0;
    ok = step->kind == STEP_COPY ? run_copy (self, f, step, error)
                                 : run_kernel (self, f, step, error);
    if (ok && self->profiling)
      record_event (self, f, step, k, t0);
    if (ok && plan == NULL)
      release_dead (self, f, step, k);
  }

  GHashTable *outputs = NULL;
  if (ok) {
    outputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, object_unref0);
    guint n_out = glia_graph_get_n_outputs (g);
    for (guint i = 0; i < n_out && ok; i++) {
      gint slot = self->output_slot[i];
      const char *name = glia_graph_value_get_name (g, glia_graph_get_output (g, i));
      GliaValueKind kind = glia_graph_value_get_kind (g, glia_graph_get_output (g, i));
      gboolean optional
          = kind == GLIA_VALUE_KIND_OPTIONAL_TENSOR || kind == GLIA_VALUE_KIND_OPTIONAL_SEQUENCE;
      if (!f->have[slot] && (f->none[slot] || optional)) {
        g_hash_table_insert (outputs, g_strdup (name), NULL);
        continue;
      }
      if (!f->have[slot]) {
        g_set_error (error, GLIA_ERROR, GLIA_ERROR_FAILED, "output '%s' was not produced", name);
        ok = FALSE;
        break;
      }
      if (f->seq[slot]) {
        SeqValue *sv = f->seq[slot];
        g_autoptr (GPtrArray) items = g_ptr_array_new_with_free_func (g_object_unref);
        for (guint k = 0; k < sv->length; k++)
          g_ptr_array_add (items, glia_tensor_new_from_view (&sv->items[k]));
        g_hash_table_insert (
            outputs, g_strdup (name),
            glia_sequence_new (sv->dtype, (GliaTensor **)items->pdata, items->len, NULL));
        continue;
      }
      g_hash_table_insert (outputs, g_strdup (name), take_output (self, f, slot));
    }
    if (!ok)
      g_clear_pointer (&outputs, g_hash_table_unref);
  }

  if (plan == NULL && ok) {
    g_mutex_lock (&self->plan_lock);
    if (!g_hash_table_contains (self->plans, key) && g_hash_table_size (self->plans) < MAX_PLANS)
      g_hash_table_insert (self->plans, g_strdup (key), plan_from_recording (self, f));
    g_mutex_unlock (&self->plan_lock);
  }
  frame_reset (self, f);
  if (plan) {
    g_mutex_lock (&plan->lock);
    g_ptr_array_add (plan->free_frames, f);
    g_mutex_unlock (&plan->lock);
  } else
    frame_free (self, f);
  return outputs;
}
