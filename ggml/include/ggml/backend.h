// Backends: a device, a backend (device + stream/queue) and a buffer, as small abstract
// classes. Each backend owns a flat kernel table indexed by op, `{run, supports, work_size}`,
// so "can run" and "how to run" never drift apart.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "ggml/tensor.h"

namespace ggml {

class Backend;

// A block of device memory. Host buffers expose `base()` for direct access.
class Buffer {
  public:
    virtual ~Buffer() = default;
    virtual Backend& backend() const = 0;
    virtual size_t size() const = 0;
    // Host address of the first byte, or nullptr when the memory is not host-visible.
    virtual void* base() const = 0;
    // Device-side address of the first byte (what kernels and Tensor::data use).
    virtual void* device_base() const = 0;
    virtual void write(size_t offset, const void* src, size_t n) = 0;
    virtual void read(size_t offset, void* dst, size_t n) const = 0;
    virtual void fill(uint8_t byte) = 0;
};

// The first run-time error a kernel met (e.g. an out-of-range row id); the executor throws it.
class KernelErrors {
  public:
    void report(const std::string& msg);
    bool any() const { return flag_.load(std::memory_order_relaxed); }
    std::string take();

  private:
    std::atomic<bool> flag_{false};
    std::mutex mu_;
    std::string first_;
};

class Backend {
  public:
    virtual ~Backend() = default;
    virtual const char* name() const = 0;
    // True when this backend's buffers are plain host memory (no copies needed to/from CPU).
    virtual bool is_host() const = 0;
    // Whether a kernel exists for this node's op, dtypes and layout.
    virtual bool supports(const Tensor* node) const = 0;
    // Scratch bytes the node's kernel needs while it runs (planned by the planner).
    virtual size_t work_size(const Tensor* node) const = 0;
    // Alignment of tensor offsets inside this backend's buffers.
    virtual size_t alignment() const { return 64; }
    // Allocates `size` bytes; throws ggml::Error when it cannot.
    virtual std::unique_ptr<Buffer> alloc_buffer(size_t size) = 0;
    // Runs nodes in order (a plan segment). work[i] is node i's scratch (may be null if 0).
    // Kernel-level run-time errors are collected in `errors`.
    virtual void compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                         KernelErrors& errors) = 0;
    virtual void synchronize() {}
};

// Copies tensor bytes between host memory and a tensor wherever it lives.
void tensor_set(Tensor* t, const void* src, size_t offset, size_t n);
void tensor_get(const Tensor* t, void* dst, size_t offset, size_t n);

// Places `tensors` contiguously (aligned) in one new buffer of `backend`, setting their
// data/buffer pointers. Used for weights and for any tensors the caller manages itself.
std::unique_ptr<Buffer> alloc_tensors(Backend& backend, const std::vector<Tensor*>& tensors);

// ---- registry ------------------------------------------------------------------------------

struct BackendOptions {
    int n_threads = 0;  // CPU threads; 0 = all hardware threads
};
// Names of the backends compiled in and usable on this machine ("cpu" is always first).
std::vector<std::string> available_backends();
// Backends compiled in but unusable here, with the reason (e.g. "cuda: no CUDA device").
std::vector<std::string> unavailable_backends();
// Creates a backend by name; throws ggml::Error naming the reason when it is not available.
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& opt = {});

}  // namespace ggml
