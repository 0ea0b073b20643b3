// The CUDA backend: device enumeration, device buffers, one stream per backend and compute(),
// which enqueues a whole plan segment on that stream and synchronises once at the end.
//
// Buffers are cudaMalloc'd device memory: base() is nullptr (not host-visible) and
// device_base() is what Tensor::data points into. Buffer reads and writes are asynchronous
// copies on the owning backend's stream followed by a wait, so they are ordered after every
// kernel already enqueued and the caller's host memory may be reused as soon as they return.
//
// Kernel run-time errors (a row id out of range) are written by the device into one
// DeviceError word per backend; compute() clears it before the segment, copies it back after
// the last kernel (same stream, so no extra synchronisation) and reports it through
// KernelErrors together with any fault the synchronisation returned.
#include "cuda_backend.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "cuda_kernels.h"

namespace ggml {

namespace cuda {

const Kernel& kernel(Op op) {
    static const Kernel kTable[kOpCount] = {
#define GGML_OP(id, name, min_src, max_src, inplace, view, decomposed) \
    {&run_##id, &supports_##id, &work_size_##id},
#include "ggml/ops.def"
#undef GGML_OP
    };
    return kTable[(int)op < kOpCount ? (int)op : 0];
}

void check_launch(const char* what) {
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess)
        throw Error(std::string("cuda: launching ") + what + " failed: " + cudaGetErrorString(e));
}

// Leaves and views alias memory that already holds their value: no kernel.
#define GGML_CUDA_NO_KERNEL(ID)                               \
    void run_##ID(const Tensor*, const RunCtx&) {}            \
    bool supports_##ID(const Tensor*, const DeviceInfo&) {    \
        return true;                                          \
    }                                                         \
    size_t work_size_##ID(const Tensor*, const DeviceInfo&) { \
        return 0;                                             \
    }
GGML_CUDA_NO_KERNEL(NONE)
GGML_CUDA_NO_KERNEL(VIEW)
GGML_CUDA_NO_KERNEL(RESHAPE)
GGML_CUDA_NO_KERNEL(PERMUTE)
GGML_CUDA_NO_KERNEL(TRANSPOSE)
#undef GGML_CUDA_NO_KERNEL

}  // namespace cuda

namespace {

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw Error(std::string("cuda: ") + what + ": " + cudaGetErrorString(e));
}

struct Probe {
    int count = 0;
    std::string why;
};

const Probe& probe() {
    static const Probe p = [] {
        Probe r;
        int n = 0;
        const cudaError_t e = cudaGetDeviceCount(&n);
        if (e != cudaSuccess) {
            r.why = cudaGetErrorString(e);
            (void)cudaGetLastError();  // clear the error so later runtime calls start clean
        } else if (n <= 0) {
            r.why = "cudaGetDeviceCount reported 0 devices";
        } else {
            r.count = n;
        }
        return r;
    }();
    return p;
}

std::string describe(const Tensor* node) {
    std::string s =
        std::string(op_name(node->op)) + " node '" + node->name + "' " + node->shape_str();
    for (int i = 0; i < kMaxSrc; ++i)
        if (node->src[i]) s += (i == 0 ? " <- " : ", ") + node->src[i]->shape_str();
    return s;
}

class CudaBackend;

class CudaBuffer : public Buffer {
  public:
    CudaBuffer(CudaBackend& backend, size_t size);
    ~CudaBuffer() override;
    CudaBuffer(const CudaBuffer&) = delete;
    CudaBuffer& operator=(const CudaBuffer&) = delete;

    Backend& backend() const override;
    size_t size() const override { return size_; }
    void* base() const override { return nullptr; }
    void* device_base() const override { return data_; }
    void write(size_t offset, const void* src, size_t n) override;
    void read(size_t offset, void* dst, size_t n) const override;
    void fill(uint8_t byte) override;

