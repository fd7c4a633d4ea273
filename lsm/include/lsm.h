/*
 * lsm.h: the whole public API of the lsm storage engine.
 *
 * An lsm_db is a log-structured merge tree in one directory: writes go to an
 * in-memory memtable, full memtables are frozen and flushed to sorted string
 * tables (SSTs) in level 0, and compaction merges SSTs into lower levels.
 *
 * Conventions used throughout:
 *   - Every function that can fail returns an int: LSM_OK (0) on success or
 *     one of the LSM_E* codes below. lsm_strerror() names a code and
 *     lsm_errmsg() gives the detailed message of this thread's last error.
 *   - Keys are 1 to LSM_MAX_KEY_BYTES bytes, values 0 to LSM_MAX_VALUE_BYTES
 *     bytes, compared as unsigned bytes (memcmp order). An empty value is a
 *     real value; deletion is a separate operation.
 *   - Memory the engine hands out says in its comment who frees it.
 *   - The engine never prints. It reports what it did through return codes,
 *     the state snapshot (lsm_state_get) and the event callback.
 *
 * Thread safety: one lsm_db may be used from many threads at once in both
 * scheduling modes. One lsm_iter must be used by one thread at a time.
 */
#ifndef LSM_H
#define LSM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LSM_VERSION_STRING "0.1.0"

/* Return codes. Zero is success; every error is a small positive number. */
enum {
    LSM_OK = 0,
    LSM_NOTFOUND = 1, /* lsm_get: the key has no live value */
    LSM_EINVAL = 2,   /* a bad argument: empty or over-long key, bad option */
    LSM_EIO = 3,      /* the operating system refused a file operation */
    LSM_ECORRUPT = 4, /* a file on disk failed a checksum or format check */
    LSM_ENOMEM = 5,   /* out of memory */
    LSM_EBUSY = 6,    /* in use: open iterators at close, a locked database */
    LSM_EINTERNAL = 7 /* an engine invariant broke; a bug worth reporting */
};

#define LSM_MAX_KEY_BYTES 65535u
#define LSM_MAX_VALUE_BYTES (16u * 1024u * 1024u)
/* The most levels below L0 (lsm_options.max_levels). */
#define LSM_MAX_LEVELS 16

/* How flushes (and, later, compactions) are scheduled. */
typedef enum lsm_sched {
    /* Deterministic: a flush runs synchronously inside the call that crossed
     * its trigger, so the same calls always produce the same files. */
    LSM_SCHED_INLINE = 0,
    /* A background thread flushes; callers only freeze and signal it. */
    LSM_SCHED_THREADS = 1
} lsm_sched;

/* Compaction strategy (mini-lsm's, with its defaults; see lsm_options).
 * NONE keeps every flush in L0 and has one level, L1, for full compaction.
 * SIMPLE and LEVELED have levels L1..L<max_levels>. TIERED has no L0:
 * every flush makes a new tier, and dump shows tiers as levels named by
 * tier id. */
typedef enum lsm_compaction {
    LSM_COMPACTION_NONE = 0,
    LSM_COMPACTION_SIMPLE = 1,
    LSM_COMPACTION_TIERED = 2,
    LSM_COMPACTION_LEVELED = 3
} lsm_compaction;

