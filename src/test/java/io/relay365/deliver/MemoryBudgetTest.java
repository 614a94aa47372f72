package io.relay365.deliver;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class MemoryBudgetTest {
  private static final long MB = 1024 * 1024;

  @Test
  void sendsThatDoNotFitWaitForRoom() throws Exception {
    MemoryBudget b = new MemoryBudget(100 * MB);
    MemoryBudget.Reservation first = b.reserve(60 * MB, 1000);
    assertThat(first).isNotNull();
    assertThat(b.reserve(60 * MB, 50)).as("second 60 MB does not fit beside the first").isNull();
    MemoryBudget.Reservation small = b.reserve(30 * MB, 50);
    assertThat(small).as("a small one still fits").isNotNull();
    first.close();
    MemoryBudget.Reservation second = b.reserve(60 * MB, 50);
    assertThat(second).isNotNull();
    second.close();
    small.close();
    assertThat(b.available()).isEqualTo(new MemoryBudget(100 * MB).available());
  }

  @Test
  void aMessageLargerThanTheWholeBudgetGoesAlone() throws Exception {
    MemoryBudget b = new MemoryBudget(10 * MB);
    MemoryBudget.Reservation huge = b.reserve(500 * MB, 50);
    assertThat(huge).isNotNull();
    assertThat(b.reserve(1, 50)).isNull();
    huge.close();
    assertThat(b.reserve(1, 50)).isNotNull();
  }
}
