// The RAM file system (ramfs.h), one for all the processes descended from
// the one that loaded it: the node table and the contents written since
// live in shared memory (vm::Kind::Shared: fork passes the same frames on),
// the archive's contents in a read-only copy every process inherits. A lock
// in the shared block orders the processes; one that dies holding it loses
// it to the next that asks.
#include "ramfs.h"

#include "linux_abi.h"
#include "shared_lock.h"
#include "exos/exos.h"
#include "exos/vm.h"

namespace exos::linux::fs {
using namespace exos::linux::abi;
namespace {

constexpr int kMaxLinkDepth = 8;
// Contents written since boot, all processes together: 2 MiB unless the
// kernel command line says ramfs_mb=N (up to 64). Every page of it is
// shared at every fork (fork costs grow with it), so the default is small.
constexpr uint64_t kDefaultArenaBytes = 2ull << 20, kMaxArenaBytes = 64ull << 20;
uint64_t arena_bytes = kDefaultArenaBytes;

// A block of the arena: a header, then its bytes; free blocks are found by
// walking (first fit) and merged with a free successor when freed.
struct Block {
  uint64_t size;  // bytes after the header
  uint64_t free;
};
struct SharedState {
  SharedLock lock;
  Node nodes[kMaxNodes];
};
SharedState* shared;
uint8_t* arena;
#define nodes (shared->nodes)

// Everything below runs under the lock (Locked in each entry point).
struct Locked : linux::Locked {
  Locked() : linux::Locked(shared->lock) {}
};

void* arena_alloc(uint64_t size) {
  size = (size + 15) & ~15ull;
  for (uint64_t at = 0; at < arena_bytes;) {
    auto* b = reinterpret_cast<Block*>(arena + at);
    if (b->free) {
      // Merge free successors first.
      for (;;) {
        uint64_t next = at + sizeof(Block) + b->size;
        if (next >= arena_bytes) break;
        auto* n = reinterpret_cast<Block*>(arena + next);
        if (!n->free) break;
        b->size += sizeof(Block) + n->size;
      }
      if (b->size >= size) {
        if (b->size >= size + sizeof(Block) + 64) {
          auto* rest = reinterpret_cast<Block*>(arena + at + sizeof(Block) + size);
          rest->size = b->size - size - sizeof(Block);
          rest->free = 1;
          b->size = size;
        }
        b->free = 0;
        return b + 1;
      }
    }
    at += sizeof(Block) + b->size;
  }
  return nullptr;
}
void arena_free(void* p) {
  if (p) (static_cast<Block*>(p) - 1)->free = 1;
}

bool name_is(const Node& n, const char* s, size_t len) {
  return strlen(n.name) == len && memcmp(n.name, s, len) == 0;
}

int child(int dir, const char* s, size_t len) {
  if (len == 1 && s[0] == '.') return dir;
  if (len == 2 && s[0] == '.' && s[1] == '.') return dir == kRoot ? kRoot : nodes[dir].parent;
  for (int i = 1; i < kMaxNodes; i++)
    if (nodes[i].type != T_FREE && nodes[i].parent == dir && name_is(nodes[i], s, len)) return i;
  return -ENOENT;
}

int resolve(const char* path, int cwd, bool follow_last, int depth) {
  if (!path) return -EFAULT;
  if (!*path) return -ENOENT;
  if (depth > kMaxLinkDepth) return -ELOOP;
  int at = *path == '/' ? kRoot : cwd;
  const char* p = path;
  for (;;) {
    while (*p == '/') p++;
    if (!*p) return at;
    const char* start = p;
    while (*p && *p != '/') p++;
    size_t len = static_cast<size_t>(p - start);
    if (len > kNameMax) return -ENAMETOOLONG;
    if (nodes[at].type != T_DIR) return -ENOTDIR;
    int next = child(at, start, len);
    if (next < 0) return next;
    bool last = true;
    for (const char* q = p; *q; q++)
      if (*q != '/') last = false;
    if (nodes[next].type == T_LINK && (!last || follow_last)) {
      char target[256];
      uint64_t n = nodes[next].size < sizeof(target) - 1 ? nodes[next].size : sizeof(target) - 1;
      memcpy(target, nodes[next].data, n);
      target[n] = 0;
      next = resolve(target, at, true, depth + 1);
      if (next < 0) return next;
    }
    if (!last && *p == '/' && nodes[next].type != T_DIR) return -ENOTDIR;
    at = nodes[next].primary >= 0 ? nodes[next].primary : next;
  }
}

int free_node() {
  for (int i = 1; i < kMaxNodes; i++)
    if (nodes[i].type == T_FREE) return i;
  return -ENOSPC;
}

void release(Node& n) {
  if (n.owned && n.data) arena_free(n.data);
  n = Node{};
}

uint64_t hex(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) {
    uint8_t c = p[i];
    v = v << 4 | (c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return v;
}

// Makes every directory on `path` (relative to the root), returning the last.
int make_dirs(const char* path, size_t len) {
  int at = kRoot;
  size_t i = 0;
  while (i < len) {
    while (i < len && path[i] == '/') i++;
    size_t s = i;
    while (i < len && path[i] != '/') i++;
    if (i == s) break;
    int c = child(at, path + s, i - s);
    if (c < 0) {
      char name[kNameMax + 1];
      size_t n = i - s > kNameMax ? kNameMax : i - s;
      memcpy(name, path + s, n);
      name[n] = 0;
      c = create(at, name, T_DIR, 0755);
      if (c < 0) return c;
    }
    at = c;
  }
  return at;
}

}  // namespace

uint32_t type_bits(Type t) {
  switch (t) {
    case T_DIR: return 0040000;
    case T_LINK: return 0120000;
    case T_CHAR: return 0020000;
    default: return 0100000;
  }
}

Node& node(int i) { return nodes[i]; }

bool init() {
  if (!shared) {
    char mb[8];
    if (cmdline_get("ramfs_mb", mb, sizeof(mb))) {
      uint64_t n = 0;
      for (char* c = mb; *c >= '0' && *c <= '9'; c++) n = n * 10 + static_cast<uint64_t>(*c - '0');
      if (n >= 1 && (n << 20) <= kMaxArenaBytes) arena_bytes = n << 20;
    }
    uint64_t va = 0, data = 0;
    if (vm::map(&va, sizeof(SharedState), veneer::PERM_WRITE, vm::Kind::Shared) != veneer::OK) return false;
    if (vm::map(&data, arena_bytes, veneer::PERM_WRITE, vm::Kind::Shared) != veneer::OK) return false;
    shared = reinterpret_cast<SharedState*>(va);
    arena = reinterpret_cast<uint8_t*>(data);
  }
  Locked l;
  auto* first = reinterpret_cast<Block*>(arena);
  first->size = arena_bytes - sizeof(Block);
  first->free = 1;
  for (Node& n : nodes) n = Node{};
  nodes[kRoot].type = T_DIR;
  nodes[kRoot].mode = 0755;
  nodes[kRoot].parent = kRoot;
  int dev = create(kRoot, "dev", T_DIR, 0755);
  struct {
    const char* name;
    uint32_t rdev;
  } devices[] = {{"null", 0x103}, {"zero", 0x105}, {"console", 0x501}, {"tty", 0x500}};
  for (auto& d : devices) {
    int n = create(dev, d.name, T_CHAR, 0666);
    if (n >= 0) nodes[n].rdev = d.rdev;
  }
  create(kRoot, "tmp", T_DIR, 01777);
  return true;
}

int lookup(const char* path, int cwd, bool follow_last) {
  Locked l;
  return resolve(path, cwd, follow_last, 0);
}

int parent_of(const char* path, int cwd, char name[kNameMax + 1]) {
  Locked l;
  if (!path) return -EFAULT;
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/') len--;
  size_t slash = len;
  while (slash > 0 && path[slash - 1] != '/') slash--;
  size_t nlen = len - slash;
  if (nlen == 0 || nlen > kNameMax) return nlen ? -ENAMETOOLONG : -EEXIST;
  memcpy(name, path + slash, nlen);
  name[nlen] = 0;
  int dir;
  if (slash == 0) {
    dir = cwd;
  } else {
    char dpath[256];
    if (slash >= sizeof(dpath)) return -ENAMETOOLONG;
    memcpy(dpath, path, slash);
    dpath[slash] = 0;
    dir = lookup(dpath, cwd, true);
  }
  if (dir >= 0 && nodes[dir].type != T_DIR) return -ENOTDIR;
  return dir;
}

int create(int dir, const char* name, Type type, uint32_t mode) {
  Locked l;
  if (child(dir, name, strlen(name)) >= 0) return -EEXIST;
  int i = free_node();
  if (i < 0) return i;
  Node& n = nodes[i];
  n = Node{};
  memcpy(n.name, name, strlen(name) + 1);
  n.parent = dir;
  n.type = type;
  n.mode = mode & 07777;
  return i;
}

int unlink(int dir, const char* name, bool dir_wanted) {
  Locked l;
  int i = child(dir, name, strlen(name));
  if (i < 0) return i;
  if (i == kRoot || !strcmp(name, ".") || !strcmp(name, "..")) return -EBUSY;
  if (dir_wanted) {
    if (nodes[i].type != T_DIR) return -ENOTDIR;
    for (int k = 1; k < kMaxNodes; k++)
      if (nodes[k].type != T_FREE && nodes[k].parent == i) return -ENOTEMPTY;
  } else if (nodes[i].type == T_DIR) {
    return -EISDIR;
  }
  Node& n = nodes[i];
  if (n.primary >= 0) {  // one name of several goes
    nodes[n.primary].links--;
    n = Node{};
    return 0;
  }
  if (n.links > 1) {  // the contents pass to another name
    int heir = -1;
    for (int k = 1; k < kMaxNodes && heir < 0; k++)
      if (nodes[k].type != T_FREE && nodes[k].primary == i) heir = k;
    for (int k = 1; k < kMaxNodes; k++)
      if (nodes[k].type != T_FREE && nodes[k].primary == i) nodes[k].primary = heir;
    Node& h = nodes[heir];
    h.primary = -1;
    h.links = n.links - 1;
    h.mode = n.mode, h.owned = n.owned, h.size = n.size, h.cap = n.cap, h.data = n.data, h.mtime = n.mtime;
    n = Node{};
    return 0;
  }
  release(nodes[i]);
  return 0;
}

int link(int n, int dir, const char* name) {
  Locked l;
  if (nodes[n].type != T_FILE) return -EPERM;
  if (nodes[n].primary >= 0) n = nodes[n].primary;
  int i = create(dir, name, T_FILE, nodes[n].mode);
  if (i < 0) return i;
  nodes[i].primary = n;
  nodes[n].links++;
  return 0;
}

int rename(int from_dir, const char* from, int to_dir, const char* to) {
  Locked l;
  int i = child(from_dir, from, strlen(from));
  if (i < 0) return i;
  for (int a = to_dir; a != kRoot; a = nodes[a].parent)
    if (a == i) return -EINVAL;  // into itself
  int old = child(to_dir, to, strlen(to));
  if (old == i) return 0;
  if (old >= 0) {
    if (nodes[old].type == T_DIR && nodes[i].type != T_DIR) return -EISDIR;
    if (nodes[old].type != T_DIR && nodes[i].type == T_DIR) return -ENOTDIR;
    int r = unlink(to_dir, to, nodes[old].type == T_DIR);
    if (r < 0) return r;
  }
  memcpy(nodes[i].name, to, strlen(to) + 1);
  nodes[i].parent = to_dir;
  return 0;
}

int truncate(int i, uint64_t size) {
  Locked l;
  Node& n = nodes[i];
  if (size > (256ull << 20)) return -EFBIG;
  if (!n.owned || size > n.cap) {
    uint64_t cap = size < 64 ? 64 : size;
    if (n.owned && cap < n.cap * 2) cap = n.cap * 2;
    auto* d = static_cast<uint8_t*>(arena_alloc(cap));
    if (!d) return -ENOSPC;
    uint64_t keep = n.size < size ? n.size : size;
    if (keep) memcpy(d, n.data, keep);
    if (n.owned && n.data) arena_free(n.data);
    n.data = d;
    n.cap = cap;
    n.owned = true;
  }
  if (size > n.size) memset(n.data + n.size, 0, size - n.size);
  n.size = size;
  return 0;
}

int64_t read(int i, uint64_t off, void* buf, uint64_t len) {
  Locked l;
  Node& n = nodes[i];
  if (off >= n.size) return 0;
  if (len > n.size - off) len = n.size - off;
  memcpy(buf, n.data + off, len);
  return static_cast<int64_t>(len);
}

int64_t write(int i, uint64_t off, const void* buf, uint64_t len) {
  Locked l;
  Node& n = nodes[i];
  if (off + len < off) return -EINVAL;
  if (off + len > n.size || !n.owned) {
    int r = truncate(i, off + len > n.size ? off + len : n.size);
    if (r < 0) return r;
  }
  memcpy(n.data + off, buf, len);
  return static_cast<int64_t>(len);
}

int dir_entry(int dir, uint64_t pos, uint64_t* next) {
  Locked l;
  for (uint64_t i = pos; i < kMaxNodes; i++)
    if (i != kRoot && nodes[i].type != T_FREE && nodes[i].parent == dir) {
      *next = i + 1;
      return static_cast<int>(i);
    }
  return -1;
}

int path_of(int n, char* buf, size_t size) {
  Locked l;
  int chain[64], depth = 0;
  for (int a = n; a != kRoot && depth < 64; a = nodes[a].parent) chain[depth++] = a;
  size_t at = 0;
  if (depth == 0) {
    if (size < 2) return -ERANGE;
    buf[0] = '/', buf[1] = 0;
    return 1;
  }
  for (int d = depth - 1; d >= 0; d--) {
    size_t len = strlen(nodes[chain[d]].name);
    if (at + 1 + len + 1 > size) return -ERANGE;
    buf[at++] = '/';
    memcpy(buf + at, nodes[chain[d]].name, len);
    at += len;
  }
  buf[at] = 0;
  return static_cast<int>(at);
}

int load_cpio(const uint8_t* a, uint64_t size) {
  Locked l;
  // Keep the archive: regular files point into this copy until written.
  uint64_t va = 0;
  if (vm::map(&va, size, veneer::PERM_WRITE) != veneer::OK) return -ENOMEM;
  memcpy(reinterpret_cast<void*>(va), a, size);
  vm::protect(va, size, veneer::PERM_READ);
  a = reinterpret_cast<const uint8_t*>(va);
  uint64_t off = 0;
  int files = 0;
  while (off + 110 <= size) {
    const uint8_t* h = a + off;
    if (memcmp(h, "070701", 6) && memcmp(h, "070702", 6)) return -EINVAL;
    uint64_t mode = hex(h + 14), filesize = hex(h + 54), namesize = hex(h + 94), mtime = hex(h + 46);
    uint64_t rmajor = hex(h + 78), rminor = hex(h + 86);
    if (namesize == 0 || off + 110 + namesize > size) return -EINVAL;
    const char* name = reinterpret_cast<const char*>(h + 110);
    uint64_t data = (off + 110 + namesize + 3) & ~3ull;
    if (data + filesize > size) return -EINVAL;
    off = (data + filesize + 3) & ~3ull;
    size_t nlen = namesize - 1;
    if (nlen == 10 && !memcmp(name, "TRAILER!!!", 10)) break;
    while (nlen && name[0] == '/') name++, nlen--;
    if (nlen >= 2 && name[0] == '.' && name[1] == '/') name += 2, nlen -= 2;
    if (nlen == 0 || (nlen == 1 && name[0] == '.')) continue;
    size_t slash = nlen;
    while (slash > 0 && name[slash - 1] != '/') slash--;
    int dir = make_dirs(name, slash);
    if (dir < 0) return dir;
    char leaf[kNameMax + 1];
    size_t llen = nlen - slash > kNameMax ? kNameMax : nlen - slash;
    memcpy(leaf, name + slash, llen);
    leaf[llen] = 0;
    uint32_t kind = mode & 0170000;
    Type t = kind == 0040000 ? T_DIR : kind == 0120000 ? T_LINK : kind == 0020000 ? T_CHAR : T_FILE;
    int n = child(dir, leaf, llen);
    if (n >= 0 && t == T_DIR && nodes[n].type == T_DIR) {
      nodes[n].mode = mode & 07777;
      continue;
    }
    if (n >= 0) unlink(dir, leaf, nodes[n].type == T_DIR);
    n = create(dir, leaf, t, static_cast<uint32_t>(mode));
    if (n < 0) return n;
    nodes[n].mtime = mtime;
    nodes[n].rdev = static_cast<uint32_t>(rmajor << 8 | rminor);
    if (t == T_FILE || t == T_LINK) {
      nodes[n].data = const_cast<uint8_t*>(a + data);
      nodes[n].size = filesize;
    }
    files++;
  }
  return files;
}

}  // namespace exos::linux::fs