/* What happened, reported through lsm_options.event_cb. */
typedef enum lsm_event_type {
    /* The mutable memtable became immutable; a new one took its place.
     * memtable_id, num_entries (keys), size_bytes, new_memtable_id. */
    LSM_EVENT_MEMTABLE_FROZEN = 1,
    /* An immutable memtable is about to be written to an L0 SST.
     * memtable_id (the SST will have the same id). */
    LSM_EVENT_FLUSH_BEGIN = 2,
    /* The flush finished: sst_id, size_bytes (file size), num_entries. */
    LSM_EVENT_FLUSH_END = 3,
    /* A compaction is about to run: inputs (ids), level (output level, or
     * 0 for a new tier), reason (why it was triggered). */
    LSM_EVENT_COMPACTION_BEGIN = 4,
    /* A compaction finished: inputs were removed, outputs added at level.
     * size_bytes is the total size of the outputs. */
    LSM_EVENT_COMPACTION_END = 5,
    /* Background work failed; message says why. Later writes return rc. */
    LSM_EVENT_BACKGROUND_ERROR = 6,
    /* lsm_open recovered an existing database (not sent for a new one):
     * n_ssts_opened SSTs named by the manifest were opened and
     * n_wals_recovered write-ahead logs were replayed into memtables. */
    LSM_EVENT_RECOVERED = 7,
    /* Something was repaired, not lost: message says what, e.g. a torn
     * record at the end of a log cut off after a crash. */
    LSM_EVENT_WARNING = 8
} lsm_event_type;

/* One run a compaction reads: the event's inputs array is the
 * concatenation of its input runs, in order (newest data first). */
typedef struct lsm_input_run {
    int level;        /* 0 = L0, 1 = L1, ...; -1 for a tier */
    uint64_t tier_id; /* a tier's id (tiered compaction); 0 for a level */
    size_t n_ssts;    /* how many consecutive inputs come from it */
} lsm_input_run;

typedef struct lsm_event {
    lsm_event_type type;
    uint64_t memtable_id;
    uint64_t new_memtable_id;
    uint64_t sst_id;
    uint64_t num_entries;
    uint64_t size_bytes;
    int level;               /* output level of a compaction (1 = L1) */
    size_t n_inputs;         /* compaction inputs, ids ... */
    const uint64_t *inputs;  /* ... valid only during the callback */
    size_t n_outputs;        /* compaction outputs, ids ... */
    const uint64_t *outputs; /* ... valid only during the callback */
    size_t n_input_runs;     /* compactions: where the inputs come from */
    const lsm_input_run *input_runs; /* valid only during the callback */
    int rc;                          /* LSM_EVENT_BACKGROUND_ERROR: the error */
    const char *message;             /* BACKGROUND_ERROR and WARNING: details */
    const char *reason;              /* COMPACTION_BEGIN / END: why it ran, in
                                        the mini-lsm reference's words (one or two
                                        lines, no final newline), e.g. "compaction
                                        triggered at level 0 because L0 has 2 SSTs
                                        >= 2" */
    size_t n_ssts_opened;            /* LSM_EVENT_RECOVERED */
    size_t n_wals_recovered;         /* LSM_EVENT_RECOVERED */
} lsm_event;

/* Called on the thread that did the work: the caller's thread in inline mode,
 * the flush thread in threads mode (and LSM_EVENT_BACKGROUND_ERROR for a
 * failed group-commit fsync on the writer that ran it, holding no lock). It
 * runs while the engine holds its write and work locks but not its state lock:
 * it may call lsm_state_get, and must not call lsm_put, lsm_delete, lsm_flush,
 * lsm_compact_full or lsm_close on the same database (they would wait for the
 * locks it is running under). */
typedef void (*lsm_event_fn)(void *ctx, const lsm_event *ev);

