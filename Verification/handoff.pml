/*
 * DeferDrop, hand-off core v4: a model of the protocol between producers,
 * their lanes and one worker, checked exhaustively with spin.
 *
 * What is modelled
 * - Each producer thread owns a lane: a single-producer queue that only it
 *   appends to. A hand-off writes the value and then the lane's tail, with no
 *   lock; whoever holds the lock records the positions of every lane's
 *   published values in the central queue ("collects"), and whoever holds
 *   values taken from its head (the worker, or a producer draining) reads
 *   each from its slot in the lane and destroys it there.
 * - x86-TSO memory: a producer's stores go through a FIFO store buffer
 *   (`sb[p]`), which a separate process commits to memory at any time; a
 *   producer reads its own buffered stores, every other thread reads memory.
 *   A locked instruction (the lock, a compare-and-swap) empties the buffer
 *   first. The worker's stores are modelled as immediately visible: each is
 *   a locked instruction (its lock, the compare-and-swap on `sleeping`).
 * - Sleep and wake-up, as an eventcount: the worker announces `sleeping`
 *   under the lock (a locked instruction), calls membarrier(), then looks at
 *   every lane and the central queue once more, and only then sleeps on
 *   `sem`. The last look and its fence are for lanes appended to without
 *   the lock; a producer marks its lane so, under the lock, before its
 *   first such append, and while no lane is marked the worker sleeps (or
 *   stops) without them: the lock orders every other append with the
 *   announcement. A producer
 *   appends, then reads `sleeping` after a compiler barrier only; if set, it
 *   claims the wake-up with a compare-and-swap and posts `sem`. membarrier()
 *   empties every producer's store buffer, one after another, while it runs.
 *   -DPRODUCER_FENCE checks the fallback (no membarrier(); each producer
 *   fences after its append); -DBROKEN_NO_FENCE shows that one side must.
 *   -DFENCE_SWITCH checks the switch from the one to the other: producers
 *   fence until the status bit `sleeperFences` is set (the code's worker
 *   sets it once it has registered for membarrier(); here any thread, at
 *   any moment). A producer reads the bit with the status word before its
 *   append, the worker after its announcement; the bit and `sleeping` are
 *   one word, so a producer that read the bit set reads the announcement
 *   that preceded the worker's read of it. -DBROKEN_FENCE_BIT_READ_EARLY
 *   shows that the worker must read it after announcing.
 * - Barriers (`flush()`): under the lock, collect every lane, then wait
 *   until the values counted so far are destroyed.
 * - Shutdown: `stopping` is published in the same word as `sleeping`
 *   (`notRunning`); the worker drains and stops after the same last look. A
 *   producer that sees `notRunning` after its append waits for the worker to
 *   stop and destroys what is left in its own lane itself, in order.
 * - With TIME_BOUND: a producer that finds the worker behind takes every
 *   queued value and destroys it (oldest first) before its own value, which
 *   it destroys inline, if no one else holds values taken from the queue.
 * - Order: a lane keeps its producer's order, and a collect takes each
 *   lane's published values whole, lane after lane, in either order. The
 *   producers share no line. A hand-off ordered across threads
 *   (`DropWorker.orderedAcrossThreads`) takes the locked admission, which
 *   collects every lane before it queues its value.
 * - The locked admission (the first hand-off, a count bound's, a
 *   time-bounded worker found behind, a hand-off ordered across threads):
 *   under the lock, collect every lane, then append the value to the
 *   caller's own lane and take that lane too, so that every value reaches
 *   the central queue through a lane, this one behind every value collected.
 *
 * What is checked (safety, exhaustively)
 * - no value is destroyed twice (assertion at every destruction);
 * - each producer's values are destroyed in its order (with TIME_BOUND:
 *   those not destroyed inline);
 * - a `flush()` returns only when every value handed over before it is
 *   destroyed: producer 1 flushes after its own hand-offs and asserts that
 *   its values, and those producer 0 had finished handing over, are gone;
 * - no lost wake-up and no flush that waits for ever: every run ends in a
 *   valid end state (spin reports any other as an invalid end state);
 * - no value is lost: at the end, after a final flush (or the shutdown),
 *   every value was destroyed exactly once;
 * - with -DHOP, producer 0 starts after producer 1's hand-offs have
 *   returned and hands its values over ordered across threads: producer 1's
 *   values are destroyed before any of producer 0's.
 *
 * With -DBOUND=n, a count bound of n whose full queue blocks: every
 * hand-off is admitted under the lock, waits for room while n values are
 * pending, and the worker publishes its progress every STRIDE values
 * (default 1) and at each batch boundary, and then lets the waiting
 * producers go on if there is room; checked: pending never exceeds n once
 * the value is queued, and no producer waits for ever.
 *
 * Variants (see check.sh): -DSHUTDOWN adds a concurrent shutdown();
 * -DTIME_BOUND adds the producers' drain; -DHOP the order across threads.
 * -DPRODUCER_FENCE the fallback without membarrier(). (A lane grows by
 * linking chunks; a thread's first hand-off, which makes its lane, is
 * where the model takes the locked admission.)
 * Known-bad variants, which spin must reject, show the model has teeth:
 * -DBROKEN_NO_FENCE (a producer reads the status word after a compiler
 * barrier only, with no membarrier() on the sleeper's side either),
 * -DBROKEN_RESCAN_LANES_ONLY (its last look ignores the central queue),
 * -DBROKEN_FLUSH_SKIPS_LANES (a barrier counts only the central queue, not
 * the values still in the producers' lanes) and -DHOP
 * -DBROKEN_ORDERED_THROUGH_LANE (the ordered hand-off appends to its lane:
 * only each thread's order is kept) and -DBOUND=1
 * -DBROKEN_APPEND_AFTER_UNLOCK (a count bound's admission lets go of the
 * lock before the value is queued: two producers pass one bound) and
 * -DBOUND=2 -DSTRIDE=2 -DBROKEN_NO_BOUNDARY_WAKE (progress published at a
 * batch boundary wakes no producer waiting for room: one waits for ever).
 * -DBROKEN_NO_MARK (a lane appended to without the lock is never marked,
 * so the worker never takes its fenced last look).
 */

