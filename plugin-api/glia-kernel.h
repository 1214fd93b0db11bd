/* glia-kernel.h: what a kernel sees while it runs, and how operators are defined.
 *
 * The hot path is plain C: a kernel's compute function gets a GliaKernelContext
 * (opaque, owned by the host) and reads its inputs as GliaTensorView structs,
 * asks the host for its outputs (which come from the session's memory plan, so
 * a steady-state run allocates nothing), and may split work with
 * glia_kernel_context_parallel_for(). Device kernels take their stream from the
 * context; a kernel that ignores it races with the host's copies.
 *
 * GliaOpDef describes one operator implementation: domain, name, the opset
 * range it implements, a dtype constraint, shape inference, and create /
 * compute / destroy. Providers built on op tables (the CPU provider) and
 * third-party custom-operator plugins use the same struct.
 */
#pragma once

#include "glia-graph.h"

G_BEGIN_DECLS

#define GLIA_MAX_RANK 16

/* A tensor as a kernel sees it. @data is device memory for device kernels.
 * Tensors are dense and row-major. For string tensors @data is an array of
 * `char *`. */
typedef struct
{
  GliaDataType dtype;
  guint rank;
  gint64 dims[GLIA_MAX_RANK];
  gpointer data;
  gsize n_elements;
  gsize n_bytes;
  GliaDeviceType device;
} GliaTensorView;

typedef struct _GliaKernelContext GliaKernelContext;

/* Number of inputs of the node or fused subgraph being run. */
guint glia_kernel_context_get_n_inputs (GliaKernelContext *ctx);
guint glia_kernel_context_get_n_outputs (GliaKernelContext *ctx);
/* Input @i, or NULL for an omitted optional input. */
const GliaTensorView *glia_kernel_context_get_input (GliaKernelContext *ctx, guint i);
/* Sets output @i to input @input's elements seen with the shape @rank,
 * @dims (the same element count): for kernels that only reshape (Reshape,
 * Flatten, Squeeze, Unsqueeze, a Transpose that keeps the element order).
 * Where the session planned the step for it (one of those ONNX ops,
 * output 0 from input 0, in host memory, the output not a graph output),
 * the output is a view of the input's memory and nothing is copied; else
 * the output is allocated and the elements copied (host memory only).
 * String tensors are refused. Returns the output, or NULL with @error. */
GliaTensorView *glia_kernel_context_set_output_view (GliaKernelContext *ctx, guint i, guint input,
                                                     guint rank, const gint64 *dims,
                                                     GError **error);
/* Allocates output @i (from the memory plan when the shape matches the plan,
 * otherwise from the provider's allocator). Returns NULL and sets @error on
 * failure (resource limit, bad rank). */
GliaTensorView *glia_kernel_context_allocate_output (GliaKernelContext *ctx, guint i,
                                                     GliaDataType dtype, guint rank,
                                                     const gint64 *dims, GError **error);
/* Sequence input @i: its items (views valid during this compute call) and
 * their count in @length; NULL with *length = 0 when the sequence is empty
 * or input @i is not a sequence (tell them apart with
 * glia_kernel_context_input_is_sequence()). A sequence input is never
 * returned by glia_kernel_context_get_input(). */
const GliaTensorView *glia_kernel_context_get_input_sequence (GliaKernelContext *ctx, guint i,
                                                              guint *length);
gboolean glia_kernel_context_input_is_sequence (GliaKernelContext *ctx, guint i);
/* Element type of sequence input @i (known also when it is empty). */
GliaDataType glia_kernel_context_get_input_sequence_dtype (GliaKernelContext *ctx, guint i);
/* Makes output @i a sequence of @length tensors of element type @dtype,
 * copied from @items. */
gboolean glia_kernel_context_set_output_sequence (GliaKernelContext *ctx, guint i,
                                                  GliaDataType dtype, guint length,
                                                  const GliaTensorView *items, GError **error);
/* Marks optional output @i as holding no value. */
void glia_kernel_context_set_output_none (GliaKernelContext *ctx, guint i);

/* Temporary memory for the duration of this compute call (freed by the host). */
gpointer glia_kernel_context_get_scratch (GliaKernelContext *ctx, gsize size, GError **error);
/* The device stream of the provider running this kernel (NULL on the CPU). */
gpointer glia_kernel_context_get_stream (GliaKernelContext *ctx);
/* Intra-op threads the session allows. */
guint glia_kernel_context_get_n_threads (GliaKernelContext *ctx);
/* Graph and node being run (a fused subgraph reports its first node). */
const GliaGraph *glia_kernel_context_get_graph (GliaKernelContext *ctx);
gint glia_kernel_context_get_node (GliaKernelContext *ctx);

/* Runs the graph attribute @attr_name of the node being run (If's branches,
 * Loop's and Scan's body) with @inputs bound, in order, to the subgraph's
 * inputs (NULL entries for inputs left empty). Values of enclosing graphs
 * that the subgraph reads are supplied by the host. On success @outputs (at
 * most @n_outputs entries are filled; the subgraph's output count is
 * returned in @n_produced if not NULL) are host-memory views valid until the
 * next call of this function or until the kernel returns. The subgraph is
 * compiled once per session, on first use, with the session's providers. */
gboolean glia_kernel_context_run_subgraph (GliaKernelContext *ctx, const char *attr_name,
                                           guint n_inputs, const GliaTensorView *const *inputs,
                                           guint n_outputs, GliaTensorView *outputs,
                                           guint *n_produced, GError **error);

/* Any value a graph carries: a tensor, a sequence of tensors, or (for
 * optionals) nothing. Views only: the memory belongs to whoever made it. */
