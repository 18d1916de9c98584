// linux_bench: Linux's side of the Veneer/Linux benchmark table.
//
// Built with `gcc -static -O2` and booted as /init of an initramfs under the same
// QEMU settings as Veneer. Under `-icount shift=0` the guest TSC advances once per
// guest instruction, so every rdtsc delta below is an instruction count.
//
// Output protocol (shared with the Veneer side, parsed by bench/harness/run.py):
//   BENCH <name> <instructions per op, 1 decimal>
//   BENCH-ERROR <name> <reason>      a benchmark that could not be measured honestly
//   # <anything>                     informational, ignored by the parser
//   BENCH-DONE
// then QEMU is stopped through isa-debug-exit (0x10 -> QEMU exit code 33 = success).
//
// The definitions of every operation are in docs/benchmarks.md; keep the two in step.
//
// Run as a normal program (not PID 1) it runs the same benchmarks on the host and
// exits, which is handy for debugging; the numbers are then TSC cycles.

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

// Iteration counts: identical on the Veneer side (see docs/benchmarks.md).
enum { WARMUP = 1000, N_CHEAP = 10000, N_EXPENSIVE = 1000 };
// Process creation: 100 times dearer, so fewer of them (the same on the Veneer side).
enum { WARMUP_PROC = 100, N_PROC = 1000, TOUCHED_PAGES = 64 };
enum { PAGE = 4096, REGION_PAGES = 100 };

// The debug-exit device: QEMU exits with (value << 1) | 1.
enum { DEBUG_EXIT_PORT = 0xf4, EXIT_SUCCESS_CODE = 0x10, EXIT_FAILURE_CODE = 0x01 };

// An address no loader puts anything at, for map_unmap's MAP_FIXED.
#define FIXED_MAP_ADDR ((void *)0x200000000000UL)

static inline uint64_t rdtsc(void) {
    uint32_t lo, hi;
    // The memory clobber keeps the compiler from moving the measured work across it.
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return ((uint64_t)hi << 32) | lo;
}

static void report(const char *name, uint64_t ticks, uint64_t ops) {
    printf("BENCH %s %.1f\n", name, (double)ticks / (double)ops);
    fflush(stdout);
}

static int fail(const char *name, const char *fmt, ...) {
    va_list ap;
    printf("BENCH-ERROR %s ", name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    return -1;
}

static void info(const char *fmt, ...) {
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void pin_to_cpu0(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    sched_setaffinity(0, sizeof set, &set);
}

// Memory both processes of a two-process benchmark see. MAP_SHARED survives fork.
static void *shared_page(void) {
    void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
    memset(p, 0, PAGE);
    return p;
}

static int reap(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid) return -1;
    return (WIFEXITED(status) && WEXITSTATUS(status) == 0) ? 0 : -1;
}

// ---------------------------------------------------------------------------
// null_syscall: a raw getppid, so no libc wrapper or cache sits in between.

static inline long raw_getppid(void) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
    return ret;
}

static int bench_null_syscall(void) {
    for (int i = 0; i < WARMUP; i++) raw_getppid();
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N_CHEAP; i++) raw_getppid();
    uint64_t t1 = rdtsc();
    report("null_syscall", t1 - t0, N_CHEAP);
    return 0;
}

// ---------------------------------------------------------------------------
// exception_roundtrip: int3 -> SIGTRAP handler -> back to the next instruction.
// int3 is a trap, so the saved RIP already points past it.

static volatile uint64_t trap_count;

static void on_sigtrap(int sig) {
    (void)sig;
    trap_count++;
}

static int bench_exception_roundtrip(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_sigtrap;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTRAP, &sa, NULL) != 0) return fail("exception_roundtrip", "sigaction: %s", strerror(errno));
    trap_count = 0;
    for (int i = 0; i < WARMUP; i++) __asm__ volatile("int3" ::: "memory");
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N_CHEAP; i++) __asm__ volatile("int3" ::: "memory");
    uint64_t t1 = rdtsc();
    signal(SIGTRAP, SIG_DFL);
    if (trap_count != WARMUP + N_CHEAP)
        return fail("exception_roundtrip", "handler ran %llu times, expected %d",
                    (unsigned long long)trap_count, WARMUP + N_CHEAP);
    report("exception_roundtrip", t1 - t0, N_CHEAP);
    return 0;
}