#ifndef PRODUCERS
#define PRODUCERS 2
#endif
#ifndef VALUES
#define VALUES 2
#endif
#define TOTAL (PRODUCERS * VALUES)
/* With BOUND: how many values the worker destroys between two publications
   (`publicationStride`: a sixteenth of the bound, at least one). */
#ifndef STRIDE
#define STRIDE 1
#endif

/* The eventcount's fence. By default on the sleeper's side: membarrier()
   before the worker's last look runs a full barrier on every running
   thread, which empties each producer's store buffer at some moment during
   the call, one producer after the other; a producer then has a compiler
   barrier only. With PRODUCER_FENCE (where membarrier() is unavailable),
   each producer fences after its append instead. BROKEN_NO_FENCE: neither.
   With FENCE_SWITCH, the status bit `sleeperFences` decides, as in the code:
   a producer fences unless it read the bit set. */
#if defined(FENCE_SWITCH)
bit sleeperFences;
#define SLEEPER_FENCES_BIT sleeperFences
#define FENCE(p) if :: !sawSleeperFences -> empty(sb[p]) :: else -> skip fi
#ifdef BROKEN_FENCE_BIT_READ_EARLY
#define MEMBARRIER() if :: fencesReadEarly -> empty(sb[0]); empty(sb[1]) :: else -> skip fi
#else
#define MEMBARRIER() if :: sleeperFences -> empty(sb[0]); empty(sb[1]) :: else -> skip fi
#endif
#elif defined(PRODUCER_FENCE) && !defined(BROKEN_NO_FENCE)
#define FENCE(p) empty(sb[p])
#define MEMBARRIER() skip
#elif defined(BROKEN_NO_FENCE)
#define FENCE(p) skip
#define MEMBARRIER() skip
#else
#define FENCE(p) skip
#define MEMBARRIER() empty(sb[0]); empty(sb[1])
#endif
#ifndef SLEEPER_FENCES_BIT
#define SLEEPER_FENCES_BIT 0
#endif