typedef struct lsm_options {
    /* A memtable is frozen once its size reaches this many bytes, counting
     * key bytes plus value bytes of every write (as mini-lsm counts); a
     * compaction starts a new output SST once the current one holds this
     * many key + value bytes. So an SST holds about this much data, plus
     * its format's overhead. Default 2 MiB. */
    size_t target_sst_size;
    /* Data block size in an SST, in bytes. Default 4096. */
    size_t block_size;
    /* Memtables (mutable + immutable) kept in memory before the oldest
     * immutable one is flushed to L0. Must be at least 1. Default 3. */
    size_t num_memtable_limit;
    /* Capacity of the shared block cache, in bytes; 0 disables it.
     * A block costs the memory it holds: where the env maps SST files
     * (the default POSIX env does), only its decoded, verified header,
     * since its bytes stay in the mapping (the OS's page cache); else the
     * header and a copy of the bytes. Default 8 MiB. */
    size_t block_cache_bytes;
    /* Bloom filter bits per key; 10 gives about 1% false positives.
     * 0 disables filters for new SSTs. Default 10. */
    unsigned bloom_bits_per_key;
    /* Default LSM_SCHED_INLINE. */
    lsm_sched sched;
    /* Default LSM_COMPACTION_LEVELED. */
    lsm_compaction compaction;
    /* Levels for SIMPLE and LEVELED, 1 to 16. Default 4. */
    unsigned max_levels;
    /* SIMPLE and LEVELED: L0 is compacted once it has this many SSTs.
     * Default 2. */
    unsigned level0_file_num_compaction_trigger;
    /* SIMPLE: a level is compacted into the next when
     * (SSTs in the next) / (SSTs in it) < size_ratio_percent / 100.
     * Default 200. */
    unsigned size_ratio_percent;
    /* LEVELED: the target size of the base level, in MiB, and the factor
     * between adjacent levels' targets. Defaults 128 and 2. */
    unsigned base_level_size_mb;
    unsigned level_size_multiplier;
    /* TIERED (mini-lsm's rules): compaction starts once there are
     * num_tiers tiers; merges all of them when space amplification (SSTs
     * in all tiers but the last over SSTs in the last, in percent) reaches
     * max_size_amplification_percent; else, summing SSTs from the newest
     * tier, merges the first tiers 0..i whose next tier holds more than
     * (100 + size_ratio) / 100 times their sum, if i + 1 >=
     * min_merge_width (at least 2); else merges the newest max_merge_width
     * tiers (0: all of them; 1 is refused). Defaults 3, 200, 1, 2, 0. */
    unsigned num_tiers;
    unsigned max_size_amplification_percent;
    unsigned size_ratio;
    unsigned min_merge_width;
    unsigned max_merge_width;
    /* Threads mode only: writers wait (a write stall) while more than
     * stall_memtables memtables are in memory or L0 holds more than
     * stall_l0_files SSTs, until background work catches up. The memtable
     * limit is never below num_memtable_limit; the L0 limit applies to
     * SIMPLE and LEVELED only (the strategies that compact L0) and is never
     * below level0_file_num_compaction_trigger. 0 disables a
     * limit. Defaults 8 and 12. Inline mode never stalls: it does the work
     * itself. */
    unsigned stall_memtables;
    unsigned stall_l0_files;
    /* Keep a write-ahead log: every write is appended to the log of its
     * memtable before it is acknowledged, so it survives a crash of the
     * process. Without it, writes still in memtables are lost by a crash.
     * Default 1. */
    int enable_wal;
    /* With the WAL on, fsync the log before acknowledging each write, so an
     * acknowledged write also survives power loss. Default 0. */
    int sync;
    /* Event callback and its context; NULL (the default) reports nothing. */
    lsm_event_fn event_cb;
    void *event_ctx;
} lsm_options;

/* Fills *opt with every default listed above. */
void lsm_options_init(lsm_options *opt);

/* "none", "simple", "tiered" or "leveled" (the names lsm-cli's
 * --compaction takes); "unknown" for any other value. Static storage. */
const char *lsm_compaction_name(lsm_compaction c);

typedef struct lsm_db lsm_db;
typedef struct lsm_iter lsm_iter;

/* Opens (creating it if missing) the database in directory dir and stores the
 * handle in *out; the caller closes it with lsm_close. opt may be NULL for the
 * defaults. A path that is a file, a directory that cannot be written, or an
 * invalid option is an error. On every error *out is set to NULL. */
int lsm_open(const char *dir, const lsm_options *opt, lsm_db **out);

