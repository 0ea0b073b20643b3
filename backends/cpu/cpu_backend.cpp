// The CPU backend: 64-byte aligned host buffers, the flat kernel table expanded from ops.def,
// and compute(), which runs a whole node list inside ONE OpenMP parallel region. Each thread
// walks the list and calls every node's kernel with its (ith, nth); a barrier between nodes
// orders a node's writes before its users' reads. Opening the region once per segment rather
// than once per node keeps the per-node cost to one barrier (well under a microsecond when
// every thread has a core), which matters for decode graphs of hundreds of small nodes. The
// barrier is barrier.h's spin-then-yield one rather than OpenMP's, whose long spin collapses
// when another process shares the cores.
#include "cpu_backend.h"

#include <atomic>
#include <new>
#include <string>

#include "barrier.h"
#include "cpu_kernels.h"
#include "ggml/types.h"

#ifdef GGML_USE_OPENMP
#include <omp.h>
#endif

namespace ggml {

namespace cpu {

// ---- ops without a kernel ----------------------------------------------------------------------
// Leaves and views alias memory that already holds their value; compute() skips them, and they
// are always "supported" so the planner never lowers or moves them.
#define GGML_CPU_NO_KERNEL(ID)                         \
    void run_##ID(const Tensor*, const KernelArgs&) {} \
    bool supports_##ID(const Tensor*) {                \
        return true;                                   \
    }                                                  \
    size_t work_size_##ID(const Tensor*, int) {        \
        return 0;                                      \
    }
GGML_CPU_NO_KERNEL(NONE)
GGML_CPU_NO_KERNEL(VIEW)
GGML_CPU_NO_KERNEL(RESHAPE)
GGML_CPU_NO_KERNEL(PERMUTE)
GGML_CPU_NO_KERNEL(TRANSPOSE)
#undef GGML_CPU_NO_KERNEL

const Kernel& kernel(Op op) {
    static const Kernel kTable[kOpCount] = {
#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) \
    {&run_##id, &supports_##id, &work_size_##id},
#include "ggml/ops.def"
#undef GGML_OP
    };
    return kTable[(int)op < kOpCount ? (int)op : 0];
}

void row_to_f32(DType t, const uint8_t* src, size_t stride, float* dst, int64_t n) {
    if (t == DType::F32 && stride == 4) {
        std::memcpy(dst, src, (size_t)n * 4);
    } else if (t == DType::F16 && stride == 2) {
        const f16_t* s = (const f16_t*)src;
        for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32_fast(s[i]);
    } else if (t == DType::BF16 && stride == 2) {
        const bf16_t* s = (const bf16_t*)src;
        for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) dst[i] = load_float(t, src + i * stride);
    }
}

void row_from_f32(DType t, const float* src, uint8_t* dst, size_t stride, int64_t n) {
    if (t == DType::F32 && stride == 4) {
        std::memcpy(dst, src, (size_t)n * 4);
    } else if (t == DType::F16 && stride == 2) {
        f16_t* d = (f16_t*)dst;
        for (int64_t i = 0; i < n; ++i) d[i] = f32_to_f16(src[i]);
    } else if (t == DType::BF16 && stride == 2) {
        bf16_t* d = (bf16_t*)dst;
        for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(src[i]);
    } else {
        for (int64_t i = 0; i < n; ++i) store_float(t, dst + i * stride, src[i]);
    }
}

}  // namespace cpu

namespace {

constexpr size_t kAlign = 64;

class CpuBuffer : public Buffer {
  public:
    CpuBuffer(Backend& backend, size_t size) : backend_(backend), size_(size) {
        data_ = ::operator new(size > 0 ? size : kAlign, std::align_val_t(kAlign));
    }
    ~CpuBuffer() override { ::operator delete(data_, std::align_val_t(kAlign)); }
    CpuBuffer(const CpuBuffer&) = delete;
    CpuBuffer& operator=(const CpuBuffer&) = delete;

    Backend& backend() const override { return backend_; }
    size_t size() const override { return size_; }
    void* base() const override { return data_; }
    void* device_base() const override { return data_; }

    void write(size_t offset, const void* src, size_t n) override {
        check(offset, n, "write");
        if (n) std::memcpy((uint8_t*)data_ + offset, src, n);
    }
    void read(size_t offset, void* dst, size_t n) const override {
        check(offset, n, "read");
        if (n) std::memcpy(dst, (const uint8_t*)data_ + offset, n);
    }
    void fill(uint8_t byte) override { std::memset(data_, byte, size_); }