/* Which hand-offs take the locked admission: a thread's first (it makes the lane);
   with HOP, every one of producer 0's (ordered across threads), unless
   BROKEN_ORDERED_THROUGH_LANE sends them all through its lane (made
   earlier). */
#if defined(BOUND)
#define LOCKED_WAY(p, k) 1
#elif defined(HOP) && defined(BROKEN_ORDERED_THROUGH_LANE)
#define LOCKED_WAY(p, k) (k == 0 && p == 1)
#elif defined(HOP)
#define LOCKED_WAY(p, k) (k == 0 || p == 0)
#else
#define LOCKED_WAY(p, k) (k == 0)
#endif

#define RUNNING 0
#define STOPPING 1
#define STOPPED 2

/* Memory: lanes. */
byte tail[PRODUCERS];        /* values appended to each lane, as memory sees it */
byte head[PRODUCERS];        /* values collected from each lane (under the lock) */
byte slot[TOTAL];            /* the lanes' values: lane p's n-th at p * VALUES + n */
byte handed[PRODUCERS];      /* hand-offs that have returned, as memory sees it */
chan sb[PRODUCERS] = [4] of { bit, byte };  /* store buffers: (0 tail | 1 handed, value) */

/* Under the lock: whether each producer's lane is appended to without it
   (`State.join`, `_deferdrop_lane_appends_without_lock`); only those need the worker's fenced last
   look before it sleeps or stops. */
bit lockFree[PRODUCERS];
#define NEEDS_LAST_LOOK (lockFree[0] || lockFree[1])

/* Memory: the status word and the wake-up semaphore. */
bit sleeping;
bit notRunning;
byte sem;

/* Under the lock. */
bit lockBit;
byte lifecycle = RUNNING;
chan central = [TOTAL] of { byte };  /* positions in the lanes (`State.queued`) */
byte enqueued;               /* values ever put in `central` (`_Counts.queued`) */
byte completed;              /* of those, destroyed and published (`destroyedFromQueue`) */
bit workerHasBatch;          /* the worker holds values taken from `central` (destroyer == .worker) */
bit producerDrains;          /* a producer holds values taken from `central` (destroyer == .producer) */
bit waiting[2];              /* barrier slots: 0 for producer 1, 1 for the final flush */
bit roomWaiting[PRODUCERS];  /* with BOUND: a producer waits for room (`State.roomWaiters`) */
byte room[PRODUCERS];        /* with BOUND: each producer's semaphore for room */
byte target[2];
byte released[2];

/* Observers. */
byte destroyed[TOTAL];       /* destructions of each value */
byte when[TOTAL];            /* when each was destroyed, in order of destruction */
byte clock;
byte lastInOrder[PRODUCERS]; /* 1 + index of the last value of the lane destroyed in order */
byte finished;

inline lockBy(p) {
    /* A locked instruction: the caller's store buffer is emptied first. */
    atomic { empty(sb[p]) && lockBit == 0 -> lockBit = 1 }
}
inline lockByWorker() { atomic { lockBit == 0 -> lockBit = 1 } }
inline unlock() { lockBit = 0 }

inline destroyInOrder(v) {
    d_step {
        destroyed[v]++;
        clock++;
        when[v] = clock;
        assert(destroyed[v] == 1);
        assert(v % VALUES + 1 > lastInOrder[v / VALUES]);
        lastInOrder[v / VALUES] = v % VALUES + 1
    }
}

inline destroyInline(v) {
    d_step {
        destroyed[v]++;
        clock++;
        when[v] = clock;
        assert(destroyed[v] == 1);
#ifndef TIME_BOUND
        assert(v % VALUES + 1 > lastInOrder[v / VALUES]);
        lastInOrder[v / VALUES] = v % VALUES + 1
#endif
    }
}

/* Under the lock: records the position of every published value of each
   lane in `central`,
   in the lane's order, lane after lane, in either order; nothing once the
   worker has stopped (lanes are their producers' then). */