// ---------------------------------------------------------------------------
// signal_roundtrip: kill(self, SIGUSR1); the signal is delivered on the way out of
// kill, the handler runs and sigreturn comes back.

static volatile uint64_t usr1_count;

static void on_sigusr1(int sig) {
    (void)sig;
    usr1_count++;
}

static int bench_signal_roundtrip(void) {
    struct sigaction sa = {0};
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGUSR1, &sa, NULL) != 0) return fail("signal_roundtrip", "sigaction: %s", strerror(errno));
    pid_t self = getpid();
    usr1_count = 0;
    for (int i = 0; i < WARMUP; i++) kill(self, SIGUSR1);
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N_CHEAP; i++) kill(self, SIGUSR1);
    uint64_t t1 = rdtsc();
    signal(SIGUSR1, SIG_DFL);
    if (usr1_count != WARMUP + N_CHEAP)
        return fail("signal_roundtrip", "handler ran %llu times, expected %d",
                    (unsigned long long)usr1_count, WARMUP + N_CHEAP);
    report("signal_roundtrip", t1 - t0, N_CHEAP);
    return 0;
}

// ---------------------------------------------------------------------------
// pipe_roundtrip: one byte parent -> child and one byte back, over two pipes.

static int bench_pipe_roundtrip(void) {
    int to_child[2], to_parent[2];
    if (pipe(to_child) != 0 || pipe(to_parent) != 0) return fail("pipe_roundtrip", "pipe: %s", strerror(errno));
    const int total = WARMUP + N_CHEAP;
    pid_t pid = fork();
    if (pid < 0) return fail("pipe_roundtrip", "fork: %s", strerror(errno));
    if (pid == 0) {
        pin_to_cpu0();
        char c;
        for (int i = 0; i < total; i++) {
            if (read(to_child[0], &c, 1) != 1) _exit(1);
            c++;
            if (write(to_parent[1], &c, 1) != 1) _exit(1);
        }
        _exit(0);
    }
    int bad = 0;
    uint64_t t0 = 0;
    for (int i = 0; i < total; i++) {
        if (i == WARMUP) t0 = rdtsc();
        char c = (char)i, r = 0;
        if (write(to_child[1], &c, 1) != 1 || read(to_parent[0], &r, 1) != 1 || r != (char)(c + 1)) {
            bad = 1;
            break;
        }
    }
    uint64_t t1 = rdtsc();
    close(to_child[0]); close(to_child[1]); close(to_parent[0]); close(to_parent[1]);
    if (bad) kill(pid, SIGKILL);
    if (reap(pid) != 0 || bad) return fail("pipe_roundtrip", "ping-pong broke off");
    report("pipe_roundtrip", t1 - t0, N_CHEAP);
    return 0;
}

// ---------------------------------------------------------------------------
// yield_pair: two processes on one CPU, both looping on sched_yield. The shared
// counters count every yield of either process inside the timed window, so the
// result is instructions per yield, i.e. per switch when the yields alternate.

struct yield_shared {
    volatile uint64_t yields[2];   // [0] parent, [1] child
    volatile uint64_t switches;    // parent yields after which the child had run
    volatile int ready, stop;
};