  private:
    void check(size_t offset, size_t n, const char* what) const {
        if (offset > size_ || n > size_ - offset)
            throw Error(std::string("cpu buffer ") + what + ": range [" + std::to_string(offset) +
                        ", " + std::to_string(offset + n) + ") outside buffer of " +
                        std::to_string(size_) + " bytes");
    }

    Backend& backend_;
    size_t size_;
    void* data_;
};

std::string describe(const Tensor* node) {
    std::string s =
        std::string(op_name(node->op)) + " node '" + node->name + "' " + node->shape_str();
    for (int i = 0; i < kMaxSrc; ++i)
        if (node->src[i]) s += (i == 0 ? " <- " : ", ") + node->src[i]->shape_str();
    return s;
}

// Why `node` cannot run now, or nullptr when it can. Called identically by every thread, so
// all of them agree on skipping; only thread 0 reports.
const char* check_node(const Tensor* node, const cpu::Kernel& k, size_t need, void* work) {
    if (!k.supports(node)) return "no CPU kernel for this op/dtype/layout";
    if (!node->data) return "result has no data";
    for (int i = 0; i < kMaxSrc; ++i)
        if (node->src[i] && !node->src[i]->data) return "a source has no data";
    if (need > 0 && !work) return "scratch space was not provided";
    return nullptr;
}

}  // namespace

CpuBackend::CpuBackend(int n_threads)
    : n_threads_(n_threads > 0 ? n_threads : 1), isa_(&cpu::select_isa()) {}

bool CpuBackend::supports(const Tensor* node) const {
    if (op_info(node->op).view) return true;
    return cpu::kernel(node->op).supports(node);
}

size_t CpuBackend::work_size(const Tensor* node) const {
    if (op_info(node->op).view) return 0;
    return cpu::kernel(node->op).work_size(node, n_threads_);
}

std::unique_ptr<Buffer> CpuBackend::alloc_buffer(size_t size) {
    try {
        return std::make_unique<CpuBuffer>(*this, size);
    } catch (const std::bad_alloc&) {
        throw Error("cpu: cannot allocate a buffer of " + std::to_string(size) + " bytes");
    }
}

namespace {

// Job numbers for KernelArgs::claim, one counter per node. Two counters alternate: node s
// uses counter s % 2, and while it runs thread 0 zeroes the other one for node s + 1 (every
// thread has left node s - 1, the barrier between nodes guarantees it, and the next barrier
// publishes the zero). Each counter has its own cache line.
struct JobCounters {
    struct alignas(64) Counter {
        std::atomic<int64_t> next{0};
    };
    Counter c[2];
    static int64_t claim(void* ctx) {
        return static_cast<Counter*>(ctx)->next.fetch_add(1, std::memory_order_relaxed);
    }
};

}  // namespace

void CpuBackend::compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                         KernelErrors& errors) {
    const size_t n_nodes = nodes.size();
    const int n_threads = n_threads_;
    const cpu::IsaKernels* isa = isa_;
    cpu::SpinBarrier barrier;
    JobCounters jobs;
    auto body = [&](int ith, int nth) {
        size_t step = 0;  // nodes run so far: the same on every thread
        for (size_t i = 0; i < n_nodes; ++i) {
            const Tensor* node = nodes[i];
            if (node->op == Op::NONE || op_info(node->op).view) continue;
            const cpu::Kernel& k = cpu::kernel(node->op);
            const size_t need = k.work_size(node, n_threads);
            void* w = i < work.size() ? work[i] : nullptr;
            if (ith == 0) jobs.c[(step + 1) % 2].next.store(0, std::memory_order_relaxed);
            const char* why = check_node(node, k, need, w);
            if (why) {
                if (ith == 0) errors.report(std::string("cpu: ") + why + ": " + describe(node));
            } else {
                cpu::KernelArgs args;
                args.ith = ith;
                args.nth = nth;
                args.work = w;
                args.work_size = need;
                args.errors = &errors;
                args.isa = isa;
                if (nth > 1) {
                    args.barrier = &cpu::SpinBarrier::wait_fn;
                    args.barrier_ctx = &barrier;
                    args.claim = &JobCounters::claim;
                    args.claim_ctx = &jobs.c[step % 2];
                }
                k.run(node, args);
            }
            ++step;
            barrier.wait(nth);
        }
    };
#ifdef GGML_USE_OPENMP
    if (n_threads > 1) {
        // The runtime may grant fewer threads than asked; kernels use the team's real size,
        // which never exceeds the count work_size() was planned for.
#pragma omp parallel num_threads(n_threads)
        body(omp_get_thread_num(), omp_get_num_threads());
        return;
    }
#endif
    body(0, 1);
}

std::unique_ptr<Backend> make_cpu_backend(int n_threads) {
    return std::make_unique<CpuBackend>(n_threads);
}

}  // namespace ggml
