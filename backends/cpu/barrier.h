// A reusable barrier for the backend's thread team: an arrival counter and a generation
// number. The last thread to arrive resets the counter and bumps the generation; the others
// spin on the generation with a pause instruction for a few microseconds (the usual wait when
// every thread owns a core, answered without a system call) and then yield the CPU between
// checks. A barrier that spins for long collapses when the machine is oversubscribed: a
// waiter burns the time slice that the thread it waits for may need, once per graph node
// (libgomp's barrier polls 300,000 times by default before it sleeps). Sleeping in the kernel
// after the spin (futex) was measured to be no better than that: under load a woken thread
// queues behind the other tasks before it runs again. Only cpu_backend.cpp includes this
// header; kernels reach the barrier through a plain function pointer (isa.h explains why).
#pragma once

#include <atomic>
#include <chrono>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace ggml {
namespace cpu {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

class SpinBarrier {
  public:
    SpinBarrier() = default;
    SpinBarrier(const SpinBarrier&) = delete;
    SpinBarrier& operator=(const SpinBarrier&) = delete;

    // Returns once n threads have called wait(n) (every caller passes the same n: the team's
    // real size, which OpenMP may make smaller than asked); writes made before the call by any
    // of them are visible after it to all of them.
    void wait(int n) {
        if (n <= 1) return;
        const unsigned gen = gen_.load(std::memory_order_acquire);
        if (count_.fetch_add(1, std::memory_order_acq_rel) == n - 1) {
            count_.store(0, std::memory_order_relaxed);
            gen_.fetch_add(1, std::memory_order_release);
            return;
        }
        // Pause latency differs widely between cores (about 10 to 150 cycles), so the spin is
        // bounded by time; the clock is read only every kCheck pauses.
        using Clock = std::chrono::steady_clock;
        constexpr int kCheck = 64;
        const auto t0 = Clock::now();
        bool spin = true;
        for (int i = 1; gen_.load(std::memory_order_acquire) == gen; ++i) {
            if (!spin) {
                std::this_thread::yield();
            } else {
                cpu_relax();
                if (i % kCheck == 0 && Clock::now() - t0 > std::chrono::microseconds(kSpinUs))
                    spin = false;
            }
        }
    }

    static void wait_fn(void* self, int n) { static_cast<SpinBarrier*>(self)->wait(n); }

    // Measured on 2 cores with the stories260K decode (134 nodes per token) while other
    // processes kept both cores busy: spins of 4-20 us gave several times the tokens/s of
    // libgomp's barrier; 100 us and longer, or a futex sleep after the spin, fell to its level
    // or below.
    static constexpr int kSpinUs = 5;

  private:
    alignas(64) std::atomic<int> count_{0};
    alignas(64) std::atomic<unsigned> gen_{0};
};

}  // namespace cpu
}  // namespace ggml