static int bench_yield_pair(void) {
    struct yield_shared *s = shared_page();
    if (!s) return fail("yield_pair", "mmap: %s", strerror(errno));
    pin_to_cpu0();
    pid_t pid = fork();
    if (pid < 0) return fail("yield_pair", "fork: %s", strerror(errno));
    if (pid == 0) {
        s->ready = 1;
        while (!s->stop) {
            sched_yield();
            s->yields[1]++;
        }
        _exit(0);
    }
    while (!s->ready) sched_yield();
    for (int i = 0; i < WARMUP; i++) {
        sched_yield();
        s->yields[0]++;
    }
    uint64_t y0 = s->yields[0] + s->yields[1];
    uint64_t c_before = s->yields[1];
    uint64_t t0 = rdtsc();
    for (int i = 0; i < N_CHEAP; i++) {
        sched_yield();
        s->yields[0]++;
    }
    uint64_t t1 = rdtsc();
    uint64_t y1 = s->yields[0] + s->yields[1];
    uint64_t child_yields = s->yields[1] - c_before;
    s->stop = 1;
    if (reap(pid) != 0) return fail("yield_pair", "child failed");
    if (child_yields == 0) return fail("yield_pair", "the child never ran between the parent's yields");
    info("yield_pair: %d parent + %llu child yields in the timed window", N_CHEAP,
         (unsigned long long)child_yields);
    report("yield_pair", t1 - t0, y1 - y0);
    munmap(s, PAGE);
    return 0;
}

// ---------------------------------------------------------------------------
// shm_roundtrip: ping-pong through a flag in shared memory; each side polls the
// flag and calls sched_yield between polls.

static int bench_shm_roundtrip(void) {
    volatile int *flag = shared_page();
    if (!flag) return fail("shm_roundtrip", "mmap: %s", strerror(errno));
    const int total = WARMUP + N_CHEAP;
    pin_to_cpu0();
    pid_t pid = fork();
    if (pid < 0) return fail("shm_roundtrip", "fork: %s", strerror(errno));
    if (pid == 0) {
        for (int i = 0; i < total; i++) {
            while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 1) sched_yield();
            __atomic_store_n(flag, 2, __ATOMIC_RELEASE);
        }
        _exit(0);
    }
    uint64_t t0 = 0;
    for (int i = 0; i < total; i++) {
        if (i == WARMUP) t0 = rdtsc();
        __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 2) sched_yield();
    }
    uint64_t t1 = rdtsc();
    if (reap(pid) != 0) return fail("shm_roundtrip", "child failed");
    report("shm_roundtrip", t1 - t0, N_CHEAP);
    munmap((void *)flag, PAGE);
    return 0;
}

// ---------------------------------------------------------------------------
// lrpc_roundtrip: Linux has no LRPC, so this is the closest thing built from its
// own primitives: arguments and result in a shared page, the caller and the
// server block and wake each other with futexes (shared, not private: two
// address spaces). One op = call with two arguments, server adds them, reply.

struct rpc_shared {
    uint32_t req_seq, rep_seq;  // futex words
    uint64_t arg0, arg1, result;
};