  private:
    void range(size_t offset, size_t n, const char* what) const {
        if (offset > size_ || n > size_ - offset)
            throw Error(std::string("cuda buffer ") + what + ": range [" + std::to_string(offset) +
                        ", " + std::to_string(offset + n) + ") outside buffer of " +
                        std::to_string(size_) + " bytes");
    }

    CudaBackend& backend_;
    size_t size_;
    void* data_ = nullptr;
};

class CudaBackend : public Backend {
  public:
    explicit CudaBackend(int device) {
        dev_.id = device;
        check(cudaSetDevice(device), "cudaSetDevice");
        cudaDeviceProp prop;
        check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
        dev_.cc_major = prop.major;
        dev_.cc_minor = prop.minor;
        dev_.sm_count = prop.multiProcessorCount > 0 ? prop.multiProcessorCount : 1;
        dev_.smem_optin = prop.sharedMemPerBlockOptin;
        dev_.total_mem = prop.totalGlobalMem;
        std::snprintf(dev_.name, sizeof(dev_.name), "%s", prop.name);
        check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
        if (cublasCreate(&cublas_) != CUBLAS_STATUS_SUCCESS) {
            cudaStreamDestroy(stream_);
            throw Error("cuda: cublasCreate failed");
        }
        cublasSetStream(cublas_, stream_);
        check(cudaMalloc((void**)&dev_err_, sizeof(cuda::DeviceError)), "cudaMalloc (error word)");
        check(cudaMallocHost((void**)&host_err_, sizeof(cuda::DeviceError)), "cudaMallocHost");
    }
    ~CudaBackend() override {
        cudaSetDevice(dev_.id);
        cudaStreamSynchronize(stream_);
        cudaFreeHost(host_err_);
        cudaFree(dev_err_);
        cublasDestroy(cublas_);
        cudaStreamDestroy(stream_);
    }
    CudaBackend(const CudaBackend&) = delete;
    CudaBackend& operator=(const CudaBackend&) = delete;

    const char* name() const override { return "cuda"; }
    bool is_host() const override { return false; }
    size_t alignment() const override { return 256; }

    bool supports(const Tensor* node) const override {
        if (op_info(node->op).view) return true;
        return cuda::kernel(node->op).supports(node, dev_);
    }
    size_t work_size(const Tensor* node) const override {
        if (op_info(node->op).view) return 0;
        return cuda::kernel(node->op).work_size(node, dev_);
    }

    std::unique_ptr<Buffer> alloc_buffer(size_t size) override {
        return std::make_unique<CudaBuffer>(*this, size);
    }

    void compute(const std::vector<Tensor*>& nodes, const std::vector<void*>& work,
                 KernelErrors& errors) override {
        cudaSetDevice(dev_.id);
        check(cudaMemsetAsync(dev_err_, 0, sizeof(cuda::DeviceError), stream_), "cudaMemsetAsync");
        for (size_t i = 0; i < nodes.size(); ++i) {
            const Tensor* node = nodes[i];
            if (node->op == Op::NONE || op_info(node->op).view) continue;
            const cuda::Kernel& k = cuda::kernel(node->op);
            cuda::RunCtx ctx;
            ctx.stream = stream_;
            ctx.cublas = cublas_;
            ctx.work = i < work.size() ? work[i] : nullptr;
            ctx.work_size = k.work_size(node, dev_);
            ctx.dev_err = dev_err_;
            ctx.node_index = (int)i;
            ctx.dev = &dev_;
            const char* why = nullptr;
            if (!k.supports(node, dev_)) why = "no CUDA kernel for this op/dtype/layout";
            if (!why && !node->data) why = "result has no data";
            for (int s = 0; !why && s < kMaxSrc; ++s)
                if (node->src[s] && !node->src[s]->data) why = "a source has no data";
            if (!why && ctx.work_size > 0 && !ctx.work) why = "scratch space was not provided";
            if (why) {
                errors.report(std::string("cuda: ") + why + ": " + describe(node));
                break;
            }
            try {
                k.run(node, ctx);
            } catch (const std::exception& e) {
                errors.report(std::string(e.what()) + " (" + describe(node) + ")");
                break;
            }
        }
        cudaMemcpyAsync(host_err_, dev_err_, sizeof(cuda::DeviceError), cudaMemcpyDeviceToHost,
                        stream_);
        const cudaError_t e = cudaStreamSynchronize(stream_);
        if (e != cudaSuccess) {
            errors.report(std::string("cuda: device fault while running a segment of ") +
                          std::to_string(nodes.size()) + " nodes: " + cudaGetErrorString(e));
            return;
        }
        if (host_err_->code != cuda::kErrNone) {
            const int n = host_err_->node;
            const std::string who =
                n >= 0 && (size_t)n < nodes.size() ? std::string("'") + nodes[n]->name + "'" : "?";
            const char* op = host_err_->code == cuda::kErrGetRowsId ? "get_rows" : "set_rows";
            errors.report(std::string(op) + ": row id " + std::to_string(host_err_->value) +
                          " out of range [0, " + std::to_string(host_err_->limit) + ") in node " +
                          who);
        }
    }