inline takeLane(lane) {
    d_step {
        do
        :: head[lane] < tail[lane] -> central!(lane * VALUES + head[lane]); head[lane]++; enqueued++
        :: else -> break
        od
    }
}
inline collect() {
    if
    :: lifecycle != STOPPED ->
        if
        :: takeLane(0); takeLane(1)
        :: takeLane(1); takeLane(0)
        fi
    :: else -> skip
    fi
}

/* Under the lock: lets every barrier whose values are destroyed go on. */
inline releaseBarriers() {
    d_step {
        if
        :: waiting[0] && completed >= target[0] -> waiting[0] = 0; released[0]++
        :: else -> skip
        fi;
        if
        :: waiting[1] && completed >= target[1] -> waiting[1] = 0; released[1]++
        :: else -> skip
        fi
    }
}

/* Under the lock: lets every producer waiting for room try again. */
inline wakeRoomWaiters() {
    d_step {
        if :: roomWaiting[0] -> roomWaiting[0] = 0; room[0]++ :: else -> skip fi;
        if :: roomWaiting[1] -> roomWaiting[1] = 0; room[1]++ :: else -> skip fi
    }
}

/* The worker's last look before it sleeps or stops, without the lock. */
inline anyPending(result) {
    d_step {
        result = 0;
        i = 0;
        do
        :: i < PRODUCERS -> if :: tail[i] > head[i] -> result = 1 :: else -> skip fi; i++
        :: else -> break
        od;
        i = 0;
#ifndef BROKEN_RESCAN_LANES_ONLY
        if :: len(central) > 0 -> result = 1 :: else -> skip fi
#endif
    }
}

/* Commits one producer's buffered stores to memory, in order, at any time. */
proctype StoreBuffer(byte p) {
    bit kind; byte value;
end:
    do
    :: atomic { sb[p]?kind, value -> if :: kind == 0 -> tail[p] = value :: else -> handed[p] = value fi }
    od
}

proctype Worker() {
    byte i; byte v; byte count; bit pending; bit kind; byte value; bit claimed;
#ifdef BROKEN_FENCE_BIT_READ_EARLY
    bit fencesReadEarly;
#endif
    chan batch = [TOTAL] of { byte };
end:
    do
    :: lockByWorker();
#ifdef BROKEN_FENCE_BIT_READ_EARLY
        fencesReadEarly = sleeperFences;
#endif
        completed = completed + count;
        count = 0;
        workerHasBatch = 0;
        releaseBarriers();
#if defined(BOUND) && !defined(BROKEN_NO_BOUNDARY_WAKE)
        if :: enqueued - completed < BOUND -> wakeRoomWaiters() :: else -> skip fi;
#endif
        if
        :: producerDrains ->
            /* A producer is draining: wait for it (a timed wait). */
            unlock()
        :: else ->
            collect();
            if
            :: len(central) > 0 ->
                d_step { do :: central?v -> batch!v :: empty(central) -> break od };
                workerHasBatch = 1;
                unlock();
                do
                :: batch?v -> destroyInOrder(slot[v]);
                    count++;
#ifdef BOUND
                    /* A count bound publishes its progress every STRIDE
                       values as it goes, and lets the producers waiting
                       for room go on if there is room. */
                    if
                    :: count == STRIDE ->
                        lockByWorker();
                        completed = completed + count;
                        count = 0;
                        releaseBarriers();
                        if :: enqueued - completed < BOUND -> wakeRoomWaiters() :: else -> skip fi;
                        unlock()
                    :: else -> skip
                    fi
#endif
                    skip
                :: empty(batch) -> break
                od
            :: else ->
                if
                :: lifecycle == STOPPING && NEEDS_LAST_LOOK ->
                    unlock();
                    MEMBARRIER();
                    anyPending(pending);
                    if
                    :: pending -> skip
                    :: else ->
                        lockByWorker();
                        anyPending(pending);
                        if
                        :: pending -> unlock()
                        :: else ->
                            lifecycle = STOPPED;
                            releaseBarriers();
                            unlock();
                            break
                        fi
                    fi
                :: lifecycle == STOPPING && !NEEDS_LAST_LOOK ->
                    /* Every lane was appended to under the lock, and this
                       pass collected them: nothing can be missed. */
                    lifecycle = STOPPED;
                    releaseBarriers();
                    unlock();
                    break
                :: lifecycle != STOPPING && !NEEDS_LAST_LOOK ->
                    sleeping = 1;
                    unlock();
end_asleep_unfenced:
                    atomic { sem > 0 -> sem-- }
                :: lifecycle != STOPPING && NEEDS_LAST_LOOK ->
                    /* Announced under the lock, as the code does. */
                    sleeping = 1;
                    unlock();
                    MEMBARRIER();
                    anyPending(pending);
                    if
                    :: pending || notRunning ->
                        /* Take the announcement back, unless a producer has
                           claimed the wake-up: then its post is coming. */
                        atomic {
                            if
                            :: sleeping -> sleeping = 0; claimed = 0
                            :: else -> claimed = 1
                            fi
                        };
                        if
                        :: claimed -> atomic { sem > 0 -> sem-- }
                        :: else -> skip
                        fi
                    :: else ->
end_asleep:             atomic { sem > 0 -> sem-- }
                    fi
                fi
            fi
        fi
    od
}