/* Stops background work and frees the handle. With the WAL on, the
 * memtables stay in their logs (the mutable one's is synced first), as
 * mini-lsm's and LevelDB's close leave them: the next lsm_open replays
 * them (LSM_EVENT_RECOVERED counts the logs). With the WAL off, every
 * memtable is flushed to L0 first. NULL-safe. Every iterator must be closed
 * first: with iterators open it returns LSM_EBUSY and the handle stays
 * open. On an I/O error the handle is still freed and the error returned. */
int lsm_close(lsm_db *db);

/* Writes key = value. Both are copied; the caller keeps ownership. */
int lsm_put(lsm_db *db, const void *key, size_t nkey, const void *value,
            size_t nvalue);

/* Writes a tombstone for key. Deleting an absent key is not an error. */
int lsm_delete(lsm_db *db, const void *key, size_t nkey);

/* Looks key up. On LSM_OK, *value is a malloc'd copy of nvalue bytes (plus a
 * terminating NUL byte not counted in *nvalue) that the caller frees with
 * lsm_free. Returns LSM_NOTFOUND when the key is absent or deleted. */
int lsm_get(lsm_db *db, const void *key, size_t nkey, void **value,
            size_t *nvalue);

/* Frees memory returned by lsm_get. NULL-safe. */
void lsm_free(void *p);

/* One end of a scan range. */
typedef enum lsm_bound_kind {
    LSM_BOUND_UNBOUNDED = 0,
    LSM_BOUND_INCLUDED = 1,
    LSM_BOUND_EXCLUDED = 2
} lsm_bound_kind;

typedef struct lsm_bound {
    lsm_bound_kind kind;
    const void *key; /* ignored when UNBOUNDED */
    size_t nkey;
} lsm_bound;

/* Opens an iterator over the live keys in [lo, hi] (each end included,
 * excluded or unbounded; NULL means unbounded), positioned on the first one.
 * The iterator sees the database as it was when opened. Only sources whose key
 * range overlaps the range are opened. The caller closes it with
 * lsm_iter_close, before lsm_close. */
int lsm_scan(lsm_db *db, const lsm_bound *lo, const lsm_bound *hi,
             lsm_iter **out);

/* 1 while the iterator is on an entry, 0 past the end or after an error. */
int lsm_iter_valid(const lsm_iter *it);
/* Moves to the next live key. Returns an error if a read fails; the iterator
 * is then invalid. */
int lsm_iter_next(lsm_iter *it);
/* The current key and value: valid until the next lsm_iter_next or close. */
const void *lsm_iter_key(const lsm_iter *it, size_t *nkey);
const void *lsm_iter_value(const lsm_iter *it, size_t *nvalue);
/* How many sub-iterators still have entries (memtables, SSTs), as mini-lsm's
 * num_active_iterators counts them. */
size_t lsm_iter_num_active(const lsm_iter *it);
/* NULL-safe. */
void lsm_iter_close(lsm_iter *it);

/* Freezes the mutable memtable (if it holds anything) and flushes every
 * immutable memtable to L0, oldest first. (mini-lsm's force_flush flushes
 * only one.) Returns after the SSTs are written, in both modes. */
int lsm_flush(lsm_db *db);

/* Merges everything on disk into the bottom run: every L0 and level SST
 * into new SSTs of the last level (L1 for NONE), or every tier into one
 * tier, in SSTs of about target_sst_size each; tombstones are dropped since
 * nothing lies below. Memtables are not flushed first. Works with every
 * strategy. */
int lsm_compact_full(lsm_db *db);

/* --- Atomic batches ------------------------------------------------------ */

/* A batch of puts and deletes applied by lsm_write as one atomic write:
 * after any crash, all of it or none of it. Later operations on the same key
 * in a batch win over earlier ones. */
typedef struct lsm_batch lsm_batch;

/* An empty batch in *out, freed by the caller with lsm_batch_free. */
int lsm_batch_new(lsm_batch **out);
void lsm_batch_free(lsm_batch *b); /* NULL-safe */
/* Add a put or a delete; keys and values are copied and checked as
 * lsm_put checks them (LSM_EINVAL, and the batch is unchanged). */
