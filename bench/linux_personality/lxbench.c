/* lxbench: one static Linux program (musl-gcc -static), run unmodified on
   Linux and on ExOS's Linux personality, timing the same operations.
   Under QEMU's -icount shift=0 the TSC advances once per guest instruction,
   so every rdtsc delta is an instruction count.

   Prints "BENCH <name> <instructions per op>" lines, then "BENCH-DONE".
   The operations (docs/benchmarks.md, "Linux programs on ExOS"):
     lx_getppid         getppid() in a loop
     lx_pipe_roundtrip  one byte to a child and back over two pipes
     lx_fork_exit_wait  fork, the child _exits, the parent waits
     lx_shell_pipeline  /bin/sh -c "seq 10000 | sort -n | tail -1" (busybox), output discarded */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

enum { WARMUP = 100, N_CHEAP = 10000, N_PIPE = 1000, N_FORK = 100, N_SHELL = 5 };

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
  return (uint64_t)hi << 32 | lo;
}

static void report(const char* name, uint64_t ticks, uint64_t ops) {
  printf("BENCH %s %.1f\n", name, (double)ticks / (double)ops);
}

static void bench_getppid(void) {
  for (int i = 0; i < WARMUP; i++) syscall(SYS_getppid);
  uint64_t t0 = rdtsc();
  for (int i = 0; i < N_CHEAP; i++) syscall(SYS_getppid);
  report("lx_getppid", rdtsc() - t0, N_CHEAP);
}

static void bench_pipe(void) {
  int to[2], from[2];
  char c = 'x';
  if (pipe(to) || pipe(from)) return;
  pid_t pid = fork();
  if (pid == 0) {
    close(to[1]);
    close(from[0]);
    for (;;) {
      if (read(to[0], &c, 1) != 1) _exit(0);
      write(from[1], &c, 1);
    }
  }
  for (int i = 0; i < WARMUP; i++) write(to[1], &c, 1), read(from[0], &c, 1);
  uint64_t t0 = rdtsc();
  for (int i = 0; i < N_PIPE; i++) write(to[1], &c, 1), read(from[0], &c, 1);
  report("lx_pipe_roundtrip", rdtsc() - t0, N_PIPE);
  close(to[1]);
  close(from[0]);
  waitpid(pid, NULL, 0);
}

static void bench_fork(void) {
  for (int i = 0; i < 10; i++) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
  }
  uint64_t t0 = rdtsc();
  for (int i = 0; i < N_FORK; i++) {
    pid_t p = fork();
    if (p == 0) _exit(0);
    waitpid(p, NULL, 0);
  }
  report("lx_fork_exit_wait", rdtsc() - t0, N_FORK);
}

// A whole small shell pipeline: three programs started by a shell, a
// pipe between each, 10,000 lines sorted.
static int shell_pipeline(void) {
  pid_t p = fork();
  if (p == 0) {
    char* argv[] = {"sh", "-c", "seq 10000 | sort -n | tail -1 > /dev/null", NULL};
    char* envp[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", NULL};
    execve("/bin/sh", argv, envp);
    _exit(127);
  }
  int status = 0;
  waitpid(p, &status, 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void bench_shell(void) {
  if (!shell_pipeline()) {
    printf("BENCH-ERROR lx_shell_pipeline /bin/sh -c failed\n");
    return;
  }
  uint64_t t0 = rdtsc();
  for (int i = 0; i < N_SHELL; i++) shell_pipeline();
  report("lx_shell_pipeline", rdtsc() - t0, N_SHELL);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  bench_getppid();
  bench_pipe();
  bench_fork();
  bench_shell();
  printf("BENCH-DONE\n");
  return 0;
}
