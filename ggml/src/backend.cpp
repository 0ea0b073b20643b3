// Backend-independent helpers: kernel error collection, tensor reads/writes, weight buffers.
#include "ggml/backend.h"

#include <string>

namespace ggml {

void KernelErrors::report(const std::string& msg) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!flag_.load(std::memory_order_relaxed)) first_ = msg;
    flag_.store(true, std::memory_order_relaxed);
}

std::string KernelErrors::take() {
    std::lock_guard<std::mutex> lock(mu_);
    std::string m = first_;
    first_.clear();
    flag_.store(false, std::memory_order_relaxed);
    return m;
}

namespace {

// Byte offset of t's data inside its buffer, after checking [offset, offset+n) fits t.
size_t checked_offset(const Tensor* t, size_t offset, size_t n, const char* who) {
    const Tensor* root = view_root(t);
    if (!t->data) throw Error(std::string(who) + ": tensor '" + t->name + "' has no data");
    if (offset + n < offset || offset + n > t->nbytes())
        throw Error(std::string(who) + ": range [" + std::to_string(offset) + ", " +
                    std::to_string(offset + n) + ") outside tensor '" + t->name + "' " +
                    t->shape_str() + " of " + std::to_string(t->nbytes()) + " bytes");
    Buffer* buf = t->buffer ? t->buffer : root->buffer;
    if (!buf) return 0;
    const size_t base = (size_t)((const uint8_t*)t->data - (const uint8_t*)buf->device_base());
    if (base + offset + n > buf->size())
        throw Error(std::string(who) + ": tensor '" + t->name + "' lies outside its buffer");
    return base + offset;
}

}  // namespace

void tensor_set(Tensor* t, const void* src, size_t offset, size_t n) {
    if (n == 0) return;
    const size_t off = checked_offset(t, offset, n, "tensor_set");
    Buffer* buf = t->buffer ? t->buffer : view_root(t)->buffer;
    if (buf)
        buf->write(off, src, n);
    else
        std::memcpy((uint8_t*)t->data + offset, src, n);  // caller-owned host memory
}

void tensor_get(const Tensor* t, void* dst, size_t offset, size_t n) {
    if (n == 0) return;
    const size_t off = checked_offset(t, offset, n, "tensor_get");
    const Buffer* buf = t->buffer ? t->buffer : view_root(t)->buffer;
    if (buf)
        buf->read(off, dst, n);
    else
        std::memcpy(dst, (const uint8_t*)t->data + offset, n);
}

std::unique_ptr<Buffer> alloc_tensors(Backend& backend, const std::vector<Tensor*>& tensors) {
    const size_t align = backend.alignment();
    size_t total = 0;
    std::vector<size_t> offs;
    offs.reserve(tensors.size());
    for (Tensor* t : tensors) {
        if (t->view_src) throw Error(std::string("alloc_tensors: '") + t->name + "' is a view");
        offs.push_back(total);
        total += (t->nbytes() + align - 1) / align * align;
    }
    auto buf = backend.alloc_buffer(total > 0 ? total : align);
    for (size_t i = 0; i < tensors.size(); ++i) {
        tensors[i]->data = (uint8_t*)buf->device_base() + offs[i];
        tensors[i]->buffer = buf.get();
    }
    return buf;
}

}  // namespace ggml