/* What a producer does once the worker has stopped: what is left in its own
   lane first (it is the only one left to take it), in order. */
inline destroyLeftInOwnLane(p) {
    (lifecycle == STOPPED);
    lockBy(p);
    do
    :: head[p] < myTail -> destroyInOrder(slot[p * VALUES + head[p]]); head[p]++
    :: else -> break
    od;
    unlock()
}

inline flush(slotIndex, p) {
    lockBy(p);
#ifndef BROKEN_FLUSH_SKIPS_LANES
    collect();
#endif
    if
    :: completed < enqueued ->
        target[slotIndex] = enqueued;
        waiting[slotIndex] = 1;
        unlock();
        (released[slotIndex] > 0);
        released[slotIndex]--
    :: else -> unlock()
    fi
}

proctype Producer(byte p) {
    byte i; byte v; byte k; byte myTail; byte seenHanded; byte j; byte n;
    bit sawSleeperFences;
    chan drained = [TOTAL] of { byte };
#ifdef HOP
    /* Producer 0 starts after producer 1's hand-offs have returned: its
       values come after those in happens-before order, and it hands them
       over ordered across threads (the locked admission). */
    if
    :: p == 0 -> (handed[1] >= VALUES)
    :: else -> skip
    fi;
#endif
    do
    :: k < VALUES ->
        v = p * VALUES + k;
        if
        :: notRunning ->
            /* The slow way: the worker is stopping or has stopped. */
            destroyLeftInOwnLane(p);
            destroyInline(v)
#ifdef TIME_BOUND
        :: !notRunning ->
            /* The worker is behind: drain what is queued, then destroy inline. */
            lockBy(p);
            if
            :: !workerHasBatch && !producerDrains && lifecycle == RUNNING ->
                collect();
                d_step { do :: central?j -> drained!j :: empty(central) -> break od };
                producerDrains = 1;
                unlock();
                n = 0;
                do
                :: drained?j -> destroyInOrder(slot[j]); n++
                :: empty(drained) -> break
                od;
                lockBy(p);
                completed = completed + n;
                producerDrains = 0;
                releaseBarriers();
                unlock()
            :: else -> unlock()
            fi;
            destroyInline(v)
#endif
        :: !notRunning && LOCKED_WAY(p, k) ->
            /* The locked admission (a thread's first hand-off, which makes
               its lane; a count bound's; with HOP, producer 0's ordered
               hand-offs): collect every lane, then append the value to its
               own lane and take that lane, so that it is queued behind them.
               Its store buffer is empty under the lock, and it reads its
               own store of the tail. */
            lockBy(p);
#ifdef BOUND
            /* The bound is reached: wait for room, then try again. */
            do
            :: lifecycle == RUNNING && enqueued - completed >= BOUND ->
                roomWaiting[p] = 1;
                unlock();
                atomic { room[p] > 0 -> room[p]-- };
                lockBy(p)
            :: else -> break
            od;
#endif
            if
            :: lifecycle == RUNNING ->
                collect();
#ifdef BROKEN_APPEND_AFTER_UNLOCK
                /* Admitted under the lock, appended after it. */
                unlock();
                lockBy(p);
#endif
                d_step { slot[p * VALUES + myTail] = v; myTail++; tail[p] = myTail };
                takeLane(p);
#ifdef BOUND
                assert(enqueued - completed <= BOUND);
#endif
                unlock();
                atomic { if :: sleeping -> sleeping = 0; sem++ :: else -> skip fi }
            :: else ->
                unlock();
                destroyLeftInOwnLane(p);
                destroyInline(v)
            fi
        :: atomic { !notRunning && !LOCKED_WAY(p, k) -> sawSleeperFences = SLEEPER_FENCES_BIT };
            /* The status word is read once, the fence's bit with it. Before
               the first append without the lock, the lane is marked
               so, under the lock: from then on the worker's last look, and
               its fence, cover it. */
#ifndef BROKEN_NO_MARK
            if
            :: !lockFree[p] -> lockBy(p); lockFree[p] = 1; unlock()
            :: else -> skip
            fi;
#endif
            /* The fast way: the value, the tail; then the fence of the
               eventcount's Dekker pattern and the status word. */
            slot[p * VALUES + myTail] = v;
            myTail++;
            sb[p]!0, myTail;
            FENCE(p);
            if
            :: sleeping ->
                /* Claim the wake-up: a compare-and-swap, a locked instruction. */
                atomic { empty(sb[p]) -> if :: sleeping -> sleeping = 0; sem++ :: else -> skip fi }
            :: else -> skip
            fi;
            if
            :: notRunning ->
                /* Stopping began: the worker may or may not have seen the value. */
                destroyLeftInOwnLane(p)
            :: else -> skip
            fi
        fi;
        k++;
        sb[p]!1, k;
        if
        :: p == 1 && k == VALUES ->
            /* Producer 1 flushes after its last hand-off. */
            seenHanded = handed[0];
            flush(0, p);
            d_step {
                j = 0;
                do
                :: j < VALUES -> assert(destroyed[VALUES + j] == 1); j++
                :: else -> break
                od;
                j = 0;
                do
                :: j < seenHanded -> assert(destroyed[j] == 1); j++
                :: else -> break
                od;
                j = 0
            }
        :: else -> skip
        fi
    :: else -> break
    od;
    /* The thread ends: joining it makes its stores visible. */
    atomic { empty(sb[p]) -> finished++ }
}

