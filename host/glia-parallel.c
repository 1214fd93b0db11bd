/* glia-parallel.c: the intra-op thread pool behind
 * glia_kernel_context_parallel_for().
 *
 * One process-wide pool of worker threads (one per CPU) that block on a
 * queue when idle. Blocking matters: OpenBLAS and oneDNN run their own
 * threads inside kernels, and workers that spin between parallel loops (as
 * OpenMP's default wait policy does) steal their cores; on a 2-core machine
 * that made resnet18 three times slower at 2 threads than at 1. The caller
 * runs the first chunk itself and waits for the others, so a loop split in
 * n chunks costs n-1 queue pushes and no allocation.
 */
#include "glia-private.h"

typedef struct
{
  GliaParallelFunc func;
  gpointer user_data;
  gsize n;
  guint parts;
  guint pending; /* under lock */
  GMutex lock;
  GCond done;
} Job;

typedef struct
{
  Job *job;
  guint index;
} Part;

static GThreadPool *pool;
static GPrivate in_worker;

static void
run_part (Job *job, guint index)
{
  gsize begin = job->n * index / job->parts, end = job->n * (index + 1) / job->parts;
  if (begin < end)
    job->func (begin, end, job->user_data);
}

static void
worker (gpointer data, gpointer unused)
{
  Part *part = data;
  Job *job = part->job;
  g_private_set (&in_worker, GINT_TO_POINTER (1));
  run_part (job, part->index);
  g_mutex_lock (&job->lock);
  if (--job->pending == 0)
    g_cond_signal (&job->done);
  g_mutex_unlock (&job->lock);
}

static GThreadPool *
get_pool (void)
{
  static gsize once;
  if (g_once_init_enter (&once)) {
    guint n = MAX (g_get_num_processors (), 2);
    pool = g_thread_pool_new (worker, NULL, n, TRUE, NULL);
    g_once_init_leave (&once, 1);
  }
  return pool;
}

void
_glia_parallel_for (guint threads, gsize n, gsize grain, GliaParallelFunc func, gpointer user_data)
{
  if (n == 0)
    return;
  grain = MAX (grain, 1);
  gsize chunks = (n + grain - 1) / grain;
  guint parts = MIN ((gsize)threads, chunks);
  /* nested loops (a chunk that splits again) run inline */
  if (parts <= 1 || g_private_get (&in_worker) || get_pool () == NULL) {
    func (0, n, user_data);
    return;
  }
  Job job = { func, user_data, n, parts, parts - 1 };
  g_mutex_init (&job.lock);
  g_cond_init (&job.done);
  Part stack_parts[64];
  g_autofree Part *heap_parts = parts > G_N_ELEMENTS (stack_parts) ? g_new (Part, parts) : NULL;
  Part *p = heap_parts ? heap_parts : stack_parts;
  for (guint i = 1; i < parts; i++) {
    p[i] = (Part){ &job, i };
    g_thread_pool_push (pool, &p[i], NULL);
  }
  run_part (&job, 0);
  g_mutex_lock (&job.lock);
  while (job.pending > 0)
    g_cond_wait (&job.done, &job.lock);
  g_mutex_unlock (&job.lock);
  g_mutex_clear (&job.lock);
  g_cond_clear (&job.done);
}
