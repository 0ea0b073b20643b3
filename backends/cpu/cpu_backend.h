// The CPU backend: host buffers and an OpenMP thread team running the kernel table.
#pragma once

#include <memory>

#include "ggml/backend.h"
#include "isa.h"

namespace ggml {

class CpuBackend : public Backend {
  public:
    // Picks the instruction set from cpuid, or from GGML_CPU_ISA when set and available.
    explicit CpuBackend(int n_threads);

    const char* name() const override { return "cpu"; }
    bool is_host() const override { return true; }
    bool supports(const Tensor* node) const override;
    // Scratch for the node at the current thread count; plan again after set_n_threads().
    size_t work_size(const Tensor* node) const override;
    std::unique_ptr<Buffer> alloc_buffer(size_t size) override;
    // One OpenMP parallel region for all of `nodes`, a barrier between nodes.
    void compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                 KernelErrors& errors) override;

    int n_threads() const { return n_threads_; }
    void set_n_threads(int n) { n_threads_ = n > 0 ? n : 1; }
    const char* isa_name() const { return isa_->name; }

  private:
    int n_threads_;
    const cpu::IsaKernels* isa_;
};

std::unique_ptr<Backend> make_cpu_backend(int n_threads);

}  // namespace ggml