    void synchronize() override {
        cudaSetDevice(dev_.id);
        check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
    }

    cudaStream_t stream() const { return stream_; }
    int device() const { return dev_.id; }

  private:
    cuda::DeviceInfo dev_;
    cudaStream_t stream_ = nullptr;
    cublasHandle_t cublas_ = nullptr;
    cuda::DeviceError* dev_err_ = nullptr;
    cuda::DeviceError* host_err_ = nullptr;  // pinned, so the copy back stays on the stream
};

CudaBuffer::CudaBuffer(CudaBackend& backend, size_t size) : backend_(backend), size_(size) {
    cudaSetDevice(backend_.device());
    const cudaError_t e = cudaMalloc(&data_, size > 0 ? size : 256);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        throw Error("cuda: cannot allocate a buffer of " + std::to_string(size) +
                    " bytes: " + cudaGetErrorString(e));
    }
}

CudaBuffer::~CudaBuffer() {
    cudaSetDevice(backend_.device());
    // Kernels may still read this memory; let them finish first.
    cudaStreamSynchronize(backend_.stream());
    cudaFree(data_);
}

Backend& CudaBuffer::backend() const {
    return backend_;
}

void CudaBuffer::write(size_t offset, const void* src, size_t n) {
    range(offset, n, "write");
    if (!n) return;
    cudaSetDevice(backend_.device());
    check(cudaMemcpyAsync((char*)data_ + offset, src, n, cudaMemcpyHostToDevice, backend_.stream()),
          "buffer write");
    check(cudaStreamSynchronize(backend_.stream()), "buffer write");
}

void CudaBuffer::read(size_t offset, void* dst, size_t n) const {
    range(offset, n, "read");
    if (!n) return;
    cudaSetDevice(backend_.device());
    check(cudaMemcpyAsync(dst, (const char*)data_ + offset, n, cudaMemcpyDeviceToHost,
                          backend_.stream()),
          "buffer read");
    check(cudaStreamSynchronize(backend_.stream()), "buffer read");
}

void CudaBuffer::fill(uint8_t byte) {
    cudaSetDevice(backend_.device());
    check(cudaMemsetAsync(data_, byte, size_, backend_.stream()), "buffer fill");
    check(cudaStreamSynchronize(backend_.stream()), "buffer fill");
}

}  // namespace

int cuda_device_count(std::string* why) {
    const Probe& p = probe();
    if (why) *why = p.why;
    return p.count;
}

std::unique_ptr<Backend> make_cuda_backend(int device) {
    std::string why;
    const int n = cuda_device_count(&why);
    if (n <= 0) throw Error("cuda: no CUDA device (" + why + ")");
    if (device < 0 || device >= n)
        throw Error("cuda: device " + std::to_string(device) + " does not exist (" +
                    std::to_string(n) + " found)");
    return std::make_unique<CudaBackend>(device);
}

}  // namespace ggml
