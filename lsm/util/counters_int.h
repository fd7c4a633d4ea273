/*
 * counters_int.h: the engine's cumulative counters, updated lock-free.
 *
 * One struct per open database, shared by every layer that counts (the SST
 * reader counts block reads and bloom checks, the db counts writes).
 * lsm_state_get copies it into the public lsm_counters.
 */
#ifndef LSM_COUNTERS_INT_H
#define LSM_COUNTERS_INT_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct counters {
    _Atomic uint64_t puts, deletes, gets, scans;
    _Atomic uint64_t user_bytes_written;
    _Atomic uint64_t wal_bytes_written;
    _Atomic uint64_t wal_syncs;
    _Atomic uint64_t flush_bytes_written;
    _Atomic uint64_t compaction_bytes_written;
    _Atomic uint64_t memtables_frozen, flushes, compactions;
    _Atomic uint64_t block_reads;
    /* SSTs' filter and index sections read again after the block cache
     * evicted them (lsm_options.cache_index_and_filter_blocks). */
    _Atomic uint64_t meta_reads;
    _Atomic uint64_t block_cache_hits;
    _Atomic uint64_t bloom_checks;
    _Atomic uint64_t bloom_negatives;
    _Atomic uint64_t sst_probes;
    _Atomic uint64_t write_stalls, stall_micros;
    _Atomic uint64_t txn_commits, txn_aborts;
    _Atomic uint64_t txn_conflicts_write, txn_conflicts_read,
        txn_conflicts_range;
    _Atomic uint64_t versions_dropped, versions_kept;
    _Atomic uint64_t memtable_bloom_negatives;
    /* Prefix scans: SSTs whose prefix filter was consulted, and those it
     * ruled out (lsm_scan_prefix). */
    _Atomic uint64_t prefix_checks, prefix_skips;
} counters;

/* Adds n to a counter; a NULL counters struct is allowed (tests). */
#define COUNTER_ADD(c, field, n)                                               \
    do {                                                                       \
        if (c)                                                                 \
            atomic_fetch_add_explicit(&(c)->field, (n), memory_order_relaxed); \
    } while (0)

#endif