#ifdef SHUTDOWN
proctype Shutdown() {
    lockByWorker();
    if
    :: lifecycle == RUNNING -> lifecycle = STOPPING; notRunning = 1
    :: else -> skip
    fi;
    wakeRoomWaiters();
    unlock();
    atomic { if :: sleeping -> sleeping = 0; sem++ :: else -> skip fi };
    (lifecycle == STOPPED);
    finished++
}
#endif

#ifdef FENCE_SWITCH
/* The switch from producers' fences to the sleeper's, at any moment. */
proctype Switch() {
    sleeperFences = 1
}
#endif

/* Once every producer (and the shutdown) has finished: a last flush (or the
   shutdown's drain) leaves no value behind, and none was destroyed twice. */
proctype Final() {
    byte i; byte j;
#ifdef SHUTDOWN
    (finished == PRODUCERS + 1);
#else
    (finished == PRODUCERS);
    lockByWorker();
    collect();
    if
    :: completed < enqueued ->
        target[1] = enqueued; waiting[1] = 1; unlock();
        (released[1] > 0)
    :: else -> unlock()
    fi;
#endif
    d_step {
        j = 0;
        do
        :: j < TOTAL -> assert(destroyed[j] == 1); j++
        :: else -> break
        od;
#ifdef HOP
        /* Across threads: producer 1's last value before producer 0's first. */
        assert(when[VALUES + VALUES - 1] < when[0]);
#endif
        j = 0
    }
}

init {
    atomic {
        run StoreBuffer(0);
        run StoreBuffer(1);
        run Worker();
        run Producer(0);
        run Producer(1);
#ifdef SHUTDOWN
        run Shutdown();
#endif
#ifdef FENCE_SWITCH
        run Switch();
#endif
        run Final()
    }
}