int lsm_batch_put(lsm_batch *b, const void *key, size_t nkey, const void *value,
                  size_t nvalue);
int lsm_batch_delete(lsm_batch *b, const void *key, size_t nkey);
size_t lsm_batch_count(const lsm_batch *b);
/* Empties the batch for reuse. */
void lsm_batch_clear(lsm_batch *b);

/* Applies every operation of b atomically (one WAL record). An empty batch
 * succeeds and writes nothing. lsm_write stamps sequence numbers into the
 * batch's buffer; its operations are unchanged and it may be written again. */
int lsm_write(lsm_db *db, lsm_batch *b);

/* --- The manifest --------------------------------------------------------- */

typedef enum lsm_manifest_kind {
    LSM_MANIFEST_NEW_MEMTABLE = 1, /* id: a new mutable memtable (and WAL) */
    LSM_MANIFEST_FLUSH = 2,        /* id: memtable flushed to L0 <id>.sst */
    LSM_MANIFEST_COMPACTION = 3,   /* removed SSTs -> added SSTs in level */
    LSM_MANIFEST_NEXT_ID = 4       /* id: every file id in use is below it */
} lsm_manifest_kind;

typedef struct lsm_manifest_record {
    uint64_t offset; /* byte offset of the record in MANIFEST */
    lsm_manifest_kind kind;
    uint64_t id;
    int has_wal; /* NEW_MEMTABLE: the memtable logs to <id>.wal */
    int level;
    size_t n_removed;
    uint64_t *removed; /* owned by the array's allocation */
    size_t n_added;
    uint64_t *added;
} lsm_manifest_record;

/* Reads every record of the database's MANIFEST, oldest first, into *out
 * (*n records), freed by the caller with lsm_manifest_free. */
int lsm_manifest_read(lsm_db *db, lsm_manifest_record **out, size_t *n);
void lsm_manifest_free(lsm_manifest_record *records, size_t n); /* NULL-safe */

/* --- The inspectable state ------------------------------------------------ */

typedef struct lsm_memtable_info {
    uint64_t memtable_id;
    uint64_t num_keys;   /* distinct keys, tombstones included */
    uint64_t size_bytes; /* key + value bytes of every write, as mini-lsm */
} lsm_memtable_info;

typedef struct lsm_sst_info {
    uint64_t sst_id;
    uint64_t file_size;
    uint64_t num_entries;
    uint64_t num_blocks;
    void *first_key; /* owned by the lsm_state */
    size_t nfirst_key;
    void *last_key; /* owned by the lsm_state */
    size_t nlast_key;
} lsm_sst_info;

typedef struct lsm_level_info {
    int level; /* 1 = L1 */
    size_t n_ssts;
    lsm_sst_info *ssts; /* sorted by first key */
} lsm_level_info;

typedef struct lsm_iter_info {
    uint64_t iter_id; /* in order of opening */
    size_t num_active;
} lsm_iter_info;

/* Cumulative counters since open. */
typedef struct lsm_counters {
    uint64_t puts, deletes, gets, scans;
    uint64_t user_bytes_written; /* key + value bytes of writes */
    uint64_t wal_bytes_written;  /* bytes appended to WALs */
    uint64_t wal_syncs; /* WAL fsyncs: one per frozen memtable, and with
                           the sync option one per group commit */
    uint64_t flush_bytes_written;      /* SST bytes written by flushes */
    uint64_t compaction_bytes_written; /* SST bytes written by compaction */
    uint64_t memtables_frozen, flushes, compactions;
    uint64_t block_reads;      /* blocks read from disk */
    uint64_t block_cache_hits; /* blocks served by the cache */
    uint64_t bloom_checks;     /* point reads that consulted a filter */
    uint64_t bloom_negatives;  /* ... and were told the key is absent */
    uint64_t sst_probes;       /* SSTs a get searched after the filters */
    uint64_t write_stalls;     /* writes that waited for background work */
    uint64_t stall_micros;     /* total time they waited */
} lsm_counters;

