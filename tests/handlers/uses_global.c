/* Not a valid handler: it keeps state in a global variable, which needs a
 * relocation; the ExOS loader refuses the section. */
#include "exos/ash.h"

static uint64_t seen;

ASH_HANDLER uint64_t uses_global(const uint8_t* frame, uint64_t len, uint8_t* buf) {
  (void)frame, (void)buf;
  seen += len;
  return seen;
}
