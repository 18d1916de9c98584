// The Linux personality's RAM file system: a tree of nodes in memory every
// process of the instance shares (ramfs.cc says how), filled from a newc cpio
// archive. Paths resolve against a current directory; symlinks are followed
// up to a depth.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace exos::linux::fs {

enum Type : uint8_t { T_FREE = 0, T_DIR, T_FILE, T_LINK, T_CHAR };
constexpr int kMaxNodes = 2048;
constexpr int kRoot = 0;
constexpr size_t kNameMax = 55;

struct Node {
  char name[kNameMax + 1];
  int32_t parent;
  uint32_t mode;     // permission bits and the file type bits, as st_mode
  Type type;
  bool owned;        // data is in the shared arena, not the archive's copy
  uint32_t rdev;     // character devices: (major << 8) | minor
  uint64_t size, cap;
  uint8_t* data;     // file contents, or a symlink's target
  uint64_t mtime;
  // Hard links: every name of a file but one is a node whose `primary` is
  // the node holding the contents (and `links`, the count of names); -1 on
  // the primary itself. Paths resolve to the primary.
  int32_t primary = -1;
  uint32_t links = 1;
};

Node& node(int i);
// An empty root with /dev and its devices, in memory shared with every
// process forked from here on (false: no memory for it).
bool init();
// Resolves `path` from directory `cwd`: the node, or a negative errno.
// follow_last: whether a symlink at the end is followed.
int lookup(const char* path, int cwd, bool follow_last = true);
// The directory that would hold `path`, and the last component's name.
int parent_of(const char* path, int cwd, char name[kNameMax + 1]);
// A new node named `name` in directory `dir` (or -EEXIST...).
int create(int dir, const char* name, Type type, uint32_t mode);
int unlink(int dir, const char* name, bool dir_wanted);
// A second name `name` in directory `dir` for regular file `n` (-EPERM for others).
int link(int n, int dir, const char* name);
int rename(int from_dir, const char* from, int to_dir, const char* to);
// File contents: resizes (zero-filling), reads and writes at an offset.
int truncate(int n, uint64_t size);
int64_t read(int n, uint64_t off, void* buf, uint64_t len);
int64_t write(int n, uint64_t off, const void* buf, uint64_t len);
// The i-th entry of a directory at or after position `pos` (its node, or
// -1 at the end); *next is where the one after it starts.
int dir_entry(int dir, uint64_t pos, uint64_t* next);
// The absolute path of node n into buf (size bytes); its length or -ERANGE.
int path_of(int n, char* buf, size_t size);
int load_cpio(const uint8_t* a, uint64_t size);
uint32_t type_bits(Type t);

}  // namespace exos::linux::fs
