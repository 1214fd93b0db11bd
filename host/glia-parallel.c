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
 *
 * Waking a sleeping worker costs tens of microseconds (more in a VM, where
 * an idle vCPU has to be woken by the host), which is more than many loops
 * take: a transformer runs a few dozen short parallel loops back to back.
 * So a worker that has finished a part stays awake for a short while
 * (SPIN_US, yielding the CPU every few turns so that BLAS threads that want
 * the core get it) and polls a one-part mailbox. A caller that sees a
 * polling worker posts its second part there instead of the queue, and
 * takes it back and runs it itself if nobody picked it up by the time its
 * own part is done, so a worker that stops polling just then costs time,
 * never correctness.
 */
#include "glia-private.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SPIN_PAUSE() _mm_pause ()
#else
#define SPIN_PAUSE() ((void)0)
#endif

typedef struct
{
  GliaParallelFunc func;
  gpointer user_data;
  gsize n;
  guint parts;
  gint pending;      /* atomic: parts not finished yet */
  gboolean finished; /* under lock: set by the worker that finished last */
  GMutex lock;
  GCond done;
} Job;

typedef struct
{
  Job *job;
  guint index;
} Part;

#define SPIN_US 100

static GThreadPool *pool;
static GPrivate in_worker;
static gpointer mailbox; /* atomic: a Part, or NULL */
static gint n_polling;   /* atomic: workers polling the mailbox */

static void
run_part (Job *job, guint index)
{
  gsize begin = job->n * index / job->parts, end = job->n * (index + 1) / job->parts;
  if (begin < end)
    job->func (begin, end, job->user_data);
}

/* Runs a part and counts it done; the job may be gone once this returns. */
static void
finish_part (Part *part)
{
  Job *job = part->job;
  run_part (job, part->index);
  if (g_atomic_int_dec_and_test (&job->pending)) {
    g_mutex_lock (&job->lock);
    job->finished = TRUE;
    g_cond_signal (&job->done);
    g_mutex_unlock (&job->lock);
  }
}

static void
worker (gpointer data, gpointer unused)
{
  g_private_set (&in_worker, GINT_TO_POINTER (1));
  finish_part (data);
  /* poll the mailbox for a while before going back to sleep */
  g_atomic_int_inc (&n_polling);
  gint64 deadline = g_get_monotonic_time () + SPIN_US;
  for (guint turn = 1;; turn++) {
    Part *part = g_atomic_pointer_get (&mailbox);
    if (part && g_atomic_pointer_compare_and_exchange (&mailbox, part, NULL)) {
      finish_part (part);
      /* parts queued meanwhile need this thread back in the pool */
      if (g_thread_pool_unprocessed (pool) > 0)
        break;
      deadline = g_get_monotonic_time () + SPIN_US;
      continue;
    }
    for (guint i = 0; i < 16; i++)
      SPIN_PAUSE ();
    if (turn % 8 == 0) {
      if (g_get_monotonic_time () > deadline || g_thread_pool_unprocessed (pool) > 0)
        break;
      g_thread_yield ();
    }
  }
  g_atomic_int_add (&n_polling, -1);
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
  Job job = { func, user_data, n, parts, (gint)parts - 1, FALSE };
  g_mutex_init (&job.lock);
  g_cond_init (&job.done);
  Part stack_parts[64];
  g_autofree Part *heap_parts = parts > G_N_ELEMENTS (stack_parts) ? g_new (Part, parts) : NULL;
  Part *p = heap_parts ? heap_parts : stack_parts;
  Part *posted = NULL;
  for (guint i = 1; i < parts; i++) {
    p[i] = (Part){ &job, i };
    if (posted == NULL && g_atomic_int_get (&n_polling) > 0
        && g_atomic_pointer_compare_and_exchange (&mailbox, NULL, &p[i]))
      posted = &p[i];
    else
      g_thread_pool_push (pool, &p[i], NULL);
  }
  run_part (&job, 0);
  if (posted && g_atomic_pointer_compare_and_exchange (&mailbox, posted, NULL))
    finish_part (posted); /* nobody was polling after all */
  /* The other parts usually end within microseconds of this one: poll a
   * little before sleeping on the condition, which would add a futex
   * wake-up to every loop. The lock is still taken below, so the worker
   * that finished last is out of the job before it goes out of scope. */
  gint64 deadline = 0;
  for (guint turn = 1; g_atomic_int_get (&job.pending) > 0; turn++) {
    for (guint i = 0; i < 16; i++)
      SPIN_PAUSE ();
    if (turn % 8 == 0) {
      gint64 now = g_get_monotonic_time ();
      if (deadline == 0)
        deadline = now + SPIN_US;
      else if (now > deadline)
        break;
    }
  }
  g_mutex_lock (&job.lock);
  while (!job.finished)
    g_cond_wait (&job.done, &job.lock);
  g_mutex_unlock (&job.lock);
  g_mutex_clear (&job.lock);
  g_cond_clear (&job.done);
}