/* Amplification figures, maintained as the tree changes (no scanning).
 *   write: (bytes written to SSTs by flushes and compactions) / (key and
 *          value bytes written by users), since open;
 *   space: (bytes of all live SSTs) / (bytes of the SSTs in the bottom
 *          run: the last non-empty level or the oldest tier, or, when only
 *          L0 holds SSTs, the oldest L0 SST, each being a sorted run): how
 *          much more disk the tree uses than one fully compacted copy
 *          (RocksDB's measure);
 *   read:  SSTs a point read may have to search: every L0 SST plus one
 *          per non-empty level or tier (their SSTs never overlap). */
typedef struct lsm_amplification {
    double write;
    double space;
    uint64_t read;
    uint64_t live_sst_bytes;   /* all live SSTs */
    uint64_t bottom_sst_bytes; /* the bottom run's SSTs */
} lsm_amplification;

/* A plain, owned copy of the engine's shape at one instant. */
typedef struct lsm_state {
    lsm_memtable_info memtable; /* the mutable one */
    size_t n_immutables;
    lsm_memtable_info *immutables; /* newest first */
    size_t n_l0;
    lsm_sst_info *l0; /* newest first */
    size_t n_levels;
    lsm_level_info *levels; /* levels[0] is L1 */
    size_t n_iters;
    lsm_iter_info *iters;
    size_t pending_flushes; /* immutable memtables waiting for a flush */
    lsm_sched sched;
    lsm_compaction compaction;
    lsm_counters counters;
    lsm_amplification amplification;
    /* TIERED: levels[] are tiers, newest first, and levels[i].level is the
     * tier's id. */
    int tiered;
} lsm_state;

/* Takes the snapshot. *out is freed by the caller with lsm_state_free. */
int lsm_state_get(lsm_db *db, lsm_state **out);
/* NULL-safe. */
void lsm_state_free(lsm_state *st);

/* --- Compaction policies ------------------------------------------------- */

/* The strategies' controllers, as the engine runs them, over a "shape": the
 * tree as a controller sees it (for L0 and every run below it, the SSTs'
 * ids, sizes and key ranges), with no files and no locks. A simulator (such
 * as lsm-cli's simulate) keeps a shape, adds flushed SSTs to it, asks for a
 * task, invents the outputs and applies the task; the engine does exactly
 * the same with real SSTs. Every function here is pure and thread-safe on
 * distinct shapes. */

typedef struct lsm_shape_sst {
    uint64_t sst_id;
    uint64_t size_bytes;
    /* Inclusive user-key range; borrowed: the bytes must outlive every
     * shape that names the SST. */
    const uint8_t *first_key;
    size_t nfirst_key;
    const uint8_t *last_key;
    size_t nlast_key;
} lsm_shape_sst;

/* A sorted run below L0: a level (run_id is its number, 1-based) or a tier
 * (run_id is the tier's id: the first SST id it was created with). Its
 * SSTs are sorted by first key and never overlap (adjacent SSTs may share
 * a boundary key). */
typedef struct lsm_shape_run {
    uint64_t run_id;
    size_t n_ssts;
    lsm_shape_sst *ssts; /* owned by the shape */
} lsm_shape_run;

typedef struct lsm_shape {
    size_t n_l0;
    lsm_shape_sst *l0; /* newest first; owned */
    size_t n_runs;
    lsm_shape_run *runs; /* levels: runs[i] is L(i+1); tiers: newest first */
    int tiered;          /* runs are tiers, and L0 stays empty */
} lsm_shape;