static long futex(uint32_t *word, int op, uint32_t val) {
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

static int bench_lrpc_roundtrip(void) {
    struct rpc_shared *s = shared_page();
    if (!s) return fail("lrpc_roundtrip", "mmap: %s", strerror(errno));
    const int total = WARMUP + N_CHEAP;
    pin_to_cpu0();
    pid_t pid = fork();
    if (pid < 0) return fail("lrpc_roundtrip", "fork: %s", strerror(errno));
    if (pid == 0) {
        for (uint32_t seen = 0; seen < (uint32_t)total;) {
            uint32_t req;
            while ((req = __atomic_load_n(&s->req_seq, __ATOMIC_ACQUIRE)) == seen)
                futex(&s->req_seq, FUTEX_WAIT, seen);
            s->result = s->arg0 + s->arg1;
            seen = req;
            __atomic_store_n(&s->rep_seq, seen, __ATOMIC_RELEASE);
            futex(&s->rep_seq, FUTEX_WAKE, 1);
        }
        _exit(0);
    }
    int bad = 0;
    uint64_t t0 = 0;
    for (uint32_t i = 1; i <= (uint32_t)total; i++) {
        if (i == WARMUP + 1) t0 = rdtsc();
        s->arg0 = i;
        s->arg1 = 7;
        __atomic_store_n(&s->req_seq, i, __ATOMIC_RELEASE);
        futex(&s->req_seq, FUTEX_WAKE, 1);
        uint32_t rep;
        while ((rep = __atomic_load_n(&s->rep_seq, __ATOMIC_ACQUIRE)) != i)
            futex(&s->rep_seq, FUTEX_WAIT, rep);
        if (s->result != (uint64_t)i + 7) bad = 1;
    }
    uint64_t t1 = rdtsc();
    if (reap(pid) != 0 || bad) return fail("lrpc_roundtrip", "server failed or returned a wrong result");
    report("lrpc_roundtrip", t1 - t0, N_CHEAP);
    munmap(s, PAGE);
    return 0;
}

// ---------------------------------------------------------------------------
// map_unmap: map one anonymous page, populated, at a fixed address; unmap it.

static int bench_map_unmap(void) {
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_POPULATE;
    uint64_t t0 = 0;
    for (int i = 0; i < WARMUP + N_CHEAP; i++) {
        if (i == WARMUP) t0 = rdtsc();
        void *p = mmap(FIXED_MAP_ADDR, PAGE, PROT_READ | PROT_WRITE, flags, -1, 0);
        if (p != FIXED_MAP_ADDR) return fail("map_unmap", "mmap: %s", strerror(errno));
        if (munmap(p, PAGE) != 0) return fail("map_unmap", "munmap: %s", strerror(errno));
    }
    uint64_t t1 = rdtsc();
    report("map_unmap", t1 - t0, N_CHEAP);
    return 0;
}

// ---------------------------------------------------------------------------
// Virtual-memory primitives (Appel & Li). A region of 100 touched (resident,
// dirty) pages, reused by every benchmark below.

static char *region;

static int make_region(void) {
    region = mmap(NULL, (size_t)REGION_PAGES * PAGE, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (region == MAP_FAILED) return -1;
    for (int i = 0; i < REGION_PAGES; i++) region[(size_t)i * PAGE] = 1;
    return 0;
}

// dirty: ask the kernel whether one page is dirty. Linux's only user-visible
// answer is the soft-dirty bit (55) of the page's /proc/self/pagemap entry: one
// pread of 8 bytes per query. pagemap_read() walks from the page to the next 2 MB
// boundary whatever the read size, so the cost depends on where the page lies;
// the result uses the last page of a 2 MB block (one entry walked, Linux's best
// case), and the first page of a block (512 entries walked) is printed as info.
static long dirty_query_cost(int fd, char *page, uint64_t *acc) {
    off_t off = (off_t)((uintptr_t)page / PAGE) * 8;
    uint64_t entry = 0;
    uint64_t t0 = 0;
    for (int i = 0; i < WARMUP + N_CHEAP; i++) {
        if (i == WARMUP) t0 = rdtsc();
        if (pread(fd, &entry, 8, off) != 8) return -1;
        *acc &= entry;
    }
    return (long)(rdtsc() - t0);
}

static int bench_dirty(void) {
    const uintptr_t block = 0x200000000000UL + (2UL << 20);  // 2 MB aligned
    char *best = (char *)(block - PAGE), *worst = (char *)block;
    const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
    if (mmap(best, 2 * PAGE, PROT_READ | PROT_WRITE, flags, -1, 0) != best)
        return fail("dirty", "mmap: %s", strerror(errno));
    best[0] = 1;
    worst[0] = 1;
    int fd = open("/proc/self/pagemap", O_RDONLY);
    if (fd < 0) return fail("dirty", "open /proc/self/pagemap: %s", strerror(errno));
    uint64_t acc_best = ~0ULL, acc_worst = ~0ULL;
    long best_ticks = dirty_query_cost(fd, best, &acc_best);
    long worst_ticks = dirty_query_cost(fd, worst, &acc_worst);
    close(fd);
    munmap(best, 2 * PAGE);
    if (best_ticks < 0 || worst_ticks < 0) return fail("dirty", "pread pagemap: %s", strerror(errno));
    // Refuse a number for a query that does not actually answer "dirty?".
    const uint64_t want = (1ULL << 63) | (1ULL << 55);  // present, soft-dirty
    if ((acc_best & want) != want || (acc_worst & want) != want)
        return fail("dirty", "pagemap entry %#llx lacks present/soft-dirty bits", (unsigned long long)acc_best);
    info("dirty: first page of a 2 MB block (512 entries walked): %.1f", (double)worst_ticks / N_CHEAP);
    report("dirty", (uint64_t)best_ticks, N_CHEAP);
    return 0;
}

// prot/unprot: alternate so each call really changes the protection (mprotect to
// the protection a page already has returns early on Linux). Each call is timed
// on its own, so each result is the cost of one call alone.
static int bench_prot_unprot(const char *prot_name, const char *unprot_name, int pages, int n) {
    size_t len = (size_t)pages * PAGE;
    uint64_t prot_ticks = 0, unprot_ticks = 0;
    for (int i = 0; i < WARMUP + n; i++) {
        uint64_t a = rdtsc();
        int r1 = mprotect(region, len, PROT_READ);
        uint64_t b = rdtsc();
        int r2 = mprotect(region, len, PROT_READ | PROT_WRITE);
        uint64_t c = rdtsc();
        if (r1 != 0 || r2 != 0) return fail(prot_name, "mprotect: %s", strerror(errno));
        if (i >= WARMUP) {
            prot_ticks += b - a;
            unprot_ticks += c - b;
        }
    }
    report(prot_name, prot_ticks, n);
    report(unprot_name, unprot_ticks, n);
    return 0;
}

// The SIGSEGV handler serves trap, appel1 and appel2; what it does depends on the mode.
enum fault_mode { FAULT_NONE, FAULT_TRAP, FAULT_APPEL1, FAULT_APPEL2 };
static volatile enum fault_mode fault_mode;
static volatile uint64_t fault_count;
static char *volatile appel1_unprotected;  // the one page appel1 leaves writable

static void on_sigsegv(int sig, siginfo_t *si, void *uctx) {
    (void)uctx;
    char *addr = si->si_addr;
    if (fault_mode == FAULT_NONE || addr < region || addr >= region + (size_t)REGION_PAGES * PAGE) {
        // Not ours: a real bug. Die loudly instead of looping.
        signal(sig, SIG_DFL);
        return;
    }
    char *page = (char *)((uintptr_t)addr & ~(uintptr_t)(PAGE - 1));
    fault_count++;
    if (fault_mode == FAULT_APPEL1 && appel1_unprotected)
        mprotect(appel1_unprotected, PAGE, PROT_READ);
    mprotect(page, PAGE, PROT_READ | PROT_WRITE);
    if (fault_mode == FAULT_APPEL1) appel1_unprotected = page;
}

static int install_segv(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_sigsegv;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    return sigaction(SIGSEGV, &sa, NULL);
}

static inline void touch(char *p, int v) { *(volatile char *)p = (char)v; }

// trap: a write to a read-only page, SIGSEGV, the handler unprotects it, the
// write is restarted. Only the write is timed; re-protecting is set-up.
static int bench_trap(void) {
    fault_mode = FAULT_TRAP;
    fault_count = 0;
    uint64_t ticks = 0;
    for (int i = 0; i < WARMUP + N_CHEAP; i++) {
        if (mprotect(region, PAGE, PROT_READ) != 0) return fail("trap", "mprotect: %s", strerror(errno));
        uint64_t a = rdtsc();
        touch(region, i);
        uint64_t b = rdtsc();
        if (i >= WARMUP) ticks += b - a;
    }
    fault_mode = FAULT_NONE;
    if (fault_count != WARMUP + N_CHEAP)
        return fail("trap", "%llu faults, expected %d", (unsigned long long)fault_count, WARMUP + N_CHEAP);
    report("trap", ticks, N_CHEAP);
    return 0;
}

// appel1: all 100 pages protected but the last one touched; touching the next
// page (cyclically) faults, the handler protects the previous page and unprotects
// the faulting one: prot1 + trap + unprot per access.
static int bench_appel1(void) {
    if (mprotect(region, (size_t)REGION_PAGES * PAGE, PROT_READ) != 0)
        return fail("appel1", "mprotect: %s", strerror(errno));
    appel1_unprotected = NULL;
    fault_mode = FAULT_APPEL1;
    fault_count = 0;
    uint64_t t0 = 0;
    for (int i = 0; i < WARMUP + N_CHEAP; i++) {
        if (i == WARMUP) t0 = rdtsc();
        touch(region + (size_t)(i % REGION_PAGES) * PAGE, i);
    }
    uint64_t t1 = rdtsc();
    fault_mode = FAULT_NONE;
    mprotect(region, (size_t)REGION_PAGES * PAGE, PROT_READ | PROT_WRITE);
    if (fault_count != WARMUP + N_CHEAP)
        return fail("appel1", "%llu faults, expected %d", (unsigned long long)fault_count, WARMUP + N_CHEAP);
    report("appel1", t1 - t0, N_CHEAP);
    return 0;
}

// appel2: protect all 100 pages with one call, touch each, the handler unprotects
// the faulting page: (prot100 + 100 x (trap + unprot1)) / 100, i.e. per page.
// Counted in pages like the result: warm-up 1000 pages (10 rounds), then 10000
// pages (100 rounds).
static int bench_appel2(void) {
    const int warm_rounds = WARMUP / REGION_PAGES, rounds = N_CHEAP / REGION_PAGES;
    fault_mode = FAULT_APPEL2;
    fault_count = 0;
    uint64_t t0 = 0;
    for (int i = 0; i < warm_rounds + rounds; i++) {
        if (i == warm_rounds) t0 = rdtsc();
        if (mprotect(region, (size_t)REGION_PAGES * PAGE, PROT_READ) != 0)
            return fail("appel2", "mprotect: %s", strerror(errno));
        for (int p = 0; p < REGION_PAGES; p++) touch(region + (size_t)p * PAGE, i);
    }
    uint64_t t1 = rdtsc();
    fault_mode = FAULT_NONE;
    if (fault_count != (uint64_t)(warm_rounds + rounds) * REGION_PAGES)
        return fail("appel2", "%llu faults, expected %d", (unsigned long long)fault_count,
                    (warm_rounds + rounds) * REGION_PAGES);
    report("appel2", t1 - t0, (uint64_t)rounds * REGION_PAGES);
    return 0;
}

// ---------------------------------------------------------------------------
// fork_exit_wait: fork a process with 64 touched pages; the child _exits at once,
// the parent waitpids for it.

static int bench_fork_exit_wait(void) {
    char *mem = mmap(NULL, (size_t)TOUCHED_PAGES * PAGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (mem == MAP_FAILED) return fail("fork_exit_wait", "mmap: %s", strerror(errno));
    for (int i = 0; i < TOUCHED_PAGES; i++) mem[(size_t)i * PAGE] = (char)i;
    uint64_t t0 = 0;
    for (int i = 0; i < WARMUP_PROC + N_PROC; i++) {
        if (i == WARMUP_PROC) t0 = rdtsc();
        pid_t pid = fork();
        if (pid < 0) return fail("fork_exit_wait", "fork: %s", strerror(errno));
        if (pid == 0) _exit(0);
        if (reap(pid) != 0) return fail("fork_exit_wait", "child did not exit 0");
    }
    uint64_t t1 = rdtsc();
    munmap(mem, (size_t)TOUCHED_PAGES * PAGE);
    report("fork_exit_wait", t1 - t0, N_PROC);
    return 0;
}

// spawn_exit_wait: posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) + execve) of this
// same static program, which exits at once (main's "exit" argument), then waitpid.

extern char **environ;

static int bench_spawn_exit_wait(void) {
    char *argv[] = {"linux_bench", "exit", NULL};
    uint64_t t0 = 0;
    for (int i = 0; i < WARMUP_PROC + N_PROC; i++) {
        if (i == WARMUP_PROC) t0 = rdtsc();
        pid_t pid;
        int e = posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ);
        if (e != 0) return fail("spawn_exit_wait", "posix_spawn: %s", strerror(e));
        if (reap(pid) != 0) return fail("spawn_exit_wait", "child did not exit 0");
    }
    uint64_t t1 = rdtsc();
    report("spawn_exit_wait", t1 - t0, N_PROC);
    return 0;
}

// ---------------------------------------------------------------------------

static int run_all(void) {
    pin_to_cpu0();
    int failures = 0;
    failures += bench_null_syscall() != 0;
    failures += bench_exception_roundtrip() != 0;
    failures += bench_signal_roundtrip() != 0;
    failures += bench_pipe_roundtrip() != 0;
    failures += bench_yield_pair() != 0;
    failures += bench_map_unmap() != 0;
    if (make_region() != 0 || install_segv() != 0) {
        fail("vm", "region set-up failed: %s", strerror(errno));
        failures++;
    } else {
        failures += bench_dirty() != 0;
        failures += bench_prot_unprot("prot1", "unprot1", 1, N_CHEAP) != 0;
        failures += bench_prot_unprot("prot100", "unprot100", REGION_PAGES, N_EXPENSIVE) != 0;
        failures += bench_trap() != 0;
        failures += bench_appel1() != 0;
        failures += bench_appel2() != 0;
    }
    failures += bench_shm_roundtrip() != 0;
    failures += bench_lrpc_roundtrip() != 0;
    failures += bench_fork_exit_wait() != 0;
    failures += bench_spawn_exit_wait() != 0;
    // pct_roundtrip, pct_async, udp_echo: no Linux counterpart measured; nothing printed.
    info("%d benchmark(s) failed", failures);
    return 0;
}

// ---------------------------------------------------------------------------
// PID 1 duties: a console, /proc and /sys, run the benchmarks in an ordinary child
// process (signals to PID 1 take special paths), then stop QEMU.

static void print_file_line(const char *label, const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return;
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    info("%s: %s", label, buf);
}

static void describe_system(void) {
    struct utsname u;
    if (uname(&u) == 0) info("kernel: %s %s %s", u.sysname, u.release, u.version);
    print_file_line("clocksource", "/sys/devices/system/clocksource/clocksource0/current_clocksource");
    static const char *vulns[] = {"meltdown", "spectre_v1", "spectre_v2", "retbleed", "mds"};
    for (size_t i = 0; i < sizeof vulns / sizeof vulns[0]; i++) {
        char path[128];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/vulnerabilities/%s", vulns[i]);
        print_file_line(vulns[i], path);
    }
    info("cpus online: %ld", sysconf(_SC_NPROCESSORS_ONLN));
}

static void stop_qemu(int code) {
    fflush(stdout);
    tcdrain(STDOUT_FILENO);  // let the UART drain before QEMU disappears
    if (ioperm(DEBUG_EXIT_PORT, 4, 1) == 0) outb((unsigned char)code, DEBUG_EXIT_PORT);
    // No debug-exit device: power off instead (the harness sees a non-33 exit).
    reboot(RB_POWER_OFF);
    for (;;) pause();
}

static int init_main(void) {
    mkdir("/dev", 0755);
    mkdir("/proc", 0555);
    mkdir("/sys", 0555);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    // The kernel opens /dev/console for init only if the initramfs has the node;
    // with devtmpfs mounted now, open it ourselves.
    if (fcntl(STDOUT_FILENO, F_GETFD) < 0) {
        int fd = open("/dev/console", O_RDWR | O_NOCTTY);
        if (fd >= 0) {
            dup2(fd, 0); dup2(fd, 1); dup2(fd, 2);
            if (fd > 2) close(fd);
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    describe_system();
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) _exit(run_all());
    int ok = pid > 0 && reap(pid) == 0;
    if (!ok) info("benchmark process died");
    printf(ok ? "BENCH-DONE\n" : "BENCH-ABORTED\n");
    stop_qemu(ok ? EXIT_SUCCESS_CODE : EXIT_FAILURE_CODE);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exit") == 0) _exit(0);  // spawn_exit_wait's child
    if (getpid() == 1) return init_main();
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = run_all();
    printf("BENCH-DONE\n");
    return rc;
}
