/*
 * commands.c: the command table of lsm-cli and one handler per command.
 *
 * The mini-lsm commands (fill, get, del, scan, flush, full_compaction, dump,
 * quit/close) print exactly what mini-lsm-cli prints, so the book's scripts
 * and screenshots carry over; the rest (put, stats, manifest, help, source,
 * .timer) follow the same style. Command names match in any case, and the
 * sqlite3 names .help, .quit, .exit, .read and .timer work too. Engine events
 * print as lines before a command's result, the two recovery lines of lsm_open
 * as mini-lsm prints them; the text of events, dump, stats and manifest lines
 * is show.c's. Every handler either prints its result and returns LSM_OK, or
 * reports one error line through cli_fail and returns its code; the epoch
 * advances only on LSM_OK of a command mini-lsm-cli has (see advances_epoch;
 * source's lines advance it as if they had been typed).
 *
 * Invariants: a handler never holds the output lock while calling the engine
 * (format.c takes it per call), so event lines from the engine can always be
 * printed; every lsm_iter opened here is closed before the handler returns;
 * every lsm_state and manifest record array is freed before the handler
 * returns.
 */
#include "commands.h"

#include "cmd_history.h"
#include "cmd_inspect.h"
#include "cmd_iter.h"
#include "cmd_verify.h"
#include "cmd_explain.h"
#include "cmd_txn.h"
#include "draw.h"
#include "events.h"
#include "format.h"
#include "parse.h"
#include "repl.h"
#include "show.h"
#include "show_txn.h"
#include "simulate.h"
#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <sys/ioctl.h>
#include <unistd.h>

volatile sig_atomic_t cli_interrupted;

typedef int (*cli_handler)(cli_session *s, const cli_argv *a);

typedef struct cli_command {
    const char *name;
    const char *aliases[5]; /* NULL-terminated */
    unsigned arg_counts;    /* bit n set: n arguments (after the name) ok */
    const char *usage;
    const char *summary;
    const char *details;
    const char *example;
    cli_handler run;
    /* 1 only for the commands mini-lsm-cli has (fill, get, del, scan,
     * dump, flush, full_compaction): as there, each success moves the
     * epoch on, and nothing else does, so a session with extra questions
     * (help, stats, ...) still fills the book's values. */
    int advances_epoch;
    /* 1 for commands .timer does not time: .timer itself, quit, and
     * source, whose lines are timed one by one (as sqlite3 times SQL
     * statements, not dot-commands). */
    int untimed;
} cli_command;

#define ARGS(n) (1u << (n))
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static int cmd_fill(cli_session *s, const cli_argv *a);
static int cmd_get(cli_session *s, const cli_argv *a);
static int cmd_del(cli_session *s, const cli_argv *a);
static int cmd_delrange(cli_session *s, const cli_argv *a);
static int cmd_put(cli_session *s, const cli_argv *a);
static int cmd_scan(cli_session *s, const cli_argv *a);
static int cmd_flush(cli_session *s, const cli_argv *a);
static int cmd_full_compaction(cli_session *s, const cli_argv *a);
static int cmd_dump(cli_session *s, const cli_argv *a);
static int cmd_draw(cli_session *s, const cli_argv *a);
static int cmd_manifest(cli_session *s, const cli_argv *a);
static int cmd_help(cli_session *s, const cli_argv *a);
static int cmd_source(cli_session *s, const cli_argv *a);
static int cmd_quit(cli_session *s, const cli_argv *a);
static int cmd_crash(cli_session *s, const cli_argv *a);
static int cmd_timer(cli_session *s, const cli_argv *a);