typedef struct
{
  GliaValueKind kind; /* GLIA_VALUE_KIND_TENSOR or GLIA_VALUE_KIND_SEQUENCE */
  gboolean none;      /* an empty optional: nothing else is set */
  GliaTensorView tensor;
  GliaDataType seq_dtype;
  guint seq_length;
  const GliaTensorView *seq_items;
} GliaValueView;

/* Input @i as a value (tensor, sequence, or none when absent). */
void glia_kernel_context_get_input_value (GliaKernelContext *ctx, guint i, GliaValueView *value);
/* Sets output @i from @value (copied; none marks an empty optional). */
gboolean glia_kernel_context_set_output_value (GliaKernelContext *ctx, guint i,
                                               const GliaValueView *value, GError **error);
/* glia_kernel_context_run_subgraph() for bodies that take or give sequences
 * or optionals. Outputs are valid until the next subgraph call or until the
 * kernel returns. */
gboolean glia_kernel_context_run_subgraph_values (GliaKernelContext *ctx, const char *attr_name,
                                                  guint n_inputs, const GliaValueView *inputs,
                                                  guint n_outputs, GliaValueView *outputs,
                                                  guint *n_produced, GError **error);

typedef void (*GliaParallelFunc) (gsize begin, gsize end, gpointer user_data);

/* Calls @func over [0, @n) split in contiguous chunks of at least @grain items,
 * on up to the session's thread count. Returns when all chunks are done. */
void glia_kernel_context_parallel_for (GliaKernelContext *ctx, gsize n, gsize grain,
                                       GliaParallelFunc func, gpointer user_data);

/* ---- shape inference --------------------------------------------------- */

typedef struct _GliaShapeContext GliaShapeContext;

guint glia_shape_context_get_n_inputs (GliaShapeContext *ctx);
guint glia_shape_context_get_n_outputs (GliaShapeContext *ctx);
/* FALSE for an omitted optional input. */
gboolean glia_shape_context_has_input (GliaShapeContext *ctx, guint i);
GliaDataType glia_shape_context_get_input_dtype (GliaShapeContext *ctx, guint i);
/* Rank or -1 when unknown. */
gint glia_shape_context_get_input_rank (GliaShapeContext *ctx, guint i);
/* Dims (-1 unknown); NULL when the rank is unknown. */
const gint64 *glia_shape_context_get_input_dims (GliaShapeContext *ctx, guint i);
/* The constant value of input @i when it is known at planning time, else NULL. */
const GliaConstTensor *glia_shape_context_get_input_constant (GliaShapeContext *ctx, guint i);
const GliaGraph *glia_shape_context_get_graph (GliaShapeContext *ctx);
gint glia_shape_context_get_node (GliaShapeContext *ctx);
/* What input @i holds (tensor, sequence, optional). */
GliaValueKind glia_shape_context_get_input_kind (GliaShapeContext *ctx, guint i);
/* Declares that output @i holds a sequence or an optional (default: tensor). */
void glia_shape_context_set_output_kind (GliaShapeContext *ctx, guint i, GliaValueKind kind);
/* @rank -1 means unknown rank. */
void glia_shape_context_set_output (GliaShapeContext *ctx, guint i, GliaDataType dtype, gint rank,
                                    const gint64 *dims);

/* ---- operator definitions ---------------------------------------------- */

typedef struct _GliaOpDef GliaOpDef;

/**
 * GliaOpDef:
 * @struct_size: sizeof (GliaOpDef) as the plugin was compiled; the host never
 *   reads a field beyond it
 * @domain: operator domain, "" for ai.onnx
 * @name: operator type
 * @since_version: first opset version this implementation serves
 * @until_version: last one (use G_MAXINT for "up to now")
 * @dtypes: allowed element types of the first input (GLIA_DTYPE_BIT mask), 0 for any
 * @supports: optional finer check of a node (attributes, other input types)
 * @infer_shapes: shape inference; NULL means "unknown shapes"
 * @create: builds per-node kernel state from the node's attributes (may be NULL)
 * @compute: runs the kernel; must be reentrant (concurrent runs share the state)
 * @destroy: frees the kernel state (may be NULL)
 */
struct _GliaOpDef
{
  gsize struct_size;
  const char *domain;
  const char *name;
  gint since_version;
  gint until_version;
  guint64 dtypes;
  gboolean (*supports) (const GliaGraph *graph, gint node);
  gboolean (*infer_shapes) (GliaShapeContext *ctx, GError **error);
  gpointer (*create) (const GliaGraph *graph, gint node, GError **error);
  gboolean (*compute) (gpointer state, GliaKernelContext *ctx, GError **error);
  void (*destroy) (gpointer state);
  /*< private >*/
  gpointer _reserved[6];
};

/* A table of op defs with lookup by (domain, name, opset, dtype). */
typedef struct _GliaOpTable GliaOpTable;

GliaOpTable *glia_op_table_new (void);
void glia_op_table_free (GliaOpTable *table);
/* Adds @def (not copied: it must outlive the table, e.g. static). */
void glia_op_table_add (GliaOpTable *table, const GliaOpDef *def);
/* The def that serves @node of @graph, or NULL. */
const GliaOpDef *glia_op_table_find (const GliaOpTable *table, const GliaGraph *graph, gint node);
/* Like glia_op_table_find() but only by name and version. */
const GliaOpDef *glia_op_table_lookup (const GliaOpTable *table, const char *domain,
                                       const char *name, gint opset);
guint glia_op_table_get_size (const GliaOpTable *table);
const GliaOpDef *glia_op_table_get (const GliaOpTable *table, guint i);

G_END_DECLS