/* Why a task fired. */
typedef enum lsm_compaction_trigger {
    LSM_TRIGGER_FULL = 1,      /* lsm_compact_full */
    LSM_TRIGGER_L0_FILES,      /* simple / leveled: L0 file count */
    LSM_TRIGGER_SIZE_RATIO,    /* simple: level size ratio; tiered too */
    LSM_TRIGGER_SPACE_AMP,     /* tiered: space amplification */
    LSM_TRIGGER_REDUCE_RUNS,   /* tiered: too many sorted runs */
    LSM_TRIGGER_LEVEL_PRIORITY /* leveled: a level over its target size */
} lsm_compaction_trigger;

/* One compaction: merge the SSTs of `upper` (from L0 when upper_level is 0,
 * else from run upper_level - 1) with those of `lower` (from run
 * lower_level - 1); for tiered, merge the tiers listed in tier_ids. A
 * tiered task has only tier_ids (upper_level, lower_level, n_upper and
 * n_lower are 0); a levels task has no tier_ids. Arrays are owned by the
 * task (lsm_compaction_task_free). */
typedef struct lsm_compaction_task {
    lsm_compaction_trigger trigger;
    size_t upper_level; /* 0 = L0; levels only */
    size_t n_upper;
    uint64_t *upper;    /* SST ids */
    size_t lower_level; /* 1-based; levels only */
    size_t n_lower;
    uint64_t *lower;      /* SST ids */
    size_t n_tiers;       /* tiered only */
    uint64_t *tier_ids;   /* newest first */
    int output_is_bottom; /* nothing older lies below the output */
    /* Why, in the mini-lsm reference controller's words (one or two
     * lines, no final newline), e.g. "compaction triggered at level 0
     * because L0 has 2 SSTs >= 2". */
    char reason[1024];
} lsm_compaction_task;

/* An empty tree for opt's strategy: max_levels empty levels (simple,
 * leveled), one (none) or no tier (tiered). Free it with lsm_shape_free.
 * LSM_EINVAL for options the controllers cannot work with (the message
 * names the option), LSM_ENOMEM. */
int lsm_shape_init(lsm_shape *s, const lsm_options *opt);
/* Adds a flushed SST: the newest in L0, or a new tier (run_id its id).
 * LSM_EINVAL when its first key is after its last. */
int lsm_shape_add_flush(lsm_shape *s, const lsm_shape_sst *sst);
/* Asks opt's strategy for a task: LSM_OK with *found 1 and the task
 * filled (free it with lsm_compaction_task_free), or *found 0 when no
 * trigger holds. */
int lsm_compaction_pick(const lsm_options *opt, const lsm_shape *s,
                        lsm_compaction_task *task, int *found);
/* Every SST id the task reads, newest data first, in *ids (malloc'd,
 * freed by the caller with free); returns how many. 0 with *ids NULL
 * means out of memory, as a picked task always reads something. */
size_t lsm_compaction_task_inputs(const lsm_compaction_task *task,
                                  const lsm_shape *s, uint64_t **ids);
/* Applies a finished task to *s: its inputs leave, and the outputs (ids,
 * sizes and key ranges, sorted by first key and not overlapping) take
 * their place in the lower level, or form one new tier (id outputs[0]'s)
 * where the merged tiers were. On error (LSM_EINVAL, with a message: a
 * task that does not fit the shape, overlapping outputs) *s is unchanged. */
int lsm_shape_apply(lsm_shape *s, const lsm_compaction_task *task,
                    const lsm_shape_sst *outputs, size_t n_outputs);
void lsm_compaction_task_free(lsm_compaction_task *task); /* NULL-safe */
void lsm_shape_free(lsm_shape *s);                        /* NULL-safe */

/* --- Errors --------------------------------------------------------------- */

/* A short, static name for a return code ("key not found", ...). */
const char *lsm_strerror(int rc);

/* The detailed message of the last error returned to this thread, e.g.
 * "lsm.db/3.sst: block 2 checksum mismatch at offset 8192". Static storage
 * per thread, valid until this thread's next lsm_ call. */
const char *lsm_errmsg(void);

#ifdef __cplusplus
}
#endif

#endif /* LSM_H */