static const cli_command commands[] = {
    {
        .name = "fill",
        .aliases = {NULL},
        .arg_counts = ARGS(2),
        .usage = "fill BEGIN END",
        .summary = "put keys BEGIN..END with values value<key>@<epoch>",
        .details = "Puts key i = value<i>@<epoch> for every i from BEGIN\n"
                   "to END, both included. Keys are decimal numbers\n"
                   "without padding (0 to 18446744073709551615). The\n"
                   "epoch is 0 at start and goes up by one after every\n"
                   "successful fill, get, del, scan, dump, flush and\n"
                   "full_compaction (mini-lsm-cli's commands; the others\n"
                   "leave it), so refills show which write won.\n"
                   "Ctrl-C stops a long fill; what was written stays.\n"
                   "With --serializable each put is a transaction.",
        .example = "fill 1000 3000",
        .run = cmd_fill,
        .advances_epoch = 1,
    },
    {
        .name = "get",
        .aliases = {NULL},
        .arg_counts = ARGS(1) | ARGS(2),
        .usage = "get KEY [@SNAP]",
        .summary = "print the value of KEY (at a snapshot)",
        .details = "Prints KEY=b\"VALUE\", or KEY not exist. Replies to\n"
                   "get, del and put show KEY as typed when it is\n"
                   "printable ASCII without blanks, quotes or\n"
                   "backslashes, and as b\"...\" otherwise.\n"
                   "get KEY @SNAP reads at snapshot SNAP (taken with\n"
                   "snapshot SNAP): the value KEY had then, whatever was\n"
                   "written, flushed or compacted since.",
        .example = "get 2333 @s1",
        .run = cmd_get,
        .advances_epoch = 1,
    },
    {
        .name = "del",
        .aliases = {"delete", NULL},
        .arg_counts = ARGS(1),
        .usage = "del KEY",
        .summary = "delete KEY",
        .details = "Writes a tombstone for KEY. Deleting a missing key\n"
                   "is not an error. With --serializable, a one-write\n"
                   "serializable transaction writes it (as put).",
        .example = "del 2333",
        .run = cmd_del,
        .advances_epoch = 1,
    },
    {
        .name = "delrange",
        .aliases = {NULL},
        .arg_counts = ARGS(2),
        .usage = "delrange B E",
        .summary = "delete every key from B to E (E excluded)",
        .details = "Deletes every key k with B <= k < E (bytes order:\n"
                   "\"10\" sorts before \"9\") with one range tombstone,\n"
                   "as RocksDB's DeleteRange: one write, however many\n"
                   "keys it covers. Keys written later are not deleted;\n"
                   "snapshots taken before still read the old values.\n"
                   "Prints [B, E) deleted. B must sort below E.\n"
                   "Transactions have no range delete: with\n"
                   "--serializable it is written directly.",
        .example = "delrange 2000 3000",
        .run = cmd_delrange,
        .advances_epoch = 0,
    },
    {
        .name = "put",
        .aliases = {NULL},
        .arg_counts = ARGS(2),
        .usage = "put KEY VALUE",
        .summary = "store VALUE under KEY",
        .details = "Stores VALUE under KEY. Quote either to include\n"
                   "blanks or any byte: inside \"...\" use \\n \\r \\t \\0\n"
                   "\\\\ \\\" and \\xNN. An empty value (\"\") is a real\n"
                   "value, unlike a deleted key. With --serializable,\n"
                   "as in mini-lsm, each put (and each key of fill)\n"
                   "is a transaction of one write at serializable\n"
                   "(begin, put, commit): stats counts txn commits.",
        .example = "put \"my key\" \"a\\x00b\"",
        .run = cmd_put,
        .advances_epoch = 0,
    },
    {
        .name = "scan",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(1) | ARGS(2) | ARGS(3),
        .usage = "scan [B E] [@SNAP]",
        .summary = "print every pair, or those from B to E",
        .details = "Prints b\"KEY\"=b\"VALUE\" for every live key in byte\n"
                   "order, or for the keys from BEGIN to END, both\n"
                   "included, then an empty line and the count. Keys\n"
                   "compare as bytes: \"10\" sorts before \"9\".\n"
                   "scan [BEGIN END] @SNAP reads at snapshot SNAP\n"
                   "(taken with snapshot SNAP): the pairs as they were\n"
                   "then. Ctrl-C stops a long scan.\n"
                   "scan --prefix P [@SNAP] prints the keys starting\n"
                   "with P. With a prefix extractor (--prefix-len N or\n"
                   "--prefix-delim C) and P at least N bytes long (or\n"
                   "holding C), SSTs whose prefix filter rules P out\n"
                   "are not read: stats shows prefix checks and skips,\n"
                   "explain scan --prefix P which SSTs were skipped.",
        .example = "scan 2000 2333",
        .run = cmd_scan,
        .advances_epoch = 1,
    },
    {
        .name = "explain",
        .aliases = {NULL},
        /* any number: cli_explain says what is missing */
        .arg_counts = ~0u,
        .usage = "explain get|scan",
        .summary = "show the steps of a get or a scan",
        .details =
            "explain get KEY and explain scan [BEGIN END] run get or\n"
            "scan, print what they print, then how the read went:\n"
            "one numbered line per memtable and SST in the order\n"
            "considered, and totals that equal the change of the\n"
            "stats counters. A get's lines:\n"
            "  1. memtable 5: skipped: bloom filter says absent (or:\n"
            "     miss (a bloom filter false positive), 3 keys compared)\n"
            "  2. immutable memtable 4: tombstone seq 90, 2 keys compared\n"
            "  3. L0 3.sst: skipped: key range excludes the key\n"
            "  4. L0 2.sst: skipped: bloom filter says absent\n"
            "  5. L1 7.sst: block 2 (read from file): hit seq 12, 6 keys\n"
            "     compared (or: from cache; miss (a bloom filter false\n"
            "     positive); no block holds the key: miss)\n"
            "  result: seq 12 from L1 7.sst (or: not found, deleted by\n"
            "     seq 90 in ...; not found in any source)\n"
            "  totals: structures visited (memtables and SSTs\n"
            "     searched), bloom checks, bloom negatives (SST filters),\n"
            "     memtable bloom negatives, sst probes, block reads,\n"
            "     block cache hits\n"
            "Per level only the SST whose range may hold the key is\n"
            "considered. A scan's lines, after its keys:\n"
            "  1. memtable 5: opened: 12 entries read\n"
            "  2. L0 3.sst: skipped: key range outside the scan\n"
            "  3. L1 7.sst: opened: 40 entries read, 2 blocks read,\n"
            "     0 from cache (or: in range, not reached: a level\n"
            "     opens its SSTs as the scan gets to them)\n"
            "  totals: structures visited (sources that handed on an\n"
            "     entry), keys returned, older versions skipped,\n"
            "     tombstones skipped, newer versions skipped (written\n"
            "     after the scan began), block reads, block cache hits\n"
            "Entries read count every version a source handed to\n"
            "the merge, also past END. Tiers show as tier ID N.sst.\n"
            "explain scan --prefix P explains scan --prefix P: an\n"
            "SST in range whose prefix filter rules P out shows\n"
            "  4. L0 2.sst: skipped: prefix filter says no key has\n"
            "     the prefix\n"
            "(one it lets through: prefix filter says maybe, ...),\n"
            "and a last line counts them:\n"
            "  prefix filters: 2 checked, 1 skipped",
        .example = "explain get 2333",
        .run = cli_explain,
        .advances_epoch = 0,
    },
    {
        .name = "flush",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "flush",
        .summary = "flush every memtable to L0 (or new tiers)",
        .details = "Freezes the memtable (if it holds anything) and\n"
                   "writes every immutable memtable to a new L0 SST\n"
                   "(with tiered compaction, a new tier), oldest first,\n"
                   "printing what happened. In the default inline mode\n"
                   "the compactions the new SSTs trigger run right\n"
                   "after, one after another until no trigger holds,\n"
                   "each printing why it ran; with --background a\n"
                   "thread runs them. A fill that fills memtables\n"
                   "flushes and compacts the same way.",
        .example = "flush",
        .run = cmd_flush,
        .advances_epoch = 1,
    },
    {
        .name = "full_compaction",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "full_compaction",
        .summary = "merge everything into the bottom level",
        .details = "Merges every SST into new SSTs of the bottom level\n"
                   "(L1 with --compaction none, the last level with\n"
                   "simple and leveled) or, with tiered, every tier into\n"
                   "one tier, and drops deleted keys, since nothing\n"
                   "older lies below. Works with every strategy.\n"
                   "Memtables are not flushed first.",
        .example = "full_compaction",
        .run = cmd_full_compaction,
        .advances_epoch = 1,
    },
    {
        .name = "dump",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(1),
        .usage = "dump [-v]",
        .summary = "show memtables, SSTs, iterators, read points",
        .details = "Shows the memtable, the immutable memtables (newest\n"
                   "first), L0 (newest first, only when not empty), every\n"
                   "level and the open iterators; then, while snapshots\n"
                   "or transactions are live, the read points, oldest\n"
                   "first, and the watermark (the oldest one's seq:\n"
                   "compaction keeps every version above it and the\n"
                   "newest at or below it):\n"
                   "  Read points: 2 (watermark seq 12; newest seq 30)\n"
                   "    s1: snapshot at seq 12\n"
                   "    t1: transaction (serializable) at seq 20\n"
                   "With tiered compaction each line is a tier instead,\n"
                   "newest first, named as mini-lsm names it, by the id\n"
                   "of its first SST:\n"
                   "L13 (2): [13, 14] is the tier of SSTs 13 and 14.\n"
                   "With -v, also each memtable's and SST's size,\n"
                   "entries and key range, and each SST's newest seq\n"
                   "(more entries than keys: versions kept for\n"
                   "snapshots; history KEY shows each one). Once an SST\n"
                   "holds compressed blocks (--compression), -v also\n"
                   "gives each SST's data bytes stored and raw, the\n"
                   "ratio and the blocks of each kind, then the total.",
        .example = "dump -v",
        .run = cmd_dump,
        .advances_epoch = 1,
    },
    {
        .name = "draw",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(2),
        .usage = "draw [OPTION FILE]",
        .summary = "picture the tree; --svg or --html FILE: to a file",
        .details = "draw, draw --svg FILE or draw --html FILE.\n"
                   "Draws one row per memtable (mem, then imm newest\n"
                   "first), per L0 SST (newest first) and per level or\n"
                   "tier. Each memtable or SST is a bar [==id==] over one\n"
                   "key axis, from the smallest key of the tree to the\n"
                   "largest: L0's SSTs overlap, a level's sit side by\n"
                   "side. Decimal keys are placed by their rank in key\n"
                   "order among the numbers at the bars' ends (fill 1000\n"
                   "3000 spreads evenly), others by their leading bytes.\n"
                   "At the end of each row: keys, file size or SST count.\n"
                   "As wide as COLUMNS says, else the terminal, else 80\n"
                   "(at least 40); in colour on a terminal unless\n"
                   "NO_COLOR is set.\n"
                   "draw --svg FILE writes the same picture as an SVG\n"
                   "for slides (boxes shaded by bytes, ids and sizes,\n"
                   "SSTs an open iterator pins outlined in red dashes).\n"
                   "draw --html FILE writes one self-contained page with\n"
                   "the tree's history, replayed from the MANIFEST (from\n"
                   "the last open, or the last rewrite past\n"
                   "--manifest-rewrite-bytes): every flush and compaction\n"
                   "a step, before and after, what it removed and added\n"
                   "and why; previous/next, a slider or the arrow keys\n"
                   "step through it, hovering or tapping an SST shows its\n"
                   "id, level, size, entries and key range.",
        .example = "draw",
        .run = cmd_draw,
        .advances_epoch = 0,
    },
    {
        .name = "iter",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(1) | ARGS(2) | ARGS(3) | ARGS(4),
        .usage = "iter [OP NAME ...]",
        .summary = "open, step through, close or list iterators",
        .details = "iter open NAME [BEGIN END] opens an iterator over every\n"
                   "pair, or those from BEGIN to END (as scan takes them),\n"
                   "and keeps it across commands: it reads the database as\n"
                   "it was when opened, whatever is written, flushed or\n"
                   "compacted later, and keeps the memtables and SSTs it\n"
                   "reads alive until it closes (dump shows what it pins).\n"
                   "iter next NAME [N] prints its next N pairs (default 1)\n"
                   "as scan prints them, then NAME: at KEY (where it\n"
                   "stands) or NAME: end. iter close NAME closes it; SSTs\n"
                   "only it kept are deleted then. iter alone lists the\n"
                   "open ones. NAME is letters, digits, _ or -; a closed\n"
                   "iterator's name may be used again. quit refuses once\n"
                   "while iterators are open, naming them; a second quit\n"
                   "closes them and leaves, as the end of input does.",
        .example = "iter open it1 2000 2010",
        .run = cli_cmd_iter,
        .advances_epoch = 0,
    },
    {
        .name = "snapshot",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = "snapshot NAME",
        .summary = "take a snapshot: reads at @NAME see the data as now",
        .details = "Takes a snapshot called NAME and prints its read\n"
                   "point: snapshot s1 at seq 12, the seq of the newest\n"
                   "write it sees. get KEY @s1 and scan [B E] @s1 then\n"
                   "read exactly the writes up to that seq, across\n"
                   "flushes and compactions, until release s1. While it\n"
                   "lives it holds the watermark down (dump shows it), so\n"
                   "compaction keeps the versions it reads (history\n"
                   "shows which). NAME is letters, digits, _ or -, not a\n"
                   "command name, and not the name of a live snapshot or\n"
                   "open transaction.",
        .example = "snapshot s1",
        .run = cli_cmd_snapshot,
        .advances_epoch = 0,
    },
    {
        .name = "release",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = "release NAME",
        .summary = "release a snapshot; the watermark may move up",
        .details = "Releases snapshot NAME and says where the watermark\n"
                   "is now: s1 released; watermark now seq 20 (t1), or\n"
                   "no watermark (no snapshot or transaction is live).\n"
                   "Versions only s1 read may then be dropped by the\n"
                   "next compaction that merges them with a newer one.\n"
                   "The name is free again.",
        .example = "release s1",
        .run = cli_cmd_release,
        .advances_epoch = 0,
    },
    {
        .name = "snapshots",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "snapshots",
        .summary = "list the live snapshots",
        .details = "One line per live snapshot, oldest first: its name,\n"
                   "engine id and read point, s1 (id 1): seq 12; or no\n"
                   "live snapshots.",
        .example = "snapshots",
        .run = cli_cmd_snapshots,
        .advances_epoch = 0,
    },
    {
        .name = "begin",
        .aliases = {NULL},
        .arg_counts = ARGS(1) | ARGS(2),
        .usage = "begin T [LEVEL]",
        .summary = "begin transaction T; then T get|put|del|scan",
        .details = "Begins an optimistic transaction called T at LEVEL,\n"
                   "si (snapshot isolation, the default) or serializable:\n"
                   "t1 began at seq 12 (snapshot isolation). Then:\n"
                   "  T get KEY        KEY as T sees it: its own write,\n"
                   "                   else the database at its seq\n"
                   "  T put KEY VALUE  buffered in T: KEY stored in t1\n"
                   "  T del KEY        buffered: KEY deleted in t1\n"
                   "  T scan [B E]     the database at its seq merged\n"
                   "                   with its own writes\n"
                   "Nobody else sees T's writes before commit T, which\n"
                   "checks for conflicts and writes them all at once,\n"
                   "or abort T. Under si, commit fails if another commit\n"
                   "since T began wrote a key T writes (first committer\n"
                   "wins; write skew is allowed). Under serializable it\n"
                   "also fails if one wrote a key T read with get, or any\n"
                   "key in a range T scanned (phantoms are caught: the\n"
                   "range counts, not only the keys the scan returned).\n"
                   "A plain put, del or fill counts as a transaction of\n"
                   "its own. T is named as snapshots are (help snapshot).",
        .example = "begin t1 serializable",
        .run = cli_cmd_begin,
        .advances_epoch = 0,
    },
    {
        .name = "commit",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = "commit T",
        .summary = "commit transaction T, or say why it aborted",
        .details = "Validates T and writes all of its writes as one\n"
                   "atomic batch: t1 committed at seq 15 (its last\n"
                   "write's seq; read only: nothing to write, when it\n"
                   "wrote nothing). When another commit since T began\n"
                   "conflicts, T writes nothing and aborts, saying why:\n"
                   "  t1 aborted: wrote KEY, also written by a\n"
                   "    transaction committed at seq N (first committer\n"
                   "    wins)\n"
                   "  t1 aborted: read KEY written by a transaction\n"
                   "    committed at seq N            (serializable)\n"
                   "  t1 aborted: scanned a range where KEY was written\n"
                   "    by a transaction committed at seq N (a phantom)\n"
                   "                                  (serializable)\n"
                   "An abort is an answer, not an error: the script goes\n"
                   "on and the exit status stays 0. Either way T ends.",
        .example = "commit t1",
        .run = cli_cmd_commit,
        .advances_epoch = 0,
    },
    {
        .name = "abort",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = "abort T",
        .summary = "end transaction T, writing nothing",
        .details = "Ends T and drops its buffered writes: t1 aborted\n"
                   "(nothing written). Its read point no longer holds\n"
                   "the watermark down.",
        .example = "abort t1",
        .run = cli_cmd_abort,
        .advances_epoch = 0,
    },
    {
        .name = "txns",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "txns",
        .summary = "list the open transactions",
        .details = "One line per open transaction, oldest first: its\n"
                   "name, engine id, isolation level, read point and\n"
                   "the put and del commands it took, t1 (id 2):\n"
                   "serializable, reads at seq 12, 2 writes buffered;\n"
                   "or no open transactions.",
        .example = "txns",
        .run = cli_cmd_txns,
        .advances_epoch = 0,
    },
    {
        .name = "stats",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(1),
        .usage = "stats [reset]",
        .summary = "show the counters and the amplification",
        .details = "Shows the counters kept since the database was\n"
                   "opened: operations, bytes written by users, flushes\n"
                   "and compactions, block reads, cache hits, bloom\n"
                   "filter checks, write stalls (--background only),\n"
                   "transactions committed, aborted (abort T) and\n"
                   "refused by conflict (write, read, range), and the\n"
                   "shadowed versions flushes and compactions dropped\n"
                   "or kept for the watermark, each as\n"
                   "name: TOTAL (+CHANGE), CHANGE being what it\n"
                   "grew since the session's last stats or stats reset\n"
                   "(since the start for the first). stats reset only\n"
                   "starts the changes again from here.\n"
                   "Then the amplification: write (SST bytes written by\n"
                   "flushes and compactions per user byte), space (live\n"
                   "SST bytes over the bottom run's: the last non-empty\n"
                   "level, or the oldest tier), read (SSTs a point read\n"
                   "may search: every L0 SST and one per non-empty level\n"
                   "or tier), and the two byte counts behind space. A\n"
                   "ratio with nothing to divide by shows n/a. Once an\n"
                   "SST holds compressed blocks (--compression), a last\n"
                   "line gives the SSTs' data bytes stored and raw.",
        .example = "stats",
        .run = cli_cmd_stats,
        .advances_epoch = 0,
    },
    {
        .name = "history",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = "history KEY",
        .summary = "show every stored version of KEY",
        .details = "Lists every version of KEY still stored, newest first:\n"
                   "its sequence number, where it is (memtable N,\n"
                   "immutable N, L<n> N.sst, or tier T N.sst), and its\n"
                   "value or tombstone. The first is what get answers (a\n"
                   "tombstone: not found); every later one is shadowed.\n"
                   "Then, for each SST listed, how it was made, from the\n"
                   "MANIFEST: flushed from memtable N, or compacted from\n"
                   "its inputs by where each was (L0 [5, 4] + L1 [2], or\n"
                   "tier 11 [11] + tier 7 [7, 8]), so a key can be\n"
                   "followed down the tree. Versions written after the\n"
                   "command began are left out, as get leaves them.\n"
                   "Each shadowed version says what flushes and\n"
                   "compactions may do with it: kept: s1 reads it (a\n"
                   "snapshot or transaction reads it), kept: above the\n"
                   "watermark (none reads it, but every version above\n"
                   "the oldest read point is kept), or may be dropped\n"
                   "(the next flush or compaction that merges it with a\n"
                   "newer version drops it; with no snapshot or\n"
                   "transaction live, every shadowed version may be).\n"
                   "A tombstone a read point reads at or below the\n"
                   "watermark is kept until a compaction into the\n"
                   "bottom level, which drops it with everything older.",
        .example = "history 2333",
        .run = cli_cmd_history,
        .advances_epoch = 0,
    },
    {
        .name = "levels",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "levels",
        .summary = "show a table of what compactions did per level",
        .details = "One row per level (L0 first) or, with tiered, per tier\n"
                   "(newest first), as RocksDB's and Pebble's level tables:\n"
                   "  files, bytes   its SSTs now\n"
                   "  target, score  leveled only: the level's target size\n"
                   "                 and bytes / target (L0: files over the\n"
                   "                 trigger); a score over 1 makes it\n"
                   "                 compact (L0: at 1)\n"
                   "  comp           compactions into it (L0: flushes)\n"
                   "  read up / low  bytes they read from the levels above\n"
                   "                 / from this level\n"
                   "  written        bytes they wrote into it\n"
                   "  w-amp          written / read up (L0: / user bytes)\n"
                   "Then why the last compaction into each level ran. A\n"
                   "tier's row is the flush or compaction that made it\n"
                   "(read up: the newer tiers merged, read low: the\n"
                   "oldest). Counted since the database was opened.",
        .example = "levels",
        .run = cli_cmd_levels,
        .advances_epoch = 0,
    },
    {
        .name = "manifest",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(2),
        .usage = "manifest [OPTION]",
        .summary = "show the MANIFEST's records; --file F: any MANIFEST",
        .details =
            "manifest, or manifest --file FILE.\n"
            "Shows the MANIFEST, the log of the tree's shape that\n"
            "opening the database replays, oldest record first.\n"
            "manifest --file FILE reads any MANIFEST file instead\n"
            "(a copy, another database's), with its size and where\n"
            "a torn tail starts; damage is an error naming the\n"
            "offset, after the records before it.\n"
            "Each line is @ and the record's byte offset in the\n"
            "file, then one of (lines of real runs):\n"
            "  snapshot: next id 19, L4 [3], memtables [2]\n"
            "      3.sst in L4: 2816 B, 1..99\n"
            "                           the whole tree, always the first\n"
            "                           record (every open rewrites the\n"
            "                           file to it): each SST with its\n"
            "                           size and key range, which open\n"
            "                           checks, and the unflushed memtables\n"
            "  new memtable 3           memtable 3 (and its WAL) began;\n"
            "                           (no WAL) when the WAL was off\n"
            "  flush 2 -> L0 2.sst (311 B, 200..300)\n"
            "                           memtable 2 became 2.sst in L0\n"
            "  next id 20               ids below 20 may be in use\n"
            "                           (a compaction reserves its\n"
            "                           output ids first)\n"
            "  compaction L1: removed [2, 1, 0] added [4, 5, 6]\n"
            "                           SSTs 2, 1, 0 were merged into\n"
            "                           new SSTs 4, 5, 6 in L1 (one line\n"
            "                           each below: size, key range)\n"
            "With tiered compaction:\n"
            "  flush 2 -> new tier 2.sst\n"
            "                           2.sst became tier 2, the newest\n"
            "  compaction into a new tier: removed [11, 7] added [13, 14]\n"
            "                           the tiers of SSTs 11 and 7 were\n"
            "                           merged into a new tier 13",
        .example = "manifest",
        .run = cmd_manifest,
        .advances_epoch = 0,
    },
    {
        .name = "sst",
        .aliases = {NULL},
        .arg_counts = ARGS(1) | ARGS(2) | ARGS(3),
        .usage = "sst ID|FILE [...]",
        .summary = "look inside one SST file: footer, index, filter",
        .details = "sst ID|FILE [--blocks] [--measure]\n"
                   "Reads one SST as it is on disk: ID names the open\n"
                   "database's ID.sst, anything else is a path (./12 for\n"
                   "a file called 12). Prints its footer (size, format,\n"
                   "the id it was written as, newest seq, entries,\n"
                   "blocks, keys, database identity), where each section\n"
                   "lies, the bloom filter (bits, probes a key, bits a\n"
                   "key, share of bits set, estimated false positives),\n"
                   "and one index line per data block (offset, size,\n"
                   "keys, entries, key bytes its shared prefixes saved).\n"
                   "Every block is read and verified; a damaged one is\n"
                   "marked DAMAGED and the command fails naming it.\n"
                   "--measure asks the filter about 10000 keys the file\n"
                   "lacks and counts those it let through. --blocks lists\n"
                   "every entry: key, seq, value size or delete, and how\n"
                   "many key bytes it shares with its run's restart key.",
        .example = "sst 4 --measure",
        .run = cli_cmd_sst,
        .advances_epoch = 0,
    },
    {
        .name = "wal",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = "wal ID|FILE",
        .summary = "look inside one WAL: every record",
        .details = "Reads one write-ahead log as it is on disk: ID names\n"
                   "the open database's ID.wal (dump shows the memtables,\n"
                   "whose ids their WALs share), anything else is a path.\n"
                   "Prints one line per record: @ its offset, its\n"
                   "sequence numbers, and each write (put KEY (value\n"
                   "size) or del KEY; a batch or transaction is one\n"
                   "record); then where a torn tail starts, if a crash\n"
                   "left one. Damage is an error naming the offset, after\n"
                   "the records before it.",
        .example = "wal 4",
        .run = cli_cmd_wal,
        .advances_epoch = 0,
    },
    {
        .name = "verify",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "verify",
        .summary = "check every file of the database; report problems",
        .details = "Reads every live file and compares it with the tree:\n"
                   "each SST whole (footer, filter, index, every block's\n"
                   "checksum), written as its own id by this database,\n"
                   "with the size and keys the tree records; every\n"
                   "level in key order without overlap, L0 newest first;\n"
                   "the MANIFEST and each memtable's WAL (a torn tail is\n"
                   "reported); and the directory (an SST or WAL nobody\n"
                   "owns is an orphan, other files are reported). Prints\n"
                   "verify: OK or verify: PROBLEMS with counts, then each\n"
                   "problem naming its file (and offset); fails when there\n"
                   "is one, so a script exits 1. Never repairs. Run it\n"
                   "on a quiet database (inline mode, or a fresh -c\n"
                   "one-shot): background compactions, or another\n"
                   "process's writes, change files while it reads.",
        .example = "verify",
        .run = cli_cmd_verify,
        .advances_epoch = 0,
    },
    {
        .name = "trace",
        .aliases = {NULL},
        .arg_counts = ARGS(0) | ARGS(1),
        .usage = "trace [on|off]",
        .summary = "print each step that makes writes durable",
        .details = "With trace on, each step the engine takes to make\n"
                   "data durable prints as it happens, with its reason:\n"
                   "  append 25 B to 3.wal (put, seq 7)\n"
                   "                    a write logged (keys are never\n"
                   "                    shown; seq names the write)\n"
                   "  fsync 3.wal (memtable 3 frozen)\n"
                   "                    the log forced to disk (also by\n"
                   "                    group commit with --sync, and at\n"
                   "                    close)\n"
                   "  create 4.wal (new memtable 4)\n"
                   "  write 339 B to 2.sst (flush of memtable 2)\n"
                   "  fsync 2.sst (flush of memtable 2)\n"
                   "  fsync dir (2.sst created)\n"
                   "                    the new name made durable\n"
                   "  append 19 B to MANIFEST (new memtable 4)\n"
                   "  fsync MANIFEST (new memtable 4)\n"
                   "                    a change of the tree recorded\n"
                   "                    (an SST is in the tree only once\n"
                   "                    its record is durable)\n"
                   "  delete 2.wal (memtable 2 was flushed)\n"
                   "Sizes are bytes in the file, so a replayed script\n"
                   "prints the same lines. SST deletions print as\n"
                   "deleted 3.sst (REASON) lines, trace on or off.\n"
                   "trace off stops it; trace alone says whether it\n"
                   "is on. With --background the steps of\n"
                   "the flush and compaction threads print as they\n"
                   "happen, each thread's in order.",
        .example = "trace on",
        .run = cli_trace,
        .advances_epoch = 0,
    },
    {
        .name = "simulate",
        .aliases = {NULL},
        /* any number: cli_simulate says what is missing */
        .arg_counts = ~0u,
        .usage = "simulate STRATEGY",
        .summary = "run mini-lsm's compaction simulator",
        .details = "simulate simple|tiered|leveled [OPTIONS] runs\n"
                   "mini-lsm's compaction simulator with the engine's own\n"
                   "controllers: each iteration flushes one SST, prints\n"
                   "the tree, runs the compactions that are due (why, what\n"
                   "goes where, the tree after each) and the statistics.\n"
                   "The database is not touched. Options and defaults, as\n"
                   "the reference simulator has them:\n"
                   "  all:     --iterations 50, --dump-real-id (show SST\n"
                   "           ids, not the flushed SST each came from),\n"
                   "           --size-only (one line of counts per tree)\n"
                   "  simple:  --level0-file-num-compaction-trigger 2\n"
                   "           --max-levels 3 --size-ratio-percent 200\n"
                   "  tiered:  --num-tiers 8\n"
                   "           --max-size-amplification-percent 200\n"
                   "           --size-ratio 1 --min-merge-width 2\n"
                   "           --max-merge-width N (default: no limit)\n"
                   "  leveled: --level0-file-num-compaction-trigger 2\n"
                   "           --level-size-multiplier 2 --max-levels 4\n"
                   "           --base-level-size-mb 128 --sst-size-mb 32\n"
                   "           --seed 42 (key ranges come from this seed;\n"
                   "           they differ from the reference's own RNG)\n"
                   "           --min-overlap (push the SST that rewrites\n"
                   "           the fewest bytes below, not the oldest:\n"
                   "           lsm-cli's --leveled-pick min-overlap)",
        .example = "simulate tiered --iterations 3 --num-tiers 3",
        .run = cli_simulate,
        .advances_epoch = 0,
    },
    {
        .name = "source",
        .aliases = {".read", NULL},
        .arg_counts = ARGS(1),
        .usage = "source FILE",
        .summary = "run the commands in FILE",
        .details =
            "Runs FILE's lines as if they were typed: they advance\n"
            "the epoch, source itself does not. Blank lines and\n"
            "lines starting with # are skipped; errors name the\n"
            "file and line. Files may source others, up to\n" STRINGIFY(
                CLI_MAX_SOURCE_DEPTH) " deep. A relative FILE "
                                      "is found from the\ncurrent directory. "
                                      "Lines over " STRINGIFY(
                                          CLI_MAX_LINE_BYTES) " bytes (1 MiB) "
                                                              "are\nrefused "
                                                              "with their "
                                                              "number, as on "
                                                              "stdin and in\n"
                                                              "--script.",
        .example = "source setup.inc",
        .run = cmd_source,
        .advances_epoch = 0,
        .untimed = 1,
    },
    {
        .name = "help",
        .aliases = {".help", NULL},
        .arg_counts = ARGS(0) | ARGS(1),
        .usage = "help [COMMAND]",
        .summary = "list the commands, or explain one",
        .details = "Lists the commands, or shows one command's syntax,\n"
                   "what it does and an example.",
        .example = "help scan",
        .run = cmd_help,
        .advances_epoch = 0,
    },
    {
        .name = ".timer",
        .aliases = {NULL},
        .arg_counts = ARGS(1),
        .usage = ".timer on|off",
        .summary = "time each command, as sqlite3 does",
        .details = "With .timer on, each later command is followed by\n"
                   "the time it took, as sqlite3 prints it: Run Time:\n"
                   "real (wall-clock seconds) user and sys (CPU seconds\n"
                   "of the whole process, engine threads included).\n"
                   ".timer off stops it. Not timed: .timer, quit, and\n"
                   "source, whose lines are timed one by one.",
        .example = ".timer on",
        .run = cmd_timer,
        .advances_epoch = 0,
        .untimed = 1,
    },
    {
        .name = "quit",
        .aliases = {"close", "exit", ".quit", ".exit", NULL},
        .arg_counts = ARGS(0),
        .usage = "quit",
        .summary = "close the database, leave",
        .details = "Closes the database cleanly and leaves; the end of\n"
                   "the input does the same. As mini-lsm's close does,\n"
                   "the WALs are synced and the memtables stay in them:\n"
                   "the next open replays them (N WALs recovered). With\n"
                   "--disable-wal the memtables are flushed first. The\n"
                   "database cannot close while iterators, snapshots or\n"
                   "transactions are open: quit then names them and\n"
                   "stays; quit again right away closes the iterators,\n"
                   "aborts the transactions, releases the snapshots and\n"
                   "leaves (the end of the input does the same).",
        .example = "quit",
        .run = cmd_quit,
        .advances_epoch = 0,
        .untimed = 1,
    },
    {
        .name = "crash",
        .aliases = {NULL},
        .arg_counts = ARGS(0),
        .usage = "crash",
        .summary = "leave at once, as kill -9 would",
        .details = "Leaves at once without closing the database: nothing\n"
                   "is flushed or synced, as after kill -9. The next\n"
                   "open recovers what the WAL holds (writes since the\n"
                   "last flush, unless --disable-wal). The exit status\n"
                   "is the session's so far.",
        .example = "crash",
        .run = cmd_crash,
        .advances_epoch = 0,
        .untimed = 1,
    },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* What runs a line whose first word names an open transaction ("t1 get
 * 5"). Not in the table: a transaction's name is never a command name
 * (cmd_txn.c refuses those), so the two cannot clash. */
static const cli_command txn_op_command = {
    .name = "transaction",
    .aliases = {NULL},
    .arg_counts = ~0u,
    .usage = "T get|put|del|scan ...",
    .run = cli_cmd_txn_op,
};

/* --- Shared helpers -------------------------------------------------------
 */

void cli_session_init(cli_session *s, lsm_db *db)
{
    memset(s, 0, sizeof *s);
    s->db = db;
    atomic_init(&s->bg_failed, 0);
    s->main_thread = pthread_self();
    cli_tree_notes_init(&s->tree_notes);
}

void cli_session_free(cli_session *s)
{
    cli_tree_notes_free(&s->tree_notes);
}

/* Appends the error prefix for the line being run (see cli_where). */
static void where_append(cli_buf *b, const cli_where *w)
{
    if (w->file)
        cli_buf_printf(b, "%s:%lu: ", w->file, w->line);
    else if (w->line > 0)
        cli_buf_printf(b, "line %lu: ", w->line);
}

/* Counts one failed command, stopping the session under --bail. */
static void session_count_failure(cli_session *s)
{
    s->n_failed++;
    if (s->bail)
        s->stop = 1;
}

void cli_count_failure(cli_session *s)
{
    session_count_failure(s);
}

/* Prints one error line built in msg (already containing the message). */
static int session_report(cli_session *s, cli_buf *msg)
{
    cli_buf line;

    cli_buf_init(&line);
    cli_buf_append(&line, "error: ", 7);
    where_append(&line, &s->where);
    cli_buf_append(&line, msg->data ? msg->data : "", msg->len);
    cli_buf_append(&line, "\n", 1);
    if (cli_buf_failed(&line) || cli_buf_failed(msg))
        cli_err_printf("error: out of memory\n");
    else
        cli_err_printf("%s", cli_buf_str(&line));
    cli_buf_free(&line);
    session_count_failure(s);
    return LSM_EINVAL;
}

int cli_fail(cli_session *s, const char *fmt, ...)
{
    cli_buf msg;
    va_list ap;

    cli_buf_init(&msg);
    va_start(ap, fmt);
    cli_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    session_report(s, &msg);
    cli_buf_free(&msg);
    return LSM_EINVAL;
}

/* What a write command says on a database opened with --readonly. */
#define READ_ONLY_REFUSAL                                                      \
    "the database is open read-only (--readonly); nothing was written"

/* Reports an engine error for cmd and returns rc: "error: cmd: details"
 * (for a write refused by a read-only database, in the shell's words: the
 * engine's message names the C call, lsm_put, not the command). */
static int fail_engine(cli_session *s, const char *cmd, int rc)
{
    const char *msg = lsm_errmsg();

    if (rc == LSM_EREADONLY)
        msg = READ_ONLY_REFUSAL;
    if (!msg || !msg[0])
        msg = lsm_strerror(rc);
    cli_fail(s, "%s: %s", cmd, msg);
    return rc;
}

int cli_fail_engine(cli_session *s, const char *cmd, int rc)
{
    return fail_engine(s, cmd, rc);
}

/* Appends an argument for an error message: 'as typed' when plain, in the
 * b"..." form otherwise (so control bytes never reach the terminal). */
static void append_arg_quoted(cli_buf *b, const cli_arg *arg)
{
    if (cli_key_is_plain(arg->bytes, arg->n_bytes)) {
        cli_buf_append(b, "'", 1);
        cli_buf_append(b, arg->bytes, arg->n_bytes);
        cli_buf_append(b, "'", 1);
    } else {
        cli_buf_append_bytes(b, arg->bytes, arg->n_bytes);
    }
}

/* Parses a u64 argument of cmd (fill's BEGIN or END), reporting junk with
 * the range that would have been accepted. */
static int arg_u64(cli_session *s, const char *cmd, const cli_arg *arg,
                   uint64_t *out)
{
    cli_buf msg;
    cli_num_status st;

    st = cli_parse_u64(arg->bytes, arg->n_bytes, UINT64_MAX, out);
    if (st == CLI_NUM_OK)
        return LSM_OK;
    cli_buf_init(&msg);
    cli_buf_printf(&msg, "%s: ", cmd);
    append_arg_quoted(&msg, arg);
    cli_buf_printf(&msg, " is %s (expected 0 to %" PRIu64 ")",
                   st == CLI_NUM_TOO_LARGE ? "too large" : "not a number",
                   UINT64_MAX);
    session_report(s, &msg);
    cli_buf_free(&msg);
    return LSM_EINVAL;
}

/* Called when a long command saw Ctrl-C: the command counts as failed (the
 * epoch stays). cli_interrupted stays set, so the loop feeding lines sees it
 * too and stops a replay or a sourced file (see repl.c). */
static int session_interrupted(cli_session *s)
{
    session_count_failure(s);
    return LSM_EINVAL;
}

/* --- Engine events --------------------------------------------------------
 */

/* Reports a latched engine error (LSM_EVENT_BACKGROUND_ERROR). Work the
 * engine did on the main thread ran inside the command being run (every
 * flush and compaction in inline mode, an explicit flush, a write's own
 * log append): it is kept for session_run, which makes it that command's
 * error ("error: line 5: put: flush of memtable 3 to 3.sst failed: ...")
 * unless the command failed with it already; at open, with no command, it
 * prints at once. Only an engine thread's failure is "background work".
 * The exit status becomes 1 (bg_failed) either way. */
static void report_engine_failure(cli_session *s, const lsm_event *ev)
{
    const char *msg =
        ev->message && ev->message[0] ? ev->message : lsm_strerror(ev->rc);

    if (!pthread_equal(pthread_self(), s->main_thread))
        cli_err_printf("error: background work failed: %s\n", msg);
    else if (!s->running)
        cli_err_printf("error: %s\n", msg);
    else if (!s->engine_error[0])
        snprintf(s->engine_error, sizeof s->engine_error, "%s", msg);
}

/* After a command: the engine error its work latched, as its own error,
 * if the command succeeded all the same (a put whose flush failed). */
static void report_command_engine_error(cli_session *s, const char *cmd, int rc)
{
    cli_buf line;

    if (!s->engine_error[0])
        return;
    if (rc == LSM_OK) {
        cli_buf_init(&line);
        cli_buf_append(&line, "error: ", 7);
        where_append(&line, &s->where);
        cli_buf_printf(&line, "%s: %s\n", cmd, s->engine_error);
        cli_err_printf("%s", cli_buf_failed(&line) ? "error: out of memory\n"
                                                   : cli_buf_str(&line));
        cli_buf_free(&line);
    }
    s->engine_error[0] = '\0';
}

/* Runs on whichever thread did the work (see lsm_event_fn), so it touches
 * only the output functions, which lock, and the atomic bg_failed (and the
 * session's where and running on the main thread only). */
void cli_print_event(void *ctx, const lsm_event *ev)
{
    cli_session *s = ctx;
    cli_buf line;

    switch (ev->type) {
    case LSM_EVENT_WARNING:
        cli_err_printf("warning: %s\n", ev->message && ev->message[0]
                                            ? ev->message
                                            : "(no details)");
        return;
    case LSM_EVENT_BACKGROUND_ERROR:
        atomic_store(&s->bg_failed, 1);
        cli_events_release_all(); /* the flushes they wait for are over */
        report_engine_failure(s, ev);
        return;
    default:
        break;
    }
    cli_tree_notes_event(&s->tree_notes, ev);
    cli_buf_init(&line);
    cli_show_event(&line, ev, s->wal_enabled);
    cli_events_print(ev, &line); /* in causal order; see events.h */
    cli_buf_free(&line);
}

/* --- Command lookup -------------------------------------------------------
 */

static int name_matches(const char *name, const cli_arg *arg)
{
    return strlen(name) == arg->n_bytes &&
           memcmp(name, arg->bytes, arg->n_bytes) == 0;
}

/* ASCII only: the locale (a UTF-8 one at a terminal) must not decide what
 * a command name is. */
static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Command names match whatever their case, as mini-lsm-cli's parser
 * (tag_no_case) matches them: FILL 1 3 is fill 1 3. */
static int command_name_matches(const char *name, const cli_arg *arg)
{
    size_t i, n = strlen(name);

    if (n != arg->n_bytes)
        return 0;
    for (i = 0; i < n; i++) {
        if (ascii_lower((unsigned char)name[i]) !=
            ascii_lower((unsigned char)arg->bytes[i]))
            return 0;
    }
    return 1;
}

static const cli_command *command_find(const cli_arg *arg)
{
    size_t i, j;

    for (i = 0; i < N_COMMANDS; i++) {
        if (command_name_matches(commands[i].name, arg))
            return &commands[i];
        for (j = 0; commands[i].aliases[j]; j++) {
            if (command_name_matches(commands[i].aliases[j], arg))
                return &commands[i];
        }
    }
    return NULL;
}

void *cli_array_reserve(void *items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return items;
    size_t grown_cap = *cap ? 2 * *cap : 4;
    void *grown = realloc(items, grown_cap * size);
    if (grown)
        *cap = grown_cap;
    return grown;
}

int cli_arg_is_word(const cli_arg *arg, const char *word)
{
    size_t n = strlen(word);

    return arg->n_bytes == n && strncasecmp(arg->bytes, word, n) == 0;
}

int cli_arg_is_plain_name(const cli_arg *arg, size_t max_bytes)
{
    if (arg->n_bytes == 0 || arg->n_bytes > max_bytes)
        return 0;
    for (size_t i = 0; i < arg->n_bytes; i++) {
        char c = arg->bytes[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

char *cli_arg_strdup(const cli_arg *arg)
{
    char *copy = malloc(arg->n_bytes + 1);
    if (!copy)
        return NULL;
    memcpy(copy, arg->bytes, arg->n_bytes);
    copy[arg->n_bytes] = '\0';
    return copy;
}

int cli_is_command_name(const cli_arg *arg)
{
    return command_find(arg) != NULL;
}

const char *cli_command_name(size_t i)
{
    size_t c, j;

    for (c = 0; c < N_COMMANDS; c++) {
        if (i == 0)
            return commands[c].name;
        i--;
        for (j = 0; commands[c].aliases[j]; j++) {
            if (i == 0)
                return commands[c].aliases[j];
            i--;
        }
    }
    return NULL;
}

#define SUGGEST_MAX_LEN 32

/* Optimal string alignment distance (Levenshtein plus adjacent swaps),
 * case-insensitive, between two short strings. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    size_t i, j, cost, best;

    for (i = 0; i <= na; i++)
        d[i][0] = i;
    for (j = 0; j <= nb; j++)
        d[0][j] = j;
    for (i = 1; i <= na; i++) {
        for (j = 1; j <= nb; j++) {
            cost = tolower((unsigned char)a[i - 1]) !=
                   tolower((unsigned char)b[j - 1]);
            best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) ==
                    tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) ==
                    tolower((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[na][nb];
}

/* The command name closest to what was typed, or NULL if none is close
 * enough to be a likely typo (1 edit for short words, 2 for longer). */
static const char *command_suggest(const cli_arg *arg)
{
    const char *name, *best = NULL;
    size_t i, d, best_d = SIZE_MAX, limit;

    if (arg->n_bytes == 0 || arg->n_bytes > SUGGEST_MAX_LEN)
        return NULL;
    limit = arg->n_bytes <= 3 ? 1 : 2;
    for (i = 0; (name = cli_command_name(i)) != NULL; i++) {
        if (strlen(name) > SUGGEST_MAX_LEN)
            continue;
        d = edit_distance(arg->bytes, arg->n_bytes, name, strlen(name));
        if (d <= limit && d < best_d) {
            best = name;
            best_d = d;
        }
    }
    return best;
}

/* "unknown command 'fil'; did you mean 'fill'? type help for the list" */
static int fail_unknown(cli_session *s, const char *context, const cli_arg *arg)
{
    cli_buf msg;
    const char *suggestion = command_suggest(arg);

    cli_buf_init(&msg);
    cli_buf_printf(&msg, "%sunknown command ", context);
    append_arg_quoted(&msg, arg);
    if (suggestion)
        cli_buf_printf(&msg, "; did you mean '%s'?", suggestion);
    cli_buf_printf(&msg, "%s type help for the list", suggestion ? "" : ";");
    session_report(s, &msg);
    cli_buf_free(&msg);
    return LSM_EINVAL;
}

/* "fill needs 2 arguments: fill BEGIN END (got 1)" */
static int fail_arg_count(cli_session *s, const cli_command *c, size_t got)
{
    char need[64];
    size_t n, first = SIZE_MAX, second = SIZE_MAX, count = 0;

    for (n = 0; n < 32; n++) {
        if (!(c->arg_counts & ARGS(n)))
            continue;
        count++;
        if (first == SIZE_MAX)
            first = n;
        else
            second = n;
    }
    /* Every table entry with more than two counts takes a run of them. */
    if (count > 2)
        snprintf(need, sizeof need, "needs %zu to %zu arguments", first,
                 second);
    else if (second != SIZE_MAX)
        snprintf(need, sizeof need, "needs %zu or %zu arguments", first,
                 second);
    else if (first == 0)
        snprintf(need, sizeof need, "takes no arguments");
    else
        snprintf(need, sizeof need, "needs %zu argument%s", first,
                 first == 1 ? "" : "s");
    return cli_fail(s, "%s %s: %s (got %zu)", c->name, need, c->usage, got);
}

/* --- Handlers -------------------------------------------------------------
 */

/* Reports fill's failed put, with how far it got: the values before it
 * were written and stay. */
static int fail_fill(cli_session *s, int rc, uint64_t n_filled, uint64_t begin,
                     uint64_t end)
{
    const char *msg = lsm_errmsg();
    char total[24];

    if (!msg || !msg[0])
        msg = lsm_strerror(rc);
    if (rc == LSM_EREADONLY) {
        cli_fail(s, "fill: %s", READ_ONLY_REFUSAL);
        return rc;
    }
    /* end - begin + 1 overflows only for 0..UINT64_MAX, which is 2^64. */
    if (end - begin == UINT64_MAX)
        snprintf(total, sizeof total, "18446744073709551616");
    else
        snprintf(total, sizeof total, "%" PRIu64, end - begin + 1);
    cli_fail(s, "fill: %s: %" PRIu64 " of %s values written before the failure",
             msg, n_filled, total);
    return rc;
}

/* Writes v in decimal (no padding, no terminator) to out, which has room
 * for 20 digits; returns the number of digits. fill formats two numbers per
 * key, and snprintf cost more than the put it prepares. */
static size_t fill_format_u64(char *out, uint64_t v)
{
    char digits[20];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t j = 0; j < n; j++)
        out[j] = digits[n - 1 - j];
    return n;
}

/* fill's value for key i (n_key digits at key): "value<i>@<epoch>", where
 * suffix is "@<epoch>", formatted once per fill. Returns its length. */
static size_t fill_format_value(char *value, const char *key, size_t n_key,
                                const char *suffix, size_t n_suffix)
{
    memcpy(value, "value", 5);
    memcpy(value + 5, key, n_key);
    memcpy(value + 5 + n_key, suffix, n_suffix);
    return 5 + n_key + n_suffix;
}

/* Puts in one lsm_put_many call of fill: the records of a chunk reach the
 * WAL with a few write()s instead of one each, and Ctrl-C, checked
 * between chunks, still stops a long fill within milliseconds. */
#define FILL_CHUNK 1024

/* One chunk of fill's puts: the keys and values, and the lsm_kv array
 * pointing at them. */
typedef struct fill_chunk {
    char keys[FILL_CHUNK][20];
    char values[FILL_CHUNK][5 + 20 + 21]; /* "value", key, "@<epoch>" */
    lsm_kv puts[FILL_CHUNK];
} fill_chunk;

/* Adds one to the n-digit decimal number at digits (room for 20 digits;
 * the result must fit) and returns its new length: consecutive keys cost
 * a digit or two, not a full conversion each. */
static size_t fill_increment_decimal(char *digits, size_t n)
{
    size_t i = n;
    while (i > 0 && digits[i - 1] == '9')
        digits[--i] = '0';
    if (i > 0) {
        digits[i - 1]++;
        return n;
    }
    memmove(digits + 1, digits, n); /* 99..9 + 1 = 100..0 */
    digits[0] = '1';
    return n + 1;
}

/* Formats the puts of keys first.. (at most FILL_CHUNK, none past last)
 * into c; returns how many. suffix is "@<epoch>". */
static size_t fill_chunk_format(fill_chunk *c, uint64_t first, uint64_t last,
                                const char *suffix, size_t n_suffix)
{
    size_t n = last - first >= FILL_CHUNK - 1 ? FILL_CHUNK
                                              : (size_t)(last - first) + 1;
    char digits[20];
    size_t n_key = fill_format_u64(digits, first);
    for (size_t j = 0; j < n; j++) {
        if (j > 0) /* never past last, so never past UINT64_MAX */
            n_key = fill_increment_decimal(digits, n_key);
        memcpy(c->keys[j], digits, n_key);
        c->puts[j].key = c->keys[j];
        c->puts[j].nkey = n_key;
        c->puts[j].value = c->values[j];
        c->puts[j].nvalue = fill_format_value(c->values[j], c->keys[j], n_key,
                                              suffix, n_suffix);
    }
    return n;
}

/* Says how far an interrupted fill got. */
static int fill_interrupted(cli_session *s, uint64_t n_filled)
{
    cli_out_printf("interrupted: %" PRIu64 " values filled with epoch %" PRIu64
                   "\n",
                   n_filled, s->epoch);
    return session_interrupted(s);
}

/* fill under --serializable: each key its own one-write transaction. */
static int fill_as_txns(cli_session *s, uint64_t begin, uint64_t end,
                        const char *suffix, size_t n_suffix)
{
    char key[24], value[64];
    uint64_t n_filled = 0;
    for (uint64_t i = begin;; i++) {
        if (cli_interrupted)
            return fill_interrupted(s, n_filled);
        size_t n_key = fill_format_u64(key, i);
        size_t n_value = fill_format_value(value, key, n_key, suffix, n_suffix);
        int rc = cli_write_as_txn(s->db, key, n_key, value, n_value, 0);
        if (rc != LSM_OK)
            return fail_fill(s, rc, n_filled, begin, end);
        n_filled++;
        if (i == end)
            break;
    }
    cli_out_printf("%" PRIu64 " values filled with epoch %" PRIu64 "\n",
                   n_filled, s->epoch);
    return LSM_OK;
}

/* fill's plain puts, a chunk per lsm_put_many: each still a write of its
 * own (lsm.h), so the output is what a put per key prints. */
static int fill_puts(cli_session *s, uint64_t begin, uint64_t end,
                     const char *suffix, size_t n_suffix)
{
    fill_chunk *c = malloc(sizeof *c);
    uint64_t n_filled = 0;
    int rc = LSM_OK;
    if (!c)
        return cli_fail(s, "fill: out of memory");
    for (uint64_t i = begin;;) {
        if (cli_interrupted) {
            free(c);
            return fill_interrupted(s, n_filled);
        }
        size_t n = fill_chunk_format(c, i, end, suffix, n_suffix), written;
        rc = lsm_put_many(s->db, c->puts, n, &written);
        n_filled += written;
        if (rc != LSM_OK || i + (n - 1) == end)
            break;
        i += n;
    }
    free(c);
    if (rc != LSM_OK)
        return fail_fill(s, rc, n_filled, begin, end);
    cli_out_printf("%" PRIu64 " values filled with epoch %" PRIu64 "\n",
                   n_filled, s->epoch);
    return LSM_OK;
}

static int cmd_fill(cli_session *s, const cli_argv *a)
{
    char suffix[24];
    uint64_t begin, end;

    if (arg_u64(s, "fill", &a->args[1], &begin) != LSM_OK ||
        arg_u64(s, "fill", &a->args[2], &end) != LSM_OK)
        return LSM_EINVAL;
    if (begin > end)
        return cli_fail(s,
                        "fill: BEGIN %" PRIu64 " is greater than END %" PRIu64,
                        begin, end);
    suffix[0] = '@';
    size_t n_suffix = 1 + fill_format_u64(suffix + 1, s->epoch);
    if (s->serializable)
        return fill_as_txns(s, begin, end, suffix, n_suffix);
    return fill_puts(s, begin, end, suffix, n_suffix);
}

void cli_append_get_reply(cli_buf *out, const cli_arg *key, int found,
                          const void *value, size_t n_value)
{
    cli_buf_append_key(out, key->bytes, key->n_bytes);
    if (found) {
        cli_buf_append(out, "=", 1);
        cli_buf_append_bytes(out, value, n_value);
        cli_buf_append(out, "\n", 1);
    } else {
        cli_buf_printf(out, " not exist\n");
    }
}

static int cmd_get(cli_session *s, const cli_argv *a)
{
    const cli_arg *key = &a->args[1];
    const lsm_snapshot *snap = NULL;
    void *value = NULL;
    size_t n_value = 0;
    cli_buf out;
    int rc;

    if (a->n_args == 3 &&
        cli_snapshot_arg(s, "get", &a->args[2], &snap) != LSM_OK)
        return LSM_EINVAL;
    rc = lsm_get_at(s->db, snap, key->bytes, key->n_bytes, &value, &n_value);
    if (rc != LSM_OK && rc != LSM_NOTFOUND)
        return fail_engine(s, "get", rc);
    cli_buf_init(&out);
    cli_append_get_reply(&out, key, rc == LSM_OK, value, n_value);
    lsm_free(value);
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        session_count_failure(s);
    return rc;
}

/* Prints "KEY what" for a reply about a key (deleted, stored). */
static int reply_key(cli_session *s, const cli_arg *key, const char *what)
{
    cli_buf out;
    int rc;

    cli_buf_init(&out);
    cli_buf_append_key(&out, key->bytes, key->n_bytes);
    cli_buf_printf(&out, " %s\n", what);
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        session_count_failure(s);
    return rc;
}

static int cmd_del(cli_session *s, const cli_argv *a)
{
    const cli_arg *key = &a->args[1];
    int rc;

    if (s->serializable)
        rc = cli_write_as_txn(s->db, key->bytes, key->n_bytes, NULL, 0, 1);
    else
        rc = lsm_delete(s->db, key->bytes, key->n_bytes);
    if (rc != LSM_OK)
        return fail_engine(s, a->args[0].bytes, rc); /* del or delete */
    return reply_key(s, key, "deleted");
}

static int cmd_delrange(cli_session *s, const cli_argv *a)
{
    const cli_arg *lo = &a->args[1], *hi = &a->args[2];
    int rc =
        lsm_delete_range(s->db, lo->bytes, lo->n_bytes, hi->bytes, hi->n_bytes);
    if (rc != LSM_OK)
        return fail_engine(s, "delrange", rc);
    cli_buf out;
    cli_buf_init(&out);
    cli_buf_printf(&out, "[");
    cli_buf_append_key(&out, lo->bytes, lo->n_bytes);
    cli_buf_printf(&out, ", ");
    cli_buf_append_key(&out, hi->bytes, hi->n_bytes);
    cli_buf_printf(&out, ") deleted\n");
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        session_count_failure(s);
    return rc;
}

static int cmd_put(cli_session *s, const cli_argv *a)
{
    const cli_arg *key = &a->args[1], *value = &a->args[2];
    int rc;

    if (s->serializable)
        rc = cli_write_as_txn(s->db, key->bytes, key->n_bytes, value->bytes,
                              value->n_bytes, 0);
    else
        rc = lsm_put(s->db, key->bytes, key->n_bytes, value->bytes,
                     value->n_bytes);
    if (rc != LSM_OK)
        return fail_engine(s, "put", rc);
    return reply_key(s, key, "stored");
}

/* Rejects a range whose BEGIN sorts after its END: the engine would return
 * nothing, and the likely cause (numbers compare as bytes) deserves a word. */
static int scan_check_range(cli_session *s, const char *cmd, const cli_arg *lo,
                            const cli_arg *hi)
{
    size_t n = lo->n_bytes < hi->n_bytes ? lo->n_bytes : hi->n_bytes;
    int cmp = memcmp(lo->bytes, hi->bytes, n);
    cli_buf msg;

    if (cmp < 0 || (cmp == 0 && lo->n_bytes <= hi->n_bytes))
        return LSM_OK;
    cli_buf_init(&msg);
    cli_buf_printf(&msg, "%s: BEGIN ", cmd);
    append_arg_quoted(&msg, lo);
    cli_buf_append(&msg, " sorts after END ", 17);
    append_arg_quoted(&msg, hi);
    cli_buf_printf(&msg, " (keys compare as bytes, so '10' < '9')");
    session_report(s, &msg);
    cli_buf_free(&msg);
    return LSM_EINVAL;
}

int cli_scan_bounds(cli_session *s, const char *cmd, const cli_arg *range,
                    lsm_bound *lo, lsm_bound *hi)
{
    lo->kind = hi->kind = LSM_BOUND_UNBOUNDED;
    lo->key = hi->key = NULL;
    lo->nkey = hi->nkey = 0;
    if (!range)
        return LSM_OK;
    if (scan_check_range(s, cmd, &range[0], &range[1]) != LSM_OK)
        return LSM_EINVAL;
    lo->kind = hi->kind = LSM_BOUND_INCLUDED;
    lo->key = range[0].bytes;
    lo->nkey = range[0].n_bytes;
    hi->key = range[1].bytes;
    hi->nkey = range[1].n_bytes;
    return LSM_OK;
}

int cli_scan_print_pairs(cli_session *s, const char *cmd, lsm_iter *it,
                         uint64_t max, uint64_t *n_printed)
{
    const void *k, *v;
    size_t nk, nv;
    uint64_t n_scanned = 0;
    cli_buf line;
    int rc = LSM_OK;

    cli_buf_init(&line);
    while (lsm_iter_valid(it) && n_scanned < max) {
        if (cli_interrupted) {
            cli_out_printf("\ninterrupted: %" PRIu64 " keys scanned\n",
                           n_scanned);
            rc = session_interrupted(s);
            goto out;
        }
        k = lsm_iter_key(it, &nk);
        v = lsm_iter_value(it, &nv);
        cli_buf_reset(&line);
        cli_buf_append_bytes(&line, k, nk);
        cli_buf_append(&line, "=", 1);
        cli_buf_append_bytes(&line, v, nv);
        cli_buf_append(&line, "\n", 1);
        if (cli_out_buf(&line) != 0) {
            rc = LSM_ENOMEM;
            session_count_failure(s);
            goto out;
        }
        n_scanned++;
        rc = lsm_iter_next(it);
        if (rc != LSM_OK) {
            fail_engine(s, cmd, rc);
            goto out;
        }
    }
out:
    *n_printed = n_scanned;
    cli_buf_free(&line);
    return rc;
}

int cli_scan_print(cli_session *s, const char *cmd, lsm_iter *it)
{
    uint64_t n_scanned;
    int rc = cli_scan_print_pairs(s, cmd, it, UINT64_MAX, &n_scanned);

    if (rc == LSM_OK)
        cli_out_printf("\n%" PRIu64 " keys scanned\n", n_scanned);
    return rc;
}

/* scan [BEGIN END] [@SNAP]: the arguments after the name, less a last
 * @SNAP (set in *snap), must be none or a range. */
static int scan_args(cli_session *s, const cli_argv *a, const cli_arg **range,
                     const lsm_snapshot **snap)
{
    size_t n = a->n_args - 1;

    *range = NULL;
    *snap = NULL;
    if (n % 2 == 1) {
        if (!cli_arg_is_snapshot(&a->args[n]))
            return cli_fail(s, "scan: expected scan [BEGIN END] [@SNAP] "
                               "(an odd argument count needs a last "
                               "@SNAP)");
        if (cli_snapshot_arg(s, "scan", &a->args[n], snap) != LSM_OK)
            return LSM_EINVAL;
        n--;
    }
    if (n == 2)
        *range = &a->args[1];
    return LSM_OK;
}

/* scan --prefix P [@SNAP]: the keys starting with P. */
static int scan_prefix(cli_session *s, const cli_argv *a)
{
    const lsm_snapshot *snap = NULL;
    lsm_iter *it = NULL;
    int rc;

    if (a->n_args != 3 && (a->n_args != 4 || !cli_arg_is_snapshot(&a->args[3])))
        return cli_fail(s, "scan: expected scan --prefix PREFIX [@SNAP]");
    if (a->n_args == 4 &&
        cli_snapshot_arg(s, "scan", &a->args[3], &snap) != LSM_OK)
        return LSM_EINVAL;
    rc = lsm_scan_prefix_at(s->db, snap, a->args[2].bytes, a->args[2].n_bytes,
                            &it);
    if (rc != LSM_OK)
        return fail_engine(s, "scan", rc);
    rc = cli_scan_print(s, "scan", it);
    lsm_iter_close(it);
    return rc;
}

static int cmd_scan(cli_session *s, const cli_argv *a)
{
    const cli_arg *range;
    const lsm_snapshot *snap;
    lsm_bound lo, hi;
    lsm_iter *it = NULL;
    int rc;

    if (a->n_args >= 2 && cli_arg_is_word(&a->args[1], "--prefix"))
        return scan_prefix(s, a);
    if (scan_args(s, a, &range, &snap) != LSM_OK ||
        cli_scan_bounds(s, "scan", range, &lo, &hi) != LSM_OK)
        return LSM_EINVAL;
    rc = lsm_scan_at(s->db, snap, &lo, &hi, &it);
    if (rc != LSM_OK)
        return fail_engine(s, "scan", rc);
    rc = cli_scan_print(s, "scan", it);
    lsm_iter_close(it);
    return rc;
}

static int cmd_flush(cli_session *s, const cli_argv *a)
{
    int rc = lsm_flush(s->db);

    if (rc != LSM_OK)
        return fail_engine(s, "flush", rc);
    cli_out_printf("flush success\n");
    return LSM_OK;
}

static int cmd_full_compaction(cli_session *s, const cli_argv *a)
{
    int rc = lsm_compact_full(s->db);

    if (rc != LSM_OK)
        return fail_engine(s, "full_compaction", rc);
    cli_out_printf("full compaction success\n");
    return LSM_OK;
}

static int cmd_dump(cli_session *s, const cli_argv *a)
{
    lsm_state *st = NULL;
    cli_buf out, msg;
    int verbose = 0, rc;

    if (a->n_args == 2) {
        if (!name_matches("-v", &a->args[1])) {
            cli_buf_init(&msg);
            cli_buf_append(&msg, "dump: unknown option ", 21);
            append_arg_quoted(&msg, &a->args[1]);
            cli_buf_printf(&msg, " (expected -v or nothing)");
            session_report(s, &msg);
            cli_buf_free(&msg);
            return LSM_EINVAL;
        }
        verbose = 1;
    }
    rc = lsm_state_get(s->db, &st);
    if (rc != LSM_OK)
        return fail_engine(s, "dump", rc);
    cli_iter_name *names;
    size_t n_names = cli_iters_names(s, &names);
    cli_read_point_name *read_names;
    size_t n_read_names = cli_reads_names(s, &read_names);
    cli_buf_init(&out);
    cli_show_dump(&out, st, verbose, names, n_names);
    cli_show_read_points(&out, st, read_names, n_read_names);
    cli_buf_printf(&out, "dump success\n");
    free(names);
    free(read_names);
    lsm_state_free(st);
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        session_count_failure(s);
    return rc;
}

/* COLUMNS when it is a number; else the terminal's width when stdout is
 * one (shells seldom export COLUMNS); else 80. */
static unsigned draw_columns(void)
{
    const char *env = getenv("COLUMNS");
    char *end;
    unsigned long n = env ? strtoul(env, &end, 10) : 0;
    if (env && end != env && *end == '\0' && n > 0 && n <= 100000)
        return (unsigned)n;
    struct winsize ws;
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
        ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}

/* Colour only on a terminal, and never with NO_COLOR set (no-color.org:
 * any non-empty value). */
static int draw_wants_color(void)
{
    const char *no = getenv("NO_COLOR");
    return isatty(STDOUT_FILENO) && !(no && *no);
}

/* Writes the SVG of st to path: "wrote FILE" on stdout, or an error. An
 * argument's bytes are NUL-terminated (parse.h), so path->bytes is the
 * file name unless it holds a NUL of its own. */
/* Writes the picture pic made for `draw OPTION FILE` to path ("wrote
 * FILE"), unless making it ran out of memory. */
static int draw_write_file(cli_session *s, const char *option,
                           const cli_buf *pic, const cli_arg *path)
{
    if (cli_buf_failed(pic))
        return cli_fail(s, "draw %s: out of memory", option);
    FILE *f = fopen(path->bytes, "w");
    bool ok = f && fwrite(pic->data, 1, pic->len, f) == pic->len;
    if (f && fclose(f) != 0)
        ok = false;
    if (!ok)
        return cli_fail(s, "draw %s: cannot write %s: %s", option, path->bytes,
                        strerror(errno));
    cli_out_printf("wrote %s\n", path->bytes);
    return LSM_OK;
}

static int draw_svg_file(cli_session *s, const lsm_state *st,
                         const cli_arg *path)
{
    cli_buf svg;
    cli_buf_init(&svg);
    int rc;
    if (cli_draw_svg(&svg, st) != 0)
        rc = cli_fail(s, "draw --svg: the tree is empty: nothing to draw");
    else
        rc = draw_write_file(s, "--svg", &svg, path);
    cli_buf_free(&svg);
    return rc;
}

/* The page needs the MANIFEST's records too: the history is replayed
 * from them (draw_html.c). */
static int draw_html_file(cli_session *s, const lsm_state *st,
                          const cli_arg *path)
{
    lsm_manifest_record *recs = NULL;
    size_t n = 0;
    int rc = lsm_manifest_read(s->db, &recs, &n);
    if (rc != LSM_OK)
        return fail_engine(s, "draw --html", rc);
    cli_buf page;
    cli_buf_init(&page);
    if (cli_draw_html(&page, st, recs, n, &s->tree_notes) != 0)
        rc = cli_fail(s, "draw --html: the MANIFEST does not start with a "
                         "snapshot of the tree");
    else
        rc = draw_write_file(s, "--html", &page, path);
    cli_buf_free(&page);
    lsm_manifest_free(recs, n);
    return rc;
}

static int cmd_draw(cli_session *s, const cli_argv *a)
{
    int html = a->n_args == 3 && name_matches("--html", &a->args[1]);
    if (a->n_args == 3 && !html && !name_matches("--svg", &a->args[1]))
        return cli_fail(s, "draw: unknown option (expected --svg FILE or "
                           "--html FILE)");
    if (a->n_args == 3 && memchr(a->args[2].bytes, '\0', a->args[2].n_bytes))
        return cli_fail(s, "draw %s: a file name cannot contain a NUL byte",
                        html ? "--html" : "--svg");
    lsm_state *st = NULL;
    int rc = lsm_state_get(s->db, &st);
    if (rc != LSM_OK)
        return fail_engine(s, "draw", rc);
    if (a->n_args == 3) {
        rc = html ? draw_html_file(s, st, &a->args[2])
                  : draw_svg_file(s, st, &a->args[2]);
        lsm_state_free(st);
        return rc;
    }
    cli_buf out;
    cli_buf_init(&out);
    cli_draw_text(&out, st, draw_columns(), draw_wants_color());
    lsm_state_free(st);
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        session_count_failure(s);
    return rc;
}

static int cmd_manifest(cli_session *s, const cli_argv *a)
{
    lsm_manifest_record *records = NULL;
    lsm_state *st = NULL;
    size_t n = 0, i;
    cli_buf out;
    int rc, tiered;

    if (a->n_args == 3) {
        if (!name_matches("--file", &a->args[1]))
            return cli_fail(s, "manifest: unknown option (expected --file "
                               "FILE)");
        return cli_manifest_file(s, a);
    }

    /* The records do not say whether flushes made tiers; the strategy
     * the database was opened with does (see cli_show_manifest_record). */
    rc = lsm_state_get(s->db, &st);
    if (rc != LSM_OK)
        return fail_engine(s, "manifest", rc);
    tiered = st->compaction == LSM_COMPACTION_TIERED;
    lsm_state_free(st);
    rc = lsm_manifest_read(s->db, &records, &n);
    if (rc != LSM_OK)
        return fail_engine(s, "manifest", rc);
    cli_buf_init(&out);
    for (i = 0; i < n; i++)
        cli_show_manifest_record(&out, &records[i], tiered);
    cli_buf_printf(&out, "manifest success\n");
    lsm_manifest_free(records, n);
    rc = cli_out_buf(&out) == 0 ? LSM_OK : LSM_ENOMEM;
    cli_buf_free(&out);
    if (rc != LSM_OK)
        session_count_failure(s);
    return rc;
}

void cli_print_help_list(void)
{
    cli_buf out;
    size_t i, j;

    cli_buf_init(&out);
    cli_buf_printf(&out, "commands:\n");
    for (i = 0; i < N_COMMANDS; i++) {
        cli_buf_printf(&out, "  %-18s %s", commands[i].usage,
                       commands[i].summary);
        for (j = 0; commands[i].aliases[j]; j++)
            cli_buf_printf(&out, "%s%s", j ? ", " : " (also ",
                           commands[i].aliases[j]);
        cli_buf_printf(&out, "%s\n", j ? ")" : "");
    }
    cli_buf_printf(&out,
                   "Arguments are separated by blanks. Quote one to include "
                   "blanks or any byte:\n"
                   "  put \"my key\" \"line\\nbreak \\x00\"\n"
                   "Type help COMMAND for details.\n");
    cli_out_buf(&out);
    cli_buf_free(&out);
}

/* help COMMAND: syntax, what it does, an example, other names. */
static void help_print_command(const cli_command *c)
{
    cli_buf out;
    size_t j;

    cli_buf_init(&out);
    cli_buf_printf(&out, "usage: %s\n%s\nexample: %s\n", c->usage, c->details,
                   c->example);
    for (j = 0; c->aliases[j]; j++)
        cli_buf_printf(&out, "%s%s", j ? ", " : "also: ", c->aliases[j]);
    if (j)
        cli_buf_append(&out, "\n", 1);
    cli_out_buf(&out);
    cli_buf_free(&out);
}

static int cmd_help(cli_session *s, const cli_argv *a)
{
    const cli_command *c;

    if (a->n_args == 1) {
        cli_print_help_list();
        return LSM_OK;
    }
    c = command_find(&a->args[1]);
    if (!c)
        return fail_unknown(s, "help: ", &a->args[1]);
    help_print_command(c);
    return LSM_OK;
}

/* Reports that source could not open (or nest) the file named by path. */
static int fail_source(cli_session *s, const cli_arg *path, const char *why)
{
    cli_buf msg;

    cli_buf_init(&msg);
    cli_buf_append(&msg, "source: ", 8);
    append_arg_quoted(&msg, path);
    cli_buf_printf(&msg, ": %s", why);
    session_report(s, &msg);
    cli_buf_free(&msg);
    return LSM_EINVAL;
}

static int cmd_source(cli_session *s, const cli_argv *a)
{
    const cli_arg *path = &a->args[1];
    char why[160];
    FILE *f;
    int rc;

    if (memchr(path->bytes, '\0', path->n_bytes))
        return fail_source(s, path, "a file name cannot contain a NUL byte");
    if (s->source_depth >= CLI_MAX_SOURCE_DEPTH) {
        snprintf(why, sizeof why,
                 "sources nested more than %d deep; does a file source "
                 "itself?",
                 CLI_MAX_SOURCE_DEPTH);
        return fail_source(s, path, why);
    }
    f = fopen(path->bytes, "r");
    if (!f) {
        snprintf(why, sizeof why, "cannot open: %s", strerror(errno));
        return fail_source(s, path, why);
    }
    s->source_depth++;
    rc = cli_run_stream(s, f, path->bytes);
    s->source_depth--;
    fclose(f);
    return rc;
}

/* lsm_close refuses (LSM_EBUSY) while iterators are open. A person may
 * have forgotten them, so the first quit names them and stays (as bash's
 * exit does with stopped jobs); a second quit right after closes them,
 * saying so, and leaves. */
/* The first quit with snapshots or transactions live (and perhaps
 * iterators open): names them all and says how to end each kind. */
static int quit_refuse_reads(cli_session *s, const char *cmd)
{
    cli_buf names;

    cli_buf_init(&names);
    cli_iters_append_names(s, &names);
    if (cli_iters_count(s) > 0)
        cli_buf_append(&names, ", ", 2);
    cli_reads_append_names(s, &names);
    cli_fail(s,
             "%s: the database cannot close while %ssnapshots or "
             "transactions are live (%s): end them with %srelease NAME, "
             "commit T or abort T, or %s again to %srelease and abort "
             "them and leave",
             cmd, cli_iters_count(s) > 0 ? "iterators, " : "",
             cli_buf_str(&names),
             cli_iters_count(s) > 0 ? "iter close NAME, " : "", cmd,
             cli_iters_count(s) > 0 ? "close, " : "");
    cli_buf_free(&names);
    return LSM_EBUSY;
}

static int cmd_quit(cli_session *s, const cli_argv *a)
{
    cli_buf names;

    if (cli_reads_count(s) > 0 && !s->quit_armed) {
        s->quit_armed = 1;
        return quit_refuse_reads(s, a->args[0].bytes);
    }
    if (cli_iters_count(s) > 0 && !s->quit_armed) {
        s->quit_armed = 1;
        cli_buf_init(&names);
        cli_iters_append_names(s, &names);
        cli_fail(s,
                 "%s: the database cannot close while iterators are open "
                 "(%s): close them with iter close NAME, or %s again to "
                 "close them and leave",
                 a->args[0].bytes, cli_buf_str(&names), a->args[0].bytes);
        cli_buf_free(&names);
        return LSM_EBUSY;
    }
    cli_iters_close_all(s);
    cli_reads_end_all(s);
    s->quit = 1;
    return LSM_OK;
}

/* Leaves the process without lsm_close: what the WAL holds is all the next
 * open finds, as after kill -9. Output written so far is flushed first, so
 * a transcript shows everything before the crash. */
static int cmd_crash(cli_session *s, const cli_argv *a)
{
    cli_out_printf("crash: leaving without closing the database, as kill "
                   "-9 would\n");
    cli_out_flush();
    fflush(stderr);
    _exit(s->n_failed > 0 ? 1 : 0);
}

/* --- .timer ---------------------------------------------------------------
 */

static int cmd_timer(cli_session *s, const cli_argv *a)
{
    cli_buf msg;

    if (command_name_matches("on", &a->args[1])) {
        s->timer = 1;
        return LSM_OK;
    }
    if (command_name_matches("off", &a->args[1])) {
        s->timer = 0;
        return LSM_OK;
    }
    cli_buf_init(&msg);
    cli_buf_append(&msg, ".timer: ", 8);
    append_arg_quoted(&msg, &a->args[1]);
    cli_buf_printf(&msg, " is not on or off: .timer on|off");
    session_report(s, &msg);
    cli_buf_free(&msg);
    return LSM_EINVAL;
}

/* When a timed command started: wall clock and the process's CPU times. */
typedef struct cmd_clock {
    struct timespec real;
    struct rusage usage;
} cmd_clock;

static void cmd_clock_read(cmd_clock *c)
{
    clock_gettime(CLOCK_MONOTONIC, &c->real);
    getrusage(RUSAGE_SELF, &c->usage);
}

static double timeval_diff(const struct timeval *from, const struct timeval *to)
{
    return (double)(to->tv_sec - from->tv_sec) +
           (double)(to->tv_usec - from->tv_usec) * 1e-6;
}

/* "Run Time: real 0.001 user 0.000123 sys 0.000045", sqlite3's format:
 * real is the wall-clock seconds since start, user and sys the CPU seconds
 * the whole process (engine threads included) used meanwhile. */
static void cmd_clock_print(const cmd_clock *start)
{
    cmd_clock end;
    double real;

    cmd_clock_read(&end);
    real = (double)(end.real.tv_sec - start->real.tv_sec) +
           (double)(end.real.tv_nsec - start->real.tv_nsec) * 1e-9;
    cli_out_printf("Run Time: real %.3f user %f sys %f\n", real,
                   timeval_diff(&start->usage.ru_utime, &end.usage.ru_utime),
                   timeval_diff(&start->usage.ru_stime, &end.usage.ru_stime));
}

/* --- Running a line -------------------------------------------------------
 */

/* 1 for blank lines and # comments, which scripts may contain. */
static int line_is_skipped(const char *line, size_t n_line)
{
    size_t i = 0;

    while (i < n_line && (line[i] == ' ' || line[i] == '\t' ||
                          line[i] == '\r' || line[i] == '\n'))
        i++;
    return i == n_line || line[i] == '#';
}

/* --echo: "lsm-cli> LINE", without the line's trailing blanks. */
static void echo_line(const char *line, size_t n_line)
{
    cli_buf out;

    while (n_line > 0 &&
           (line[n_line - 1] == '\n' || line[n_line - 1] == '\r' ||
            line[n_line - 1] == ' ' || line[n_line - 1] == '\t'))
        n_line--;
    cli_buf_init(&out);
    cli_buf_append(&out, "lsm-cli> ", 9);
    cli_buf_append(&out, line, n_line);
    cli_buf_append(&out, "\n", 1);
    cli_out_buf(&out);
    cli_buf_free(&out);
}

/* Runs a command whose arguments were checked: moves the epoch on after
 * a success of one of mini-lsm-cli's commands, and prints the time it
 * took under .timer on. */
static int session_run(cli_session *s, const cli_command *c, const cli_argv *a)
{
    int timed = s->timer && !c->untimed;
    cmd_clock start;
    int rc;

    if (timed)
        cmd_clock_read(&start);
    cli_interrupted = 0;
    if (c->run != cmd_quit)
        s->quit_armed = 0; /* a quit refused for iterators asks again */
    s->running = c->name;
    rc = c->run(s, a);
    s->running = NULL;
    report_command_engine_error(s, c->name, rc);
    if (rc == LSM_OK && c->advances_epoch)
        s->epoch++;
    if (timed)
        cmd_clock_print(&start);
    return rc;
}

/* Tokenizes, finds and runs the command of a non-blank line. */
static int session_dispatch(cli_session *s, const char *line, size_t n_line)
{
    cli_argv a;
    char err[256];
    const cli_command *c;
    int rc;

    rc = cli_tokenize(line, n_line, &a, err, sizeof err);
    if (rc == LSM_ENOMEM)
        return cli_fail(s, "out of memory");
    if (rc != LSM_OK)
        return cli_fail(s, "%s", err);
    c = command_find(&a.args[0]);
    if (!c && cli_txn_is_open(s, &a.args[0])) {
        rc = session_run(s, &txn_op_command, &a);
    } else if (!c) {
        rc = fail_unknown(s, "", &a.args[0]);
    } else if (a.n_args - 1 >= 32 || !(c->arg_counts & ARGS(a.n_args - 1))) {
        rc = fail_arg_count(s, c, a.n_args - 1);
    } else {
        rc = session_run(s, c, &a);
    }
    cli_argv_free(&a);
    return rc;
}

int cli_session_exec(cli_session *s, const char *line, size_t n_line,
                     const cli_where *where)
{
    cli_where saved = s->where;
    int rc;

    if (line_is_skipped(line, n_line))
        return LSM_OK;
    if (s->echo)
        echo_line(line, n_line);
    s->where = *where;
    rc = session_dispatch(s, line, n_line);
    s->where = saved;
    return rc;
}
