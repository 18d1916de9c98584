#include "kernel/dev/framebuffer.h"

#include "kernel/console.h"
#include "kernel/memory.h"

namespace veneer {

namespace {

// const unsigned char ascii_bitmaps[128 * 16]: GRUB's ASCII font (from GNU
// Unifont), one byte per row, leftmost pixel in the top bit. Generated at
// build time from grub-common's /usr/share/grub/ascii.h (kernel/CMakeLists.txt).
#include "veneer_font.h"

constexpr int kGlyphW = 8, kGlyphH = 16;

struct Screen {
  uint8_t* base;
  uint32_t pitch, bytes_per_pixel;
  bool text;  // EGA text cells instead of pixels
  uint32_t fg, bg;
  int cols, rows, col, row;
};
Screen screen;
bool ready;

// Output before the framebuffer can be reached, replayed by init.
char early[4096];
uint32_t early_len;

void store_pixel(uint8_t* p, uint32_t v) {
  switch (screen.bytes_per_pixel) {
    case 4: *reinterpret_cast<volatile uint32_t*>(p) = v; break;
    case 3: p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); p[2] = uint8_t(v >> 16); break;
    case 2: *reinterpret_cast<volatile uint16_t*>(p) = uint16_t(v); break;
  }
}

void draw_glyph(int col, int row, char c) {
  if (screen.text) {
    reinterpret_cast<volatile uint16_t*>(screen.base)[row * screen.cols + col] = uint16_t(uint8_t(c) | 0x0700);
    return;
  }
  const uint8_t* g = &ascii_bitmaps[(uint8_t(c) & 0x7F) * kGlyphH];
  for (int y = 0; y < kGlyphH; y++) {
    uint8_t* line = screen.base + uint64_t(row * kGlyphH + y) * screen.pitch + uint64_t(col) * kGlyphW * screen.bytes_per_pixel;
    for (int x = 0; x < kGlyphW; x++)
      store_pixel(line + x * screen.bytes_per_pixel, (g[y] & (0x80 >> x)) ? screen.fg : screen.bg);
  }
}

void clear_row(int row) {
  for (int col = 0; col < screen.cols; col++) draw_glyph(col, row, ' ');
}

// The console wraps to the top instead of scrolling (a scroll moves the whole
// screen, megabytes per line) and clears the line it moves to.
void newline() {
  screen.col = 0;
  screen.row = (screen.row + 1) % screen.rows;
  clear_row(screen.row);
}

void put(char c) {
  if (c == '\n') return newline();
  if (c == '\r') return;
  if (c == '\t') c = ' ';
  if (screen.col == screen.cols) newline();
  draw_glyph(screen.col++, screen.row, (c >= 32 && c < 127) ? c : '?');
}

uint32_t color(const Framebuffer& fb, uint8_t r, uint8_t g, uint8_t b) {
  if (fb.bpp == 16) return uint32_t(r >> 3) << fb.red_shift | uint32_t(g >> 2) << fb.green_shift | uint32_t(b >> 3) << fb.blue_shift;
  return uint32_t(r) << fb.red_shift | uint32_t(g) << fb.green_shift | uint32_t(b) << fb.blue_shift;
}

}  // namespace

void framebuffer_init(const Framebuffer& fb) {
  if (!fb.addr || fb.width == 0 || fb.height == 0) return;
  screen.base = phys_to_virt<uint8_t>(fb.addr);
  screen.pitch = fb.pitch;
  if (fb.type == 1 && (fb.bpp == 32 || fb.bpp == 24 || fb.bpp == 16)) {
    screen.bytes_per_pixel = fb.bpp / 8;
    screen.cols = int(fb.width / kGlyphW);
    screen.rows = int(fb.height / kGlyphH);
    screen.fg = color(fb, 0xCC, 0xCC, 0xCC);
    screen.bg = color(fb, 0x00, 0x00, 0x28);
  } else if (fb.type == 2) {
    screen.text = true;
    screen.cols = int(fb.width);
    screen.rows = int(fb.height);
  } else {
    kprintf("fb: framebuffer type %u, %u bpp: not drawn on\n", fb.type, fb.bpp);
    return;
  }
  for (int r = 0; r < screen.rows; r++) clear_row(r);
  ready = true;
  for (uint32_t i = 0; i < early_len; i++) put(early[i]);
  kprintf("fb: console on the %ux%u %s framebuffer at %lx (%dx%d characters)\n", fb.width, fb.height,
          screen.text ? "text" : "RGB", fb.addr, screen.cols, screen.rows);
}

void framebuffer_putc(char c) {
  if (ready) put(c);
  else if (early_len < sizeof(early)) early[early_len++] = c;
}

}  // namespace veneer
