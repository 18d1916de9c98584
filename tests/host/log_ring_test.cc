#include "kernel/core/log_ring.h"

#include <gtest/gtest.h>

#include <string>

using namespace veneer::core;

namespace {

// A UART that sends one FIFO-load (16 bytes) per tick of the line.
struct SlowUart {
  std::string line;
  bool fifo_empty = true;
  bool ready() { return fifo_empty; }
  void send(char c) {
    line += c;
    if (line.size() % 16 == 0) fifo_empty = false;
  }
  void tick() { fifo_empty = true; }
};

}  // namespace

TEST(LogRing, WritersNeverWaitForTheLine) {
  LogRing<8192> ring;
  SlowUart uart;
  std::string big(4096, 'x');
  EXPECT_EQ(ring.put(big.data(), big.size(), [](char) {}), 4096u);
  // Each drain (a system call, a timer tick) sends at most one FIFO-load.
  for (int call = 0; call < 10; call++) {
    size_t sent = ring.drain([&] { return uart.ready(); }, [&](char c) { uart.send(c); }, 16);
    EXPECT_LE(sent, 16u);
  }
  EXPECT_EQ(uart.line.size(), 16u);  // the line was busy: nobody waited for it
  while (!ring.empty()) {
    uart.tick();
    ring.drain([&] { return uart.ready(); }, [&](char c) { uart.send(c); }, 16);
  }
  EXPECT_EQ(uart.line, big);
}

TEST(LogRing, AFullRingTakesWhatFitsAndNewlinesBecomeCrLf) {
  LogRing<16> ring;
  std::string echoed;
  EXPECT_EQ(ring.put("abc\n", 4, [&](char c) { echoed += c; }), 4u);
  EXPECT_EQ(ring.space(), 11u);
  std::string more(20, 'y');
  EXPECT_EQ(ring.put(more.data(), more.size(), [&](char c) { echoed += c; }), 11u);
  EXPECT_EQ(ring.put("z", 1, [](char) {}), 0u);
  EXPECT_EQ(echoed, "abc\n" + std::string(11, 'y'));
  std::string out;
  ring.drain([] { return true; }, [&](char c) { out += c; }, 16);
  EXPECT_EQ(out, "abc\r\n" + std::string(11, 'y'));
  // A newline needs two bytes: with one left it waits.
  ring.put(std::string(15, 'q').data(), 15, [](char) {});
  EXPECT_EQ(ring.put("\n", 1, [](char) {}), 0u);
}
