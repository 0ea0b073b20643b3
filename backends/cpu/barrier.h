// A reusable barrier for the backend's thread team: an arrival counter and a generation
// number. The last thread to arrive resets the counter and bumps the generation; the others
// wait for the generation to change in three stages:
//   1. spin with a pause instruction for a few microseconds: the usual wait when every thread
//      owns a core, answered without a system call;
//   2. yield the CPU between checks for a while longer;
//   3. sleep in the kernel (a futex on Linux, a condition variable elsewhere) until woken.
// A barrier that only spins collapses when the machine is oversubscribed: a waiter burns the
// time slice that the thread it waits for needs (OpenMP's default barrier spins for about a
// millisecond per graph node). Sleeping also leaves the core idle, so the scheduler can move
// the descheduled team member onto it at once, which yielding alone never triggers.
// Only cpu_backend.cpp includes this header; kernels reach the barrier through a plain
// function pointer (isa.h explains why).
#pragma once

#include <atomic>
#include <cstdlib>
#include <chrono>
#include <climits>
#include <condition_variable>
#include <mutex>
#include <thread>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
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
            gen_.fetch_add(1, std::memory_order_seq_cst);
            if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_all();
            return;
        }
        // Pause latency differs widely between cores (about 10 to 150 cycles), so the stages
        // are bounded by time; the clock is read only every kCheck iterations.
        using Clock = std::chrono::steady_clock;
        constexpr int kCheck = 64;
        const auto t0 = Clock::now();
        int stage = 0;
        for (int i = 1; gen_.load(std::memory_order_acquire) == gen; ++i) {
            if (stage == 0) {
                cpu_relax();
                if (i % kCheck == 0 && Clock::now() - t0 > std::chrono::microseconds(tune(0, kSpinUs)))
                    stage = 1;
            } else if (stage == 1) {
                std::this_thread::yield();
                if (Clock::now() - t0 > std::chrono::microseconds(tune(1, kYieldUs))) stage = 2;
            } else {
                sleepers_.fetch_add(1, std::memory_order_seq_cst);
                sleep_while(gen);
                sleepers_.fetch_sub(1, std::memory_order_relaxed);
            }
        }
    }

    static void wait_fn(void* self, int n) { static_cast<SpinBarrier*>(self)->wait(n); }

    static constexpr int kSpinUs = 4;    // stage 1 ends after this long
    static constexpr int kYieldUs = 50;  // stage 2 ends this long after the arrival

  private:
    static int tune(int i, int def) {  // TEMP
        static int v[2] = {getenv("GB_SPIN") ? atoi(getenv("GB_SPIN")) : -1,
                           getenv("GB_YIELD") ? atoi(getenv("GB_YIELD")) : -1};
        return v[i] >= 0 ? v[i] : def;
    }
    // Blocks until the generation differs from `gen` (or a spurious wake-up).
    void sleep_while(unsigned gen) {
#if defined(__linux__)
        syscall(SYS_futex, reinterpret_cast<unsigned*>(&gen_), FUTEX_WAIT_PRIVATE, gen, nullptr,
                nullptr, 0);
#else
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return gen_.load(std::memory_order_acquire) != gen; });
#endif
    }
    void wake_all() {
#if defined(__linux__)
        syscall(SYS_futex, reinterpret_cast<unsigned*>(&gen_), FUTEX_WAKE_PRIVATE, INT_MAX,
                nullptr, nullptr, 0);
#else
        std::lock_guard<std::mutex> lock(mutex_);
        cv_.notify_all();
#endif
    }

    alignas(64) std::atomic<int> count_{0};
    alignas(64) std::atomic<unsigned> gen_{0};
    std::atomic<int> sleepers_{0};
#if !defined(__linux__)
    std::mutex mutex_;
    std::condition_variable cv_;
#endif
};

static_assert(sizeof(std::atomic<unsigned>) == sizeof(unsigned), "futex word must be 32 bits");

}  // namespace cpu
}  // namespace ggml
