/* probe: a static Linux program (musl) that checks the Linux personality's
   answers to bad input and its process, pipe and memory calls. Built with
   musl-gcc -static; runs unmodified on Linux too (tests/linux). Prints
   "probe: all N checks passed" or one FAIL line per failed check. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int checks, failures;
static volatile int sigpipes;
static void on_sigpipe(int sig) { sigpipes += sig == SIGPIPE; }
static volatile int usr1s;
static void on_usr1(int sig) { usr1s += sig == SIGUSR1; }

#define CHECK(cond, what)                                                        \
  do {                                                                           \
    checks++;                                                                    \
    if (!(cond)) {                                                               \
      failures++;                                                                \
      printf("probe: FAIL %s (line %d, errno %d)\n", what, __LINE__, errno);     \
    }                                                                            \
  } while (0)

int main(int argc, char** argv) {
  (void)argc;
  setvbuf(stdout, NULL, _IONBF, 0);
  errno = 0;
  CHECK(syscall(4000) == -1 && errno == ENOSYS, "an unknown system call gets ENOSYS");
  CHECK(write(1, (void*)0x10, 4) == -1 && errno == EFAULT, "write from an unmapped address gets EFAULT");
  CHECK(read(0, (void*)0xffff800000000000ull, 4) == -1 && errno == EFAULT, "read into a kernel address gets EFAULT");
  CHECK(open((const char*)0x20, O_RDONLY) == -1 && errno == EFAULT, "open of a bad path pointer gets EFAULT");
  CHECK(open("/nonexistent", O_RDONLY) == -1 && errno == ENOENT, "open of a missing file gets ENOENT");
  CHECK(close(55) == -1 && errno == EBADF, "close of a bad descriptor gets EBADF");

  int fd = open("/tmp/probe.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
  CHECK(fd >= 0, "create a file");
  CHECK(write(fd, "abc", 3) == 3, "write a file");
  char buf[16] = {0};
  CHECK(lseek(fd, 0, SEEK_SET) == 0 && read(fd, buf, sizeof buf) == 3 && !memcmp(buf, "abc", 3), "read it back");
  CHECK(read(fd, buf, sizeof buf) == 0, "read past the end gets 0");
  close(fd);

  char* m = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(m != MAP_FAILED, "mmap 1 MiB anonymous");
  if (m != MAP_FAILED) {
    m[0] = 1, m[(1 << 20) - 1] = 2;
    CHECK(m[0] == 1 && m[(1 << 20) - 1] == 2 && m[4096] == 0, "its pages are zeroed and writable");
    CHECK(munmap(m, 1 << 20) == 0, "munmap it");
  }
  void* big = malloc(64 << 20);
  CHECK(big != NULL, "malloc 64 MiB (reserved, not touched)");
  free(big);

  int p[2];
  CHECK(pipe(p) == 0, "pipe");
  pid_t child = fork();
  if (child == 0) {
    close(p[0]);
    write(p[1], "from child", 10);
    _exit(42);
  }
  close(p[1]);
  int n = read(p[0], buf, sizeof buf);
  CHECK(n == 10 && !memcmp(buf, "from child", 10), "a forked child writes into a pipe");
  CHECK(read(p[0], buf, sizeof buf) == 0, "the pipe reads EOF once the child is gone");
  int status = 0;
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 42,
        "wait gets the child's exit status");
  CHECK(waitpid(-1, &status, WNOHANG) == -1 && errno == ECHILD, "no children left: ECHILD");
  close(p[0]);

  // select: a pipe with data is readable, its write end writable; a closed
  // descriptor gets EBADF, a bad set pointer EFAULT; an empty wait times out.
  CHECK(pipe(p) == 0 && write(p[1], "x", 1) == 1, "a pipe with a byte in it");
  fd_set rs, ws;
  FD_ZERO(&rs);
  FD_ZERO(&ws);
  FD_SET(p[0], &rs);
  FD_SET(p[1], &ws);
  struct timeval tv = {1, 0};
  CHECK(select(p[1] + 1, &rs, &ws, NULL, &tv) == 2 && FD_ISSET(p[0], &rs) && FD_ISSET(p[1], &ws),
        "select finds the pipe readable and writable");
  FD_ZERO(&rs);
  FD_SET(55, &rs);
  CHECK(select(56, &rs, NULL, NULL, &tv) == -1 && errno == EBADF, "select on a closed descriptor gets EBADF");
  CHECK(select(p[1] + 1, (fd_set*)0x10, NULL, NULL, &tv) == -1 && errno == EFAULT, "select with a bad set gets EFAULT");
  struct timeval zero = {0, 0};
  CHECK(select(0, NULL, NULL, NULL, &zero) == 0, "select with nothing to wait for and no time returns 0");
  close(p[0]);
  close(p[1]);

  CHECK(pipe(p) == 0, "a second pipe");
  close(p[0]);  /* before the fork: no reader anywhere */
  child = fork();
  if (child == 0) {
    write(p[1], "x", 1);  /* nobody reads: SIGPIPE */
    _exit(0);
  }
  close(p[1]);
  CHECK(waitpid(child, &status, 0) == child && WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE,
        "writing to a pipe nobody reads ends the writer with SIGPIPE");

  /* A caught signal from another process reaches a child that is busy
     making system calls (nothing else happening in the system), at its
     next call: it must not wait for some unrelated event. */
  CHECK(pipe(p) == 0, "a pipe for the signal test");
  child = fork();
  if (child == 0) {
    signal(SIGUSR1, on_usr1);
    write(p[1], "r", 1);  /* ready: the handler is in place */
    for (long i = 0; i < 2000000 && !usr1s; i++) getppid();
    _exit(usr1s ? 0 : 1);
  }
  CHECK(read(p[0], buf, 1) == 1, "the child says it is ready");
  CHECK(kill(child, SIGUSR1) == 0, "kill it with SIGUSR1");
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "a child busy in system calls runs its SIGUSR1 handler promptly");
  close(p[0]);
  close(p[1]);

  /* With a handler, SIGPIPE runs it and the write fails with EPIPE. */
  CHECK(pipe(p) == 0, "a third pipe");
  close(p[0]);
  signal(SIGPIPE, on_sigpipe);
  errno = 0;
  CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE && sigpipes == 1,
        "a caught SIGPIPE runs its handler and the write fails with EPIPE");
  signal(SIGPIPE, SIG_IGN);
  CHECK(write(p[1], "x", 1) == -1 && errno == EPIPE && sigpipes == 1, "an ignored SIGPIPE: only EPIPE");
  signal(SIGPIPE, SIG_DFL);
  close(p[1]);
  CHECK(pread(0, buf, 1, -1) == -1 && errno == EINVAL, "pread at a negative offset gets EINVAL");

  child = fork();
  if (child == 0) {
    char* args[] = {"/tests/run-all.sh", NULL};
    execve("/nonexistent", args, NULL);
    int e1 = errno;
    execve("/tests/run-all.sh", args, NULL); /* a script without its shell: ENOEXEC */
    int e2 = errno;
    execve("/bin/dynamic", args, NULL);
    int e3 = errno;
    _exit(e1 == ENOENT && e2 == ENOEXEC && e3 == ENOEXEC ? 0 : 1);
  }
  CHECK(waitpid(child, &status, 0) == child && WIFEXITED(status) && WEXITSTATUS(status) == 0,
        "execve refuses missing, non-ELF and dynamic programs and the caller goes on");

  /* A fork bomb: forks until the system says no; everyone then exits. */
  CHECK(pipe(p) == 0, "a fourth pipe");
  int forks = 0;
  for (;;) {
    pid_t c = fork();
    if (c < 0) break;
    if (c == 0) {
      close(p[1]);
      read(p[0], buf, 1); /* until the parent closes its end */
      _exit(0);
    }
    if (++forks > 1000) break;
  }
  CHECK(forks > 2 && forks <= 1000 && (errno == EAGAIN || errno == ENOMEM), "a fork bomb is bounded");
  close(p[1]);
  int reaped = 0;
  while (wait(&status) > 0) reaped++;
  CHECK(reaped == forks, "its processes all end and are reaped");
  printf("probe: fork bomb stopped after %d processes\n", forks);

  CHECK(getppid() > 0, "getppid");
  if (failures) printf("probe: %s: %d of %d checks failed\n", argv[0], failures, checks);
  else printf("probe: %s: all %d checks passed\n", argv[0], checks);
  return failures ? 1 : 0;
}
